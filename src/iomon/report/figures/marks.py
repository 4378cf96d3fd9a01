"""What the trend figures draw on a channel's panel, and how their legends and captions say it.

The lesioning phase, theatre events (numbered), excluded spans, each sweep's values (setup
sweeps hollow, rejected ones crossed), and alert episodes as bars in one lane per criterion
kind along the top (the lane and its label from the kinds table,
:mod:`iomon.alerting.kinds`, read through the result's criteria). Legends and captions list
only what a figure draws: :func:`handle` and :data:`CAPTIONS` are keyed by the same elements.
"""

from __future__ import annotations

import math

import numpy as np

from ..facts import rise_brackets
from .common import COLOURS, FONT_PT, HATCHES, SMALL_PT, panel_title, sweep_edges

__all__ = ["alert_end_s", "alert_lanes", "alert_mask", "CAPTIONS", "drawn_alert_kinds",
           "excluded_runs", "figure_caption", "free_spans", "handle", "lane_label", "lane_text",
           "mark_alerts", "mark_events", "mark_exclusions", "number_events", "numbered_markers",
           "rise_labels",
           "shade_lesioning", "text_width_in", "values_panel"]


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


def drawn_alert_kinds(result, names) -> list[str]:
    """The alert legend entries a figure of channels ``names`` needs, in legend order."""
    alerts = [a for a in result.alerts if a.channel in names]
    kinds = [s for s in ("focal", "systemic", "undetermined") if any(a.scope == s
                                                                    for a in alerts)]
    return kinds + (["informational"] if any(a.informational for a in alerts) else [])


def handle(kind, result=None):
    """The legend entry of one element a figure draws (see :func:`figure_caption`)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    lines = {
        "measure": dict(marker="o", ms=3, lw=0.8, color=COLOURS["measure"],
                        label="% of baseline"),
        "latency": dict(marker="o", ms=3, lw=0.8, color=COLOURS["measure"],
                        label="onset latency"),
        "peak": dict(marker="s", ms=2.5, lw=0.6, color=COLOURS["peak"], label="peak latency"),
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
        "event": dict(ls=":", lw=0.8, color=COLOURS["event"], label="marker or event (#)"),
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


CAPTIONS = {
    "measure": "Dots joined: each valid sweep's amplitude as % of its baseline (channels "
               "absent at baseline: µV, never alerted).",
    "latency": "Dots joined: each valid sweep's onset latency (threshold method).",
    "peak": "Green squares joined: each sweep's peak latency, where it holds a response.",
    "reference": "Grey line: 100 % of baseline; every % panel shares one scale.",
    "reference_latency": "Grey line: the baseline onset latency.",
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
    "event": "Dotted lines: the recording's markers and the theatre events, numbered as in "
             "the table of markers and theatre events (numbers closer than a label share one).",
}


def figure_caption(elements, lead="") -> str:
    """A caption that says what each drawn element is, after ``lead``."""
    alerts = any(k in elements for k in ("focal", "systemic", "undetermined"))
    parts = [CAPTIONS[k] for k in elements if k in CAPTIONS]
    if alerts:
        parts.insert(len(parts) - ("event" in elements), CAPTIONS["alerts"])
    return " ".join([lead] + parts if lead else parts)


def shade_lesioning(ax, result):
    """The lesioning phase as a grey band."""
    for phase in result.phases:
        if phase.name == "lesioning":
            ax.axvspan(phase.start_s, phase.end_s, color=COLOURS["phase"], lw=0, zorder=0)


def numbered_markers(result) -> list:
    """The markers and theatre events the figures draw: those the report numbers."""
    return [m for m in result.markers if m.number is not None]


def mark_events(ax, result):
    """The recording's markers and the theatre events as dotted lines (one collection)."""
    times = [m.at_s for m in numbered_markers(result)]
    if times:
        ax.vlines(times, 0, 1, transform=ax.get_xaxis_transform(), colors=COLOURS["event"],
                  lw=0.8, linestyles=":", zorder=1)


