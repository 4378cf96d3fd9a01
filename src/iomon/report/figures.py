"""Figures of a case: MEP trends, latency trends, stacked waveforms, baseline against final.

Each function takes a :class:`~iomon.results.CaseResult` and returns a matplotlib Figure, so a
case-report author can restyle or save it at any size; :func:`save_figures` draws each figure
once and writes it as PNG (for the report) and SVG (for publication).

One look across cases: the Okabe-Ito palette (safe for colour-blind readers), fonts of 8.5-10
pt at the A4 text width the figures are drawn for, channels laid out in rows by muscle and
columns by side (at-risk side first), the time axis in clock time when the recording's start
is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..threshold import intensity_varies

__all__ = ["COLOURS", "FigureFile", "latency_figure", "overlay_figure", "save_figures",
           "trend_figure", "waveform_figure"]

#: Okabe & Ito (2008) colours, by what they mean in every figure.
COLOURS = {
    "measure": "#0072B2",      # blue: the channel's values
    "baseline": "#56B4E9",     # sky blue: baseline sweeps and averages
    "criterion": "#D55E00",    # vermillion: the alert level
    "focal": "#D55E00",        # vermillion: focal alert episodes
    "systemic": "#E69F00",     # orange: systemic alert episodes
    "undetermined": "#CC79A7",  # reddish purple: undetermined alert episodes
    "setup": "#999999",        # grey: sweeps before the Baseline marker
    "rejected": "#555555",
    "phase": "#E8E8E8",        # light grey: the lesioning phase
    "event": "#000000",        # black: theatre events
    "final": "#000000",
}
#: Width of the figures: the A4 text width of the PDF report (174 mm).
WIDTH_IN = 6.85
FONT_PT = 8.5
#: Stacked waveforms: at most this many sweeps (rows) per channel, each this tall (in), and the
#: figure at most this tall (in) so that it fits an A4 page.
MAX_ROWS = 40
ROW_IN = 0.06
MAX_HEIGHT_IN = 9.3


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": FONT_PT, "axes.titlesize": FONT_PT + 0.5,
                         "axes.labelsize": FONT_PT, "xtick.labelsize": FONT_PT - 0.5,
                         "ytick.labelsize": FONT_PT - 0.5, "legend.fontsize": FONT_PT,
                         "svg.hashsalt": "iomon", "svg.fonttype": "none"})
    return plt


# ------------------------------------------------------------------------------- layout
def channel_grid(channels):
    """Where each channel's panel goes: rows by muscle, columns by side, at-risk side first.

    Returns ``(n_rows, n_cols, positions, column_titles)`` with ``positions[c] = (row, col)``.
    Channels without a side or a muscle fill a grid of two columns in their order.
    """
    sides = [ch.side for ch in channels]
    if all(sides) and all(ch.muscle for ch in channels) and len(set(sides)) == 2:
        at_risk = next((ch.side for ch in channels if ch.role == "test"), sides[0])
        order = [at_risk, next(s for s in ("left", "right") if s != at_risk)]
        muscles = list(dict.fromkeys(ch.muscle for ch in channels))
        positions, taken = [], set()
        for ch in channels:
            place = (muscles.index(ch.muscle), order.index(ch.side))
            if place in taken:
                break  # two channels of one muscle and side: fall back to the plain grid
            taken.add(place)
            positions.append(place)
        else:
            roles = {ch.side: ch.role for ch in channels}
            titles = [f"{side}{' (at risk)' if roles.get(side) == 'test' else ''}"
                      f"{' (controls)' if roles.get(side) == 'control' else ''}"
                      for side in order]
            return len(muscles), 2, positions, titles
    n_cols = 1 if len(channels) == 1 else 2
    return (int(np.ceil(len(channels) / n_cols)), n_cols,
            [(c // n_cols, c % n_cols) for c in range(len(channels))], [""] * n_cols)


#: Fixed margins (in): a layout engine costs more than the drawing itself.
_TOP_IN, _TITLES_IN, _BOTTOM_IN, _RIGHT_IN, _GAP_IN, _COLUMN_GAP_IN = 0.45, 0.42, 0.48, 0.12, \
    0.34, 0.62


def _picked(result, channels=None) -> list[int]:
    """Indices of the channels to draw: those named (in that order), else all."""
    if channels is None:
        return list(range(result.sweeps.n_channels))
    names = result.sweeps.ch_names
    missing = [n for n in channels if n not in names]
    if missing:
        raise ValueError(f"no channel {missing[0]!r} (channels: {', '.join(names)})")
    return [names.index(n) for n in channels]


def _grid_axes(plt, result, row_height, extra_top=0, left_in=0.72, legend=True,
               picked=None):
    """A figure with one axes per channel in :func:`channel_grid` order, x shared.

    Columns are headed by their side; ``extra_top`` rows on top of every column (the stimulus
    intensity). Returns ``(fig, channel_axes, top_axes)``; ``fig.iomon_bottom`` holds the
    lowest axes of each column (where the x axis is labelled).
    """
    picked = picked if picked is not None else range(result.sweeps.n_channels)
    n_rows, n_cols, positions, titles = channel_grid([result.sweeps.channels[c]
                                                      for c in picked])
    rows = n_rows + extra_top
    top_in = (_TOP_IN if legend else 0.1) + (_TITLES_IN if any(titles) else 0.08)
    height = top_in + rows * row_height + (rows - 1) * _GAP_IN + _BOTTOM_IN
    fig = plt.figure(figsize=(WIDTH_IN, height))
    width = (WIDTH_IN - left_in - _RIGHT_IN - (n_cols - 1) * _COLUMN_GAP_IN) / n_cols
    grid = fig.add_gridspec(rows, n_cols, left=left_in / WIDTH_IN,
                            right=1 - _RIGHT_IN / WIDTH_IN, bottom=_BOTTOM_IN / height,
                            top=1 - top_in / height, hspace=_GAP_IN / row_height,
                            wspace=_COLUMN_GAP_IN / width)
    first = None
    axes = {}
    for row, col in [(r, c) for c in range(n_cols) for r in range(extra_top)] + [
            (r + extra_top, c) for r, c in positions]:
        axes[row, col] = fig.add_subplot(grid[row, col], sharex=first)
        first = first or axes[row, col]
    lowest = {col: max(r for r, c in axes if c == col) for col in range(n_cols)}
    for (row, col), ax in axes.items():
        if row != lowest[col]:
            ax.tick_params(labelbottom=False)
    for col, title in enumerate(titles):
        if title:
            x = (left_in + col * (width + _COLUMN_GAP_IN) + width / 2) / WIDTH_IN
            fig.text(x, 1 - (top_in - 0.24) / height, title, ha="center", va="bottom",
                     fontweight="bold", fontsize=FONT_PT + 0.5)
    fig.iomon_bottom = [axes[lowest[col], col] for col in range(n_cols)]
    fig.iomon_first = [axes[min(r for r, c in axes if c == col), col] for col in range(n_cols)]
    fig.iomon_legend_y = 1 - 0.04 / height
    return (fig, [axes[row + extra_top, col] for row, col in positions],
            [axes[row, col] for col in range(n_cols) for row in range(extra_top)])


class TimeAxis:
    """Seconds since the recording's start, shown as clock time (HH:MM) when it is known.

    Ticks carry seconds when the recording lasts under an hour (time-compressed simulated
    cases, short exports).
    """

    def __init__(self, start=None, duration_s=None):
        self.start = start
        self.seconds = duration_s is not None and duration_s < 3600

    def label(self) -> str:
        """The axis label."""
        return "clock time" if self.start is not None else "time since start (h:mm)"

    def text(self, seconds: float, with_seconds: bool = False) -> str:
        """A time as clock time, or as h:mm(:ss) since the start."""
        if self.start is not None:
            import datetime

            moment = self.start + datetime.timedelta(seconds=float(seconds))
            return moment.strftime("%H:%M:%S" if with_seconds else "%H:%M")
        whole = int(round(float(seconds)))
        hours, rest = divmod(whole, 3600)
        minutes, secs = divmod(rest, 60)
        return f"{hours}:{minutes:02d}:{secs:02d}" if with_seconds else f"{hours}:{minutes:02d}"

    def format(self, ax) -> None:
        """Label the x axis of ``ax`` with this time."""
        from matplotlib.ticker import FuncFormatter, MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: self.text(x, self.seconds)))


def _time_axis(result) -> TimeAxis:
    return TimeAxis(result.recording.start, result.recording.duration_s)


def _label_bottom(fig, clock: TimeAxis, span=None) -> None:
    """Label the bottom panels with the time axis (shared by every panel) over ``span``."""
    for ax in fig.iomon_bottom:
        ax.set_xlabel(clock.label())
    if span is not None:
        fig.iomon_bottom[0].set_xlim(*span)


def _time_span(result) -> tuple[float, float]:
    onsets = result.sweeps.column("onset_s")
    margin = 0.02 * max(float(np.ptp(onsets)), 1.0)
    return float(onsets.min()) - margin, float(onsets.max()) + margin


# ------------------------------------------------------------------------------- trends
def _shade_lesioning(ax, result):
    for phase in result.phases:
        if phase.name == "lesioning":
            ax.axvspan(phase.start_s, phase.end_s, color=COLOURS["phase"], lw=0, zorder=0)


def _mark_events(ax, result, labelled=False):
    """Theatre events as dotted lines; ``labelled``: with their text, for the top panels."""
    for event in result.case.events:
        ax.axvline(event.at_s, color=COLOURS["event"], lw=0.8, ls=":", zorder=1)
        if labelled:
            ax.text(event.at_s, 1.0, " " + event.text, transform=ax.get_xaxis_transform(),
                    rotation=90, ha="right", va="top", fontsize=FONT_PT - 1.5,
                    color=COLOURS["event"], clip_on=True)


def _mark_alerts(ax, result, channel, onsets):
    """Alert episodes as a bar along the top of the panel, coloured by scope."""
    for alert in result.alerts:
        if alert.channel != channel:
            continue
        end = alert.recovery_s if alert.recovered else onsets[-1]
        colour = COLOURS.get(alert.scope, COLOURS["focal"])
        ax.axvspan(alert.onset_s, end, ymin=0.9, ymax=1.0, color=colour,
                   alpha=0.35 if alert.informational else 0.9, lw=0,
                   hatch="///" if alert.informational else None)
        if alert.threshold_rise_v is not None:
            ax.text(alert.onset_s, 0.86, f"+{alert.threshold_rise_v:g} V",
                    transform=ax.get_xaxis_transform(), ha="left", va="top",
                    fontsize=FONT_PT - 1, color=colour)


def _values_panel(ax, result, c, values, ylabel, reference=None, level=None):
    """One channel's values against time: setup sweeps grey, rejected marked at the bottom."""
    onsets = result.sweeps.column("onset_s")
    valid = ~result.rejected[:, c]
    setup = result.setup
    if reference is not None:
        ax.axhline(reference, color="0.55", lw=0.7)
    if level is not None:
        ax.axhline(level, color=COLOURS["criterion"], lw=0.9, ls="--")
    monitored = valid & ~setup
    ax.plot(onsets[monitored], values[monitored], "o-", ms=2.4, lw=0.8,
            color=COLOURS["measure"])
    if (valid & setup).any():
        ax.plot(onsets[valid & setup], values[valid & setup], "o", ms=3, mfc="none",
                mec=COLOURS["setup"], mew=0.8)
    if (~valid).any():
        ax.plot(onsets[~valid], np.zeros((~valid).sum()), "x", ms=3.5,
                color=COLOURS["rejected"], clip_on=False, transform=ax.get_xaxis_transform())
    ax.set_ylabel(ylabel)


