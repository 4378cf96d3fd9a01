"""The threshold trend: per muscle, the stimulation threshold as the intensity steps bracket it.

Drawn when the threshold criterion followed the case (its intensities vary, in volts, while it
is monitored): each
channel's threshold lies above the highest intensity that failed and at most the lowest that
responded among the newest sweeps that agree (:mod:`iomon.alerting.threshold`, carried by the
result as ``result.thresholds``). The figure shows that bracket at every sweep as a band, each
sweep's intensity as a dot (filled: a response; hollow: none), the baseline threshold and the
alert level above it.
"""

from __future__ import annotations

import numpy as np

from ...model.sweeps import intensity_varies
from .common import (
    COLOURS,
    LANE_IN,
    SMALL_PT,
    FigureSpec,
    Margins,
    grid_axes,
    label_bottom,
    legend,
    legend_rows,
    panel_title,
    picked_channels,
    sweep_edges,
    time_axis,
    time_span,
)
from .marks import (
    alert_lanes,
    drawn_alert_kinds,
    figure_caption,
    mark_alerts,
    mark_events,
    number_events,
    numbered_markers,
    shade_lesioning,
)

__all__ = ["FIGURE", "followed", "threshold_figure"]

#: The bracket's colour: the measure's blue, pale (it is a range, not a value).
BAND = "#A9CCE3"


def _elements(result, picked) -> list[str]:
    names = [result.sweeps.ch_names[c] for c in picked]
    flags = [("bracket", True), ("responded", True), ("failed", True),
             ("reference_threshold", True), ("criterion", True),
             ("lesioning", any(p.name == "lesioning" for p in result.phases))]
    kinds = [k for k, on in flags if on] + drawn_alert_kinds(result, names)
    return kinds + (["event"] if numbered_markers(result) else [])


def _handle(kind, result):
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from .marks import handle

    if kind == "bracket":
        return Patch(facecolor=BAND, lw=0, label="threshold bracket")
    if kind == "responded":
        return Line2D([], [], marker="o", ms=3.5, lw=0, color=COLOURS["measure"],
                      label="intensity, a response")
    if kind == "failed":
        return Line2D([], [], marker="o", ms=3.5, lw=0, mfc="white", mec=COLOURS["measure"],
                      label="intensity, no response")
    if kind == "reference_threshold":
        return Line2D([], [], lw=0.8, color=COLOURS["reference"], label="baseline threshold")
    if kind == "criterion":
        return Line2D([], [], lw=0.8, ls="--", color=COLOURS["criterion"],
                      label=f"alert level (+{result.criteria.threshold_rise_v:g} V)")
    return handle(kind, result)


def _panel(ax, result, c, edges, low, high):
    """One channel's bracket, intensities and baseline threshold; returns its title."""
    tracks = result.thresholds
    intensity = result.sweeps.column("stim_intensity").astype(float)
    valid = ~result.rejected[:, c] & np.isfinite(intensity)
    present = result.measurements.present[:, c]
    name = result.sweeps.ch_names[c]
    raw_lower, raw_upper = (np.asarray(t[:, c], float) for t in (tracks.lower, tracks.upper))
    lower, upper = np.clip(raw_lower, low, high), np.clip(raw_upper, low, high)
    # A bracket open at one end (no failure, or no response, among the newest sweeps) runs to
    # the panel's edge; one open at both ends, or a sweep not used (NaN), says nothing.
    known = ~np.isnan(raw_lower) & ~np.isnan(raw_upper) & (np.isfinite(raw_lower)
                                                            | np.isfinite(raw_upper))
    # Each sweep's bracket over its turn on the time axis (sweep edges, not points).
    # A channel absent at baseline has no threshold to follow: only its intensities are drawn.
    known &= bool(result.baseline.present[c])
    x = np.repeat(edges, 2)[1:-1]
    ax.fill_between(x, np.repeat(np.where(known, lower, np.nan), 2),
                    np.repeat(np.where(known, upper, np.nan), 2), color=BAND, lw=0,
                    zorder=1, gid="threshold bracket")
    onsets = result.sweeps.column("onset_s")
    ax.plot(onsets[valid & present], intensity[valid & present], "o", ms=2.6,
            color=COLOURS["measure"], zorder=3)
    ax.plot(onsets[valid & ~present], intensity[valid & ~present], "o", ms=2.6, mfc="white",
            mec=COLOURS["measure"], mew=0.8, zorder=3)
    base = tracks.baseline[:, c]
    base = base[np.isfinite(base)]
    if not result.baseline.present[c] or not base.size:
        return f"{name}  absent at baseline (no threshold to follow)"
    reference = float(np.median(base))
    ax.axhline(reference, color=COLOURS["reference"], lw=0.8, zorder=2)
    ax.axhline(reference + result.criteria.threshold_rise_v, color=COLOURS["criterion"],
               lw=0.8, ls="--", zorder=2)
    return f"{name}  baseline threshold {reference:g} V"


