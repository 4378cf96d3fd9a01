"""What a case report states of the result beyond its tables, and how it prints numbers.

The findings themselves (alerts with where they began, threshold brackets, declines without
an alert, notes) come with the :class:`~iomon.results.CaseResult`; here they are gathered as
the report tells them: where a channel's valid sweeps end and why, the controls' final level,
the theatre event nearest a change, and the alert table's events (a systemic event across
channels is one), once per report (:func:`case_facts`). Every percentage is rounded half up
from the unrounded value (:func:`percent_text`), so the conclusion and the tables never
disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .clock import TimeAxis

__all__ = ["AlertEvent", "CaseFacts", "DataEnd", "RiseBracket", "alert_events", "case_facts",
           "controls_final", "controls_rise", "data_ends", "final_intensity", "final_rows",
           "first_sweep", "fixed_text", "kind_of", "make_event", "names_text", "nearest_event",
           "numbered_events", "on_control", "percent_text", "rise_words", "role_of",
           "span_text", "times_text"]


# ------------------------------------------------------------------------------ numbers
def percent_text(value) -> str:
    """A % of baseline as the report prints it: rounded half up to a whole number."""
    if value is None or not np.isfinite(value):
        return "–"
    return f"{math.floor(float(value) + 0.5)} %"


def fixed_text(value, digits: int = 0) -> str:
    """A number rounded half up to ``digits`` decimals ("–" when missing)."""
    if value is None or not np.isfinite(value):
        return "–"
    scale = 10 ** digits
    return f"{math.floor(float(value) * scale + 0.5) / scale:.{digits}f}"


def span_text(values) -> str:
    """A range of % as "12–22 %", or one value when both ends print the same."""
    low, high = (percent_text(v)[:-2] for v in (min(values), max(values)))
    return f"{low} %" if low == high else f"{low}–{high} %"


def names_text(names) -> str:
    """Names in a sentence: "A", "A and B", "A, B and C"."""
    names = list(names)
    if not names:
        return ""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def times_text(n: int) -> str:
    """A count of occurrences in words: "once", "twice", "3 times"."""
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


def kind_of(result, criterion: str):
    """The criterion kind of an alert's ``criterion``: its words, lane and style."""
    return result.criteria.kind(criterion)


def rise_brackets(result) -> dict:
    """``id(alert)`` to the RiseBracket of each threshold alert whose brackets give its rise."""
    if result.thresholds is None:
        return {}
    out = {}
    for alert in result.alerts:
        rise = result.thresholds.rise_of(alert)
        if rise is not None and rise.bracket is not None:
            out[id(alert)] = RiseBracket(*rise.bracket)
    return out


def controls_rise(result, alert) -> float | None:
    """The median threshold rise of a channel's controls over the sweeps that called it, V."""
    rise = None if result.thresholds is None else result.thresholds.rise_of(alert)
    return None if rise is None else rise.controls_rise_v


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


@dataclass(frozen=True)
class CaseFacts:
    """What the wording needs beyond the result, gathered once per report.

    ``rises``: ``id(alert)`` to the :class:`RiseBracket` of a threshold alert whose brackets
    give its rise.
    """

    clock: TimeAxis
    ends: dict
    final: np.ndarray
    events: list
    rises: dict = field(default_factory=dict)


def case_facts(result) -> CaseFacts:
    """The facts of one case's report (see the module docstring)."""
    clock = TimeAxis(result.recording.start, result.recording.duration_s)
    return CaseFacts(clock, data_ends(result), result.final_percent(), numbered_events(result),
                     rise_brackets(result))


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
            events.append(make_event([alert], rank))
    groups: list[list] = []
    for alert in systemic:
        for group in groups:
            if group[0].criterion == alert.criterion and alert.onset_s <= max(
                    (a.recovery_s if a.recovered else end_s) for a in group):
                group.append(alert)
                break
        else:
            groups.append([alert])
    events += [make_event(group, rank) for group in groups]
    return sorted(events, key=lambda e: (e.onset_s, [rank.get(n, 0) for n in e.channels]))


def make_event(alerts, rank) -> AlertEvent:
    """One AlertEvent of ``alerts`` (channels in ``rank`` order: name to position)."""
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


def first_sweep(event: AlertEvent) -> int | None:
    """The first sweep of an event to meet its criterion (None when none did)."""
    found = [a.first_met_sweep for a in event.alerts if a.first_met_sweep is not None]
    return min(found) if found else None


def role_of(result, name) -> str | None:
    """The role of channel ``name``: "test", "control" or None."""
    return result.sweeps.channels[result.sweeps.ch_names.index(name)].role


def on_control(result, event: AlertEvent) -> bool:
    """A focal alert on a control channel: not at risk from the lesioning."""
    return event.scope != "systemic" and all(role_of(result, n) == "control"
                                             for n in event.channels)
