"""The report's figures as a reader sees them: no label hides data, every marker is drawn.

Each figure is drawn as the report draws it, then every text's box is checked against what
the figure shows of the data: the points and lines of each series, the alert bars and the
stacked traces. Labels must sit beside them, never over them.
"""

from __future__ import annotations

import numpy as np
import pytest

from iomon.report.figures import FIGURES
from iomon.report.figures.common import COLOURS


def _segments_hit(box, points) -> bool:
    """Whether a polyline (display coordinates, NaN breaks it) enters the box."""
    x0, y0, x1, y1 = box
    p, q = points[:-1], points[1:]
    ok = np.isfinite(p).all(axis=1) & np.isfinite(q).all(axis=1)
    p, q = p[ok], q[ok]
    if not p.size:
        return False
    # Liang-Barsky: clip each segment to the box; any part left inside is a hit.
    d = q - p
    low, high = np.zeros(len(p)), np.ones(len(p))
    for axis, (lo, hi) in enumerate(((x0, x1), (y0, y1))):
        for edge, sign in ((lo, -1.0), (hi, 1.0)):
            den = sign * d[:, axis]
            num = sign * (edge - p[:, axis])
            with np.errstate(divide="ignore", invalid="ignore"):
                t = num / den
            outside = (den == 0) & (num < 0)
            low = np.where(den < 0, np.maximum(low, t), low)
            high = np.where(den > 0, np.minimum(high, t), high)
            high = np.where(outside, -1.0, high)
    return bool((low <= high).any())


def _points_hit(box, points) -> bool:
    x0, y0, x1, y1 = box
    inside = ((points[:, 0] > x0) & (points[:, 0] < x1) & (points[:, 1] > y0)
              & (points[:, 1] < y1))
    return bool(inside.any())


_BARS = {COLOURS[k].lower() for k in ("focal", "systemic", "undetermined")}


def covered_data(fig) -> list[str]:
    """Texts of ``fig`` whose box overlaps data: "text over what, in which panel"."""
    from matplotlib.collections import LineCollection
    from matplotlib.colors import to_hex
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    found = _texts_over_texts(fig, renderer)
    for ax in fig.axes:
        texts = [t for t in ax.texts if t.get_text().strip()]
        texts += [t for t in (ax.title, ax._left_title, ax._right_title)
                  if t.get_text().strip()]
        series, bars = [], []
        for artist in ax.get_children():
            if isinstance(artist, Line2D) and (artist.get_marker() not in ("None", None, "")
                                               or artist.get_drawstyle() != "default"):
                xy = artist.get_transform().transform(
                    np.column_stack([artist.get_xdata(), artist.get_ydata()]).astype(float))
                series.append(("series", xy, artist.get_linestyle() not in ("None", "")))
            elif isinstance(artist, LineCollection) and all(
                    dashes is None for _, dashes in artist.get_linestyle()):
                # Solid: stacked traces (dotted ones mark times, they hold no data).
                for seg in artist.get_segments():
                    series.append(("trace", artist.get_transform().transform(seg), True))
            elif isinstance(artist, Patch) and to_hex(artist.get_facecolor()) in _BARS:
                bars.append(artist.get_window_extent(renderer).extents)
        for text in texts:
            box = text.get_window_extent(renderer).extents
            where = f"{text.get_text()!r} in panel {ax.get_title() or ax.get_ylabel()!r}"
            for what, xy, joined in series:
                if _points_hit(box, xy) or (joined and _segments_hit(box, xy)):
                    found.append(f"{where} over a {what}")
                    break
            for bar in bars:
                if bar[0] < box[2] and box[0] < bar[2] and bar[1] < box[3] and box[1] < bar[3]:
                    found.append(f"{where} over an alert bar")
                    break
    return found


