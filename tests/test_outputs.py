"""Output folder behaviour: replacement of earlier runs, nothing half-written on a crash, and
nothing of anyone else's deleted or overwritten (issue 21, item 1)."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from iomon.alerting.criteria import load_criteria
from iomon.report import outputs


def test_rerun_replaces_and_no_report_removes_stale_report(cases, tmp_path):
    _, result = cases.analyse("stable", 0)
    out = tmp_path / "o"
    outputs.write_outputs(result, out)
    assert (out / "report.html").exists()
    outputs.write_outputs(result, out, report=False)
    assert sorted(p.name for p in out.iterdir()) == ["alerts.json", "iomon-manifest.json",
                                                     "measurements.csv", "summary.json"]


def test_crash_while_writing_leaves_nothing(cases, tmp_path, monkeypatch):
    _, result = cases.analyse("stable", 0)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    # Fault injection: the PDF step fails after the tables and the HTML were written.
    import iomon.report.pdf

    monkeypatch.setattr(iomon.report.pdf, "write_pdf", broken)
    out = tmp_path / "o"
    with pytest.raises(RuntimeError):
        outputs.write_outputs(result, out)
    assert list(tmp_path.iterdir()) == []


def test_threshold_case_report_shows_intensity_and_rise(cases, tmp_path):
    """A threshold-level case: the trend gets an intensity panel; the report states the rise."""
    from iomon.report.figures import trend_figure
    from iomon.report.outputs import write_outputs

    _, result = cases.analyse("threshold", 1)
    fig = trend_figure(result)
    # One intensity panel on top of each column (at-risk side, controls), then the channels.
    assert len(fig.axes) == len(result.sweeps.channels) + 2
    assert fig.axes[0].get_title(loc="left") == "stimulus intensity"
    drawn = fig.axes[0].lines[0].get_ydata()
    assert list(drawn) == list(result.sweeps.table["stim_intensity"])
    write_outputs(result, tmp_path / "out")
    html = (tmp_path / "out" / "report.html").read_text()
    rises = {a.threshold_rise_v for a in result.alerts if a.criterion == "threshold"}
    assert rises and all(f"+{r:g} V" in html for r in rises)
    assert "Threshold: the stimulation threshold" in html


# ---------------------------------------------------------------------------- another's files
RECORDING = Path(__file__).resolve().parents[1] / "recordings" / "drez_systemic.edf"


def iomon(*args):
    return subprocess.run([sys.executable, "-m", "iomon.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=600)


def tree(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def users_folder(tmp_path) -> Path:
    """The issue's folder: a user's plot in figures/ and a note beside it."""
    mine = tmp_path / "mine"
    (mine / "figures").mkdir(parents=True)
    (mine / "figures" / "my_plot.png").write_bytes(b"x\n")
    (mine / "notes.txt").write_text("x\n")
    return mine


def test_a_users_files_are_refused_then_kept_with_force(tmp_path):
    """`iomon analyze ... --out mine --no-report` deleted mine/figures/ with my_plot.png."""
    mine = users_folder(tmp_path)
    before = tree(mine)
    refused = iomon("analyze", RECORDING, "--out", mine, "--no-report")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert str(mine) in refused.stderr and "figures/my_plot.png, notes.txt" in refused.stderr
    assert tree(mine) == before
    for args in (["--no-report"], [], ["--no-report"]):  # tables, the report, tables again
        done = iomon("analyze", RECORDING, "--out", mine, "--force", *args)
        assert done.returncode == 0, done.stderr
        assert {k: v for k, v in tree(mine).items() if k in before} == before
    # The report's figures went with the report; the user's plot and its folder stayed.
    assert sorted(tree(mine)) == ["alerts.json", "figures/my_plot.png", "iomon-manifest.json",
                                  "measurements.csv", "notes.txt", "summary.json"]


@pytest.mark.parametrize("name", ["report.html", "measurements.csv", "figures/trend.png"])
def test_a_users_file_where_an_output_goes_is_never_replaced(tmp_path, name):
    mine = tmp_path / "mine"
    (mine / name).parent.mkdir(parents=True, exist_ok=True)
    (mine / name).write_text("the user's own\n")
    done = iomon("analyze", RECORDING, "--out", mine, "--force")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert f"{name} in it is not a file iomon wrote" in done.stderr
    assert tree(mine) == {name: b"the user's own\n"}
    assert not list(tmp_path.glob(".*")), "a staging folder was left"


def test_an_output_changed_since_iomon_wrote_it_is_the_users(tmp_path):
    out = tmp_path / "out"
    assert iomon("analyze", RECORDING, "--out", out, "--no-report").returncode == 0
    assert iomon("analyze", RECORDING, "--out", out, "--no-report").returncode == 0  # a rerun
    (out / "alerts.json").write_text("annotated by hand\n")
    for force in ([], ["--force"]):
        again = iomon("analyze", RECORDING, "--out", out, "--no-report", *force)
        assert again.returncode == 2 and "alerts.json" in again.stderr, again.stderr
    assert (out / "alerts.json").read_text() == "annotated by hand\n"


def test_a_run_killed_while_moving_files_into_place_leaves_them_all_iomons(
        cases, tmp_path, monkeypatch):
    """The manifest records the new checksums before the first file moves: a run killed
    half-way leaves no file that a later run would take for another's."""
    _, result = cases.analyse("stable", 0)
    out = tmp_path / "o"
    outputs.write_outputs(result, out)
    real, moved = outputs.os.replace, []

    def dies_after_two(source, target):
        if len(moved) == 2:
            raise KeyboardInterrupt  # as a Ctrl-C, or a kill, between two renames
        moved.append(target)
        return real(source, target)

    other = dataclasses.replace(result, criteria=load_criteria("jssr70"))
    monkeypatch.setattr(outputs.os, "replace", dies_after_two)
    with pytest.raises(KeyboardInterrupt):
        outputs.write_outputs(other, out)
    monkeypatch.setattr(outputs.os, "replace", real)
    assert outputs.check_folder(out) and len(moved) == 2  # refuses nothing
    outputs.write_outputs(other, out)
    assert json.loads((out / "alerts.json").read_text())["criteria"] == "jssr70"