def _legend(fig, handles):
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, fig.iomon_legend_y),
               ncols=4, frameon=False, handlelength=1.6, columnspacing=1.2,
               borderaxespad=0.0, handletextpad=0.5, labelspacing=0.3)


def _trend_handles(result, with_criterion=True):
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Line2D([], [], marker="o", ms=3, lw=0.8, color=COLOURS["measure"],
                      label="% of baseline")]
    if with_criterion:
        handles.append(Line2D([], [], ls="--", lw=0.9, color=COLOURS["criterion"],
                              label=f"alert level ({result.criteria.name})"))
    handles += [
        Line2D([], [], marker="o", ms=3, lw=0, mfc="none", mec=COLOURS["setup"],
               label="setup (before baseline)"),
        Line2D([], [], marker="x", ms=4, lw=0, color=COLOURS["rejected"],
               label="rejected or excluded"),
        Patch(color=COLOURS["phase"], label="lesioning"),
        Patch(color=COLOURS["focal"], label="focal alert"),
        Patch(color=COLOURS["systemic"], label="systemic alert"),
    ]
    if any(a.scope == "undetermined" for a in result.alerts):
        handles.append(Patch(color=COLOURS["undetermined"], label="undetermined alert"))
    if result.case.events:
        handles.append(Line2D([], [], ls=":", lw=0.8, color=COLOURS["event"],
                              label="theatre event"))
    return handles


