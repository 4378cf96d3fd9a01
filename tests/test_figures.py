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
    found = []
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


@pytest.mark.parametrize("scenario, seed", [("focal_persistent", 7), ("threshold", 0),
                                            ("systemic_focal", 0), ("focal_recovering", 1)])
def test_no_label_covers_data_on_any_figure(cases, scenario, seed):
    """Issue 21 item 6: the lane label hid the start of the L TA alert bar (08:02:41 looked
    40 s later); lanes of a second criterion were drawn over the trace."""
    _, result = cases.analyse(scenario, seed)
    for spec in FIGURES:
        fig = spec.draw(result)
        assert covered_data(fig) == [], spec.name
