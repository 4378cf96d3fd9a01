"""A simulated case says so on every page, with the surgical clock it stands for (issue 21 item 8).

The shipped recordings are simulated with the surgical clock divided by 60: the report of
`drez_systemic` showed a whole surgery as 42 s of clock time with nothing saying so. iomon knows
a case is synthetic from its sidecar's ``[simulation]`` (which gives the time compression) and,
without it, from the recording's header naming ``iomon.simulate`` as the equipment.
"""

from __future__ import annotations

import datetime
import json
import re
import shutil
import subprocess
import sys

from conftest import RECORDINGS
from conftest import tool as _tool


def run(*args):
    return subprocess.run([sys.executable, "-m", "iomon.cli", *map(str, args)],
                          capture_output=True, text=True)


def test_a_time_compressed_case_is_marked_on_every_page_with_its_surgical_clock(tmp_path):
    out = tmp_path / "out"
    proc = run("analyze", RECORDINGS / "drez_systemic.edf", "--out", out)
    assert proc.returncode == 0, proc.stderr
    page = (out / "report.html").read_text()
    mark = "SYNTHETIC CASE, time-compressed ×60: not a patient&#39;s recording"
    assert f'<p class="synthetic">{mark}</p>' in page
    assert f'<div class="synthetic-print">{mark}</div>' in page  # every printed page
    assert "standing for 0:43:00 of surgery" in page
    summary = json.loads((out / "summary.json").read_text())
    assert summary["simulation"] == {"time_compression": 60.0, "scenario": "systemic",
                                     "seed": 12, "source": "[simulation]"}
    # Every time is on the surgical clock: the file's seconds times 60 from the start.
    alerts = json.loads((out / "alerts.json").read_text())["alerts"]
    start = datetime.datetime.strptime(summary["recording_start_time"], "%H:%M:%S")
    called = min(a["onset_s"] for a in alerts)
    clock = (start + datetime.timedelta(seconds=round(called * 60))).strftime("%H:%M:%S")
    assert f"{clock} (+0:{round(called * 60) // 60:02d}:{round(called * 60) % 60:02d})" in page
    for figure in ("trend", "latency"):  # the figures' time axis says which clock it is
        assert "surgical clock (simulated; the file runs ×60)" in (
            out / "figures" / f"{figure}.svg").read_text()
    pdftotext = _tool("pdftotext")
    text = subprocess.run([pdftotext, "-layout", str(out / "report.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    sheets = [s for s in text.split("\f") if s.strip()]
    assert len(sheets) >= 4
    for number, sheet in enumerate(sheets, start=1):
        assert "SYNTHETIC CASE, time-compressed ×60" in " ".join(sheet.split()), number


def test_the_header_marks_a_simulated_file_without_its_sidecar_and_a_real_one_is_not(tmp_path):
    shutil.copy(RECORDINGS / "drez_systemic.edf", tmp_path / "sim.edf")
    sidecar = (RECORDINGS / "drez_systemic.case.toml").read_text()
    (tmp_path / "sim.case.toml").write_text(sidecar.split("[simulation]")[0])
    assert run("analyze", tmp_path / "sim.edf", "--out", tmp_path / "a").returncode == 0
    page = (tmp_path / "a" / "report.html").read_text()
    assert '<p class="synthetic">SYNTHETIC CASE: not a patient&#39;s recording</p>' in page
    assert "Its time compression is not stated" in page
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["simulation"]["source"] == "header"
    # The same bytes with another equipment in the header: a recording like any other.
    data = (tmp_path / "sim.edf").read_bytes()
    assert data[88:168].split()[-1] == b"iomon.simulate"
    (tmp_path / "real.edf").write_bytes(data.replace(b"iomon.simulate", b"ISIS_Xpert_141", 1))
    (tmp_path / "real.case.toml").write_text(sidecar.split("[simulation]")[0])
    assert run("analyze", tmp_path / "real.edf", "--out", tmp_path / "b").returncode == 0
    page = (tmp_path / "b" / "report.html").read_text()
    body = page.split("<body>", 1)[1]
    assert "synthetic" not in body.lower() and "surgical clock" not in body
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["simulation"] is None


def test_a_bad_simulation_table_is_one_line(tmp_path):
    shutil.copy(RECORDINGS / "drez_systemic.edf", tmp_path / "sim.edf")
    sidecar = (RECORDINGS / "drez_systemic.case.toml").read_text()
    (tmp_path / "sim.case.toml").write_text(
        re.sub(r"time_compression = .*", "time_compression = 0.5", sidecar))
    proc = run("analyze", tmp_path / "sim.edf", "--out", tmp_path / "a")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "simulation.time_compression" in proc.stderr
