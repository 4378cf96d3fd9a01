"""The content of a case report: one model that the HTML and the PDF renderers both print.

Everything a reader sees is decided here, in words and formatted numbers: the header, the
conclusion, the alert table (one row per systemic event, one per focal alert), the channel,
phase and marker tables, the review edits, the figures with their captions, the methods, the
notes and the sign-off. The renderers only lay it out.

Facts the analysis does not state in one place (when a criterion was first met, the bracket a
threshold is known within, where a channel's valid sweeps end and why, the controls' final
level, the theatre event nearest a change) are computed here from the
:class:`~iomon.results.CaseResult` by small pure functions, once per report
(:func:`case_facts`). Every time is rounded to the whole second once and every percentage is
rounded half up from the unrounded value, so the conclusion and the tables never disagree.
"""

from __future__ import annotations

import datetime
import math
import os
from dataclasses import dataclass, field

import numpy as np

from .figures import FigureFile, TimeAxis, final_sweep

__all__ = ["AlertEvent", "CaseFacts", "DataEnd", "ReportContent", "RiseBracket", "Table",
           "alert_events", "alert_table", "build_content", "case_facts", "channel_table",
           "conclusion", "first_met", "nearest_event", "parse_edf_patient", "percent_text",
           "threshold_bracket"]


@dataclass(frozen=True)
class Table:
    """A table as text: column headings, rows of cells, and a style class per row."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    styles: tuple[str, ...] = ()
    widths: tuple[float, ...] = ()


@dataclass(frozen=True)
class ReportContent:
    """Everything one case's report says, in reading order.

    Attributes
    ----------
    case_id, title : str
    header : tuple of (label, value)
    conclusion : tuple of str
        Paragraphs.
    signoff : tuple of str
        What the report was generated from and when, then the labels of the sign-off fields
        a neurophysiologist fills in.
    alerts_heading : str
        "Alerts: 7 episodes (1 systemic event on 7 channels)", counted as alerts.json does.
    alerts : Table
    alerts_note : str
        What the alert table's times and sweep numbers mean.
    channels : Table
    channels_note : str
    phases : Table
    events : Table or None
        Markers in the recording and theatre events from the sidecar (numbered as on the
        figures), in time order.
    review_edits : tuple of str
    figures : tuple of FigureFile
    methods : tuple of str
    notes : tuple of str
    footer : str
    """

    case_id: str
    title: str
    header: tuple
    conclusion: tuple[str, ...]
    alerts: Table
    channels: Table
    phases: Table
    events: Table | None
    review_edits: tuple[str, ...]
    figures: tuple[FigureFile, ...]
    methods: tuple[str, ...]
    notes: tuple[str, ...]
    footer: str
    alerts_heading: str = "Alerts"
    alerts_note: str = ""
    channels_note: str = ""
    signoff: tuple[str, ...] = ()


# ------------------------------------------------------------------------------ numbers
def percent_text(value) -> str:
    """A % of baseline as the report prints it: rounded half up to a whole number."""
    if value is None or not np.isfinite(value):
        return "–"
    return f"{math.floor(float(value) + 0.5)} %"


def _fixed(value, digits: int = 0) -> str:
    """A number rounded half up to ``digits`` decimals ("–" when missing)."""
    if value is None or not np.isfinite(value):
        return "–"
    scale = 10 ** digits
    return f"{math.floor(float(value) * scale + 0.5) / scale:.{digits}f}"


def _span_text(values) -> str:
    """A range of % as "12–22 %", or one value when both ends print the same."""
    low, high = (percent_text(v)[:-2] for v in (min(values), max(values)))
    return f"{low} %" if low == high else f"{low}–{high} %"


def _names(names) -> str:
    names = list(names)
    if not names:
        return ""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


# -------------------------------------------------------------------------------- facts
@dataclass(frozen=True)
class DataEnd:
    """Where a channel's valid sweeps end before the recording does.

    ``last_s``: its last valid sweep; ``stop_s``: the first sweep after it; ``excluded``: the
    review edit's reason when exclusions took every later sweep (else None: rejected).
    """

    last_s: float
    stop_s: float
    excluded: str | None


@dataclass(frozen=True)
class RiseBracket:
    """A threshold rise as the sweeps bracket it, V.

    The threshold is above ``lower`` and at most ``upper``; ``baseline`` is the baseline
    threshold.
    """

    lower: float
    upper: float
    baseline: float

    def short(self) -> str:
        """For a figure's label: "+200 to +250 V"."""
        return f"+{self.lower - self.baseline:g} to +{self.upper - self.baseline:g} V"

    def words(self) -> str:
        """For a table: "+200 to +250 V (threshold 400–450 V; 200 V at baseline)"."""
        return (f"{self.short()} (threshold {self.lower:g}–{self.upper:g} V; "
                f"{self.baseline:g} V at baseline)")

    def rise(self) -> str:
        """For a sentence: "by 200–250 V (to a threshold of 400–450 V, from 200 V)"."""
        low, high = self.lower - self.baseline, self.upper - self.baseline
        return (f"by {low:g}–{high:g} V (to a threshold of {self.lower:g}–{self.upper:g} V, "
                f"from {self.baseline:g} V at baseline)")


def data_ends(result) -> dict:
    """Channels whose valid sweeps end before the recording's last sweep: their DataEnd."""
    onsets = result.sweeps.column("onset_s")
    out = {}
    for c, name in enumerate(result.sweeps.ch_names):
        rows = np.flatnonzero(~result.rejected[:, c])
        if not rows.size or rows[-1] == onsets.size - 1:
            continue
        reasons = {str(r) for r in result.reject_reason[rows[-1] + 1:, c]}
        excluded = None
        if all(r.startswith("excluded") for r in reasons):
            excluded = "; ".join(sorted(r.split(":", 1)[-1].strip() for r in reasons))
        out[name] = DataEnd(float(onsets[rows[-1]]), float(onsets[rows[-1] + 1]), excluded)
    return out


def threshold_tracks(result):
    """The threshold brackets the criterion used, ``(lower, upper, baseline)`` in V, or None."""
    if result.criteria.threshold_rise_v is None:
        return None
    from ..threshold import thresholds_for

    tracks, _ = thresholds_for(result.sweeps.table, result.measurements.present,
                               ~result.rejected, result.baselines, result.settings.rebaselines)
    return tracks


