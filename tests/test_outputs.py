"""Output folder behaviour: replacement of earlier runs and nothing half-written on a crash."""

import pytest

from iomon import outputs


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
    import iomon.report

    monkeypatch.setattr(iomon.report, "write_pdf", broken)
    out = tmp_path / "o"
    with pytest.raises(RuntimeError):
        outputs.write_outputs(result, out)
    assert list(tmp_path.iterdir()) == []
