"""Baseline against final: per channel, single sweeps whose size is the number stated."""

from __future__ import annotations

import numpy as np

from .common import (
    COLOURS,
    FigureSpec,
    Margins,
    grid_axes,
    legend,
    panel_title,
    picked_channels,
    time_axis,
)
from .marks import alert_mask

__all__ = ["FIGURE", "final_sweep", "overlay_figure", "overlay_rows"]


def _closest_to_median(rows, values) -> list[int]:
    """The row whose value is nearest the median of ``values`` over ``rows`` ([] if none)."""
    rows = np.asarray(rows, int)
    if rows.size == 0:
        return []
    picked = values[rows]
    return [int(rows[np.argmin(np.abs(picked - np.median(picked)))])]


def final_sweep(result, c) -> int | None:
    """The sweep that stands for a channel's final %.

    Of its last 3 valid sweeps, the one of median % (None without a valid sweep).
    """
    valid = np.flatnonzero(~result.rejected[:, c] & np.isfinite(result.percent[:, c]))
    picked = _closest_to_median(valid[-3:], result.percent[:, c])
    return picked[0] if picked else None


def overlay_rows(result, c):
    """The sweeps drawn per channel: baseline, final and nadir, one sweep each.

    Final: of the last 3 valid sweeps, the one of median amplitude (its % is the channel's
    final %); baseline: the sweep of median amplitude among those of the baseline the final
    sweep is compared with (about 100 %); nadir: the lowest valid sweep of its alert episodes
    (None without an alert). Single sweeps, so that each trace's size is the number printed.
    """
    valid = np.flatnonzero(~result.rejected[:, c] & np.isfinite(result.percent[:, c]))
    amplitude = result.measurements.amplitude[:, c]
    final = [] if final_sweep(result, c) is None else [final_sweep(result, c)]
    entry = result.baselines.entries[int(result.baselines.assignment[final[0]])] if final \
        else result.baselines.entries[0]
    base_rows = np.flatnonzero(entry.baseline.sweeps[:, c] & ~result.rejected[:, c])
    base = _closest_to_median(base_rows, amplitude)
    in_alert = alert_mask(result)[valid, c]
    nadir = None
    if in_alert.any():
        candidates = valid[in_alert]
        nadir = [int(candidates[np.argmin(result.percent[candidates, c])])]
    return base, final, nadir


def _sweep_trace(result, c, row, ms):
    """One conditioned sweep in µV, the blanked stimulus artefact left out (NaN)."""
    trace = result.conditioned[row, c] * 1e6
    start, end = result.artefact_s[c] * 1e3
    if np.isfinite(start):
        trace = np.where((ms >= start) & (ms <= end), np.nan, trace)
    return trace


def _overlay_title(result, c, final, clock) -> str:
    name = result.sweeps.ch_names[c]
    if not result.baseline.present[c]:
        return f"{name}  absent at baseline (noise)"
    if not final:
        return f"{name}  no valid sweep"
    row = final[0]
    intensity = float(result.sweeps.column("stim_intensity").astype(float)[row])
    base = result.baselines.entries[int(result.baselines.assignment[row])].intensity
    # The intensity only where it differs from the baseline's: the % then compares unlike.
    differs = np.isfinite(intensity) and np.isfinite(base) and intensity != base
    at = f" at {intensity:g} V" if differs else ""
    return (f"{name}  final {result.percent[row, c]:.0f} %{at} "
            f"({clock.text(result.sweeps.column('onset_s')[row], True)})")


def overlay_figure(result, channels=None):
    """Per muscle, a baseline sweep against the final sweep and the nadir.

    Each a single sweep whose amplitude is the one the report states (see
    :func:`overlay_rows`); the blanked stimulus artefact is left out. Channels absent at
    baseline are drawn at ±50 µV or more, so that their noise does not look like a response.
    """
    picked = picked_channels(result, channels)
    alerted = any(a.channel in {result.sweeps.ch_names[c] for c in picked}
                  for a in result.alerts)
    grid = grid_axes(result, 1.0, picked, Margins(legend_rows=1))
    ms = result.sweeps.times * 1e3
    clock = time_axis(result)
    for c, ax in zip(picked, grid.panels):
        base, final, nadir = overlay_rows(result, c)
        lo, hi = result.windows[c] * 1e3
        span = (ms >= lo - 5) & (ms <= hi + 5)
        base_colour = COLOURS["baseline"] if result.baseline.present[c] else COLOURS["setup"]
        for rows, colour, style, width in ((base, base_colour, "-", 1.6),
                                           (final, COLOURS["final"], "-", 0.9),
                                           (nadir, COLOURS["focal"], "--", 0.9)):
            if rows:
                ax.plot(ms[span], _sweep_trace(result, c, rows[0], ms)[span], style,
                        color=colour, lw=width)
        if not result.baseline.present[c]:
            low, high = ax.get_ylim()
            reach = max(50.0, abs(low), abs(high))
            ax.set_ylim(-reach, reach)
        ax.yaxis.get_major_locator().set_params(nbins=4)
        panel_title(ax, _overlay_title(result, c, final, clock))
        ax.set_ylabel("µV")
    for ax in grid.bottom:
        ax.set_xlabel("ms after the stimulus")
    legend(grid, _overlay_handles(alerted))
    return grid.fig


def _overlay_handles(alerted: bool):
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=COLOURS["baseline"], lw=1.6, label="baseline sweep"),
               Line2D([], [], color=COLOURS["final"], lw=0.9, label="final sweep")]
    if alerted:
        handles.append(Line2D([], [], color=COLOURS["focal"], lw=0.9, ls="--",
                              label="nadir sweep of an alert"))
    return handles


FIGURE = FigureSpec(
    "overlay", "Baseline against final", overlay_figure,
    lambda fig: "Per channel, single sweeps whose size is the number the report states: the "
                "baseline sweep of median amplitude (sky blue), the final sweep of median "
                "amplitude among the last 3 valid sweeps (black; its % of baseline, intensity "
                "when it varies, and time over the panel) and, where the channel alerted, its "
                "lowest sweep within the alert (dashed vermillion). The blanked stimulus "
                "artefact is left out.")