def criterion_met(result, criterion: str, c: int, tracks=None) -> np.ndarray:
    """Whether each sweep of channel ``c`` meets ``criterion`` on its own baseline."""
    from ..criteria import amplitude_dropped, latency_increased, phases_lost, threshold_raised

    criteria = result.criteria
    if criterion in ("amplitude", "loss"):
        drop = criteria.drop_percent_for([result.sweeps.channels[c].muscle])[0]
        return amplitude_dropped(result.percent[:, c], drop, criteria.drop_inclusive)
    if criterion == "threshold" and tracks is not None:
        lower, upper, base = (np.asarray(t)[:, c] for t in tracks)
        return threshold_raised(lower, upper, base, criteria.threshold_rise_v)
    if criterion == "latency" and criteria.latency_increase_percent is not None:
        return latency_increased(result.measurements.onset_latency[:, c],
                                 result.baselines.reference("onset_latency")[:, c],
                                 criteria.latency_increase_percent)
    if criterion == "morphology" and criteria.phase_loss is not None:
        m = result.measurements
        return phases_lost(np.where(m.present[:, c], m.n_phases[:, c], 0),
                           result.baselines.reference("n_phases")[:, c], criteria.phase_loss)
    return np.zeros(result.sweeps.n_sweeps, bool)


def first_met(result, alert, tracks=None) -> int | None:
    """The first sweep meeting the alert's criterion among the sweeps that called it.

    An alert is called when the criterion has held in ``sustained_n`` of the last
    ``sustained_m`` valid sweeps; the drop began at the first of those that met it. None when
    none did on the channel's own baseline (a focal drop judged against the controls).
    """
    c = result.sweeps.ch_names.index(alert.channel)
    met = criterion_met(result, alert.criterion, c, tracks)
    rows = np.flatnonzero(~result.rejected[:, c] & ~result.setup)
    before = rows[rows <= alert.onset_sweep][-result.criteria.sustained_m:]
    hits = before[met[before]]
    return int(hits[0]) if hits.size else None


def threshold_bracket(result, alert, tracks) -> RiseBracket | None:
    """The bracket of a threshold alert's largest rise, at the sweep that showed it.

    None when the brackets do not give the alert's rise (then the point value stands).
    """
    if alert.criterion != "threshold" or tracks is None or alert.threshold_rise_v is None:
        return None
    c = result.sweeps.ch_names.index(alert.channel)
    lower, upper, base = (np.asarray(t)[:, c] for t in tracks)
    stop = alert.recovery_sweep if alert.recovered else result.sweeps.n_sweeps
    rows = np.arange(max(alert.onset_sweep - result.criteria.sustained_m, 0), stop)
    raised = rows[criterion_met(result, "threshold", c, tracks)[rows]]
    if not raised.size:
        return None
    row = raised[np.argmax(upper[raised] - base[raised])]
    if not math.isclose(upper[row] - base[row], alert.threshold_rise_v, abs_tol=0.05):
        return None
    return RiseBracket(float(lower[row]), float(upper[row]), float(base[row]))


def numbered_events(result) -> list[tuple[int, object]]:
    """The sidecar's theatre events in time order, numbered from 1 (as on the figures)."""
    return list(enumerate(sorted(result.case.events, key=lambda e: e.at_s), start=1))


#: How far back a theatre event is cited as the one nearest a change, s.
EVENT_REACH_S = 900.0


def nearest_event(events, at_s: float, after_s: float = -np.inf, reach_s=EVENT_REACH_S):
    """The latest numbered theatre event at or before ``at_s`` (and after ``after_s``).

    ``events`` as from :func:`numbered_events`. None when none lies within ``reach_s``.
    """
    before = [(n, e) for n, e in events if after_s < e.at_s <= at_s and at_s - e.at_s <= reach_s]
    return max(before, key=lambda item: item[1].at_s) if before else None


def controls_final(result, final, ends) -> tuple[float | None, list[str]]:
    """The median final % of the control channels whose data reach the end.

    Returns the median (None without such a control) and the controls left out because their
    valid sweeps end early.
    """
    controls = [c for c, ch in enumerate(result.sweeps.channels)
                if ch.role == "control" and result.baseline.present[c] and np.isfinite(final[c])]
    early = [result.sweeps.ch_names[c] for c in controls if result.sweeps.ch_names[c] in ends]
    kept = [final[c] for c in controls if result.sweeps.ch_names[c] not in ends]
    return (float(np.median(kept)) if kept else None), early


def final_rows(result, c) -> np.ndarray:
    """The last 3 valid sweeps of channel ``c`` (the channel's final %)."""
    rows = np.flatnonzero(~result.rejected[:, c] & np.isfinite(result.percent[:, c]))
    return rows[-3:]


def final_intensity(result, c) -> tuple[float, float] | None:
    """(intensity of the final sweeps, of their baseline) when they differ, else None."""
    rows = final_rows(result, c)
    intensity = result.sweeps.column("stim_intensity").astype(float)
    if not rows.size or not np.isfinite(intensity[rows]).all():
        return None
    entry = result.baselines.entries[int(result.baselines.assignment[rows[-1]])]
    final = float(np.median(intensity[rows]))
    if np.isnan(entry.intensity) or math.isclose(final, entry.intensity):
        return None
    return final, float(entry.intensity)


def shared_declines(result) -> list:
    """Own-baseline drops that raised no alert (a decline the controls shared in part)."""
    from ..alerts import unexplained_drops

    return unexplained_drops(result.percent, ~result.rejected, result.sweeps.channels,
                             result.baseline.present, result.sweeps.column("onset_s"),
                             result.criteria, result.setup)


@dataclass(frozen=True)
class CaseFacts:
    """What the wording needs beyond the result, computed once per report."""

    clock: TimeAxis
    ends: dict
    final: np.ndarray
    events: list
    first: dict = field(default_factory=dict)
    rises: dict = field(default_factory=dict)
    tracks: tuple | None = None


def case_facts(result) -> CaseFacts:
    """The facts of one case's report (see the module docstring)."""
    clock = TimeAxis(result.recording.start, result.recording.duration_s)
    tracks = threshold_tracks(result)
    first = {id(a): first_met(result, a, tracks) for a in result.alerts}
    rises = {id(a): threshold_bracket(result, a, tracks) for a in result.alerts}
    return CaseFacts(clock, data_ends(result), result.final_percent(), numbered_events(result),
                     first, {k: v for k, v in rises.items() if v is not None}, tracks)


def rise_words(facts: CaseFacts) -> dict:
    """``id(alert)`` to its threshold rise in words (the figures' lane labels)."""
    return {k: b.short() for k, b in facts.rises.items()}


# ------------------------------------------------------------------------------- events
@dataclass(frozen=True)
class AlertEvent:
    """One row of the alert table: a focal alert, or a systemic event across channels.

    ``channels`` are in the recording's (montage) order; times in s since its start.
    """

    scope: str
    criterion: str
    channels: tuple[str, ...]
    phase: str
    onset_s: float
    onset_sweep: int
    nadir: tuple[float, float]
    controls_percent: float | None
    recovered: bool
    recovery_s: float | None
    informational: bool
    unrecovered: tuple[str, ...] = ()
    threshold_rise_v: float | None = None
    alerts: tuple = field(default=(), repr=False)


