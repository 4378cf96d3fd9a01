"""Output folder behaviour: replacement of earlier runs and nothing half-written on a crash."""

import pytest

from iomon.report import outputs


def test_rerun_replaces_and_no_report_removes_stale_report(cases, tmp_path):
    _, result = cases.analyse("stable", 0)
    out = tmp_path / "o"
    outputs.write_outputs(result, out)
    assert (out / "report.html").exists()
    outputs.write_outputs(result, out, report=False)
    assert sorted(p.name for p in out.iterdir()) == ["alerts.json", "measurements.csv",
                                                     "summary.json"]


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