def trend_figure(result, channels=None):
    """% of baseline per channel against time.

    Lesioning shaded grey, alert episodes as bars along the top (vermillion focal, orange
    systemic; hatched when informational), setup sweeps hollow grey, rejected sweeps as
    crosses, theatre events as dotted lines. Channels absent at baseline are drawn in µV.
    When the stimulus intensity varies, a first row shows it: a rising threshold is read
    there.
    """
    plt = _pyplot()
    intensity = result.sweeps.column("stim_intensity").astype(float)
    varied = intensity_varies(intensity)
    picked = _picked(result, channels)
    fig, panels, top = _grid_axes(plt, result, 0.95, extra_top=int(varied), picked=picked)
    onsets = result.sweeps.column("onset_s")
    clock = _time_axis(result)
    for ax in top:
        _shade_lesioning(ax, result)
        _mark_events(ax, result, labelled=True)
        ax.step(onsets, intensity, where="post", color="0.25", lw=1.0)
        units = {u for u in result.sweeps.column("stim_unit").astype(str) if u}
        ax.set_ylabel(f"stimulus ({'/'.join(sorted(units)) or '?'})")
        ax.set_title("stimulus intensity", loc="left", pad=2)
        ax.tick_params(labelbottom=False)
    level = result.criteria.threshold_percent
    first_rows = {id(ax) for ax in fig.iomon_first} if not top else set()
    for c, ax in zip(picked, panels):
        channel = result.sweeps.channels[c]
        _shade_lesioning(ax, result)
        _mark_events(ax, result, labelled=id(ax) in first_rows)
        title = channel.name
        if result.baseline.present[c]:
            values = result.percent[:, c]
            _values_panel(ax, result, c, values, "% baseline", 100, level)
            finite = values[~result.rejected[:, c] & np.isfinite(values)]
            top = float(finite.max()) if finite.size else 150.0
            ax.set_ylim(0, max(150.0, min(top * 1.08, 400.0)))
        else:
            _values_panel(ax, result, c, result.measurements.amplitude[:, c] * 1e6, "µV")
            title += "  absent at baseline"
        _mark_alerts(ax, result, channel.name, onsets)
        ax.set_title(title, loc="left", pad=2)
        clock.format(ax)
    _label_bottom(fig, clock, _time_span(result))
    _legend(fig, _trend_handles(result))
    return fig