def alert_events(alerts, end_s: float, order=None) -> list[AlertEvent]:
    """Alerts as a clinician reads them, in onset order.

    Systemic alerts of one criterion that overlap in time are one event; every other alert is
    its own row. ``order``: the channel names in montage order (an event names its channels
    so); default: by name.
    """
    rank = {n: k for k, n in enumerate(order or sorted({a.channel for a in alerts}))}
    events, systemic = [], []
    for alert in sorted(alerts, key=lambda a: (a.onset_s, rank.get(a.channel, 0))):
        if alert.scope == "systemic":
            systemic.append(alert)
        else:
            events.append(_event([alert], rank))
    groups: list[list] = []
    for alert in systemic:
        for group in groups:
            if group[0].criterion == alert.criterion and alert.onset_s <= max(
                    (a.recovery_s if a.recovered else end_s) for a in group):
                group.append(alert)
                break
        else:
            groups.append([alert])
    events += [_event(group, rank) for group in groups]
    return sorted(events, key=lambda e: (e.onset_s, [rank.get(n, 0) for n in e.channels]))


def _event(alerts, rank) -> AlertEvent:
    alerts = sorted(alerts, key=lambda a: rank.get(a.channel, 0))
    first = min(alerts, key=lambda a: a.onset_s)
    nadirs = [a.nadir_percent for a in alerts]
    controls = [a.controls_percent for a in alerts if a.controls_percent is not None]
    recoveries = [a.recovery_s for a in alerts if a.recovered]
    rises = [a.threshold_rise_v for a in alerts if a.threshold_rise_v is not None]
    return AlertEvent(
        scope=first.scope, criterion=first.criterion,
        channels=tuple(a.channel for a in alerts), phase=first.phase, onset_s=first.onset_s,
        onset_sweep=first.onset_sweep, nadir=(min(nadirs), max(nadirs)),
        controls_percent=float(np.median(controls)) if controls else None,
        recovered=all(a.recovered for a in alerts),
        recovery_s=max(recoveries) if recoveries else None,
        informational=all(a.informational for a in alerts),
        unrecovered=tuple(a.channel for a in alerts if not a.recovered),
        threshold_rise_v=max(rises) if rises else None, alerts=tuple(alerts))


def _first_sweep(event: AlertEvent, facts: CaseFacts) -> int | None:
    found = [facts.first.get(id(a)) for a in event.alerts]
    found = [f for f in found if f is not None]
    return min(found) if found else None


def _role(result, name) -> str | None:
    return result.sweeps.channels[result.sweeps.ch_names.index(name)].role


def _on_control(result, event: AlertEvent) -> bool:
    """A focal alert on a control channel: not at risk from the lesioning."""
    return event.scope != "systemic" and all(_role(result, n) == "control"
                                             for n in event.channels)


# ------------------------------------------------------------------------------ wording
_CRITERION_WORDS = {"amplitude": "amplitude", "loss": "loss of response",
                    "threshold": "threshold rise", "latency": "latency increase",
                    "morphology": "loss of phases"}


def _when(seconds: float, clock: TimeAxis) -> str:
    """Clock time with the time elapsed since the recording's start beside it."""
    elapsed = TimeAxis().text(seconds, True)
    return elapsed if clock.start is None else f"{clock.text(seconds, True)} (+{elapsed})"


def _first_words(result, criterion: str, name: str) -> str:
    """What "first met" means for a criterion: "first below 50 %", "first up 100 V"..."""
    criteria = result.criteria
    if criterion in ("amplitude", "loss"):
        muscle = result.sweeps.channels[result.sweeps.ch_names.index(name)].muscle
        level = 100 - criteria.drop_percent_for([muscle])[0]
        return f"first {'at or ' if criteria.drop_inclusive else ''}below {level:g} %"
    if criterion == "threshold":
        return f"first up {criteria.threshold_rise_v:g} V or more"
    if criterion == "latency":
        return f"first {criteria.latency_increase_percent:g} % longer"
    return f"first {criteria.phase_loss} phase{'s' if criteria.phase_loss != 1 else ''} fewer"


def _since(result, event: AlertEvent, facts: CaseFacts) -> str:
    """When a finding began: "from 08:00:25 (lesioning; first below 50 % at 08:00:22)"."""
    clock = facts.clock
    text = f"from {clock.text(event.onset_s, True)} ({event.phase}"
    first = _first_sweep(event, facts)
    if first is not None and first != event.onset_sweep:
        onset = float(result.sweeps.column("onset_s")[first])
        text += (f"; {_first_words(result, event.criterion, event.channels[0])} at "
                 f"{clock.text(onset, True)}")
    return text + ")"


def _unassessable(name: str, end: DataEnd, clock: TimeAxis, named: bool) -> str:
    who = f"{name}: recovery" if named else "recovery"
    if end.excluded is not None:
        return (f"{who} not assessable, excluded from {clock.text(end.stop_s, True)} "
                f"({end.excluded})")
    return f"{who} not assessable, no valid sweep after {clock.text(end.last_s, True)}"


def _outcome(result, alerts, facts: CaseFacts, cite: bool = False, after_s=None,
             cell: bool = False) -> str:
    """Whether and when the channels of one finding recovered, in words.

    A channel whose valid sweeps end before the recording (excluded, or rejected to the end)
    is "not assessable", never "not recovered". ``cite``: name the theatre event nearest
    before the recovery (after ``after_s``). ``cell``: the alert table's shorter form, with
    the time elapsed beside the clock time.
    """
    clock = facts.clock
    done = [a for a in alerts if a.recovered]
    open_ = [a for a in alerts if not a.recovered]
    named = len(alerts) > 1
    parts = []
    if done:
        last = max(done, key=lambda a: a.recovery_s)
        phase = result.sweep_phase[last.recovery_sweep]
        if cell:
            when = f"{_when(last.recovery_s, clock)}, {phase}"
            parts.append(when if not open_ else f"{len(done)} of {len(alerts)} by {when}")
        else:
            when = f"{clock.text(last.recovery_s, True)} ({phase})"
            when += _cite(facts, last.recovery_s, after_s) if cite else ""
            parts.append(f"recovered by {when}" if not open_
                         else f"{len(done)} of {len(alerts)} recovered by {when}")
    parts += [_unassessable(a.channel, facts.ends[a.channel], clock, named)
              for a in open_ if a.channel in facts.ends]
    plain = [a.channel for a in open_ if a.channel not in facts.ends]
    if plain:
        who = f"{_names(plain)}: " if named and (done or len(plain) < len(open_)) else ""
        parts.append(f"{who}not recovered by the end{'' if cell else ' of the recording'}")
    return "; ".join(parts)


def _cite(facts: CaseFacts, at_s: float, after_s=None) -> str:
    """The theatre event just before ``at_s``: ", 4 s after theatre event 1 (...)" or ""."""
    found = nearest_event(facts.events, at_s, -np.inf if after_s is None else after_s)
    if found is None:
        return ""
    number, event = found
    gap = int(round(at_s - event.at_s))
    gap_text = f"{gap} s" if gap < 120 else f"{int(round(gap / 60))} min"
    return (f", {gap_text} after theatre event {number} ({event.text}, "
            f"{facts.clock.text(event.at_s, True)})")


