"""Figures of a case: MEP trends, latency trends, stacked waveforms, baseline against final.

Each function takes a :class:`~iomon.results.CaseResult` and returns a matplotlib Figure, so a
case-report author can restyle or save it at any size; :func:`save_figures` draws each figure
once per format and writes it as PNG (for the report) and SVG (for publication).

One look across cases: the Okabe-Ito palette (safe for colour-blind readers) with a second cue
wherever colour tells things apart (hatched systemic bars, dashed black alert level), fonts of
7-9 pt at the A4 text width the figures are drawn for and no taller than an A4 page leaves
beside a heading and a caption, channels laid out in rows by muscle and columns by side
(at-risk side first), the time axis in clock time when the recording's start is known. Legends
and captions list only what a figure draws.

The figures are built on matplotlib's object interface with fixed margins: no pyplot figure
manager, no layout engine (either costs more than the drawing itself).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..model.sweeps import intensity_varies
from .clock import TimeAxis, whole_seconds
from .facts import rise_brackets

__all__ = ["COLOURS", "FigureFile", "RowChoice", "TimeAxis", "choose_rows", "latency_figure",
           "overlay_figure", "overlay_rows", "save_figures", "trend_figure", "waveform_figure",
           "whole_seconds"]

#: Okabe & Ito (2008) colours, by what they mean in every figure.
COLOURS = {
    "measure": "#0072B2",      # blue: the channel's values
    "baseline": "#56B4E9",     # sky blue: baseline sweeps
    "criterion": "#222222",    # near black, dashed: the alert level (apart from focal bars)
    "focal": "#D55E00",        # vermillion: focal alert episodes
    "systemic": "#E69F00",     # orange, hatched: systemic alert episodes
    "undetermined": "#CC79A7",  # reddish purple, dotted: undetermined alert episodes
    "setup": "#999999",        # grey: sweeps before the Baseline marker
    "rejected": "#555555",
    "phase": "#E8E8E8",        # light grey: the lesioning phase
    "event": "#000000",        # black: theatre events
    "final": "#000000",
    "reference": "#999999",    # grey: 100 % of baseline, baseline latency
}
#: The second cue of each alert scope, for readers who do not tell the colours apart.
HATCHES = {"focal": None, "systemic": "////", "undetermined": "...."}
#: Width of the figures: the A4 text width of the PDF report (174 mm).
WIDTH_IN = 6.85
FONT_PT = 8.5
#: Smallest text in a figure, pt, at print size.
SMALL_PT = 7.0
#: Tallest figure (in): an A4 page of the PDF holds it with its heading and caption.
MAX_HEIGHT_IN = 8.9
#: Stacked waveforms: at most this many sweeps (rows) per channel, each this tall (in): a
#: 7 pt time label per row.
MAX_ROWS = 40
ROW_IN = 0.105
#: Height of one alert lane (in) along the top of a trend panel: a 7 pt label fits in it.
LANE_IN = 0.115
#: Resolution of the PNGs: sharp at print size on A4 (the PDF places them 1:1).
PNG_DPI = 200


def _style():
    """Matplotlib set to the report's fonts; SVG text kept as text (editable)."""
    import matplotlib

    matplotlib.rcParams.update({
        "font.size": FONT_PT, "axes.titlesize": FONT_PT + 0.5, "axes.labelsize": FONT_PT,
        "xtick.labelsize": FONT_PT - 0.5, "ytick.labelsize": FONT_PT - 0.5,
        "legend.fontsize": FONT_PT, "svg.hashsalt": "iomon", "svg.fonttype": "none",
        "hatch.linewidth": 0.6})
    return matplotlib


def _pyplot():
    """Pyplot on the Agg backend, in the report's style (for figures drawn with pyplot)."""
    matplotlib = _style()
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _new_figure(width_in: float, height_in: float):
    """A Figure on an Agg canvas, outside pyplot (nothing to close, no global state)."""
    _style()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in))
    FigureCanvasAgg(fig)
    return fig


# ----------------------------------------------------------------------------------- time
def _time_axis(result) -> TimeAxis:
    return TimeAxis(result.recording.start, result.recording.duration_s)


def _time_span(result) -> tuple[float, float]:
    onsets = result.sweeps.column("onset_s")
    margin = 0.02 * max(float(np.ptp(onsets)), 1.0)
    return float(onsets.min()) - margin, float(onsets.max()) + margin


def sweep_edges(onsets_s) -> np.ndarray:
    """Where each sweep's turn starts and ends on a time axis: midway to its neighbours.

    Returns shape (n_sweeps + 1,); sweep ``i`` spans ``edges[i]`` to ``edges[i + 1]``.
    """
    onsets_s = np.asarray(onsets_s, float)
    if onsets_s.size == 1:
        return onsets_s[0] + np.array([-0.5, 0.5])
    middle = (onsets_s[1:] + onsets_s[:-1]) / 2
    return np.r_[2 * onsets_s[0] - middle[0], middle, 2 * onsets_s[-1] - middle[-1]]