def latency_figure(result, channels=None):
    """Onset latency per channel against time, its baseline as a grey line (ms)."""
    plt = _pyplot()
    picked = _picked(result, channels)
    fig, panels, _ = _grid_axes(plt, result, 0.9, picked=picked)
    onsets = result.sweeps.column("onset_s")
    clock = _time_axis(result)
    baseline = result.baselines.reference("onset_latency")
    criterion = result.criteria.latency_increase_percent
    for c, ax in zip(picked, panels):
        channel = result.sweeps.channels[c]
        _shade_lesioning(ax, result)
        _mark_events(ax, result)
        latency = result.measurements.onset_latency[:, c] * 1e3
        reference = result.baseline.onset_latency[c] * 1e3
        level = reference * (1 + criterion / 100) if criterion else None
        _values_panel(ax, result, c, latency, "onset (ms)",
                      reference if np.isfinite(reference) else None, level)
        _mark_alerts(ax, result, channel.name, onsets)
        finite = latency[np.isfinite(latency)]
        if finite.size:
            ax.set_ylim(max(0.0, finite.min() - 3), finite.max() + 3)
        ax.set_title(channel.name + ("" if np.isfinite(baseline[:, c]).any()
                                     else "  no response at baseline"), loc="left", pad=2)
        clock.format(ax)
    _label_bottom(fig, clock, _time_span(result))
    from matplotlib.lines import Line2D

    handles = [h for h in _trend_handles(result, with_criterion=False)]
    handles[0] = Line2D([], [], marker="o", ms=3, lw=0.8, color=COLOURS["measure"],
                        label="onset latency")
    handles.insert(1, Line2D([], [], lw=0.7, color="0.55", label="baseline latency"))
    _legend(fig, handles)
    return fig