def _controls_rise(result, alert, facts: CaseFacts) -> float | None:
    """The median threshold rise of a channel's controls over the sweeps that called it, V."""
    from ..alerts import reference_channels

    if facts.tracks is None:
        return None
    c = result.sweeps.ch_names.index(alert.channel)
    refs = reference_channels(result.sweeps.channels, result.baseline.present, c)
    rows = np.flatnonzero(~result.rejected[:, c] & ~result.setup)
    window = rows[rows <= alert.onset_sweep][-result.criteria.sustained_m:]
    _, upper, base = (np.asarray(t) for t in facts.tracks)
    rise = (upper - base)[np.ix_(window, refs)][~result.rejected[np.ix_(window, refs)]]
    rise = rise[np.isfinite(rise)]
    return float(np.median(rise)) if rise.size else None


def _controls_words(result, alerts, facts: CaseFacts, other: bool) -> str:
    """How the controls stood while a focal finding was called."""
    who = "the other controls" if other else "the controls"
    criterion = alerts[0].criterion
    if criterion == "threshold":
        rises = [r for r in (_controls_rise(result, a, facts) for a in alerts) if r is not None]
        if not rises:
            return ""
        rise = float(np.median(rises))
        held = rise < result.criteria.threshold_rise_v
        return (f" while {who}' thresholds held (median {rise:+g} V)" if held
                else f", {who}' thresholds up as well (median {rise:+g} V)")
    values = [a.controls_percent for a in alerts if a.controls_percent is not None]
    if not values:
        return ""
    level = percent_text(float(np.median(values)))
    if criterion in ("amplitude", "loss"):
        if float(np.median(values)) > result.criteria.threshold_percent:
            return f" while {who} held (median {level} of baseline)"
        return f", deeper than {who}, themselves down to {level} of baseline"
    measure = "latency" if criterion == "latency" else "phases"
    return f" ({who} at {level} of their baseline {measure})"


def _finding(result, event: AlertEvent, facts: CaseFacts, noun: bool, other=False,
             outcome=True) -> str:
    """One criterion's change on one or more channels (``noun``: name the measure)."""
    span = _span_text([a.nadir_percent for a in event.alerts])
    many = len(event.channels) > 1
    if event.criterion == "amplitude":
        what = f"{'amplitude ' if noun else ''}fell to {span} of baseline"
    elif event.criterion == "loss":
        lost = "response lost" if noun else f"lost {'their' if many else 'its'} response"
        what = f"{lost} ({span} of baseline)"
    elif event.criterion == "threshold":
        bracket = facts.rises.get(id(event.alerts[0]))
        what = "stimulation threshold rose " + (bracket.rise() if bracket is not None
                                                else f"by {event.threshold_rise_v:g} V")
    elif event.criterion == "latency":
        what = f"onset latency rose to {span} of baseline"
    else:
        what = f"phases fell to {span} of baseline"
    return (f"{what} {_since(result, event, facts)}"
            f"{_controls_words(result, event.alerts, facts, other)}"
            + (f"; {_outcome(result, event.alerts, facts)}" if outcome else ""))


def _signature(events, facts) -> tuple:
    """What two channels must share to be told in one sentence."""
    return tuple((e.criterion, e.onset_sweep, e.recovered,
                  tuple(a.recovery_sweep for a in e.alerts), e.informational,
                  str(facts.rises.get(id(e.alerts[0]))),
                  tuple(str(facts.ends.get(a.channel)) for a in e.alerts)) for e in events)


def _channel_groups(result, events, facts) -> list[tuple[list[str], list[list]]]:
    """Focal events per channel (montage order), channels with the same story together.

    Returns ``(channel names, findings)``: each finding the events of those channels for one
    criterion episode, in onset order.
    """
    per_channel: dict[str, list] = {}
    for name in result.sweeps.ch_names:
        mine = sorted((e for e in events if e.channels == (name,)), key=lambda e: e.onset_s)
        if mine:
            per_channel[name] = mine
    groups: dict[tuple, tuple[list, list]] = {}
    for name, mine in per_channel.items():
        key = _signature(mine, facts)
        names, findings = groups.setdefault(key, ([], [[] for _ in mine]))
        names.append(name)
        for slot, event in zip(findings, mine):
            slot.append(event)
    return list(groups.values())


def _merged(events) -> AlertEvent:
    """Events of several channels with the same story as one (channels in their order)."""
    alerts = [a for e in events for a in e.alerts]
    return _event(alerts, {n: k for k, e in enumerate(events) for n in e.channels})


def _focal_sentences(result, events, facts, control=False) -> list[str]:
    """Focal findings grouped by channel; channels with the same story in one sentence."""
    out = []
    for names, findings in _channel_groups(result, events, facts):
        merged = [_merged(f) for f in findings]
        subject = _names(names)
        if control:
            subject = (f"Control channel{'s' if len(names) > 1 else ''} {subject} (not at risk "
                       "from the lesioning)")
        if len(merged) == 1 and merged[0].criterion in ("amplitude", "loss"):
            out.append(f"{subject} {_finding(result, merged[0], facts, False, control)}.")
            continue
        outcomes = {_outcome(result, m.alerts, facts) for m in merged}
        shared = len(outcomes) == 1 and len(merged) > 1
        text = "; ".join(_finding(result, m, facts, True, control, not shared)
                         for m in merged)
        if shared:
            text += "; " + _together_outcome(outcomes.pop(), len(merged))
        out.append(f"{subject}: {text}.")
    return out


def _together_outcome(outcome: str, n: int) -> str:
    """One outcome said once for ``n`` findings: "neither recovered by...", "both recovered"."""
    if outcome.startswith("not recovered"):
        return ("neither " if n == 2 else "none ") + outcome.removeprefix("not ")
    return ("both " if n == 2 else "all ") + outcome