def _numbers_label(numbers) -> str:
    """Marker numbers as one label: "5", "5,6", "3–6"."""
    numbers = sorted(numbers)
    run = len(numbers) > 2 and numbers == list(range(numbers[0], numbers[-1] + 1))
    return f"{numbers[0]}–{numbers[-1]}" if run else ",".join(map(str, numbers))


def _number_groups(markers, span) -> list[tuple[float, list[int]]]:
    """(axes fraction, numbers) of the markers, in time order.

    Numbers closer than a label's width share one label, at their middle.
    """
    width = span[1] - span[0]
    groups: list[list] = []
    for m in sorted(markers, key=lambda m: m.at_s):
        at = (m.at_s - span[0]) / width
        if groups and at - groups[-1][-1][0] < 0.04:
            groups[-1].append((at, m.number))
        else:
            groups.append([(at, m.number)])
    return [((g[0][0] + g[-1][0]) / 2, [n for _, n in g]) for g in groups]


def number_events(ax, result, span, title: str, panel_width_in: float):
    """Each marker's number above the panel, raised where it would hit a title.

    Numbered in time order, as in the report's table. Numbers sit beside the panel's titles,
    or in the band above them where a title is in the way; numbers closer than a label's
    width share one label, and so do labels that would overlap in that band (never a third
    row, which would run into the column titles).
    """
    def half(label):  # half a label's width, with a little room, in axes fraction
        return text_width_in(label, SMALL_PT) / panel_width_in / 2 + 0.01

    left_end = (text_width_in(ax.get_title(loc="left") or title, FONT_PT + 0.5)
                / panel_width_in)
    right = ax.get_title(loc="right")
    right_start = 1 - text_width_in(right, SMALL_PT) / panel_width_in if right else 2.0
    rows: list[list[list]] = [[], []]  # per level: [at, numbers]
    for at, numbers in _number_groups(numbered_markers(result), span):
        h = half(_numbers_label(numbers))
        blocked = at - h < left_end + 0.01 or at + h > right_start - 0.01
        level = 1 if blocked or any(abs(at - a) < h + half(_numbers_label(n))
                                    for a, n in rows[0]) else 0
        last = rows[level][-1] if rows[level] else None
        if level == 1 and last and abs(at - last[0]) < h + half(_numbers_label(last[1])):
            last[1] = last[1] + numbers  # one label for both, between them
            last[0] = (last[0] + at) / 2
            continue
        rows[level].append([at, list(numbers)])
    for level, row in enumerate(rows):
        for at, numbers in row:
            ax.annotate(_numbers_label(numbers), (at, 1.0), xycoords="axes fraction",
                        xytext=(0, 1.5 + 10.5 * level), textcoords="offset points",
                        ha="center", va="bottom", fontsize=SMALL_PT, fontweight="bold",
                        annotation_clip=False)


def mark_exclusions(ax, result, c, edges):
    """Sweeps a review edit excluded on channel ``c``, cross-hatched."""
    for first, last in excluded_runs(result, c):
        ax.axvspan(edges[first], edges[last + 1], facecolor="none", edgecolor="0.45",
                   hatch="xxxx", lw=0, zorder=0.5)


def values_panel(ax, result, c, values, top=None):
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


def lane_label(kind, alert, brackets) -> str:
    """An alert lane's label: the kind's lane words, a threshold rise, informational."""
    text = kind.lane_words
    if kind.style == "rise_v":
        text += " " + brackets.get(id(alert), f"+{alert.threshold_rise_v:g} V")
    return text + (" (informational)" if alert.informational else "")