def _drawn_texts(fig) -> list:
    """Every text a figure draws: its own, each panel's texts, titles, axis labels, the tick
    labels in view, the legend's."""
    texts = list(fig.texts) + [t for legend in fig.legends for t in legend.get_texts()]
    for ax in fig.axes:
        texts += list(ax.texts) + [ax.title, ax._left_title, ax._right_title,
                                   ax.xaxis.label, ax.yaxis.label]
        for axis, (low, high) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            for tick in axis.get_major_ticks():
                inside = min(low, high) <= tick.get_loc() <= max(low, high)
                if inside and tick.label1.get_visible():
                    texts.append(tick.label1)
    unique = {id(t): t for t in texts if t.get_visible() and str(t.get_text()).strip()}
    return list(unique.values())


def _texts_over_texts(fig, renderer) -> list[str]:
    """Texts of a figure (labels, titles, ticks, legend) that overlap one another."""
    boxes = [(t, t.get_window_extent(renderer)) for t in _drawn_texts(fig)]
    found = []
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1:]:
            both = box_a.intersection(box_a, box_b)
            if both is not None and both.width > 0.5 and both.height > 0.5:
                found.append(f"{a.get_text()!r} over {b.get_text()!r}")
    return found


def test_the_check_finds_a_label_over_data():
    """The check can fail: a label written over a series and over a bar is reported."""
    from iomon.report.figures.common import new_figure

    fig = new_figure(4, 3)
    ax = fig.add_subplot()
    ax.plot([0, 1, 2], [0, 1, 0], "o-")
    ax.axvspan(1.5, 2, ymin=0.9, ymax=0.95, facecolor=COLOURS["focal"])
    ax.text(0.5, 0.5, "over the line")
    ax.text(1.6, 1.0, "over the bar")
    ax.text(0.05, 0.95, "clear", transform=ax.transAxes)
    found = covered_data(fig)
    assert any("over the line" in f for f in found)
    assert any("over the bar" in f and "alert bar" in f for f in found)
    assert not any("clear" in f for f in found)


def _every_lane():
    """drez with the latency and morphology criteria too: up to four lanes a panel."""
    import dataclasses

    from iomon.alerting.criteria import PRESETS

    return dataclasses.replace(PRESETS["drez"], name="every lane",
                               latency_increase_percent=8.0, phase_loss=1)


@pytest.mark.parametrize("scenario, seed, lanes", [
    ("focal_persistent", 7, False), ("threshold", 0, False), ("systemic_focal", 0, False),
    ("focal_recovering", 1, False), ("systemic_focal", 0, True), ("threshold", 0, True)])
def test_no_label_covers_data_on_any_figure(cases, scenario, seed, lanes):
    """Issue 21 item 6: the lane label hid the start of the L TA alert bar (08:02:41 looked
    40 s later); lanes of a second criterion ("phases lost") were drawn over the trace."""
    _, result = cases.analyse(scenario, seed, criteria=_every_lane() if lanes else None)
    if lanes:  # a channel with two lanes, one of them "phases lost" (morphology)
        assert any(len({result.criteria.kind(a.criterion).lane for a in result.alerts
                        if a.channel == name}) >= 2 for name in result.sweeps.ch_names)
    for spec in FIGURES:
        if not spec.applies(result):
            continue
        fig = spec.draw(result)
        assert covered_data(fig) == [], spec.name