# --------------------------------------------------------------------------- waveforms
@dataclass(frozen=True)
class RowChoice:
    """The sweeps a stacked-waveform figure shows, and the rule that chose them."""

    sweeps: np.ndarray
    rule: str


def rows_that_fit(result) -> int:
    """How many sweep rows fit each waveform panel on one A4 page."""
    n_rows = channel_grid(result.sweeps.channels)[0]
    return int(min(MAX_ROWS, (MAX_HEIGHT_IN / n_rows - 0.35) / ROW_IN))


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
    room = max(max_rows - len(keep), 2)
    step = int(np.ceil(n / room))
    keep |= set(range(0, n, step))
    rows = np.array(sorted(keep))
    return RowChoice(rows, f"{rows.size} of {n} sweeps: every {step}th, plus the first baseline "
                           "sweep, every alert onset and recovery, and the last sweep")


def waveform_figure(result, rows: RowChoice | None = None, channels=None):
    """Stacked conditioned sweeps per channel, first at the top.

    Rows are labelled with clock time and phase. Baseline sweeps sky blue, sweeps within an
    alert episode vermillion, setup sweeps grey; rejected sweeps are not drawn (a cross marks
    their row). Shaded: the response window.
    """
    plt = _pyplot()
    rows = rows or choose_rows(result)
    shown = rows.sweeps
    picked = _picked(result, channels)
    fig, panels, _ = _grid_axes(plt, result, ROW_IN * shown.size, left_in=0.95,
                                legend=False, picked=picked)
    ms = result.sweeps.times * 1e3
    alerted = _alerted(result)
    labels = [f"{_time_axis(result).text(t, True)} {_phase_short(p)}" for t, p in zip(
        result.sweeps.column("onset_s")[shown], result.sweep_phase[shown])]
    for c, ax in zip(picked, panels):
        channel = result.sweeps.channels[c]
        traces = result.conditioned[shown, c] * 1e6
        valid = ~result.rejected[shown, c]
        spacing = max(float(np.percentile(np.ptp(traces[valid], axis=-1), 75))
                      if valid.any() else 20.0, 20.0)
        _stack(ax, ms, traces, valid, spacing, [
            COLOURS["setup"] if result.setup[i] else COLOURS["baseline"]
            if result.baseline.sweeps[i, c] else COLOURS["focal"] if alerted[i, c] else "0.1"
            for i in shown])
        ax.set_xlim(ms[0], ms[-1])
        lo, hi = result.windows[c] * 1e3
        ax.axvspan(lo, hi, color="0.93", lw=0, zorder=0)
        # Labels 6 pt high need about 7 pt of height: every row when the rows allow it.
        every = max(1, int(np.ceil(7.0 / (ROW_IN * 72))))
        ax.set_yticks(-np.arange(0, shown.size, every) * spacing)
        ax.set_yticklabels(labels[::every] if ax.get_subplotspec().is_first_col() else [],
                           fontsize=6)
        ax.tick_params(axis="y", length=0)
        ax.set_ylim(-(shown.size - 0.2) * spacing, 1.2 * spacing)
        ax.set_title(f"{channel.name}  ({spacing:.0f} µV/row)", loc="left", pad=2)
    for ax in fig.iomon_bottom:
        ax.set_xlabel("ms after the stimulus")
    return fig