def mark_alerts(ax, result, channel, lane_h, span, brackets=None, width_in=None):
    """Alert episodes as bars in lanes along the top, one lane per criterion, labelled.

    Colour and hatch tell the scope, the lane and its label the criterion. ``lane_h``: the
    height of one lane, a fraction of the panel's; ``width_in``: the panel's width, inches
    (to fit each lane's label beside its bars: a label never covers a bar, see
    :func:`lane_text`). ``brackets``: ``id(alert)`` to a threshold rise in words; default:
    the result's (:func:`rise_labels`).
    """
    brackets = rise_labels(result) if brackets is None else brackets
    lanes = alert_lanes(result, channel)
    bars: dict[int, list] = {}
    for alert in (a for a in result.alerts if a.channel == channel):
        kind = result.criteria.kind(alert.criterion)
        lane = lanes.index(kind.lane)
        top = 1 - lane * lane_h
        end = alert_end_s(result, alert)
        ax.axvspan(alert.onset_s, end, ymin=top - 0.8 * lane_h, ymax=top - 0.15 * lane_h,
                   facecolor=COLOURS.get(alert.scope, COLOURS["focal"]),
                   alpha=0.35 if alert.informational else 1.0, edgecolor="0.15",
                   hatch=HATCHES.get(alert.scope), lw=0, zorder=2)
        bars.setdefault(lane, []).append((alert.onset_s, end, lane_label(kind, alert,
                                                                         brackets)))
    overflow = []
    for lane, spans in sorted(bars.items()):
        text = min(spans)[2]
        placed = lane_text(ax, text, [(s, e) for s, e, _ in spans],
                           1 - (lane + 0.475) * lane_h, span, width_in)
        if not placed:
            overflow.append(f"{text} ({_ordinal_lane(lane)})")
    if overflow:
        # No room beside the bars: the labels go over the panel's right edge instead.
        panel_title(ax, "bars: " + "; ".join(overflow), loc="right", fontsize=SMALL_PT)


def _ordinal_lane(lane: int) -> str:
    return ("top", "2nd lane", "3rd lane")[lane] if lane < 3 else f"{lane + 1}th lane"


def text_width_in(text: str, size_pt: float = SMALL_PT) -> float:
    """The width of a line of text at ``size_pt`` (DejaVu Sans, a generous average), inches.

    Estimated, not measured: measuring text at draw time costs more than the drawing.
    """
    return len(text) * size_pt * 0.62 / 72


def free_spans(spans, extent) -> list[tuple[float, float]]:
    """The stretches of ``extent`` (start, end) that no span of ``spans`` covers, in order."""
    out, cursor = [], extent[0]
    for start, end in sorted(spans):
        if start > cursor:
            out.append((cursor, min(start, extent[1])))
        cursor = max(cursor, end)
    if cursor < extent[1]:
        out.append((cursor, extent[1]))
    return [(a, b) for a, b in out if b > a]


def lane_text(ax, text, bars, y, span, width_in=None) -> bool:
    """A lane's label where it covers no bar: just before its first bar, else in a free gap.

    ``bars``: the lane's (start, end) in data units; ``y`` in axes fraction. Returns False
    when no free stretch of the lane holds the label (the caller puts it elsewhere).
    """
    width = span[1] - span[0]
    fractions = [((s - span[0]) / width, (e - span[0]) / width) for s, e in bars]
    pad_pt = 3.0  # clear of the bars on either side
    need = (text_width_in(text) + 2 * pad_pt / 72) / (width_in or 2.5)
    gaps = [g for g in free_spans(fractions, (0.0, 1.0)) if g[1] - g[0] >= need]
    if not gaps:
        return False
    first = min(fractions)[0]
    where = dict(xycoords="axes fraction", textcoords="offset points", va="center",
                 fontsize=SMALL_PT, zorder=3, annotation_clip=False)
    before = next((g for g in gaps if math.isclose(g[1], first)), None)
    if before is not None:  # read as "amplitude ▸ its bar"
        ax.annotate(text, (before[1], y), xytext=(-pad_pt, 0), ha="right", **where)
    else:
        gap = max(gaps, key=lambda g: g[1] - g[0])
        ax.annotate(text, (gap[0], y), xytext=(pad_pt, 0), ha="left", **where)
    return True


def alert_mask(result) -> np.ndarray:
    """Sweep x channel inside an alert episode (to its recovery, or the end of its data)."""
    out = np.zeros(result.percent.shape, bool)
    onsets = result.sweeps.column("onset_s")
    for alert in result.alerts:
        c = result.sweeps.ch_names.index(alert.channel)
        end = alert.recovery_sweep if alert.recovered else int(np.searchsorted(
            onsets, alert_end_s(result, alert), side="right"))
        out[alert.onset_sweep:end, c] = True
    return out