def _systemic_sentence(result, event: AlertEvent, facts: CaseFacts) -> str:
    """A systemic event in words.

    Who fell (at-risk channels and controls apart), when, the theatre event that preceded it,
    and how it ended.
    """
    present = [n for n, p in zip(result.sweeps.ch_names, result.baseline.present) if p]
    who = (f"all {len(present)} responding channels" if set(event.channels) == set(present)
           else f"{len(event.channels)} channels")
    verb = {"amplitude": "fell together", "loss": "lost their responses together",
            "threshold": "had their stimulation thresholds rise together",
            "latency": "had their onset latencies rise together",
            "morphology": "lost phases together"}.get(event.criterion, "changed together")
    groups = []
    for role, label in (("test", "at risk"), ("control", "controls"), (None, "")):
        alerts = [a for a in event.alerts if _role(result, a.channel) == role]
        if alerts:
            span = _span_text([a.nadir_percent for a in alerts])
            values = (f"{span} of baseline" if event.criterion in ("amplitude", "loss")
                      else f"{span} of their baseline {event.criterion}")
            if event.criterion == "threshold":
                values = f"+{max(a.threshold_rise_v or 0 for a in alerts):g} V at most"
            who_here = _names([a.channel for a in alerts]) + (f" ({label})" if label else "")
            groups.append(f"{who_here} to {values}" if event.criterion != "threshold"
                          else f"{who_here} {values}")
    return (f"Systemic: {who} {verb} {_since(result, event, facts)}"
            f"{_cite(facts, event.onset_s)}: {'; '.join(groups)}; consistent with a "
            f"blood-pressure or anaesthetic change. "
            f"{_capital(_outcome(result, event.alerts, facts, True, event.onset_s))}.")


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _undetermined_sentences(result, events, facts) -> list[str]:
    out = []
    for event in events:
        out.append("Scope undetermined (no responding control to compare with): "
                   f"{_names(event.channels)} {_finding(result, event, facts, False)}.")
    return out


def _no_change(result) -> str:
    """No counted alert: what was looked for, all of it, in plain words."""
    c = result.criteria
    looked = ["amplitude " + c.drop_words().removeprefix("a ")]
    if c.threshold_rise_v is not None:
        looked.append(f"stimulation-threshold rise of {c.threshold_rise_v:g} V or more")
    if c.latency_increase_percent is not None:
        looked.append(f"onset-latency increase of {c.latency_increase_percent:g} % or more")
    if c.phase_loss is not None:
        looked.append(f"loss of {c.phase_loss} or more phases")
    where = ""
    if c.focal_phases:
        phases = " or ".join(c.focal_phases)
        where = (f" from the start of {phases} to the end of the recording" if c.focal_until_end
                 else f" during {phases}")
    either = " or a ".join(looked)
    return (f"No significant change: no channel met the {c.name} criterion{where}: none had "
            f"an {either} sustained in {c.sustained_n} of {c.sustained_m} valid sweeps.")


def _watched_words(criteria) -> str:
    if not criteria.focal_phases:
        return "outside the phases the criterion watches"
    phases = " or ".join(criteria.focal_phases)
    return (f"before {phases}, outside the phases the {criteria.name} criterion watches"
            if criteria.focal_until_end else f"outside {phases}, the phases the "
            f"{criteria.name} criterion watches")


def _decline_words(result, drops, facts, other: bool) -> str:
    """One channel's own-baseline drops that raised no alert, in clock time."""
    clock = facts.clock
    name = drops[0].channel
    level = _first_words(result, "amplitude", name).removeprefix("first ")
    starts = _names([clock.text(d.onset_s, True) for d in drops])
    controls = [d.controls_percent for d in drops if d.controls_percent is not None]
    who = "the other controls" if other else "the controls"
    return (f"{name} fell {level} of its baseline {_times(len(drops))} (from {starts}; "
            f"lowest {percent_text(min(d.nadir_percent for d in drops))}, {who} "
            f"{'then ' if len(drops) > 1 else ''}at {_span_text(controls)})")


def _declines_by_channel(result, drops) -> list[list]:
    return [[d for d in drops if d.channel == n] for n in result.sweeps.ch_names
            if any(d.channel == n for d in drops)]


def declines_paragraph(result, drops, facts) -> str | None:
    """At-risk channels below the criterion on their own baseline without an alert."""
    mine = [d for d in drops if _role(result, d.channel) != "control"]
    if not mine:
        return None
    return ("No alert, a decline the controls shared in part (within each channel's "
            "variability against them): " + "; ".join(
                _decline_words(result, group, facts, False)
                for group in _declines_by_channel(result, mine)) + ".")


def decline_notes(result, drops, facts) -> list[str]:
    """Control channels below the criterion on their own baseline without an alert."""
    mine = [d for d in drops if _role(result, d.channel) == "control"]
    return [f"control channel {_decline_words(result, group, facts, True)}: a decline shared "
            "in part, within the channel's variability against the other controls; no alert"
            for group in _declines_by_channel(result, mine)]


def _absent(result) -> str | None:
    from ..muscles import MUSCLES

    absent = [ch for ch, p in zip(result.sweeps.channels, result.baseline.present) if not p]
    if not absent:
        return None
    levels = set(result.case.levels)
    avulsed = [ch.name for ch in absent if ch.muscle in MUSCLES
               and ch.side == result.case.side and set(MUSCLES[ch.muscle].roots) <= levels]
    text = (f"{_names([ch.name for ch in absent])} had no response at baseline and "
            f"{'was' if len(absent) == 1 else 'were'} not monitored for change")
    if avulsed:
        text += f" ({_names(avulsed)}: all roots among the avulsed levels)"
    return text + "."


def final_text(result, c, facts: CaseFacts) -> str:
    """A channel's final %, with how it was measured when that is not plain.

    The intensity where it differs from the baseline's ("40 % at 450 V"), the time where the
    channel's valid sweeps end early ("113 % at 08:00:29, before exclusion").
    """
    value = percent_text(facts.final[c]) if result.baseline.present[c] else "–"
    if value == "–":
        return value
    end = facts.ends.get(result.sweeps.ch_names[c])
    if end is not None:
        # The time of the sweep that stands for the final % (the one the figure draws).
        onset = float(result.sweeps.column("onset_s")[final_sweep(result, c)])
        return (f"{value} at {facts.clock.text(onset, True)}, "
                + ("before exclusion" if end.excluded is not None else "no valid sweep later"))
    intensity = final_intensity(result, c)
    return value if intensity is None else f"{value} at {intensity[0]:g} V"


def _at_the_end(result, facts: CaseFacts) -> str | None:
    """Where the watched channels and the controls stood at the end of the recording."""
    channels = result.sweeps.channels
    roles = any(ch.role for ch in channels)
    watched = [c for c, ch in enumerate(channels) if result.baseline.present[c]
               and (ch.role == "test" or not roles)]
    if not watched:
        return None
    intensities = {final_intensity(result, c) for c in watched}
    common = next(iter(intensities)) if len(intensities) == 1 else None
    if common is not None:
        items = [f"{channels[c].name} {percent_text(facts.final[c])}" if channels[c].name
                 not in facts.ends else f"{channels[c].name} {final_text(result, c, facts)}"
                 for c in watched]
        text = (f"At the end of the recording, at {common[0]:g} V (baseline at "
                f"{common[1]:g} V), ")
    else:
        items = [f"{channels[c].name} {final_text(result, c, facts)}" for c in watched]
        text = "At the end of the recording "
    text += (f"{'the at-risk channels' if roles else 'the channels'} stood at "
             f"{_names(items)} of baseline")
    controls, early = controls_final(result, facts.final, facts.ends)
    if controls is not None:
        text += f", the controls at a median of {percent_text(controls)}"
        if early:
            text += f" ({_names(early)} left out: no valid sweep to the end)"
    bases = sorted({pair[1] for c in watched if (pair := final_intensity(result, c))})
    if bases and common is None:
        text += f" (baseline at {_names([f'{b:g} V' for b in bases])})"
    return text + "; each channel the median of its last 3 valid sweeps."


