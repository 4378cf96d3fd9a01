"""What the report says of markers, theatre events, lesioning levels and alert events.

Issue 21: markers numbered as on the figures and drawn there (item 9); one event counted and
worded one way in the report, alerts.json, summary.json and on the command line (item 7);
typed theatre events and markers cited by the conclusion, and the level being lesioned named
for each alert (item 13). Run through the command line as a user meets them, on the shipped
recordings and on simulated cases whose markers the simulator wrote.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import RECORDINGS


def run(*args):
    return subprocess.run([sys.executable, "-m", "iomon.cli", *map(str, args)],
                          capture_output=True, text=True)


def analysed(recording, out):
    proc = run("analyze", recording, "--out", out)
    assert proc.returncode == 0, proc.stderr
    return proc


def table_rows(page: str, heading: str) -> list[list[str]]:
    """The rows of the table that follows ``heading`` in a report page, as text cells."""
    part = page.split(f"<h2>{heading}</h2>", 1)[1].split("</table>", 1)[0]
    return [[html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
             for c in re.findall(r"<td>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", part, re.S)[1:]]


def conclusion(page: str) -> str:
    part = page.split('<div class="conclusion">', 1)[1].split("</div>", 1)[0]
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", part).split()))


def drawn_numbers(fig) -> dict[str, list[float]]:
    """The numbers a trend figure writes over its panels, each with where it is (data x)."""
    out: dict[str, list[float]] = {}
    for ax in fig.axes:
        for text in ax.texts:
            label = text.get_text()
            if re.fullmatch(r"\d+([,–]\d+)*", label):
                if "–" in label:
                    low, high = map(int, label.split("–"))
                    numbers = [str(n) for n in range(low, high + 1)]
                else:
                    numbers = label.split(",")
                x = ax.transAxes.transform((text.xy[0], 0))
                at = ax.transData.inverted().transform(x)[0]
                for n in numbers:
                    out.setdefault(n, []).append(at)
    return out


def test_every_marker_is_numbered_in_the_table_and_drawn_on_the_trends(tmp_path):
    """Item 9: the # column was blank for recording markers, and Exposure and Closure were not
    drawn on the trends."""
    from iomon.pipeline import analyze_file
    from iomon.report.figures.trend import trend_figure

    out = tmp_path / "out"
    analysed(RECORDINGS / "drez_focal_recovering.edf", out)
    page = (out / "report.html").read_text()
    rows = table_rows(page, "Markers and theatre events")
    texts = [r[2] for r in rows]
    assert {"Baseline", "Exposure start", "DREZ lesioning start", "DREZ lesioning end",
            "Closure start"} <= set(texts)
    assert [r[0] for r in rows] == [str(n) for n in range(1, len(rows) + 1)]
    result = analyze_file(RECORDINGS / "drez_focal_recovering.edf")
    fig = trend_figure(result)
    drawn = drawn_numbers(fig)
    lines = {round(float(seg[0][0]), 6) for ax in fig.axes for coll in ax.collections
             if hasattr(coll, "get_segments") and coll.get_linestyle()[0][1] is not None
             for seg in coll.get_segments()}
    for marker in result.markers:
        assert str(marker.number) in drawn, marker
        assert round(marker.at_s, 6) in lines, marker
        # Numbers that share a label sit between their markers, within a label's width.
        width = float(np.ptp(result.sweeps.column("onset_s")))
        assert min(abs(x - marker.at_s) for x in drawn[str(marker.number)]) < 0.05 * width


def test_typed_markers_are_cited_and_each_alert_names_its_level(tmp_path):
    """Item 13: a systemic event names the blood-pressure marker before it, a focal one what
    the team did; every alert names the level being lesioned where it began (alerts.json
    lesioning_level, the table, the conclusion)."""
    from iomon.model.annotations import LESION_LEVEL_PATTERN
    from iomon.sim import read_truth  # noqa: F401 (the simulator's own truth file is beside)

    sim_dir = tmp_path / "sim"
    proc = run("simulate", "--scenario", "systemic_focal", "--seed", "0", "--out", sim_dir)
    assert proc.returncode == 0, proc.stderr
    recording = next(sim_dir.glob("*.edf"))
    out = tmp_path / "out"
    analysed(recording, out)
    page = (out / "report.html").read_text()
    rows = table_rows(page, "Markers and theatre events")
    number = {r[2]: r[0] for r in rows}
    levels = [(r[1], LESION_LEVEL_PATTERN.match(r[2]).group(1)) for r in rows
              if LESION_LEVEL_PATTERN.match(r[2])]
    assert [lv for _, lv in levels] == ["C5", "C6", "C7", "C8"]
    words = conclusion(page)
    bp = number["blood pressure: MAP 50 mmHg"]
    systemic = next(p for p in words.split("Systemic:")[1:])
    assert f"after #{bp} (blood pressure: MAP 50 mmHg," in systemic
    assert f"(#{number['surgeon informed']})" in words.split("Systemic:")[0]
    assert f"after #{number['Exposure start']} " not in words  # untyped: never cited
    summary = json.loads((out / "summary.json").read_text())
    spans = {p["level"]: (p["start_s"], p["end_s"]) for p in summary["phases"] if p["level"]}
    assert list(spans) == ["C5", "C6", "C7", "C8"]
    alerts = json.loads((out / "alerts.json").read_text())["alerts"]
    lesioning_end = max(p["end_s"] for p in summary["phases"] if p["name"] == "lesioning")
    for alert in alerts:
        began = alert["first_met_s"] if alert["first_met_s"] is not None else alert["onset_s"]
        inside = [lv for lv, (a, b) in spans.items() if a <= began < b]
        assert alert["lesioning_level"] == (inside[0] if inside else None), alert
        assert alert["lesioning_end_lead_s"] == pytest.approx(lesioning_end - began, abs=2e-3)
    alert_rows = table_rows(page, re.search(r"<h2>(Alerts:[^<]*)</h2>", page).group(1))
    for row in alert_rows:
        assert re.search(r"began during C[5-8] lesioning", row[5]), row


def test_levels_from_sidecar_phases(tmp_path):
    """Item 13: [[phases]] with a level split the lesioning as `Lesioning C6` markers do."""
    shutil.copy(RECORDINGS / "drez_focal_recovering.edf", tmp_path / "case.edf")
    sidecar = (RECORDINGS / "drez_focal_recovering.case.toml").read_text()
    sidecar += "".join(f'\n[[phases]]\nname = "lesioning"\nlevel = "{lv}"\nstart_s = {a}\n'
                       f"end_s = {b}\n" for lv, a, b in (("C6", 20.0, 24.0), ("C7", 24.0, 36.0)))
    (tmp_path / "case.case.toml").write_text(sidecar)
    analysed(tmp_path / "case.edf", tmp_path / "out")
    alerts = json.loads((tmp_path / "out" / "alerts.json").read_text())["alerts"]
    assert alerts and {a["lesioning_level"] for a in alerts} <= {"C6", "C7"}
    for alert in alerts:
        began = alert["first_met_s"] if alert["first_met_s"] is not None else alert["onset_s"]
        assert alert["lesioning_level"] == ("C6" if began < 24.0 else "C7")
    (tmp_path / "case.case.toml").write_text(sidecar.replace('level = "C7"', 'level = "Q7"'))
    proc = run("analyze", tmp_path / "case.edf", "--out", tmp_path / "out2")
    assert proc.returncode == 2 and "[[phases]] entry 2 ('lesioning'): level" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_one_event_is_counted_one_way_everywhere(tmp_path):
    """Item 7: amplitude and threshold alerts of one leg at one time were "4 episodes (4 focal
    on 2 channels)"; the count is by event in the heading, alerts.json, summary.json and on the
    command line alike."""
    sim_dir = tmp_path / "sim"
    assert run("simulate", "--scenario", "threshold", "--seed", "0", "--out",
               sim_dir).returncode == 0
    out = tmp_path / "out"
    proc = analysed(next(sim_dir.glob("*.edf")), out)
    alerts = json.loads((out / "alerts.json").read_text())["alerts"]
    summary = json.loads((out / "summary.json").read_text())
    by_event: dict[int, set] = {}
    for alert in alerts:
        by_event.setdefault(alert["event"], set()).add(alert["channel"])
    assert {a["criterion"] for a in alerts} >= {"amplitude", "threshold"}
    # Each leg's amplitude and threshold alerts are one event, one event per leg.
    assert sorted(map(sorted, by_event.values())) == [["L AH"], ["L TA"]]
    assert summary["n_events"] == 2 and summary["n_alerts"] == len(alerts)
    counts = f"2 events (2 focal on 2 channels), {len(alerts)} alert episodes"
    page = (out / "report.html").read_text()
    assert f"<h2>Alerts: {counts}</h2>" in page
    assert f"alerts: {counts}" in proc.stdout
    # The conclusion tells each leg's alerts as one event, its outcome said once: no
    # amplitude "recovered by" in the middle of an event that never recovered.
    words = conclusion(page)
    for leg in ("L TA", "L AH"):
        number = next(a["event"] for a in alerts if a["channel"] == leg)
        sentence = words.split(f"{leg} (event {number}): ", 1)[1].split(". ", 1)[0]
        assert sentence.endswith("as one event, not recovered by the end of the recording")
        assert "recovered by" not in sentence.replace("not recovered by", "")
    # Baseline sweeps and baseline thresholds are two things, named apart.
    header = page.split('<h2>Conclusion</h2>', 1)[0]
    assert re.search(r"\(baseline sweeps at \d+ V\)", header)
    assert "at baseline)" not in page and "baseline threshold" in page


def test_the_controls_and_a_loss_are_worded_one_way(cases):
    """Item 7: the controls were "down to 31 %" in the conclusion and "fell too: 14-22 %" in
    the table; 5 % of baseline was "loss of response" in one place and "amplitude fell to 5 %"
    in another; a systemic event listed a channel twice."""
    from iomon.report.content import build_content
    from iomon.report.facts import percent_text

    _, result = cases.analyse("systemic_focal", 0)
    content = build_content(result, result.documents(), [])
    rows = content.alerts.rows
    systemic = [r for r in rows if r[0].startswith("systemic")]
    assert systemic
    for row in systemic:
        channels = row[2].split(", ")
        assert len(channels) == len(set(channels))
        assert row[0] == f"systemic ({len(channels)} channels)"
    words = " ".join(content.conclusion)
    assert "fell too" not in " ".join(r[7] for r in rows)
    for alert, row in ((a, r) for a in result.alerts if a.scope == "focal"
                       for r in rows if r[2] == a.channel and r[0] == "focal"):
        level = percent_text(alert.controls_percent)
        assert row[7].startswith(level)  # the controls' median over the sweeps that called it
        assert f"at a median of {level} of baseline when it was called" in words
    for alert in result.alerts:
        if alert.criterion not in ("amplitude", "loss"):
            continue
        lost = 2 * alert.responding_sweeps < alert.episode_sweeps
        assert (alert.criterion == "loss") == lost, alert
    for row in rows:
        if row[3] == "loss of response":
            assert row[6].startswith("no response in ")
        elif row[3] == "amplitude":
            assert "no response" not in row[6]


def test_info_lists_the_levels_with_their_sweeps_and_says_the_case_is_synthetic():
    proc = run("info", RECORDINGS / "drez_systemic.edf")
    assert proc.returncode == 0, proc.stderr
    assert "synthetic:  simulated by iomon simulate, time-compressed x60" in proc.stdout
    phases = re.findall(r"^  (\S+(?: C\d)?)\s+[\d.]+ to\s+[\d.]+ s  (\d+) sweeps$",
                        proc.stdout, re.M)
    assert [p for p, _ in phases] == ["pre-lesioning", "lesioning C5", "lesioning C6",
                                      "lesioning C7", "lesioning C8", "post-lesioning"]
    n_sweeps = int(re.search(r"^sweeps:\s+(\d+)", proc.stdout, re.M).group(1))
    assert sum(int(n) for _, n in phases) == n_sweeps