def _stack(ax, ms, traces, valid, spacing, colours):
    """Draw traces one row apart (clipped at 1.2 rows), one line collection per colour."""
    from matplotlib.collections import LineCollection

    offsets = -np.arange(len(traces)) * spacing
    clipped = np.clip(traces, -1.2 * spacing, 1.2 * spacing) + offsets[:, None]
    for colour in dict.fromkeys(colours):
        rows = [r for r, (k, ok) in enumerate(zip(colours, valid)) if ok and k == colour]
        if rows:
            ax.add_collection(LineCollection(
                [np.column_stack([ms, clipped[r]]) for r in rows], colors=colour,
                linewidths=0.55))
    if (~valid).any():
        ax.plot(np.full((~valid).sum(), ms[0]), offsets[~valid], "x", ms=3,
                color=COLOURS["rejected"], clip_on=False)


def _alerted(result) -> np.ndarray:
    """Sweep x channel inside an alert episode."""
    out = np.zeros(result.percent.shape, bool)
    for alert in result.alerts:
        c = result.sweeps.ch_names.index(alert.channel)
        end = alert.recovery_sweep if alert.recovered else result.sweeps.n_sweeps
        out[alert.onset_sweep:end, c] = True
    return out


_PHASE_SHORT = {"pre-lesioning": "pre", "lesioning": "les", "post-lesioning": "post",
                "unassigned": ""}


def _phase_short(phase: str) -> str:
    return _PHASE_SHORT.get(phase, phase[:5])


# ----------------------------------------------------------------- baseline against final
def _average(result, c, rows):
    rows = np.asarray(rows, int)
    rows = rows[~result.rejected[rows, c]] if rows.size else rows
    return None if rows.size == 0 else result.conditioned[rows, c].mean(axis=0) * 1e6


def overlay_rows(result, c):
    """The sweeps averaged per channel: baseline, final and nadir.

    Final: the last 3 valid sweeps; nadir: the lowest valid sweep of its alert episodes (None
    without an alert).
    """
    valid = np.flatnonzero(~result.rejected[:, c] & np.isfinite(result.percent[:, c]))
    base = np.flatnonzero(result.baseline.sweeps[:, c])
    final = valid[-3:]
    in_alert = _alerted(result)[valid, c]
    nadir = None
    if in_alert.any():
        candidates = valid[in_alert]
        nadir = [int(candidates[np.argmin(result.percent[candidates, c])])]
    return base, final, nadir


