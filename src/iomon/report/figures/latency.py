"""The latency figure: each channel's onset and peak latency against time, its baseline beside.

The peak is drawn beside the onset so that an onset artefact shows as such: an onset that jumps
while the peak holds is where the onset was placed, not a change in conduction.
"""

from __future__ import annotations

import numpy as np

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
    time_axis,
    time_span,
)
from .marks import (
    alert_lanes,
    drawn_alert_kinds,
    figure_caption,
    handle,
    mark_alerts,
    mark_events,
    number_events,
    numbered_markers,
    shade_lesioning,
    values_panel,
)

__all__ = ["FIGURE", "latency_figure"]


def latency_figure(result, channels=None, brackets=None):
    """Onset and peak latency per channel against time, the onset's baseline as a grey line (ms).

    Channels without a response at baseline have no latency to follow: their panel says so.
    """
    picked = picked_channels(result, channels)
    names = [result.sweeps.ch_names[c] for c in picked]
    criterion = result.criteria.latency_increase_percent
    elements = _latency_elements(result, picked, criterion)
    margins = Margins(legend_rows=legend_rows(len(elements)), events=bool(numbered_markers(result)))
    grid = grid_axes(result, 0.9, picked, margins)
    span = time_span(result)
    lanes = max((len(alert_lanes(result, n)) for n in names), default=0)
    lane_frac = min(lanes * LANE_IN / grid.panel_in[1], 0.4)
    titles = {}
    for c, ax in zip(picked, grid.panels):
        shade_lesioning(ax, result)
        mark_events(ax, result)
        titles[id(ax)] = _latency_panel(ax, result, c, criterion, lane_frac)
        mark_alerts(ax, result, result.sweeps.ch_names[c], lane_frac / max(lanes, 1), span,
                    brackets, grid.panel_in[0])
        panel_title(ax, titles[id(ax)])
    for ax in grid.first:
        number_events(ax, result, span, titles[id(ax)], grid.panel_in[0])
    label_bottom(grid, time_axis(result), span)
    legend(grid, [handle(k, result) for k in elements])
    grid.fig.iomon_elements = elements
    return grid.fig


def _latency_elements(result, picked, criterion) -> list[str]:
    responding = [c for c in picked if np.isfinite(result.baseline.onset_latency[c])]
    rejected = result.rejected[:, responding]
    flags = [("latency", True), ("peak", bool(responding)),
             ("reference_latency", bool(responding)),
             ("criterion", bool(criterion and responding)),
             ("setup", bool((~rejected & result.setup[:, None]).any())),
             ("rejected", bool(rejected.any())),
             ("lesioning", any(p.name == "lesioning" for p in result.phases))]
    names = [result.sweeps.ch_names[c] for c in responding]
    kinds = [k for k, on in flags if on] + drawn_alert_kinds(result, names)
    return kinds + (["event"] if numbered_markers(result) else [])


def _latency_panel(ax, result, c, criterion, lane_frac) -> str:
    """Draw one channel's latencies; return its title."""
    name = result.sweeps.ch_names[c]
    reference = result.baseline.onset_latency[c] * 1e3
    if not np.isfinite(reference):
        ax.set_yticks([])
        ax.text(0.5, 0.45, "no response at baseline: no latency to follow",
                transform=ax.transAxes, ha="center", va="center", fontsize=SMALL_PT + 0.5,
                color="0.35")
        return f"{name}  absent at baseline"
    latency = result.measurements.onset_latency[:, c] * 1e3
    peak = np.where(result.measurements.present[:, c],
                    result.measurements.peak_latency[:, c] * 1e3, np.nan)
    ax.axhline(reference, color=COLOURS["reference"], lw=0.7)
    if criterion:
        ax.axhline(reference * (1 + criterion / 100), color=COLOURS["criterion"], lw=0.8,
                   ls="--")
    monitored = ~result.rejected[:, c] & ~result.setup & np.isfinite(peak)
    onsets = result.sweeps.column("onset_s")
    ax.plot(onsets[monitored], peak[monitored], "s-", ms=2.0, lw=0.6, color=COLOURS["peak"],
            zorder=2)
    values_panel(ax, result, c, latency)
    shown = np.r_[latency, peak][np.r_[~result.rejected[:, c], monitored]
                                 & np.isfinite(np.r_[latency, peak])]
    low = min(float(shown.min()) if shown.size else reference, reference) - 3
    high = max(float(shown.max()) if shown.size else reference, reference) + 3
    ax.set_ylim(max(0.0, low), high + (high - max(0.0, low)) * lane_frac / (1 - lane_frac))
    ax.yaxis.get_major_locator().set_params(nbins=4, integer=True)
    ax.set_ylabel("latency (ms)")
    return name


FIGURE = FigureSpec(
    "latency", "Onset and peak latency trends", latency_figure,
    lambda fig: figure_caption(fig.iomon_elements, "Onset and peak latency per channel: an "
                                                   "onset that jumps while the peak holds is "
                                                   "where the onset was placed (an onset "
                                                   "artefact), not a change in conduction."))
