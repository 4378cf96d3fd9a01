"""The case report as a person sees it: in a real browser, on rendered PDF pages, in words.

The browser is Debian's Chromium driven by Playwright; the PDF pages are rendered by poppler's
pdftoppm and read by pdftotext. `.ci/run` installs both; locally the browser and PDF tests
skip, saying why, when they are missing, unless IOMON_REQUIRE_TOOLS=1 (set by CI) makes them
fail instead.
"""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import RECORDINGS, open_in_browser
from conftest import tool as _tool

REVIEW = """
[case]
id = "SYS-REVIEW"
side = "left"
levels = ["C5", "C6", "C7", "C8"]
procedure = "Left C5-C8 DREZ lesioning"

[[exclude]]
channel = "R APB"
from_s = 30.0
reason = "electrode displaced"

[[exclude]]
sweep = [5, 6]
reason = "stimulator fault"

[[events]]
at_s = 24.0
text = "MAP 55 mmHg"

[clinical]
surgery_date = 2023-10-04
sex = "F"
age = 66
new_deficit = false
"""


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory):
    """The shipped systemic case with review edits, analysed and written by the CLI."""
    folder = tmp_path_factory.mktemp("reviewed")
    recording = folder / "systemic.edf"
    shutil.copy(RECORDINGS / "drez_systemic.edf", recording)
    channels = (RECORDINGS / "drez_systemic.case.toml").read_text().split("[[channels]]", 1)[1]
    (folder / "systemic.case.toml").write_text(REVIEW + "\n[[channels]]" + channels)
    out = folder / "out"
    proc = subprocess.run([sys.executable, "-m", "iomon.cli", "analyze", str(recording),
                           "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def focal(tmp_path_factory):
    out = tmp_path_factory.mktemp("focal") / "out"
    proc = subprocess.run([sys.executable, "-m", "iomon.cli", "analyze",
                           str(RECORDINGS / "drez_focal_recovering.edf"), "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.parametrize("which", ["reviewed", "focal"])
def test_report_in_a_real_browser(which, request, tmp_path):
    """No console errors, every image loaded, nothing wider than the window, not blank."""
    out = request.getfixturevalue(which)
    shot = tmp_path / "page.png"
    seen = open_in_browser(out / "report.html", shot)
    problems, images, overflow, height = (seen[k] for k in ("problems", "images", "width",
                                                             "height"))
    assert problems == []
    assert len(images) == 4 and all(ok and natural > 0 and shown > 0
                                    for ok, natural, shown in images)
    assert overflow <= 800, "the page is wider than an 800 px window: a table does not fit"
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[0] >= height - 2, "the screenshot is cut"
    assert pixels[..., :3].std() > 0.05, "the screenshot is blank"


def test_pdf_pages_render_and_hold_the_alert_table(reviewed, tmp_path):
    pdftoppm, pdftotext = _tool("pdftoppm"), _tool("pdftotext")
    pdf = reviewed / "report.pdf"
    subprocess.run([pdftoppm, "-r", "40", "-png", str(pdf), str(tmp_path / "p")], check=True)
    pages = sorted(tmp_path.glob("p-*.png"))
    assert len(pages) >= 4
    from matplotlib.image import imread

    for page in pages:
        pixels = imread(page)
        assert pixels[..., :3].std() > 0.02, f"{page.name} is blank"
    text = subprocess.run([pdftotext, "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    sheets = text.split("\f")[:len(pages)]
    for number, sheet in enumerate(sheets, start=1):
        assert "SYS-REVIEW" in sheet and f"page {number} of {len(pages)}" in sheet
    flat = " ".join(text.split())
    for words in ("Alerts: 1 event (1 systemic on 7 channels), 7 alert episodes", "Most abnormal",
                  "Conclusion", "Review edits", "µV", "electrode displaced", "MAP 55 mmHg",
                  "Methods", "Reviewed and interpreted by"):
        assert words in flat, words
    # A figure's heading, image and caption share a page (never a heading left alone).
    for title, caption in (("MEP amplitude trends", "Peak-to-peak amplitude"),
                           ("Baseline against final", "Per channel, single sweeps"),
                           ("Onset and peak latency trends", "Onset and peak latency per"),
                           ("Stacked waveforms", "Conditioned sweeps")):
        sheet = next(s for s in sheets if title in s)
        assert caption in " ".join(sheet.split()), title


def test_pdf_fonts_are_embedded_and_the_file_is_the_same_wherever_it_is_written(
        reviewed, tmp_path):
    """Every font embedded (PDF/A needs it); the same bytes from figures in another folder."""
    pdffonts = _tool("pdffonts")
    fonts = subprocess.run([pdffonts, str(reviewed / "report.pdf")], capture_output=True,
                           text=True, check=True).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts), fonts
    from iomon.pipeline import analyze_file
    from iomon.report import write_report

    result = analyze_file(RECORDINGS / "drez_focal_recovering.edf")
    documents = result.documents()
    pdfs = []
    for where in ("a", "b/deeper"):
        folder = tmp_path / where
        folder.mkdir(parents=True)
        write_report(result, documents, folder)
        pdfs.append((folder / "report.pdf").read_bytes())
    assert pdfs[0] == pdfs[1]


def test_one_systemic_event_is_one_row_and_focal_alerts_one_each(reviewed, focal):
    from iomon.pipeline import analyze_file
    from iomon.report.content import alert_events, alert_table, build_content, case_facts

    result = analyze_file(RECORDINGS / "drez_systemic.edf")
    assert len(result.alerts) == 7
    events = alert_events(result.alerts, float(result.sweeps.column("onset_s").max()))
    assert len(events) == 1 and len(events[0].channels) == 7
    content = build_content(result, result.documents(), [])
    assert content.alerts.rows[0][:2] == ("systemic (7 channels)", "1")
    assert content.alerts_heading == "Alerts: 1 event (1 systemic on 7 channels), 7 alert episodes"
    systemic = content.conclusion[0]
    assert systemic.startswith("Systemic: all 7 responding channels fell together")
    # At-risk channels and controls told apart; the recovery with its phase.
    assert "(at risk) to" in systemic and "(controls) to" in systemic
    # On the surgical clock the simulation stands for (its file runs 60 times faster).
    assert "Recovered by 08:30:45 (lesioning)" in systemic
    focal_result = analyze_file(RECORDINGS / "drez_focal_recovering.edf")
    order = focal_result.sweeps.ch_names
    table = alert_table(focal_result, alert_events(focal_result.alerts, 1e9, order),
                        case_facts(focal_result))
    # Montage order (L TA before L AH), as the recording lists them.
    assert [row[:3] for row in table.rows] == [("focal", "1", "L TA"), ("focal", "2", "L AH")]
    words = build_content(focal_result, focal_result.documents(), []).conclusion[0]
    assert words.startswith("Focal: L TA and L AH fell to 14–21 % of baseline from 08:25:11 "
                            "(lesioning; first below 50 % at 08:24:13, during C6 lesioning)")


def test_times_and_percentages_are_rounded_once():
    """Clock time and time elapsed from one rounding; % rounded half up everywhere."""
    import datetime

    from iomon.report.facts import percent_text
    from iomon.report.figures import TimeAxis
    from iomon.report.wording import when_text

    clock = TimeAxis(datetime.datetime(2023, 1, 1, 8, 0, 0, 400_000), 60.0)
    assert when_text(29.5, clock) == "08:00:30 (+0:00:30)"
    assert when_text(29.4, clock) == "08:00:29 (+0:00:29)"
    assert [percent_text(v) for v in (140.5, 139.5, 2.5, float("nan"))] == [
        "141 %", "140 %", "3 %", "–"]


def test_the_conclusion_and_the_tables_agree_on_an_excluded_channel(reviewed):
    """R APB excluded from 30 s: not assessable (never "not recovered"), final before it."""
    from iomon.pipeline import analyze_file

    result = analyze_file(reviewed.parent / "systemic.edf")
    content = build_content_of(result)
    systemic = content.conclusion[0]
    assert "6 of 7 recovered by 08:30:45 (lesioning)" in systemic
    assert "R APB: recovery not assessable, excluded from 08:30:19 (electrode displaced)" \
        in systemic
    assert "not recovered" not in " ".join(content.conclusion)
    finals = {row[0]: row[7] for row in content.channels.rows}
    assert finals["R APB"].endswith("before exclusion")
    ending = content.conclusion[-1]
    for name in ("L APB", "L TA", "L AH"):
        assert f"{name} {finals[name]}" in ending, name
    # Cited by its number in the table of markers and theatre events (and on the figures).
    number = next(row[0] for row in content.events.rows if row[2] == "MAP 55 mmHg")
    assert f"after #{number} (MAP 55 mmHg, 08:24:00)" in systemic


def build_content_of(result):
    from iomon.report.content import build_content

    return build_content(result, result.documents(), [])


def test_a_threshold_rise_is_given_as_its_bracket_and_the_final_intensity_named(cases):
    from iomon.report.content import build_content

    _, result = cases.analyse("threshold", 1)
    content = build_content(result, result.documents(), [])
    words = " ".join(content.conclusion)
    assert "stimulation threshold rose by" in words and "to a threshold of" in words
    # The baseline threshold is called so, never just "baseline" (the header's baseline
    # sweeps are at another intensity).
    assert "from a baseline threshold of" in words and "V at baseline" not in words
    rows = [r for r in content.alerts.rows if r[3] == "threshold rise"]
    assert rows and all(" to +" in r[6] and "baseline threshold" in r[6] for r in rows)
    finals = [row[7] for row in content.channels.rows if row[7] != "–"]
    assert any(" at " in f and f.endswith(" V") for f in finals)


def test_review_edits_change_the_analysis_and_are_listed(reviewed):
    summary = json.loads((reviewed / "summary.json").read_text())
    edits = summary["review_edits"]
    assert [e["reason"] for e in edits["exclusions"]] == ["electrode displaced",
                                                          "stimulator fault"]
    assert edits["exclusions"][1]["n_channel_sweeps"] == 2 * 8
    assert edits["events"] == [{"at_s": 24.0, "text": "MAP 55 mmHg"}]
    assert summary["clinical"] == {"surgery_date": "2023-10-04", "sex": "F", "age": 66,
                                   "new_deficit": False}
    assert summary["procedure"] == "Left C5-C8 DREZ lesioning"
    import pandas as pd

    table = pd.read_csv(reviewed / "measurements.csv")
    apb = table[(table.channel == "R APB") & (table.time_s >= 30.0)]
    assert apb.rejected.all() and set(apb.reject_reason) == {"excluded: electrode displaced"}
    assert apb.amplitude_uv.isna().all()
    fault = table[table.sweep.isin([5, 6])]
    assert set(fault.reject_reason) == {"excluded: stimulator fault"}
    # Without the edits, R APB's later sweeps are measured.
    from iomon.pipeline import analyze_file

    plain = analyze_file(RECORDINGS / "drez_systemic.edf").measurement_table()
    later = plain[(plain.channel == "R APB") & (plain.time_s >= 30.0)]
    assert not later.rejected.any() and later.amplitude_uv.notna().all()
    html = (reviewed / "report.html").read_text()
    assert "Review edits" in html and "electrode displaced" in html and "MAP 55 mmHg" in html


def test_outputs_follow_the_umask_and_refuse_another_case(reviewed, tmp_path):
    out = tmp_path / "shared"
    script = ("import os, sys; os.umask(0o002); from iomon.cli import main; "
              f"sys.exit(main(['analyze', {str(RECORDINGS / 'drez_focal_recovering.edf')!r}, "
              f"'--out', {str(out)!r}, '--no-report']))")
    assert subprocess.run([sys.executable, "-c", script]).returncode == 0
    assert out.stat().st_mode & 0o777 == 0o775
    assert (out / "summary.json").stat().st_mode & 0o777 == 0o664
    other = subprocess.run([sys.executable, "-m", "iomon.cli", "analyze",
                            str(RECORDINGS / "drez_systemic.edf"), "--out", str(out)],
                           capture_output=True, text=True)
    assert other.returncode == 2 and "another case" in other.stderr
    assert len(other.stderr.strip().splitlines()) == 1
    assert json.loads((out / "summary.json").read_text())["case_id"] == "drez_focal_recovering"
    forced = subprocess.run([sys.executable, "-m", "iomon.cli", "analyze",
                             str(RECORDINGS / "drez_systemic.edf"), "--out", str(out),
                             "--force"], capture_output=True, text=True)
    assert forced.returncode == 0, forced.stderr
    assert json.loads((out / "summary.json").read_text())["case_id"] == "drez_systemic"
    assert {p.name for p in out.iterdir()} >= {"report.html", "report.pdf", "figures"}


def test_no_significant_change_is_said_so(cases):
    from iomon.report.content import build_content

    _, result = cases.analyse("stable", 0)
    content = build_content(result, result.documents(), [])
    assert content.conclusion[0].startswith("No significant change")
    assert np.all([len(row) == len(content.channels.columns) for row in content.channels.rows])