# ------------------------------------------------------------------------------- layout
def channel_grid(channels, fold: bool = False):
    """Where each channel's panel goes: rows by muscle, columns by side, at-risk side first.

    Returns ``(n_rows, n_cols, positions, titles)`` with ``positions[c] = (row, col)`` and
    ``titles`` a list of ``(text, first column, columns spanned)``. Channels without a side or
    a muscle fill a grid of two columns in their order. ``fold``: more than three rows are
    folded into half as many, two muscles side by side within each side (stacked waveforms,
    whose rows need the height).
    """
    sides = [ch.side for ch in channels]
    muscles = list(dict.fromkeys(ch.muscle for ch in channels))
    by_side = (all(sides) and all(ch.muscle for ch in channels) and len(set(sides)) == 2
               and len({(ch.muscle, ch.side) for ch in channels}) == len(channels))
    per = 2 if fold and (len(muscles) if by_side else math.ceil(len(channels) / 2)) > 3 else 1
    if not by_side:
        n_cols = 1 if len(channels) == 1 else 2 * per
        return (math.ceil(len(channels) / n_cols), n_cols,
                [(c // n_cols, c % n_cols) for c in range(len(channels))], [])
    at_risk = next((ch.side for ch in channels if ch.role == "test"), sides[0])
    order = [at_risk, next(s for s in ("left", "right") if s != at_risk)]
    positions = []
    for ch in channels:
        m = muscles.index(ch.muscle)
        positions.append((m // per, order.index(ch.side) * per + m % per))
    roles = {ch.side: ch.role for ch in channels}
    titles = [(f"{side}{' (at risk)' if roles.get(side) == 'test' else ''}"
               f"{' (controls)' if roles.get(side) == 'control' else ''}", k * per, per)
              for k, side in enumerate(order)]
    return math.ceil(len(muscles) / per), 2 * per, positions, titles


def _picked(result, channels=None) -> list[int]:
    """Indices of the channels to draw: those named (in that order), else all."""
    if channels is None:
        return list(range(result.sweeps.n_channels))
    names = result.sweeps.ch_names
    missing = [n for n in channels if n not in names]
    if missing:
        raise ValueError(f"no channel {missing[0]!r} (channels: {', '.join(names)})")
    return [names.index(n) for n in channels]


@dataclass(frozen=True)
class Margins:
    """Fixed margins of a grid figure, inches (a layout engine costs more than the drawing).

    ``top`` holds, from the figure's top edge: the legend's rows, the column titles, the band
    of theatre-event numbers and the first row's panel titles.
    """

    legend_rows: int = 2
    titles: bool = True
    events: bool = False
    left: float = 0.72
    right: float = 0.12
    bottom: float = 0.48
    gap: float = 0.34
    column_gap: float = 0.62

    @property
    def top(self) -> float:
        return (0.06 + 0.17 * self.legend_rows + (0.22 if self.titles else 0.0)
                + (0.16 if self.events else 0.0) + 0.2)


@dataclass
class Grid:
    """A grid figure: its channel panels (in the order asked), extra top rows, and geometry."""

    fig: object
    panels: list
    top_rows: list
    bottom: list        # the lowest axes of each column: the x axis is labelled there
    first: list         # the highest axes of each column: theatre events are numbered there
    margins: Margins
    panel_in: tuple     # (width, height) of one panel, inches
    height_in: float


def _grid_axes(result, row_height, picked, margins: Margins, extra_top=0, fold=False,
               min_row=0.45) -> Grid:
    """A figure with one axes per channel in :func:`channel_grid` order, x shared.

    Rows are ``row_height`` tall, less when the figure would exceed :data:`MAX_HEIGHT_IN`
    (never under ``min_row``); ``extra_top`` rows on top of every column (the stimulus
    intensity).
    """
    n_rows, n_cols, positions, titles = channel_grid(
        [result.sweeps.channels[c] for c in picked], fold)
    margins = Margins(**{**margins.__dict__, "titles": bool(titles)})
    rows = n_rows + extra_top
    fixed = margins.top + margins.bottom + (rows - 1) * margins.gap
    row_height = max(min(row_height, (MAX_HEIGHT_IN - fixed) / rows), min_row)
    height = fixed + rows * row_height
    fig = _new_figure(WIDTH_IN, height)
    width = (WIDTH_IN - margins.left - margins.right - (n_cols - 1) * margins.column_gap) / n_cols
    grid = fig.add_gridspec(rows, n_cols, left=margins.left / WIDTH_IN,
                            right=1 - margins.right / WIDTH_IN, bottom=margins.bottom / height,
                            top=1 - margins.top / height, hspace=margins.gap / row_height,
                            wspace=margins.column_gap / width)
    first, axes = None, {}
    for row, col in [(r, c) for c in range(n_cols) for r in range(extra_top)] + [
            (r + extra_top, c) for r, c in positions]:
        axes[row, col] = fig.add_subplot(grid[row, col], sharex=first)
        first = first or axes[row, col]
        _fixed_labels(fig, axes[row, col], margins.left)
    lowest = {col: max(r for r, c in axes if c == col) for col in range(n_cols)}
    for (row, col), ax in axes.items():
        if row != lowest[col]:
            ax.tick_params(labelbottom=False)
    y_titles = 1 - (margins.top - 0.2 - (0.16 if margins.events else 0.0) - 0.04) / height
    for text, col, span in titles:
        x = (margins.left + col * (width + margins.column_gap)
             + (span * width + (span - 1) * margins.column_gap) / 2) / WIDTH_IN
        fig.text(x, y_titles, text, ha="center", va="bottom", fontweight="bold",
                 fontsize=FONT_PT + 0.5)
    return Grid(fig, [axes[row + extra_top, col] for row, col in positions],
                [axes[row, col] for col in range(n_cols) for row in range(extra_top)],
                [axes[lowest[col], col] for col in sorted(lowest)],
                [axes[min(r for r, c in axes if c == col), col] for col in sorted(lowest)],
                margins, (width, row_height), height)


def _fixed_labels(fig, ax, left_in):
    """Axis labels at fixed offsets (in), titles at a fixed height: nothing is measured.

    matplotlib otherwise measures every tick label of every panel at each draw to place them;
    with fixed margins the places are known.
    """
    from matplotlib.transforms import ScaledTranslation

    offset = min(left_in - 0.14, 0.42)
    ax.yaxis.set_label_coords(0, 0.5, transform=ax.transAxes + ScaledTranslation(
        -offset, 0, fig.dpi_scale_trans))
    ax.xaxis.set_label_coords(0.5, 0, transform=ax.transAxes + ScaledTranslation(
        0, -0.23, fig.dpi_scale_trans))
    ax.tick_params(labelsize=SMALL_PT + 0.5, length=3, pad=2)


def _title(ax, text, loc="left", **kwargs):
    # y given: matplotlib then skips measuring the panel to place the title.
    ax.set_title(text, loc=loc, pad=2, y=1.0, **kwargs)


def _label_bottom(grid: Grid, clock: TimeAxis, span=None) -> None:
    """Label the bottom panels with the time axis (shared by every panel) over ``span``."""
    for ax in grid.bottom:
        ax.set_xlabel(clock.label())
    clock.format(grid.bottom[0])
    if span is not None:
        grid.bottom[0].set_xlim(*span)


def _legend(grid: Grid, handles):
    grid.fig.legend(handles=handles, loc="upper center",
                    bbox_to_anchor=(0.5, 1 - 0.04 / grid.height_in), ncols=4, frameon=False,
                    handlelength=1.6, columnspacing=1.2, borderaxespad=0.0, handletextpad=0.5,
                    labelspacing=0.3)


def _legend_rows(n_items: int) -> int:
    return max(1, math.ceil(n_items / 4))


# ------------------------------------------------------------------------ what is drawn
def excluded_runs(result, c) -> list[tuple[int, int]]:
    """Runs of sweeps a review edit excluded on channel ``c``: (first, last) sweep indices."""
    excluded = np.char.startswith(result.reject_reason[:, c].astype(str), "excluded")
    runs, start = [], None
    for i, flag in enumerate(np.r_[excluded, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i - 1))
            start = None
    return runs


def alert_end_s(result, alert) -> float:
    """Where an alert episode ends on a time axis.

    Its recovery; else the end of the recording, or where the channel's valid sweeps end when
    they end earlier (excluded, or rejected to the end): after that nothing is known.
    """
    if alert.recovered:
        return float(alert.recovery_s)
    c = result.sweeps.ch_names.index(alert.channel)
    onsets = result.sweeps.column("onset_s")
    valid = np.flatnonzero(~result.rejected[:, c])
    if valid.size and valid[-1] < onsets.size - 1:
        return float(sweep_edges(onsets)[valid[-1] + 1])
    return float(onsets[-1])


def alert_lanes(result, name) -> list[int]:
    """The lanes a channel's alerts take, top first (each kind's lane in the kinds table)."""
    return sorted({result.criteria.kind(a.criterion).lane for a in result.alerts
                   if a.channel == name})


def rise_labels(result) -> dict:
    """``id(alert)`` to a threshold alert's rise as its bracket gives it ("+200 to +250 V")."""
    return {k: bracket.short() for k, bracket in rise_brackets(result).items()}


def _drawn_alert_kinds(result, names) -> list[str]:
    """The alert legend entries a figure of channels ``names`` needs, in legend order."""
    alerts = [a for a in result.alerts if a.channel in names]
    kinds = [s for s in ("focal", "systemic", "undetermined") if any(a.scope == s
                                                                    for a in alerts)]
    return kinds + (["informational"] if any(a.informational for a in alerts) else [])


def _percent_top(result, picked) -> float:
    """Top of the shared % axis: the 99th percentile of what is shown, 150-300 %."""
    present = [c for c in picked if result.baseline.present[c]]
    values = result.percent[:, present][~result.rejected[:, present]]
    values = values[np.isfinite(values)]
    high = float(np.percentile(values, 99)) if values.size else 100.0
    return float(np.clip(np.ceil(high * 1.05 / 50) * 50, 150, 300))


# ------------------------------------------------------------------------------- legend
def _handle(kind, result=None):
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    lines = {
        "measure": dict(marker="o", ms=3, lw=0.8, color=COLOURS["measure"],
                        label="% of baseline"),
        "latency": dict(marker="o", ms=3, lw=0.8, color=COLOURS["measure"],
                        label="onset latency"),
        "reference": dict(lw=0.7, color=COLOURS["reference"], label="baseline (100 %)"),
        "reference_latency": dict(lw=0.7, color=COLOURS["reference"], label="baseline latency"),
        "criterion": dict(ls="--", lw=0.8, color=COLOURS["criterion"],
                          label=f"alert level ({result.criteria.name})" if result else ""),
        "setup": dict(marker="o", ms=3, lw=0, mfc="none", mec=COLOURS["setup"],
                      label="setup (before baseline)"),
        "rejected": dict(marker="x", ms=4, lw=0, color=COLOURS["rejected"],
                         label="rejected sweep"),
        "offscale": dict(marker="^", ms=4, lw=0, color=COLOURS["measure"],
                         label="above the axis"),
        "event": dict(ls=":", lw=0.8, color=COLOURS["event"], label="theatre event (#)"),
    }
    if kind in lines:
        return Line2D([], [], **lines[kind])
    patches = {
        "lesioning": dict(color=COLOURS["phase"], label="lesioning"),
        "excluded": dict(facecolor="white", edgecolor="0.45", hatch="xxxx", lw=0,
                         label="excluded (review edit)"),
        "informational": dict(facecolor=COLOURS["focal"], alpha=0.35, lw=0,
                              label="informational alert"),
    }
    if kind in patches:
        return Patch(**patches[kind])
    return Patch(facecolor=COLOURS[kind], edgecolor="0.15", hatch=HATCHES[kind], lw=0,
                 label=f"{kind} alert")


_CAPTIONS = {
    "measure": "Dots joined: each valid sweep's amplitude as % of its baseline (channels "
               "absent at baseline: µV, never alerted).",
    "latency": "Dots joined: each valid sweep's onset latency (threshold method).",
    "reference": "Grey line: 100 % of baseline; every % panel shares one scale.",
    "reference_latency": "Grey line: the baseline latency.",
    "criterion": "Dashed black: the alert level.",
    "offscale": "Triangles on the top edge: sweeps above the axis.",
    "setup": "Hollow grey: setup sweeps before the Baseline marker (never alerted).",
    "rejected": "Crosses along the bottom: rejected or excluded sweeps.",
    "excluded": "Cross-hatched: sweeps a review edit excluded.",
    "lesioning": "Grey band: lesioning.",
    "alerts": "Bars along the top: alert episodes, one lane per criterion, labelled; "
              "vermillion focal, orange hatched systemic, purple dotted undetermined; pale: "
              "informational (outside the phases the criterion watches). A bar ends at the "
              "recovery, or where the channel's valid sweeps end.",
    "event": "Dotted lines: theatre events from the case sidecar, numbered as in the table "
             "of markers and theatre events.",
}


def _caption(elements, lead="") -> str:
    alerts = any(k in elements for k in ("focal", "systemic", "undetermined"))
    parts = [_CAPTIONS[k] for k in elements if k in _CAPTIONS]
    if alerts:
        parts.insert(len(parts) - ("event" in elements), _CAPTIONS["alerts"])
    return " ".join([lead] + parts if lead else parts)


# ------------------------------------------------------------------------ panel drawing
def _shade_lesioning(ax, result):
    for phase in result.phases:
        if phase.name == "lesioning":
            ax.axvspan(phase.start_s, phase.end_s, color=COLOURS["phase"], lw=0, zorder=0)


def _mark_events(ax, result):
    """Theatre events as dotted lines (one collection)."""
    times = [e.at_s for e in result.case.events]
    if times:
        ax.vlines(times, 0, 1, transform=ax.get_xaxis_transform(), colors=COLOURS["event"],
                  lw=0.8, linestyles=":", zorder=1)


def _number_events(ax, result, span, title: str, panel_width_in: float):
    """Each theatre event's number above the panel, raised where it would hit the title.

    Numbered in time order, as in the report's table; numbers closer than a label's width
    stack upwards.
    """
    width = span[1] - span[0]
    title_end = len(title) * (FONT_PT + 0.5) * 0.62 / 72 / panel_width_in
    taken: list[list[float]] = []
    order = sorted(range(len(result.case.events)), key=lambda k: result.case.events[k].at_s)
    for number, k in enumerate(order, start=1):
        at = (result.case.events[k].at_s - span[0]) / width
        level = 1 if at < title_end + 0.03 else 0
        while any(abs(at - x) < 0.05 for x in (taken[level] if level < len(taken) else [])):
            level += 1
        taken += [[] for _ in range(level + 1 - len(taken))]
        taken[level].append(at)
        ax.annotate(str(number), (at, 1.0), xycoords="axes fraction",
                    xytext=(0, 1.5 + 10.5 * level), textcoords="offset points", ha="center",
                    va="bottom", fontsize=SMALL_PT, fontweight="bold", annotation_clip=False)


def _mark_exclusions(ax, result, c, edges):
    for first, last in excluded_runs(result, c):
        ax.axvspan(edges[first], edges[last + 1], facecolor="none", edgecolor="0.45",
                   hatch="xxxx", lw=0, zorder=0.5)


def _values_panel(ax, result, c, values, top=None):
    """One channel's values against time: setup sweeps grey, rejected marked at the bottom.

    Values above ``top`` are drawn as triangles on the top edge of the values (off scale).
    """
    onsets = result.sweeps.column("onset_s")
    valid = ~result.rejected[:, c]
    monitored = valid & ~result.setup
    shown = values if top is None else np.minimum(values, top)
    ax.plot(onsets[monitored], shown[monitored], "o-", ms=2.4, lw=0.8,
            color=COLOURS["measure"])
    if (valid & result.setup).any():
        ax.plot(onsets[valid & result.setup], shown[valid & result.setup], "o", ms=3,
                mfc="none", mec=COLOURS["setup"], mew=0.8)
    if top is not None:
        above = valid & (values > top)
        if above.any():
            ax.plot(onsets[above], np.full(above.sum(), top), "^", ms=3.6, clip_on=False,
                    color=COLOURS["measure"])
    if (~valid).any():
        ax.plot(onsets[~valid], np.zeros((~valid).sum()), "x", ms=3.5,
                color=COLOURS["rejected"], clip_on=False, transform=ax.get_xaxis_transform())


def _lane_label(kind, alert, brackets) -> str:
    """An alert lane's label: the kind's lane words, a threshold rise, informational."""
    text = kind.lane_words
    if kind.style == "rise_v":
        text += " " + brackets.get(id(alert), f"+{alert.threshold_rise_v:g} V")
    return text + (" (informational)" if alert.informational else "")


def _mark_alerts(ax, result, channel, lane_frac, span, brackets=None):
    """Alert episodes as bars in lanes along the top, one lane per criterion, labelled.

    Colour and hatch tell the scope, the lane and its label the criterion. ``brackets``:
    ``id(alert)`` to a threshold rise in words; default: the result's (:func:`rise_labels`).
    """
    brackets = rise_labels(result) if brackets is None else brackets
    lanes = alert_lanes(result, channel)
    labelled = set()
    for alert in (a for a in result.alerts if a.channel == channel):
        kind = result.criteria.kind(alert.criterion)
        lane = lanes.index(kind.lane)
        top = 1 - lane * lane_frac
        end = alert_end_s(result, alert)
        ax.axvspan(alert.onset_s, end, ymin=top - 0.75 * lane_frac, ymax=top - 0.2 * lane_frac,
                   facecolor=COLOURS.get(alert.scope, COLOURS["focal"]),
                   alpha=0.35 if alert.informational else 1.0, edgecolor="0.15",
                   hatch=HATCHES.get(alert.scope), lw=0, zorder=2)
        if lane in labelled:
            continue
        labelled.add(lane)
        _lane_text(ax, _lane_label(kind, alert, brackets), alert.onset_s, end,
                   top - 0.45 * lane_frac, span)


def _lane_text(ax, text, start, end, y, span):
    """A lane's label where it leaves the bar visible.

    After the bar, or before it near the right edge; inside its start when the bar is long.
    """
    width = span[1] - span[0]
    begins, ends = (start - span[0]) / width, (end - span[0]) / width
    where = dict(transform=ax.get_xaxis_transform(), va="center", fontsize=SMALL_PT, zorder=3)
    if ends - begins > 0.35:
        ax.text(start, y, " " + text, ha="left", **where,
                bbox=dict(boxstyle="square,pad=0.05", fc="white", ec="none", alpha=0.75))
    elif ends < 0.7:
        ax.text(end, y, " " + text, ha="left", **where)
    else:
        ax.text(start, y, text + " ", ha="right", **where)


def _percent_axis(ax, top, lane_frac):
    """The shared % axis: 0 to ``top``, with room above it for the alert lanes."""
    ax.set_ylim(0, top / (1 - lane_frac) if lane_frac else top)
    ax.set_yticks(np.arange(0, top + 1, 50 if top <= 200 else 100))


# ------------------------------------------------------------------------------- trends
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
    kinds = [k for k, on in flags if on] + _drawn_alert_kinds(result, names)
    return kinds + (["event"] if result.case.events else [])


def _intensity_panel(ax, result, onsets, intensity):
    # The step first: its Line2D is the panel's first line (scripts read it back).
    ax.step(onsets, intensity, where="post", color="0.25", lw=1.0)
    _shade_lesioning(ax, result)
    _mark_events(ax, result)
    units = {u for u in result.sweeps.column("stim_unit").astype(str) if u}
    ax.set_ylabel(f"stimulus ({'/'.join(sorted(units)) or '?'})")
    _title(ax, "stimulus intensity")
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
    picked = _picked(result, channels)
    top = _percent_top(result, picked)
    elements = _trend_elements(result, picked, top)
    margins = Margins(legend_rows=_legend_rows(len(elements)), events=bool(result.case.events))
    grid = _grid_axes(result, 0.95, picked, margins, extra_top=int(varied))
    onsets = result.sweeps.column("onset_s")
    edges = sweep_edges(onsets)
    span = _time_span(result)
    lanes = max((len(alert_lanes(result, result.sweeps.ch_names[c])) for c in picked),
                default=0)
    lane_frac = min(lanes * LANE_IN / grid.panel_in[1], 0.4)
    for ax in grid.top_rows:
        _intensity_panel(ax, result, onsets, intensity)
    titles = {}
    for c, ax in zip(picked, grid.panels):
        channel = result.sweeps.channels[c]
        _shade_lesioning(ax, result)
        _mark_events(ax, result)
        _mark_exclusions(ax, result, c, edges)
        if result.baseline.present[c]:
            ax.axhline(100, color=COLOURS["reference"], lw=0.7)
            ax.axhline(result.criteria.threshold_percent, color=COLOURS["criterion"], lw=0.8,
                       ls="--")
            _values_panel(ax, result, c, result.percent[:, c], top)
            _percent_axis(ax, top, lane_frac)
            ax.set_ylabel("% baseline")
            titles[id(ax)] = channel.name
        else:
            _values_panel(ax, result, c, result.measurements.amplitude[:, c] * 1e6)
            ax.set_ylim(bottom=0)
            ax.yaxis.get_major_locator().set_params(nbins=3)
            ax.set_ylabel("µV")
            titles[id(ax)] = f"{channel.name}  absent at baseline (µV, not alerted)"
        _mark_alerts(ax, result, channel.name, lane_frac, span, brackets)
        _title(ax, titles[id(ax)])
    for ax in grid.first:
        _number_events(ax, result, span, titles.get(id(ax), "stimulus intensity"),
                       grid.panel_in[0])
    _label_bottom(grid, _time_axis(result), span)
    _legend(grid, [_handle(k, result) for k in elements])
    grid.fig.iomon_elements = elements
    return grid.fig


def latency_figure(result, channels=None, brackets=None):
    """Onset latency per channel against time, its baseline as a grey line (ms).

    Channels without a response at baseline have no latency to follow: their panel says so.
    """
    picked = _picked(result, channels)
    names = [result.sweeps.ch_names[c] for c in picked]
    criterion = result.criteria.latency_increase_percent
    elements = _latency_elements(result, picked, criterion)
    margins = Margins(legend_rows=_legend_rows(len(elements)), events=bool(result.case.events))
    grid = _grid_axes(result, 0.9, picked, margins)
    span = _time_span(result)
    lanes = max((len(alert_lanes(result, n)) for n in names), default=0)
    lane_frac = min(lanes * LANE_IN / grid.panel_in[1], 0.4)
    titles = {}
    for c, ax in zip(picked, grid.panels):
        _shade_lesioning(ax, result)
        _mark_events(ax, result)
        titles[id(ax)] = _latency_panel(ax, result, c, criterion, lane_frac)
        _mark_alerts(ax, result, result.sweeps.ch_names[c], lane_frac, span, brackets)
        _title(ax, titles[id(ax)])
    for ax in grid.first:
        _number_events(ax, result, span, titles[id(ax)], grid.panel_in[0])
    _label_bottom(grid, _time_axis(result), span)
    _legend(grid, [_handle(k, result) for k in elements])
    grid.fig.iomon_elements = elements
    return grid.fig


def _latency_elements(result, picked, criterion) -> list[str]:
    responding = [c for c in picked if np.isfinite(result.baseline.onset_latency[c])]
    rejected = result.rejected[:, responding]
    flags = [("latency", True), ("reference_latency", bool(responding)),
             ("criterion", bool(criterion and responding)),
             ("setup", bool((~rejected & result.setup[:, None]).any())),
             ("rejected", bool(rejected.any())),
             ("lesioning", any(p.name == "lesioning" for p in result.phases))]
    names = [result.sweeps.ch_names[c] for c in responding]
    kinds = [k for k, on in flags if on] + _drawn_alert_kinds(result, names)
    return kinds + (["event"] if result.case.events else [])


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
    ax.axhline(reference, color=COLOURS["reference"], lw=0.7)
    if criterion:
        ax.axhline(reference * (1 + criterion / 100), color=COLOURS["criterion"], lw=0.8,
                   ls="--")
    _values_panel(ax, result, c, latency)
    shown = latency[~result.rejected[:, c] & np.isfinite(latency)]
    low = min(float(shown.min()) if shown.size else reference, reference) - 3
    high = max(float(shown.max()) if shown.size else reference, reference) + 3
    ax.set_ylim(max(0.0, low), high + (high - max(0.0, low)) * lane_frac / (1 - lane_frac))
    ax.yaxis.get_major_locator().set_params(nbins=4, integer=True)
    ax.set_ylabel("onset (ms)")
    return name


# --------------------------------------------------------------------------- waveforms
@dataclass(frozen=True)
class RowChoice:
    """The sweeps a stacked-waveform figure shows, and the rule that chose them."""

    sweeps: np.ndarray
    rule: str


def _waveform_margins() -> Margins:
    return Margins(legend_rows=0, left=1.12, column_gap=0.13, gap=0.3)


def rows_that_fit(result) -> int:
    """How many sweep rows fit each waveform panel of a figure an A4 page holds."""
    n_rows = channel_grid(result.sweeps.channels, fold=True)[0]
    margins = _waveform_margins()
    fixed = margins.top + margins.bottom + (n_rows - 1) * margins.gap
    return int(max(4, min(MAX_ROWS, (MAX_HEIGHT_IN - fixed) / n_rows / ROW_IN - 1.5)))


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

    Every row is labelled with its sweep number, clock time and phase (7 pt at print size).
    Baseline sweeps sky blue, sweeps within an alert episode vermillion, setup sweeps grey;
    rejected sweeps are not drawn (a cross marks their row). Shaded: the response window. With
    more than three muscles, two sit side by side within each side so that the rows keep their
    height.
    """
    rows = rows or choose_rows(result)
    shown = rows.sweeps
    picked = _picked(result, channels)
    grid = _grid_axes(result, ROW_IN * (shown.size + 1.5), picked, _waveform_margins(),
                      fold=True)
    ms = result.sweeps.times * 1e3
    alerted = _alerted(result)
    clock = _time_axis(result)
    # The sweep number too: sweeps less than a second apart share a clock time.
    labels = [f"#{i} {clock.text(t, True)} {_phase_short(p)}" for i, t, p in zip(
        shown, result.sweeps.column("onset_s")[shown], result.sweep_phase[shown])]
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
        ax.set_ylim(-(shown.size - 0.2) * spacing[c], 1.2 * spacing[c])
        _title(ax, result.sweeps.ch_names[c], fontsize=FONT_PT)
        _title(ax, f"{spacing[c]:.0f} µV/row", loc="right", fontsize=SMALL_PT)
        if not result.baseline.present[c]:
            # Inside the panel: beside the name and the scale it would not fit.
            ax.text(0.5, 0.01, "absent at baseline", transform=ax.transAxes, ha="center",
                    va="bottom", fontsize=SMALL_PT, color="0.25", zorder=3,
                    bbox=dict(boxstyle="square,pad=0.15", fc="white", ec="none"))
    for ax in grid.bottom:
        ax.set_xlabel("ms after the stimulus")
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


def _alerted(result) -> np.ndarray:
    """Sweep x channel inside an alert episode (to its recovery, or the end of its data)."""
    out = np.zeros(result.percent.shape, bool)
    onsets = result.sweeps.column("onset_s")
    for alert in result.alerts:
        c = result.sweeps.ch_names.index(alert.channel)
        end = alert.recovery_sweep if alert.recovered else int(np.searchsorted(
            onsets, alert_end_s(result, alert), side="right"))
        out[alert.onset_sweep:end, c] = True
    return out


# ----------------------------------------------------------------- baseline against final
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
    in_alert = _alerted(result)[valid, c]
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
    picked = _picked(result, channels)
    alerted = any(a.channel in {result.sweeps.ch_names[c] for c in picked}
                  for a in result.alerts)
    grid = _grid_axes(result, 1.0, picked, Margins(legend_rows=1))
    ms = result.sweeps.times * 1e3
    clock = _time_axis(result)
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
        _title(ax, _overlay_title(result, c, final, clock))
        ax.set_ylabel("µV")
    for ax in grid.bottom:
        ax.set_xlabel("ms after the stimulus")
    _legend(grid, _overlay_handles(alerted))
    return grid.fig


def _overlay_handles(alerted: bool):
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=COLOURS["baseline"], lw=1.6, label="baseline sweep"),
               Line2D([], [], color=COLOURS["final"], lw=0.9, label="final sweep")]
    if alerted:
        handles.append(Line2D([], [], color=COLOURS["focal"], lw=0.9, ls="--",
                              label="nadir sweep of an alert"))
    return handles


# ---------------------------------------------------------------------------- saving
@dataclass(frozen=True)
class FigureFile:
    """A figure as the report uses it: its name, files and what it shows.

    ``size_in`` is the figure's size at print scale (width, height), inches.
    """

    name: str
    png: Path
    svg: Path
    title: str
    caption: str
    size_in: tuple[float, float] | None = None


def write_png(fig, path: Path, dpi: int = PNG_DPI) -> None:
    """Draw ``fig`` once with Agg and write it as an opaque RGB PNG.

    RGB, not RGBA: the PDF embeds it without a transparency mask (which PDF/A-1 forbids and
    which costs a second image); a light zlib level keeps the write fast.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    original = fig.dpi
    fig.set_dpi(dpi)
    try:
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        pixels = np.asarray(canvas.buffer_rgba())[..., :3]
        Image.fromarray(pixels).save(path, format="png", compress_level=3)
    finally:
        fig.set_dpi(original)


def save_figures(result, folder: Path, dpi: int = PNG_DPI, svg: bool = True,
                 brackets=None) -> list[FigureFile]:
    """Draw each figure and write it as PNG (and SVG) into ``folder``.

    Parameters
    ----------
    result : CaseResult
    folder : Path
    dpi : int
        Of the PNGs.
    svg : bool
        Also write each figure as SVG (text kept as text, for publication).
    brackets : dict, optional
        ``id(alert)`` to its threshold rise in words (see :func:`trend_figure`); default: the
        result's threshold brackets.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rows = choose_rows(result)
    made = []
    for name, make, title, caption in _FIGURES(result, rows, brackets):
        fig = make()
        png, svg_path = folder / f"{name}.png", folder / f"{name}.svg"
        write_png(fig, png, dpi)
        if svg:
            fig.savefig(svg_path, format="svg", metadata={"Date": None})
        made.append(FigureFile(name, png, svg_path, title, caption(fig),
                               tuple(float(v) for v in fig.get_size_inches())))
    return made


def _waveform_caption(rows: RowChoice) -> str:
    return (f"Conditioned sweeps, first at the top, each row labelled with its sweep number "
            f"(from 0, as in the alert table), clock time and phase (pre: pre-lesioning, les: "
            f"lesioning, post: post-lesioning); shown: "
            f"{rows.rule}. Sky blue: baseline sweeps; vermillion: within an alert episode; "
            "grey: setup; crosses: rejected sweeps (not drawn). Each panel's scale (µV per "
            "row) is over it; a channel absent at baseline takes the responding channels' "
            "typical scale, so its noise is shown as noise. Traces are clipped at 1.2 rows. "
            "Shaded: each channel's response window.")


def _FIGURES(result, rows, brackets):  # noqa: N802 - a table of the report's figures
    return [
        ("trend", lambda: trend_figure(result, brackets=brackets), "MEP amplitude trends",
         lambda fig: _caption(fig.iomon_elements, "Peak-to-peak amplitude per channel (rows "
                              "by muscle, columns by side).")),
        ("overlay", lambda: overlay_figure(result), "Baseline against final",
         lambda fig: "Per channel, single sweeps whose size is the number the report states: "
                     "the baseline sweep of median amplitude (sky blue), the final sweep of "
                     "median amplitude among the last 3 valid sweeps (black; its % of baseline, "
                     "intensity when it varies, and time over the panel) and, where the "
                     "channel alerted, its lowest sweep within the alert (dashed vermillion). "
                     "The blanked stimulus artefact is left out."),
        ("latency", lambda: latency_figure(result, brackets=brackets), "Onset latency trends",
         lambda fig: _caption(fig.iomon_elements, "Onset latency per channel.")),
        ("waveforms", lambda: waveform_figure(result, rows), "Stacked waveforms",
         lambda fig: _waveform_caption(rows)),
    ]