def overlay_figure(result, channels=None):
    """Per muscle, the baseline average against the final average and the nadir.

    The final average is of the last 3 valid sweeps; the nadir sweep is drawn where the channel
    alerted. The figure an IONM report is read for.
    """
    plt = _pyplot()
    picked = _picked(result, channels)
    fig, panels, _ = _grid_axes(plt, result, 1.0, picked=picked)
    ms = result.sweeps.times * 1e3
    finals = result.final_percent()
    for c, ax in zip(picked, panels):
        channel = result.sweeps.channels[c]
        base, final, nadir = overlay_rows(result, c)
        lo, hi = result.windows[c] * 1e3
        span = (ms >= lo - 5) & (ms <= hi + 5)
        base_colour = COLOURS["baseline"] if result.baseline.present[c] else COLOURS["setup"]
        for rows, colour, style, width in ((base, base_colour, "-", 1.6),
                                           (final, COLOURS["final"], "-", 0.9),
                                           (nadir, COLOURS["focal"], "--", 0.9)):
            average = None if rows is None else _average(result, c, rows)
            if average is not None:
                ax.plot(ms[span], average[span], style, color=colour, lw=width)
        if result.baseline.present[c] and np.isfinite(finals[c]):
            label = f"{channel.name}  final {finals[c]:.0f} %"
        else:
            label = f"{channel.name}  absent at baseline (noise)"
        ax.set_title(label, loc="left", pad=2)
        ax.set_ylabel("µV")
    for ax in fig.iomon_bottom:
        ax.set_xlabel("ms after the stimulus")
    from matplotlib.lines import Line2D

    _legend(fig, [Line2D([], [], color=COLOURS["baseline"], lw=1.6, label="baseline average"),
                  Line2D([], [], color=COLOURS["final"], lw=0.9,
                         label="final (last 3 valid sweeps)"),
                  Line2D([], [], color=COLOURS["focal"], lw=0.9, ls="--",
                         label="nadir sweep of an alert")])
    return fig


# ---------------------------------------------------------------------------- saving
@dataclass(frozen=True)
class FigureFile:
    """A figure as the report uses it: its name, files and what it shows."""

    name: str
    png: Path
    svg: Path
    title: str
    caption: str


def save_figures(result, folder: Path, dpi: int = 200) -> list[FigureFile]:
    """Draw each figure once and write it as PNG and SVG into ``folder``."""
    plt = _pyplot()
    folder.mkdir(parents=True, exist_ok=True)
    rows = choose_rows(result)
    made = []
    for name, make, title, caption in _FIGURES(result, rows):
        fig = make()
        png, svg = folder / f"{name}.png", folder / f"{name}.svg"
        fig.savefig(png, dpi=dpi, metadata={"Software": None})
        fig.savefig(svg, metadata={"Date": None})
        plt.close(fig)
        made.append(FigureFile(name, png, svg, title, caption))
    return made


def _FIGURES(result, rows):  # noqa: N802 - a table of the report's figures
    return [
        ("trend", lambda: trend_figure(result), "MEP amplitude trends",
         "Peak-to-peak amplitude as % of baseline per channel (rows by muscle, columns by "
         "side). Dashed: the criterion's alert level. Bars along the top: alert episodes "
         "(vermillion focal, orange systemic, hatched informational). Grey band: lesioning. "
         "Hollow grey: setup sweeps before the Baseline marker; crosses: rejected or excluded "
         "sweeps; dotted lines: theatre events from the case sidecar."),
        ("overlay", lambda: overlay_figure(result), "Baseline against final",
         "Per channel, the average of the baseline sweeps (sky blue), of the last 3 valid "
         "sweeps (black) and, where the channel alerted, its lowest sweep within the alert "
         "(dashed vermillion)."),
        ("latency", lambda: latency_figure(result), "Onset latency trends",
         "Onset latency per sweep (threshold method); grey line: the baseline latency."),
        ("waveforms", lambda: waveform_figure(result, rows), "Stacked waveforms",
         f"Conditioned sweeps, first at the top, labelled with clock time and phase; shown: "
         f"{rows.rule}. Sky blue: baseline sweeps; vermillion: within an alert episode; grey: "
         "setup; crosses: rejected sweeps (not drawn). Traces are clipped at 1.2 rows. Shaded: "
         "each channel's response window."),
    ]