def conclusion(result, events, facts: CaseFacts, drops=None) -> list[str]:
    """The report's conclusion: what happened, where, when, and how it ended.

    Focal changes of the at-risk channels first (grouped by channel, in montage order), then
    control channels that changed alone, systemic events with the theatre event nearest them,
    undetermined ones, informational ones, declines without an alert, channels absent at
    baseline, and where every channel stood at the end.
    """
    drops = shared_declines(result) if drops is None else drops
    counted = [e for e in events if not e.informational]
    focal = [e for e in counted if e.scope == "focal"]
    paragraphs = [] if counted else [_no_change(result)]
    at_risk = [e for e in focal if not _on_control(result, e)]
    if at_risk:
        paragraphs.append("Focal: " + " ".join(_focal_sentences(result, at_risk, facts)))
    controls = [e for e in focal if _on_control(result, e)]
    if controls:
        paragraphs.append(" ".join(_focal_sentences(result, controls, facts, control=True))
                          + " A change in a control channel alone: consider a technical or "
                          "positional cause.")
    paragraphs += [_systemic_sentence(result, e, facts) for e in counted
                   if e.scope == "systemic"]
    paragraphs += _undetermined_sentences(result, [e for e in counted
                                                   if e.scope == "undetermined"], facts)
    early = [e for e in events if e.informational]
    if early:
        paragraphs.append(f"{_capital(_watched_words(result.criteria))} (informational "
                          "only): " + " ".join(_focal_sentences(result, early, facts)))
    paragraphs += [p for p in (declines_paragraph(result, drops, facts), _absent(result),
                               _at_the_end(result, facts)) if p]
    return paragraphs


# ------------------------------------------------------------------------------- tables
def _scope_cell(result, event: AlertEvent) -> str:
    scope = event.scope
    if len(event.channels) > 1:
        scope += f" ({len(event.channels)} channels)"
    elif _on_control(result, event):
        scope += ", control channel"
    return scope + (", informational" if event.informational else "")


def _extreme(result, event: AlertEvent, facts: CaseFacts) -> str:
    """The most abnormal value of an event, as the alert table states it."""
    span = _span_text([a.nadir_percent for a in event.alerts])
    if event.criterion == "threshold":
        brackets = {str(facts.rises.get(id(a))) for a in event.alerts}
        bracket = facts.rises.get(id(event.alerts[0]))
        if bracket is not None and len(brackets) == 1:
            return bracket.words()
        return f"up to +{event.threshold_rise_v:g} V"
    if event.criterion == "loss":
        return f"no response ({span} of baseline)"
    if event.criterion == "latency":
        return f"latency {span} of baseline"
    if event.criterion == "morphology":
        return f"phases {span} of baseline"
    return f"{span} of baseline"


def _controls_cell(result, event: AlertEvent, facts: CaseFacts) -> str:
    if event.scope == "systemic":
        mine = [a.nadir_percent for a in event.alerts if _role(result, a.channel) == "control"]
        if not mine:
            return percent_text(event.controls_percent)
        if event.criterion == "threshold":
            return "in the event"
        return f"fell too: {_span_text(mine)}"
    if event.criterion == "threshold":
        rise = _controls_rise(result, event.alerts[0], facts)
        return "–" if rise is None else f"threshold {rise:+g} V"
    if event.controls_percent is None:
        return "no valid control"
    value = percent_text(event.controls_percent)
    if event.criterion in ("amplitude", "loss"):
        held = event.controls_percent > result.criteria.threshold_percent
        return f"{value} ({'held' if held else 'down too'})"
    return f"{event.criterion} {value}"


def _recovery_cell(result, event: AlertEvent, facts: CaseFacts) -> str:
    return _outcome(result, event.alerts, facts, cell=True)


def _first_cell(result, event: AlertEvent, facts: CaseFacts) -> str:
    first = _first_sweep(event, facts)
    if first is None:
        return "–"
    onset = float(result.sweeps.column("onset_s")[first])
    return f"{facts.clock.text(onset, True)}, sweep {first}"


def alert_table(result, events, facts: CaseFacts) -> Table:
    """One row per focal (or undetermined) alert and per systemic event."""
    rows, styles = [], []
    for e in events:
        called = f"{_when(e.onset_s, facts.clock)}, {e.phase}, sweep {e.onset_sweep}"
        rows.append((_scope_cell(result, e), ", ".join(e.channels),
                     _CRITERION_WORDS.get(e.criterion, e.criterion),
                     _first_cell(result, e, facts), called, _extreme(result, e, facts),
                     _controls_cell(result, e, facts), _recovery_cell(result, e, facts)))
        styles.append(e.scope + (" informational" if e.informational else ""))
    return Table(("Scope", "Channel(s)", "Criterion", "First met", "Alert called",
                  "Most abnormal", "Controls", "Recovery"), tuple(rows), tuple(styles),
                 (0.10, 0.13, 0.10, 0.11, 0.15, 0.15, 0.11, 0.15))


def alerts_heading(result, events) -> str:
    """The alert count as alerts.json and the command line give it, and what it is made of."""
    n = len(result.alerts)
    if not n:
        return "Alerts: none"
    parts = []
    for e in (e for e in events if e.scope == "systemic"):
        parts.append(f"1 systemic event on {len(e.channels)} channel"
                     f"{'s' if len(e.channels) > 1 else ''}")
    for scope in ("focal", "undetermined"):
        mine = [e for e in events if e.scope == scope]
        if mine:
            channels = {n for e in mine for n in e.channels}
            parts.append(f"{len(mine)} {scope} on {len(channels)} channel"
                         f"{'s' if len(channels) > 1 else ''}")
    informational = sum(e.informational for e in events)
    if informational:
        parts.append(f"{informational} of them informational")
    systemic = sum(e.scope == "systemic" for e in events)
    if systemic > 1:
        parts = [f"{systemic} systemic events on "
                 f"{sum(len(e.channels) for e in events if e.scope == 'systemic')} channel-"
                 "episodes"] + parts[systemic:]
    return f"Alerts: {n} episode{'s' if n != 1 else ''} ({'; '.join(parts)})"


_ROLE_WORDS = {"test": "at risk", "control": "control", None: "unknown"}