def test_demo_keeps_a_users_files_and_replaces_its_own(tmp_path):
    out = tmp_path / "demo"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    refused = iomon("demo", "--out", out)
    assert refused.returncode == 2 and "notes.txt" in refused.stderr, refused.stderr
    assert tree(out) == {"notes.txt": b"mine\n"}
    for _ in range(2):  # the second run replaces the first's recording and report
        done = iomon("demo", "--out", out, "--force")
        assert done.returncode == 0, done.stderr
    files = tree(out)
    assert files["notes.txt"] == b"mine\n" and "recording/demo.edf" in files
    manifest = json.loads(files["iomon-manifest.json"])
    assert set(manifest["files"]) == set(files) - {"notes.txt", "iomon-manifest.json"}


@pytest.mark.parametrize("rows", [outputs.CSV_ROWS, 3])
def test_measurements_csv_is_what_pandas_writes(cases, monkeypatch, rows):
    """measurements.csv's own writer gives pandas' ``to_csv`` text byte for byte: on a real
    analysis (rejected sweeps' empty cells, booleans, text) and on the awkward values, written
    at once or a few rows at a time."""
    import io

    import numpy as np
    import pandas as pd

    monkeypatch.setattr(outputs, "CSV_ROWS", rows)

    _, result = cases.analyse("stable", 0)
    awkward = pd.DataFrame({
        "number": [1.5, np.nan, -0.0, 1e-9, 123456789.0, np.inf, 0.1 + 0.2],
        "text": ["a,b", 'say "x"', None, "", "two\nlines", np.nan, pd.NA],
        "flag": [True, False, True, False, True, False, True],
        "unit": ["µV", "mV", "", "V", "µV", "mA", "V"],
        "count": np.arange(7), "small": np.arange(7, dtype=np.uint8)})
    def written(columns) -> str:
        text = io.StringIO()
        outputs.write_csv(columns, text)
        return text.getvalue()

    for frame in (result.measurement_table(), awkward):
        expected = frame.to_csv(index=False, float_format="%.6g", lineterminator="\n")
        assert written(frame) == expected
    # and the columns the outputs write, without pandas
    columns = result.documents().measurements
    assert written(columns) == written(result.measurement_table())
