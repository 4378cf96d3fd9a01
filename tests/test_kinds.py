"""The table of criterion kinds: a kind added in a test is one entry and its test function.

A toy kind (the rectified area of the response falling by a set %) is registered and, with no
other change, seen in the criteria file's keys, the alerting, alerts.json and summary.json,
``iomon criteria``, the report's words (alert table, conclusion, methods) and the trend
figure's lanes.
"""

import contextlib
import io
import json

import numpy as np
import pytest

from iomon.alerting.kinds import (
    CRITERION_KINDS,
    CriterionKind,
    Stream,
    criterion_kinds,
    register_kind,
    unregister_kind,
)


def area_fell(compared, criteria):
    """Sweeps whose rectified area fell by ``area_drop_percent`` or more of its baseline."""
    with np.errstate(invalid="ignore", divide="ignore"):
        percent = 100.0 * compared.measure("area") / compared.baseline("area")
        met = percent <= 100.0 - criteria.value("area_drop_percent")
    return Stream(met, percent, np.nanmin)


AREA = CriterionKind(
    "area", "rectified area of the response as % of baseline", "area drop", 4, "area",
    ("area_drop_percent",), area_fell, compared=("area",), noun="area",
    extreme="area {span} of baseline", finding=("rectified area fell to {span} of baseline",
                                                "rectified area fell to {span} of baseline"),
    systemic_verb="lost area together",
    first_words=lambda c, muscle: f"first {c.value('area_drop_percent'):g} % smaller",
    looked_for=lambda c: f"area drop of {c.value('area_drop_percent'):g} % or more",
    rule=lambda c: [f"Area: a drop of {c.value('area_drop_percent'):g} % or more of the "
                    "rectified area."])

CRITERIA = """[criteria]
name = "with-area"
amplitude_drop_percent = 95
area_drop_percent = 60
focal_phases = ["lesioning"]
focal_until_end = true
"""


@pytest.fixture()
def area_kind():
    register_kind(AREA)
    try:
        yield AREA
    finally:
        unregister_kind("area")


def _cli(*args) -> tuple[int, str]:
    """An iomon command in this process (the kind is registered here, not in a child)."""
    from iomon.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        status = main([str(a) for a in args])
    return status, out.getvalue()


def test_a_registered_kind_flows_everywhere(area_kind, cases, tmp_path):
    from iomon import schema
    from iomon.report.figures import alert_lanes, trend_figure

    sim, path = cases.write("focal_persistent", 0)
    criteria = tmp_path / "with-area.toml"
    criteria.write_text(CRITERIA)
    # The command line: the kind, what it measures and its key, then an analysis with it.
    status, text = _cli("criteria")
    assert status == 0 and "area: rectified area of the response as % of baseline " \
                          "(area_drop_percent)" in " ".join(text.split())
    out = tmp_path / "out"
    status, text = _cli("analyze", path, "--criteria", criteria, "--out", out)
    assert status == 0, text
    alerts = json.loads((out / "alerts.json").read_text())["alerts"]
    area = [a for a in alerts if a["criterion"] == "area"]
    # The legs the simulator dropped lose their area too: the toy kind alerts on them.
    assert sorted({a["channel"] for a in area if a["scope"] == "focal"}) == sorted(
        sim.truth.focal_channels)
    assert all(a["first_met_sweep"] is not None and a["first_met_sweep"] <= a["onset_sweep"]
               for a in area)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["criteria_detail"]["area_drop_percent"] == 60
    assert "Area: a drop of 60 % or more" in summary["criteria_detail"]["rule"]
    assert schema.check_document(summary, schema.SUMMARY) == []
    # The report: the alert table's words, the conclusion, the rules in the methods.
    html = " ".join((out / "report.html").read_text().split())
    for words in ("area drop", "rectified area fell to", "first 60 % smaller",
                  "Area: a drop of 60 % or more of the rectified area"):
        assert words in html, words
    # The figures: the kind's lane, labelled with its words.
    from iomon.pipeline import analyze_file

    result = analyze_file(path, criteria=str(criteria))
    leg = area[0]["channel"]
    assert AREA.lane in alert_lanes(result, leg)
    fig = trend_figure(result, channels=[leg])
    labels = [t.get_text().strip() for ax in fig.axes for t in ax.texts]
    assert "area" in labels


def test_kinds_are_one_table(area_kind):
    from iomon.alerting.criteria import file_keys, load_criteria

    assert criterion_kinds()[-1] is area_kind and CRITERION_KINDS["area"] is area_kind
    assert "area_drop_percent" in file_keys()
    with pytest.raises(ValueError, match="exists already"):
        register_kind(area_kind)
    with pytest.raises(ValueError, match="built-in"):
        unregister_kind("amplitude")
    # A preset without the kind's key does not apply it.
    assert area_kind not in load_criteria("drez").kinds()


def test_an_unregistered_kind_s_key_is_refused(tmp_path):
    from iomon.alerting.criteria import load_criteria
    from iomon.model.errors import InputError

    path = tmp_path / "area.toml"
    path.write_text(CRITERIA)
    with pytest.raises(InputError, match="unknown key 'area_drop_percent'"):
        load_criteria(path)