def channel_table(result, facts: CaseFacts) -> Table:
    """Each channel's facts, baseline, final level and rejected sweeps."""
    counts = {}
    for a in result.alerts:
        counts[a.channel] = counts.get(a.channel, 0) + 1
    b = result.baseline
    rows = []
    for c, ch in enumerate(result.sweeps.channels):
        baseline = (f"present ({int(b.sweeps[:, c].sum())} sweeps)" if b.present[c]
                    else "absent: not alerted")
        rows.append((ch.name, ch.muscle or "unknown", ch.side or "unknown",
                     _ROLE_WORDS.get(ch.role, ch.role),
                     baseline, _fixed(b.amplitude[c] * 1e6) if b.present[c] else "–",
                     _fixed(b.onset_latency[c] * 1e3, 1), final_text(result, c, facts),
                     str(int(result.rejected[:, c].sum())), str(counts.get(ch.name, 0))))
    return Table(("Channel", "Muscle", "Side", "Role", "Baseline", "Amplitude (µV)",
                  "Onset (ms)", "Final*", "Rejected", "Alerts"), tuple(rows), (),
                 (0.11, 0.09, 0.07, 0.08, 0.16, 0.10, 0.08, 0.15, 0.09, 0.07))


def phase_table(summary, clock: TimeAxis) -> Table:
    """The phases of the case with their clock times and sweep counts."""
    return Table(("Phase", "Start", "End", "Sweeps"), tuple(
        (p["name"], clock.text(p["start_s"], True), clock.text(p["end_s"], True),
         str(p["n_sweeps"])) for p in summary["phases"]), (), (0.4, 0.2, 0.2, 0.2))


#: At most this many markers of the recording are listed (a file may hold hundreds).
MAX_MARKERS = 40


def recording_markers(result) -> list[tuple[float, str]]:
    """The recording's markers that are not stimuli (Baseline, Exposure start...)."""
    from ..annotations import is_stimulus

    return [(a.onset_s, a.text.strip()) for a in result.recording.annotations
            if a.text.strip() and not is_stimulus(a.text)]


def events_table(result, facts: CaseFacts) -> Table | None:
    """The recording's markers and the sidecar's theatre events (numbered), in time order."""
    markers = recording_markers(result)
    rows = [(s, "", text, "recording marker") for s, text in markers[:MAX_MARKERS]]
    rows += [(e.at_s, str(n), e.text, "theatre event (sidecar)") for n, e in facts.events]
    if not rows:
        return None
    rows.sort(key=lambda r: r[0])
    cells = [(number, facts.clock.text(s, True), text, source) for s, number, text, source
             in rows]
    if len(markers) > MAX_MARKERS:
        cells.append(("", "", f"and {len(markers) - MAX_MARKERS} more markers", ""))
    return Table(("#", "Time", "Event", "Source"), tuple(cells), (), (0.06, 0.14, 0.56, 0.24))


def review_edits(result, summary, clock: TimeAxis) -> list[str]:
    """The review edits applied, in words and clock time."""
    edits = summary["review_edits"]
    out = []
    for e, applied in zip(result.case.exclusions, edits["exclusions"]):
        where = [f"channel {e.channel}" if e.channel else "every channel"]
        if e.sweeps:
            where.append(f"sweep{'s' if len(e.sweeps) > 1 else ''} "
                         f"{_names([str(s) for s in e.sweeps])} (numbered from 0)")
        if e.from_s is not None or e.to_s is not None:
            start = "the start" if e.from_s is None else clock.text(e.from_s, True)
            end = "the end" if e.to_s is None else clock.text(e.to_s, True)
            where.append(f"from {start} to {end}")
        out.append(f"excluded {', '.join(where)}: {e.reason} ({applied['n_channel_sweeps']} "
                   "channel-sweeps)")
    out += [f"re-baselined at {clock.text(r['at_s'], True)}: {r['reason'] or 'no reason given'}"
            for r in edits["rebaselines"]]
    if edits["events"]:
        n = len(edits["events"])
        out.append(f"{n} theatre event{'s' if n != 1 else ''} noted (numbered in the table of "
                   "markers and theatre events and on the trends)")
    return out or ["none: the analysis used the recording as it is"]


# ------------------------------------------------------------------------------ header
def parse_edf_patient(text: str) -> str:
    """An EDF+ patient field ("code sex birthdate name [more]") in words.

    EDF+ writes unknown subfields as ``X`` and spaces within one as ``_``. Text in another
    form is returned as it is.
    """
    parts = text.split()
    known_birth = len(parts) > 2 and (parts[2] == "X" or (len(parts[2]) == 11
                                                          and parts[2][2] == "-"))
    if len(parts) < 4 or parts[1] not in ("M", "F", "X") or not known_birth:
        return text
    code, sex, birth, name = parts[:4]
    words = [name.replace("_", " ")] if name != "X" else []
    words += [f"code {code}"] if code != "X" else []
    words += [{"M": "male", "F": "female"}[sex]] if sex != "X" else []
    words += [f"born {birth}"] if birth != "X" else []
    words += [" ".join(parts[4:]).replace("_", " ")] if parts[4:] else []
    return ", ".join(words) or "not stated in the file"


def _patient(result, identify: bool) -> str:
    """The patient as the report may name them.

    Sex, age and etiology from the sidecar's [clinical]; the file's patient field only when
    identifiers are let in (parsed, with the field as written for checking).
    """
    clinical = result.case.clinical
    sex = {"f": "female", "m": "male"}.get(str(clinical.get("sex", "")).lower(),
                                           clinical.get("sex"))
    words = [str(sex)] if sex else []
    if clinical.get("age") is not None:
        words.append(f"{clinical['age']:g} years")
    if clinical.get("etiology"):
        words.append(f"etiology: {clinical['etiology']}")
    text = ", ".join(words)
    field_text = result.recording.patient
    if identify and field_text:
        named = parse_edf_patient(field_text)
        who = named if named == field_text else f"{named} (file header: “{field_text}”)"
        text = f"{who}; {text}" if text else who
    return text or "not stated"


def _dates(result, clock: TimeAxis, identify: bool) -> list[tuple[str, str]]:
    """The surgery date and the recording's start.

    The file's date is withheld unless identifiers are let in or it is the surgery date.
    """
    surgery = result.case.clinical.get("surgery_date")
    rows = [("Surgery date", str(surgery) if surgery else "not stated")]
    start = clock.start
    if start is None:
        return rows + [("Recording start", "not in the file: times are given since its start")]
    day, time = start.date().isoformat(), start.strftime("%H:%M:%S")
    if identify or (surgery is not None and str(surgery) == day):
        started = f"{day} {time}"
    elif surgery is not None:
        started = (f"{time} (the file's date differs from the surgery date and is withheld as "
                   "a patient identifier)")
    else:
        started = f"{time} (the file's date is withheld as a patient identifier)"
    return rows + [("Recording start", started)]


_REASON_WORDS = {"noisy baseline": "pre-stimulus noise", "nan": "missing values",
                 "flat": "flat line", "clipped": "amplifier clipping", "": "other"}