def test_the_threshold_trend_draws_each_channels_bracket_and_intensities(tmp_path):
    """Issue 21 item 12: per muscle, the threshold as the intensity steps bracket it (the
    brackets the threshold criterion followed), with each sweep's intensity."""
    import subprocess
    import sys

    from iomon.pipeline import analyze_file
    from iomon.report.figures.threshold import threshold_figure

    sim_dir, out = tmp_path / "sim", tmp_path / "out"
    run = [sys.executable, "-m", "iomon.cli"]
    assert subprocess.run([*run, "simulate", "--scenario", "threshold", "--seed", "0",
                           "--out", str(sim_dir)], capture_output=True).returncode == 0
    recording = next(sim_dir.glob("*.edf"))
    assert subprocess.run([*run, "analyze", str(recording), "--out", str(out)],
                          capture_output=True).returncode == 0
    assert (out / "figures" / "threshold.png").is_file()
    assert "<h2>Stimulation threshold trends</h2>" in (out / "report.html").read_text()
    result = analyze_file(recording)
    fig = threshold_figure(result)
    assert covered_data(fig) == []
    intensity = result.sweeps.column("stim_intensity").astype(float)
    onsets = result.sweeps.column("onset_s")
    for c, name in enumerate(result.sweeps.ch_names):
        ax = next(a for a in fig.axes if a.get_title(loc="left").startswith(name + " "))
        band = next(p for p in ax.collections if p.get_gid() == "threshold bracket")
        lower, upper = result.thresholds.lower[:, c], result.thresholds.upper[:, c]
        both = np.flatnonzero(np.isfinite(lower) & np.isfinite(upper))
        if both.size:  # the band spans the bracket at a sweep where both ends are known
            k = both[-1]
            from iomon.report.figures.common import sweep_edges

            edges = sweep_edges(onsets)  # a sweep's bracket spans its turn on the time axis
            path = np.concatenate([p.vertices for p in band.get_paths()])
            at = path[(path[:, 0] >= edges[k] - 1e-9) & (path[:, 0] <= edges[k + 1] + 1e-9)]
            assert at.size and at[:, 1].min() <= lower[k] + 1e-9 and \
                at[:, 1].max() >= upper[k] - 1e-9, name
        valid = ~result.rejected[:, c]
        responded = valid & result.measurements.present[:, c]
        dots = [line for line in ax.lines if line.get_marker() == "o"]
        filled = next(d for d in dots if d.get_markerfacecolor() != "white")
        assert np.array_equal(filled.get_ydata(), intensity[responded])
    # A preset without the threshold criterion follows no threshold: no such figure.
    fifty = tmp_path / "fifty"
    assert subprocess.run([*run, "analyze", str(recording), "--criteria", "fifty", "--out",
                           str(fifty)], capture_output=True).returncode == 0
    assert not (fifty / "figures" / "threshold.png").exists()
    assert "Stimulation threshold trends" not in (fifty / "report.html").read_text()


def test_each_stacked_sweep_shows_its_intensity(cases):
    """Issue 21 item 12: the intensity on each stacked sweep."""
    from iomon.report.figures.waveforms import choose_rows, waveform_figure

    _, result = cases.analyse("threshold", 0)
    rows = choose_rows(result)
    fig = waveform_figure(result, rows)
    labels = [t.get_text() for t in fig.axes[0].texts if t.get_text().startswith("#")]
    intensity = result.sweeps.column("stim_intensity").astype(float)
    assert len(labels) == rows.sweeps.size
    for label, sweep in zip(labels, rows.sweeps):
        assert label.startswith(f"#{sweep} ") and label.endswith(f" {intensity[sweep]:g} V")


def test_the_latency_trend_shows_onset_and_peak(cases):
    """Issue 20 item 5: the peak beside the onset, so that an onset artefact shows as such."""
    from iomon.report.figures.common import COLOURS
    from iomon.report.figures.latency import latency_figure

    _, result = cases.analyse("focal_recovering", 0)
    fig = latency_figure(result)
    m = result.measurements
    for c, name in enumerate(result.sweeps.ch_names):
        if not result.baseline.present[c]:
            continue
        ax = next(a for a in fig.axes if a.get_title(loc="left") == name)
        peak = next(line for line in ax.lines if line.get_color() == COLOURS["peak"])
        shown = ~result.rejected[:, c] & ~result.setup & m.present[:, c]
        assert np.allclose(peak.get_ydata(), m.peak_latency[shown, c] * 1e3)
        onset = next(line for line in ax.lines if line.get_color() == COLOURS["measure"])
        assert np.nanmax(onset.get_ydata()) < ax.get_ylim()[1]
        assert np.nanmax(peak.get_ydata()) < ax.get_ylim()[1]
