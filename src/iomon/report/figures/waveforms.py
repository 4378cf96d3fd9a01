"""Stacked waveforms: the conditioned sweeps of each channel, one row each, first at the top."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .common import (
    COLOURS,
    FONT_PT,
    MAX_HEIGHT_IN,
    MAX_ROWS,
    ROW_IN,
    SMALL_PT,
    FigureSpec,
    Margins,
    channel_grid,
    grid_axes,
    panel_title,
    picked_channels,
    time_axis,
)
from .marks import alert_mask, text_width_in

__all__ = ["choose_rows", "FIGURE", "RowChoice", "row_labels", "rows_that_fit",
           "waveform_figure"]


@dataclass(frozen=True)
class RowChoice:
    """The sweeps a stacked-waveform figure shows, and the rule that chose them."""

    sweeps: np.ndarray
    rule: str


def _waveform_margins(labels=()) -> Margins:
    """The grid's margins; the left one holds the longest row label."""
    longest = max((text_width_in(t, SMALL_PT) for t in labels), default=1.0)
    return Margins(legend_rows=0, left=max(1.12, longest + 0.12), column_gap=0.13, gap=0.3)


def row_labels(result, shown) -> list[str]:
    """Each shown sweep's label: its number, clock time, phase and stimulus intensity.

    "#12 08:53:40 les 400 V" (the intensity where the recording gives it, in its unit).
    """
    clock = time_axis(result)
    intensity = result.sweeps.column("stim_intensity").astype(float)
    units = result.sweeps.column("stim_unit").astype(str)
    # The sweep number too: sweeps less than a second apart share a clock time.
    return [f"#{i} {clock.text(t, True)} {_phase_short(p)}".strip()
            + (f" {intensity[i]:g} {units[i] or ''}".rstrip() if np.isfinite(intensity[i])
               else "")
            for i, t, p in zip(shown, result.sweeps.column("onset_s")[shown],
                               result.sweep_phase[shown])]


def rows_that_fit(result) -> int:
    """How many sweep rows fit each waveform panel of a figure an A4 page holds."""
    n_rows = channel_grid(result.sweeps.channels, fold=True)[0]
    margins = _waveform_margins()
    fixed = margins.top + margins.bottom + (n_rows - 1) * margins.gap
    extra = 1.3 * (not result.baseline.present.all())  # the "absent at baseline" row
    return int(max(4, min(MAX_ROWS, (MAX_HEIGHT_IN - fixed) / n_rows / ROW_IN - 1.5 - extra)))


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def choose_rows(result, max_rows=None) -> RowChoice:
    """The sweeps a stacked-waveform figure shows.

    Every sweep when they fit; else evenly spaced ones plus every alert onset and recovery,
    the first baseline sweep and the last sweep.
    """
    max_rows = max_rows or rows_that_fit(result)
    n = result.sweeps.n_sweeps
    if n <= max_rows:
        return RowChoice(np.arange(n), f"every sweep ({n})")
    keep = {n - 1}
    baseline_rows = np.flatnonzero(result.baseline.sweeps.any(axis=1))
    if baseline_rows.size:
        keep.add(int(baseline_rows[0]))
    for alert in result.alerts:
        keep.add(alert.onset_sweep)
        if alert.recovery_sweep is not None:
            keep.add(alert.recovery_sweep)
    # The densest even spacing that, with the sweeps kept anyway, still fits.
    step = max(1, math.ceil(n / max_rows))
    while step < n and len(keep | set(range(0, n, step))) > max_rows:
        step += 1
    rows = np.array(sorted(keep | set(range(0, n, step))))
    return RowChoice(rows, f"{rows.size} of {n} sweeps: every {_ordinal(step)} sweep, plus the "
                           "first baseline sweep, every alert onset and recovery, and the last "
                           "sweep")


_PHASE_SHORT = {"pre-lesioning": "pre", "lesioning": "les", "post-lesioning": "post",
                "unassigned": ""}


def _phase_short(phase: str) -> str:
    return _PHASE_SHORT.get(phase, phase[:5])


def _row_spacing(result, shown, picked) -> dict:
    """µV between rows per channel: the 75th percentile of its shown peak-to-peak.

    A channel absent at baseline takes the median spacing of the responding ones, so that its
    noise is drawn at their scale and does not look like a response.
    """
    spacing = {}
    for c in picked:
        traces = result.conditioned[shown, c] * 1e6
        valid = ~result.rejected[shown, c]
        if result.baseline.present[c] and valid.any():
            spacing[c] = max(float(np.percentile(np.ptp(traces[valid], axis=-1), 75)), 20.0)
    typical = float(np.median(list(spacing.values()))) if spacing else 50.0
    return {c: spacing.get(c, typical) for c in picked}