def rejection_words(result) -> str:
    """Rejected sweeps in words: on every channel, channel-sweeps in all, by reason."""
    whole = int(result.rejected.all(axis=1).sum())
    total = int(result.rejected.sum())
    if not total:
        return "none rejected"
    counts: dict[str, int] = {}
    for reason in result.reject_reason[result.rejected].astype(str):
        words = ("excluded by review edit" if reason.startswith("excluded")
                 else _REASON_WORDS.get(reason, reason))
        counts[words] = counts.get(words, 0) + 1
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
    return (f"{whole} rejected on every channel; {total} of {result.rejected.size} "
            f"channel-sweeps rejected in all ({reasons})")


def _stimulation(result) -> str:
    """The stimulation as found: montages, intensities (the baseline's), the train."""
    table = result.sweeps.table
    montages = sorted(set(table["montage"]) - {""})
    parts = [f"montage {', '.join(montages)}" if montages else "montage not stated"]
    intensity = table["stim_intensity"].to_numpy(dtype=float)
    known = intensity[np.isfinite(intensity)]
    units = sorted(set(table["stim_unit"]) - {""})
    unit = f" {units[0]}" if len(units) == 1 else ""
    if known.size:
        text = (f"{known.min():g}{unit}" if known.min() == known.max()
                else f"{known.min():g}-{known.max():g}{unit}")
        bases = sorted({e.intensity for e in result.baselines.entries
                        if np.isfinite(e.intensity)})
        if bases and known.min() != known.max():
            text += f" (baseline at {_names([f'{b:g}{unit}' for b in bases])})"
        parts.append(text)
    else:
        parts.append("intensity not stated")
    train = result.train
    if train is not None:
        parts.append(f"train of {train.n_pulses} pulse{'s' if train.n_pulses != 1 else ''}"
                     + (f" {train.isi_s * 1e3:.1f} ms apart" if train.isi_s else "")
                     + " (seen in the data)")
    return "; ".join(parts)


def header(result, summary, clock: TimeAxis, identify: bool) -> list[tuple[str, str]]:
    """The report's header lines.

    Case, patient, procedure, dates, recording, sweeps, stimulation, criterion, provenance.
    """
    case, recording = result.case, result.recording
    rows = [("Case", case.id), ("Patient", _patient(result, identify))]
    surgery = case.procedure or "not stated"
    if case.side or case.levels:
        surgery += (f"; {case.side or 'side not stated'} "
                    f"{'–'.join([case.levels[0], case.levels[-1]]) if case.levels else ''}"
                    " avulsion").replace("  ", " ")
    rows.append(("Procedure", surgery))
    rows += _dates(result, clock, identify)
    rows.append(("Recording", f"{recording.path.name}: {recording.format}, "
                              f"{TimeAxis().text(recording.duration_s, True)} (h:mm:ss), "
                              f"{summary['settings']['sfreq_hz']:g} Hz; read with "
                              f"{recording.reader}"))
    setup = int(result.setup.sum())
    rows.append(("Sweeps", f"{summary['n_sweeps']}"
                           + (f" ({setup} setup, before the Baseline marker)" if setup else "")
                           + f"; {rejection_words(result)}"))
    rows.append(("Stimulation", _stimulation(result)))
    rows.append(("Criterion", f"{result.criteria.name}: {result.criteria.citation}"))
    sha = summary["input_sha256"]
    rows.append(("Analysis", f"iomon {summary['iomon_version']}; input SHA-256 "
                             f"{sha[:16] + '…' if sha else 'not computed'}"))
    return rows


def report_date() -> str:
    """Today's date, or the date of ``SOURCE_DATE_EPOCH`` (reproducible builds) when set."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        moment = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
        return moment.date().isoformat()
    return datetime.date.today().isoformat()


def signoff(result, version: str) -> tuple[str, ...]:
    """When and from what the report was generated, then the fields a reviewer signs."""
    return (f"Generated on {report_date()} by iomon {version} from "
            f"{result.recording.path.name}: an analysis to be reviewed, interpreted and signed "
            "by the responsible neurophysiologist.",
            "Reviewed and interpreted by", "Signature", "Date")


def report_notes(result, drops, facts: CaseFacts) -> list[str]:
    """The analysis's notes, for the report.

    Declines without an alert are said once per channel in clock time (the at-risk channels'
    in the conclusion, the controls' here).
    """
    # The pipeline words each decline with sweep numbers and seconds; the report retells them
    # (so they are left out here when they match exactly, and kept if the wording drifts).
    told = {f"{d.channel} fell to {d.nadir_percent:g} % of baseline from sweep {d.onset_sweep} "
            f"({d.onset_s:.1f} s) while its controls fell to {d.controls_percent:g} %: a "
            "decline shared in part, within the channel's variability against its controls; "
            "no alert" for d in drops}
    return [n for n in result.notes if n not in told] + decline_notes(result, drops, facts)


_CHANNELS_NOTE = ("* Final: the median of the channel's last 3 valid sweeps, as % of its "
                  "baseline; the intensity is given where it differs from the baseline's and, "
                  "where the channel's valid sweeps end early, the time of the sweep of median "
                  "% among them. Rejected: channel-sweeps rejected or excluded.")


def _alerts_note(criteria) -> str:
    return (f"First met: the first of the sweeps that called the alert to meet the criterion "
            f"on the channel's own baseline. Alert called: when the criterion had held in "
            f"{criteria.sustained_n} of the last {criteria.sustained_m} valid sweeps. Times "
            "are clock times with the time since the recording's start; sweeps are numbered "
            "from 0, as in measurements.csv and alerts.json.")


def build_content(result, documents, figures, identify: bool = False,
                  facts: CaseFacts | None = None) -> ReportContent:
    """The report of one case, from its result, its documents (built once) and its figures.

    ``facts``: from :func:`case_facts`, when the caller computed them already.
    """
    from .. import __version__
    from ..methods import methods_paragraphs

    summary = documents.summary
    facts = facts or case_facts(result)
    events = alert_events(result.alerts, float(result.sweeps.column("onset_s").max()),
                          result.sweeps.ch_names)
    drops = shared_declines(result)
    return ReportContent(
        case_id=result.case.id,
        title=f"TcMEP monitoring report: {result.case.id}",
        header=tuple(header(result, summary, facts.clock, identify)),
        conclusion=tuple(conclusion(result, events, facts, drops)),
        signoff=signoff(result, __version__),
        alerts_heading=alerts_heading(result, events),
        alerts=alert_table(result, events, facts),
        alerts_note=_alerts_note(result.criteria),
        channels=channel_table(result, facts),
        channels_note=_CHANNELS_NOTE,
        phases=phase_table(summary, facts.clock),
        events=events_table(result, facts),
        review_edits=tuple(review_edits(result, summary, facts.clock)),
        figures=tuple(figures),
        methods=tuple(methods_paragraphs(summary, result.criteria)),
        notes=tuple(report_notes(result, drops, facts)),
        footer=f"iomon {__version__} · {result.case.id} · research software, not a medical "
               "device",
    )
