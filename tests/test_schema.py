"""The output schema (iomon.schema) against what iomon writes, and the README against it."""

import dataclasses
import json
import shutil

import pandas as pd
import pytest

from conftest import ROOT
from iomon import schema

REVIEWED = """
[case]
id = "SCHEMA"
side = "left"
levels = ["C6", "C7"]
procedure = "Left C6-C7 DREZ lesioning"

[[exclude]]
channel = "R APB"
from_s = 30.0
reason = "electrode displaced"

[[exclude]]
sweep = [3]
reason = "stimulator fault"

[[rebaseline]]
at_s = 40.0
reason = "leg electrodes re-taped"

[[events]]
at_s = 24.0
text = "MAP 55 mmHg"

[clinical]
sex = "F"
age = 66
new_deficit = false
"""

ALL_KINDS = """[criteria]
name = "all-kinds"
amplitude_drop_percent = 50
latency_increase_percent = 4
phase_loss = 1
threshold_rise_v = 100
sustained_n = 3
"""


def _written(result, folder):
    """The three files of a case as iomon writes them, read back."""
    from iomon.report.outputs import write_outputs

    write_outputs(result, folder, report=False)
    return (pd.read_csv(folder / "measurements.csv", keep_default_na=False,
                        na_values=[""]),
            json.loads((folder / "alerts.json").read_text()),
            json.loads((folder / "summary.json").read_text()))


@pytest.fixture(scope="module")
def written(cases, small_case, tmp_path_factory):
    """Cases that between them fill every part of the schema."""
    from iomon.alerting.criteria import load_criteria
    from iomon.io import read
    from iomon.pipeline import analyze, analyze_each, load_case

    folder = tmp_path_factory.mktemp("schema")
    _, path = small_case
    reviewed = folder / "reviewed.edf"
    shutil.copy(path, reviewed)
    text = path.with_name(path.stem + ".case.toml").read_text()
    (folder / "reviewed.case.toml").write_text(REVIEWED + "\n[[channels]]"
                                               + text.split("[[channels]]", 1)[1])
    (folder / "all.toml").write_text(ALL_KINDS)
    results = [analyze(read(reviewed), load_case(reviewed), "drez-cusum")]
    _, threshold = cases.write("threshold", 1)
    results += analyze_each(read(threshold), load_case(threshold),
                            ["drez", load_criteria(folder / "all.toml")])
    results.append(cases.analyse("systemic_focal", 0)[1])
    return [_written(r, folder / f"out{k}") for k, r in enumerate(results)]


def test_every_column_and_key_written_is_in_the_schema(written):
    seen_alerts = 0
    for measurements, alerts, summary in written:
        assert schema.check_table(measurements) == []
        assert schema.check_document(alerts, schema.ALERTS) == []
        assert schema.check_document(summary, schema.SUMMARY) == []
        seen_alerts += len(alerts["alerts"])
    # The cases fill the parts that may be empty: alerts, review edits, rebaselines, clinical.
    assert seen_alerts and any(s["review_edits"]["exclusions"] and len(s["baselines"]) > 1
                               and s["clinical"] for _, _, s in written)
    kinds = {a["criterion"] for _, alerts, _ in written for a in alerts["alerts"]}
    assert {"amplitude", "threshold"} <= kinds


def test_the_check_finds_what_departs_from_the_schema(written):
    """The checks can fail: a key too many, one missing, a wrong type, a column renamed."""
    measurements, alerts, summary = written[0]
    broken = json.loads(json.dumps(summary))
    broken["surprise"] = 1
    del broken["n_alerts"]
    broken["channels"][0]["baseline_n_sweeps"] = "ten"
    broken["settings"]["sfreq_hz"] = None
    problems = schema.check_document(broken, schema.SUMMARY)
    assert sorted(problems) == ["channels[0].baseline_n_sweeps: str, expected integer",
                                "n_alerts: missing", "settings.sfreq_hz: null, not allowed",
                                "surprise: not in the schema"]
    assert schema.check_table(measurements.rename(columns={"sweep": "sweep_no"}))
    assert schema.check_table(measurements.assign(present="yes"))


def test_alerts_carry_the_schema_fields_and_a_table_of_them(cases):
    from iomon.alerting.alerts import Alert
    from iomon.results import ALERT_COLUMNS

    assert [f.name for f in dataclasses.fields(Alert)] == list(ALERT_COLUMNS)
    _, result = cases.analyse("focal_persistent", 0)
    table = result.alerts_table()
    assert list(table.columns) == list(ALERT_COLUMNS) and len(table) == len(result.alerts)
    assert table["first_met_sweep"].notna().any()
    assert (table["first_met_sweep"].dropna() <= table.loc[table["first_met_sweep"].notna(),
                                                           "onset_sweep"]).all()


def test_every_field_says_what_it_means():
    def walk(fields):
        for f in fields:
            yield f
            yield from walk(f.items)

    for f in walk(schema.MEASUREMENTS + schema.ALERTS + schema.SUMMARY):
        assert f.meaning and f.kind in ("integer", "number", "text", "boolean", "list",
                                        "object", "map"), f.name


def test_readme_tables_are_the_schema():
    """The README's output tables are generated from the schema (python -m iomon.schema)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in schema.README_TABLES:
        assert f"<!-- schema: {name} -->" in text, name
    assert schema.readme_tables(text) == text, "run: python -m iomon.schema README.md"
