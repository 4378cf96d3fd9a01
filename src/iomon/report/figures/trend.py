"""The MEP trend figure: % of baseline per channel against time."""

from __future__ import annotations

import numpy as np

from ...model.sweeps import intensity_varies
from .common import (
    COLOURS,
    LANE_IN,
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
    excluded_runs,
    figure_caption,
    handle,
    mark_alerts,
    mark_events,
    mark_exclusions,
    number_events,
    numbered_markers,
    shade_lesioning,
    values_panel,
)

__all__ = ["FIGURE", "trend_figure"]


def _percent_top(result, picked) -> float:
    """Top of the shared % axis: the 99th percentile of what is shown, 150-300 %."""
    present = [c for c in picked if result.baseline.present[c]]
    values = result.percent[:, present][~result.rejected[:, present]]
    values = values[np.isfinite(values)]
    high = float(np.percentile(values, 99)) if values.size else 100.0
    return float(np.clip(np.ceil(high * 1.05 / 50) * 50, 150, 300))


def _percent_axis(ax, top, lane_frac):
    """The shared % axis: 0 to ``top``, with room above it for the alert lanes."""
    ax.set_ylim(0, top / (1 - lane_frac) if lane_frac else top)
    ax.set_yticks(np.arange(0, top + 1, 50 if top <= 200 else 100))


def _trend_elements(result, picked, top) -> list[str]:
    """What a trend figure of channels ``picked`` draws, in legend order."""
    present = [c for c in picked if result.baseline.present[c]]
    rejected = result.rejected[:, picked]
    valid_setup = (~rejected & result.setup[:, None]).any()
    above = (np.nan_to_num(result.percent[:, present], nan=0.0) > top) & ~result.rejected[
        :, present]
    excluded = any(excluded_runs(result, c) for c in picked)
    names = [result.sweeps.ch_names[c] for c in picked]
    flags = [("measure", True), ("reference", bool(present)), ("criterion", bool(present)),
             ("offscale", bool(above.any())), ("setup", bool(valid_setup)),
             ("rejected", bool(rejected.any())), ("excluded", excluded),
             ("lesioning", any(p.name == "lesioning" for p in result.phases))]
    kinds = [k for k, on in flags if on] + drawn_alert_kinds(result, names)
    return kinds + (["event"] if numbered_markers(result) else [])


def _intensity_panel(ax, result, onsets, intensity):
    # The step first: its Line2D is the panel's first line (scripts read it back).
    ax.step(onsets, intensity, where="post", color="0.25", lw=1.0)
    shade_lesioning(ax, result)
    mark_events(ax, result)
    units = {u for u in result.sweeps.column("stim_unit").astype(str) if u}
    ax.set_ylabel(f"stimulus ({'/'.join(sorted(units)) or '?'})")
    panel_title(ax, "stimulus intensity")
    ax.yaxis.get_major_locator().set_params(nbins=3)


def trend_figure(result, channels=None, brackets=None):
    """% of baseline per channel against time.

    Every % panel shares one scale (0 to the 99th percentile of what is shown, 150-300 %;
    sweeps above it are triangles on the top edge). Lesioning shaded grey, alert episodes as
    bars in one lane per criterion along the top (colour and hatch by scope, pale when
    informational), setup sweeps hollow grey, rejected sweeps as crosses, excluded spans
    cross-hatched, theatre events as numbered dotted lines. Channels absent at baseline are
    drawn in µV. When the stimulus intensity varies, a first row shows it: a rising threshold
    is read there. ``brackets`` maps ``id(alert)`` to its threshold rise in words.
    """
    intensity = result.sweeps.column("stim_intensity").astype(float)
    varied = intensity_varies(intensity)
    picked = picked_channels(result, channels)
    top = _percent_top(result, picked)
    elements = _trend_elements(result, picked, top)
    margins = Margins(legend_rows=legend_rows(len(elements)), events=bool(numbered_markers(result)))
    grid = grid_axes(result, 0.95, picked, margins, extra_top=int(varied))
    onsets = result.sweeps.column("onset_s")
    edges = sweep_edges(onsets)
    span = time_span(result)
    lanes = max((len(alert_lanes(result, result.sweeps.ch_names[c])) for c in picked),
                default=0)
    lane_frac = min(lanes * LANE_IN / grid.panel_in[1], 0.4)
    for ax in grid.top_rows:
        _intensity_panel(ax, result, onsets, intensity)
    titles = {}
    for c, ax in zip(picked, grid.panels):
        channel = result.sweeps.channels[c]
        shade_lesioning(ax, result)
        mark_events(ax, result)
        mark_exclusions(ax, result, c, edges)
        if result.baseline.present[c]:
            ax.axhline(100, color=COLOURS["reference"], lw=0.7)
            ax.axhline(result.criteria.threshold_percent, color=COLOURS["criterion"], lw=0.8,
                       ls="--")
            values_panel(ax, result, c, result.percent[:, c], top)
            _percent_axis(ax, top, lane_frac)
            ax.set_ylabel("% baseline")
            titles[id(ax)] = channel.name
        else:
            values_panel(ax, result, c, result.measurements.amplitude[:, c] * 1e6)
            ax.set_ylim(bottom=0)
            ax.yaxis.get_major_locator().set_params(nbins=3)
            ax.set_ylabel("µV")
            titles[id(ax)] = f"{channel.name}  absent at baseline (µV, not alerted)"
        mark_alerts(ax, result, channel.name, lane_frac / max(lanes, 1), span, brackets,
                    grid.panel_in[0])
        panel_title(ax, titles[id(ax)])
    for ax in grid.first:
        number_events(ax, result, span, titles.get(id(ax), "stimulus intensity"),
                      grid.panel_in[0])
    label_bottom(grid, time_axis(result), span)
    legend(grid, [handle(k, result) for k in elements])
    grid.fig.iomon_elements = elements
    return grid.fig


FIGURE = FigureSpec(
    "trend", "MEP amplitude trends", trend_figure,
    lambda fig: figure_caption(fig.iomon_elements, "Peak-to-peak amplitude per channel (rows "
                                                   "by muscle, columns by side)."))