def waveform_figure(result, rows: RowChoice | None = None, channels=None):
    """Stacked conditioned sweeps per channel, first at the top.

    Every row is labelled with its sweep number, clock time, phase and stimulus intensity (7
    pt at print size).
    Baseline sweeps sky blue, sweeps within an alert episode vermillion, setup sweeps grey;
    rejected sweeps are not drawn (a cross marks their row). Shaded: the response window. With
    more than three muscles, two sit side by side within each side so that the rows keep their
    height.
    """
    rows = rows or choose_rows(result)
    shown = rows.sweeps
    picked = picked_channels(result, channels)
    any_absent = not result.baseline.present[picked].all()
    grid = grid_axes(result, ROW_IN * (shown.size + 1.5 + 1.3 * any_absent), picked,
                     _waveform_margins(row_labels(result, shown)), fold=True)
    ms = result.sweeps.times * 1e3
    alerted = alert_mask(result)
    labels = row_labels(result, shown)
    spacing = _row_spacing(result, shown, picked)
    for c, ax in zip(picked, grid.panels):
        _stack(ax, ms, result.conditioned[shown, c] * 1e6, ~result.rejected[shown, c],
               spacing[c], [COLOURS["setup"] if result.setup[i] else COLOURS["baseline"]
                            if result.baseline.sweeps[i, c] else COLOURS["focal"]
                            if alerted[i, c] else "0.1" for i in shown])
        ax.set_xlim(ms[0], ms[-1])
        lo, hi = result.windows[c] * 1e3
        ax.axvspan(lo, hi, color="0.93", lw=0, zorder=0)
        ax.set_yticks([])
        if ax.get_subplotspec().is_first_col():
            _row_labels(ax, labels, spacing[c])
        ax.xaxis.get_major_locator().set_params(nbins=4)
        # A channel absent at baseline says so in a row of its own below its traces (beside
        # the name and the scale it would not fit; over the traces it would hide them): every
        # panel keeps that row, so that rows stay level with their labels.
        ax.set_ylim(-(shown.size - 0.2 + 1.3 * any_absent) * spacing[c], 1.2 * spacing[c])
        panel_title(ax, result.sweeps.ch_names[c], fontsize=FONT_PT)
        panel_title(ax, f"{spacing[c]:.0f} µV/row", loc="right", fontsize=SMALL_PT)
        if not result.baseline.present[c]:
            ax.text(0.5, -(shown.size + 0.75) * spacing[c], "absent at baseline",
                    transform=ax.get_yaxis_transform(), ha="center", va="center",
                    fontsize=SMALL_PT, color="0.25", zorder=3)
    for ax in grid.bottom:
        # The full label where the panel holds it (it would run into its neighbour's).
        wide = text_width_in("ms after the stimulus", FONT_PT) < grid.panel_in[0] + 0.1
        ax.set_xlabel("ms after the stimulus" if wide else "ms")
    grid.fig.iomon_rows = rows
    return grid.fig


def _row_labels(ax, labels, spacing):
    """Each row's label left of the panel, level with its trace.

    Text in axes-x and data-y coordinates rather than y tick labels: a matplotlib tick is five
    artists, and the rows of every panel cost more to make and draw than the traces.
    """
    from matplotlib.transforms import ScaledTranslation, blended_transform_factory

    fig = ax.get_figure()
    where = blended_transform_factory(ax.transAxes, ax.transData) + ScaledTranslation(
        -3 / 72, 0, fig.dpi_scale_trans)
    for row, label in enumerate(labels):
        ax.text(0, -row * spacing, label, transform=where, ha="right", va="center",
                fontsize=SMALL_PT, clip_on=False)


def _stack(ax, ms, traces, valid, spacing, colours):
    """Draw traces one row apart (clipped at 1.2 rows), one line collection per colour."""
    from matplotlib.collections import LineCollection

    offsets = -np.arange(len(traces)) * spacing
    clipped = np.clip(traces, -1.2 * spacing, 1.2 * spacing) + offsets[:, None]
    for colour in dict.fromkeys(colours):
        rows = [r for r, (k, ok) in enumerate(zip(colours, valid)) if ok and k == colour]
        if rows:
            segments = np.stack([np.broadcast_to(ms, (len(rows), ms.size)), clipped[rows]],
                                axis=-1)
            ax.add_collection(LineCollection(segments, colors=colour, linewidths=0.55))
    if (~valid).any():
        # Just inside the panel: on its edge a cross would run into the row's label.
        ax.plot(np.full((~valid).sum(), ms[0] + 0.04 * (ms[-1] - ms[0])), offsets[~valid], "x",
                ms=3, color=COLOURS["rejected"])


def _waveform_caption(rows: RowChoice) -> str:
    return (f"Conditioned sweeps, first at the top, each row labelled with its sweep number "
            f"(from 0, as in the alert table), clock time, phase (pre: pre-lesioning, les: "
            f"lesioning, post: post-lesioning) and stimulus intensity; shown: "
            f"{rows.rule}. Sky blue: baseline sweeps; vermillion: within an alert episode; "
            "grey: setup; crosses: rejected sweeps (not drawn). Each panel's scale (µV per "
            "row) is over it; a channel absent at baseline takes the responding channels' "
            "typical scale, so its noise is shown as noise. Traces are clipped at 1.2 rows. "
            "Shaded: each channel's response window.")


FIGURE = FigureSpec("waveforms", "Stacked waveforms", waveform_figure,
                    lambda fig: _waveform_caption(fig.iomon_rows))