def threshold_figure(result, channels=None):
    """Per channel, the stimulation threshold as the intensity steps bracket it, against time.

    The band: where the threshold lies at each sweep (above the highest intensity that failed,
    at most the lowest that responded, among the newest sweeps that agree; open where no sweep
    failed or none responded, up to the panel's edge); dots: each valid sweep's intensity,
    filled where the channel responded; grey line: the baseline threshold, dashed: the alert
    level above it. Alert episodes in lanes along the top, as on the amplitude trends.
    """
    picked = picked_channels(result, channels)
    intensity = result.sweeps.column("stim_intensity").astype(float)
    known = intensity[np.isfinite(intensity)]
    rise = result.criteria.threshold_rise_v
    elements = _elements(result, picked)
    margins = Margins(legend_rows=legend_rows(len(elements)),
                      events=bool(numbered_markers(result)))
    grid = grid_axes(result, 0.9, picked, margins)
    span = time_span(result)
    edges = sweep_edges(result.sweeps.column("onset_s"))
    step = float(np.min(np.diff(np.unique(known)))) if np.unique(known).size > 1 else 50.0
    base = result.thresholds.baseline
    top_base = float(np.nanmax(base)) if np.isfinite(base).any() else float(known.max())
    low = float(known.min()) - step
    high = max(float(known.max()), top_base + rise) + step
    lanes = max((len(alert_lanes(result, result.sweeps.ch_names[c])) for c in picked),
                default=0)
    lane_frac = min(lanes * LANE_IN / grid.panel_in[1], 0.4)
    titles = {}
    for c, ax in zip(picked, grid.panels):
        shade_lesioning(ax, result)
        mark_events(ax, result)
        titles[id(ax)] = _panel(ax, result, c, edges, low, high)
        ax.set_ylim(low, high + (high - low) * lane_frac / (1 - lane_frac))
        ax.yaxis.get_major_locator().set_params(nbins=4, integer=True)
        ax.set_ylabel("intensity (V)")
        mark_alerts(ax, result, result.sweeps.ch_names[c], lane_frac / max(lanes, 1), span,
                    None, grid.panel_in[0])
        panel_title(ax, titles[id(ax)], fontsize=SMALL_PT + 1)
    for ax in grid.first:
        number_events(ax, result, span, titles[id(ax)], grid.panel_in[0])
    label_bottom(grid, time_axis(result), span)
    legend(grid, [_handle(k, result) for k in elements])
    grid.fig.iomon_elements = elements
    return grid.fig


_CAPTIONS = {
    "bracket": "Blue band: where each channel's threshold lies at each sweep, bracketed by the "
               "intensity steps (above the highest intensity that failed, at most the lowest "
               "that responded, among the newest sweeps that agree; open to the panel's edge "
               "where none failed or none responded).",
    "responded": "Dots: each valid sweep's intensity, filled where the channel responded, "
                 "hollow where it did not.",
    "reference_threshold": "Grey line: the baseline threshold (the lowest intensity that "
                           "evoked the channel up to the end of the baseline).",
    "criterion": "Dashed black: the alert level, the baseline threshold plus the criterion's "
                 "rise.",
}


def _caption(fig) -> str:
    own = [_CAPTIONS[k] for k in fig.iomon_elements if k in _CAPTIONS]
    shared = figure_caption([k for k in fig.iomon_elements if k not in _CAPTIONS])
    return " ".join(["Stimulation threshold per channel, as the intensity steps bracket it.",
                     *own, shared])


def followed(result) -> bool:
    """Whether the case was monitored at varying intensities: its thresholds were followed.

    The threshold criterion ran (intensities in volts that vary) and they vary while the case
    is monitored, not only in the ramp-up before the Baseline marker.
    """
    intensity = result.sweeps.column("stim_intensity").astype(float)
    return result.thresholds is not None and intensity_varies(intensity[~result.setup])


FIGURE = FigureSpec("threshold", "Stimulation threshold trends", threshold_figure, _caption,
                    applies=followed)
