"""What every figure of a case shares: colours, sizes, time axis, the grid of channel panels.

One look across cases: the Okabe-Ito palette (safe for colour-blind readers) with a second cue
wherever colour tells things apart (hatched systemic bars, dashed black alert level), fonts of
7-9 pt at the A4 text width the figures are drawn for and no taller than an A4 page leaves
beside a heading and a caption, channels laid out in rows by muscle and columns by side
(at-risk side first), the time axis in clock time when the recording's start is known.

The figures are built on matplotlib's object interface with fixed margins: no pyplot figure
manager, no layout engine (either costs more than the drawing itself).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..clock import TimeAxis

__all__ = ["channel_grid", "COLOURS", "FigureSpec", "fixed_labels", "FONT_PT", "Grid", "grid_axes",
           "HATCHES", "label_bottom", "LANE_IN", "legend", "legend_rows", "Margins",
           "MAX_HEIGHT_IN", "MAX_ROWS", "new_figure", "panel_title", "picked_channels", "PNG_DPI",
           "pyplot", "ROW_IN", "SMALL_PT", "style", "sweep_edges", "time_axis", "time_span",
           "WIDTH_IN"]


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
    "peak": "#009E73",         # bluish green: peak latency, beside the onset's blue
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


def style():
    """Matplotlib set to the report's fonts; SVG text kept as text (editable)."""
    import matplotlib

    matplotlib.rcParams.update({
        "font.size": FONT_PT, "axes.titlesize": FONT_PT + 0.5, "axes.labelsize": FONT_PT,
        "xtick.labelsize": FONT_PT - 0.5, "ytick.labelsize": FONT_PT - 0.5,
        "legend.fontsize": FONT_PT, "svg.hashsalt": "iomon", "svg.fonttype": "none",
        "hatch.linewidth": 0.6})
    return matplotlib


def pyplot():
    """Pyplot on the Agg backend, in the report's style (for figures drawn with pyplot)."""
    matplotlib = style()
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def new_figure(width_in: float, height_in: float):
    """A Figure on an Agg canvas, outside pyplot (nothing to close, no global state)."""
    style()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in))
    FigureCanvasAgg(fig)
    return fig


def time_axis(result) -> TimeAxis:
    """The recording's time axis (clock time when its start is known).

    A simulated case's times are shown on the surgical clock it stands for
    (:func:`~iomon.report.clock.case_clock`).
    """
    from ..clock import case_clock

    return case_clock(result)


def time_span(result) -> tuple[float, float]:
    """The span of the trends' time axis: the sweeps, 2 % beyond each end, s."""
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


def picked_channels(result, channels=None) -> list[int]:
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
        """The top margin, inches."""
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


def grid_axes(result, row_height, picked, margins: Margins, extra_top=0, fold=False,
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
    fig = new_figure(WIDTH_IN, height)
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
        fixed_labels(fig, axes[row, col], margins.left)
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


def fixed_labels(fig, ax, left_in):
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


def panel_title(ax, text, loc="left", **kwargs):
    """A panel's title over its left (or right) edge."""
    # y given: matplotlib then skips measuring the panel to place the title.
    ax.set_title(text, loc=loc, pad=2, y=1.0, **kwargs)


def label_bottom(grid: Grid, clock: TimeAxis, span=None) -> None:
    """Label the bottom panels with the time axis (shared by every panel) over ``span``."""
    for ax in grid.bottom:
        ax.set_xlabel(clock.label())
    if span is not None:
        grid.bottom[0].set_xlim(*span)
    clock.format(grid.bottom[0])


def legend(grid: Grid, handles):
    """The figure's legend across its top, four entries a row."""
    grid.fig.legend(handles=handles, loc="upper center",
                    bbox_to_anchor=(0.5, 1 - 0.04 / grid.height_in), ncols=4, frameon=False,
                    handlelength=1.6, columnspacing=1.2, borderaxespad=0.0, handletextpad=0.5,
                    labelspacing=0.3)


def legend_rows(n_items: int) -> int:
    """Rows the legend takes for ``n_items`` entries."""
    return max(1, math.ceil(n_items / 4))


@dataclass(frozen=True)
class FigureSpec:
    """One figure of the case report: its file name, heading, drawing and caption.

    ``draw(result)`` returns a matplotlib Figure; ``caption(fig)`` says what it draws (a
    figure may leave what its caption needs on itself, as ``fig.iomon_elements``);
    ``applies(result)`` whether the case has anything for it to show (default: always). The
    report draws the figures of :data:`iomon.report.figures.FIGURES` in order.
    """

    name: str
    title: str
    draw: Callable
    caption: Callable
    applies: Callable = lambda result: True
