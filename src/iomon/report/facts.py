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

from .clock import TimeAxis, case_clock

__all__ = ["AlertEvent", "CaseFacts", "DataEnd", "RiseBracket", "alert_events", "began_level",
           "case_facts", "citable", "controls_final", "controls_rise", "data_ends",
           "events_between", "final_intensity", "final_rows", "first_sweep", "fixed_text",
           "kind_of", "make_event", "marker_words", "names_text", "nearest_event",
           "numbered_events", "on_control",
           "percent_text", "rise_words", "role_of", "span_text", "sweeps_words", "times_text"]


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
        """For a table: "+200 to +250 V (threshold 400–450 V; baseline threshold 200 V)"."""
        return (f"{self.short()} (threshold {self.lower:g}–{self.upper:g} V; "
                f"baseline threshold {self.baseline:g} V)")

    def rise(self) -> str:
        """For a sentence: "by 200–250 V (to a threshold of 400–450 V, from a baseline ...)".

        "... baseline threshold of 200 V".
        """
        low, high = self.lower - self.baseline, self.upper - self.baseline
        return (f"by {low:g}–{high:g} V (to a threshold of {self.lower:g}–{self.upper:g} V, "
                f"from a baseline threshold of {self.baseline:g} V)")


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


def numbered_events(result) -> list:
    """The numbered markers and theatre events of a case, in time order.

    :class:`~iomon.model.annotations.Marker` records, numbered from 1 as the figures and the
    table number them (the recording's markers beyond the first 40 are neither).
    """
    return [m for m in result.markers if m.number is not None]


def marker_words(marker) -> str:
    """A marker in words: "blood pressure: MAP 55 mmHg", "surgeon informed", "Baseline"."""
    if marker.kind and marker.text:
        return f"{marker.kind}: {marker.text}"
    return marker.kind or marker.text


#: How far back a theatre event is cited as the one nearest a change, s of the surgery.
EVENT_REACH_S = 900.0
#: The kinds of event cited before a systemic change: what lowers every response.
SYSTEMIC_CAUSES = ("blood pressure", "anaesthesia")
#: The kinds of event cited with a focal change: what the team did about it.
RESPONSES = ("surgeon informed", "intervention")


def citable(marker, kinds=None) -> bool:
    """Whether a marker may be cited as a theatre event of one of ``kinds``.

    A typed marker of those kinds (of any kind when ``kinds`` is None), or a sidecar event
    whose kind is not said; untyped markers of the recording (Baseline, Exposure start) never.
    """
    if marker.kind is None:
        return marker.source == "sidecar"
    return kinds is None or marker.kind in kinds


def nearest_event(events, at_s: float, after_s: float = -np.inf, reach_s=EVENT_REACH_S,
                  kinds=None, scale: float = 1.0):
    """The latest citable event at or before ``at_s`` (and after ``after_s``), or None.

    ``events`` as from :func:`numbered_events`; ``kinds`` as for :func:`citable`; within
    ``reach_s`` of the surgery (file seconds times ``scale``, a simulation's compression).
    """
    before = [m for m in events if after_s < m.at_s <= at_s and citable(m, kinds)
              and (at_s - m.at_s) * scale <= reach_s]
    return max(before, key=lambda m: m.at_s) if before else None


def events_between(events, start_s: float, end_s: float, kinds) -> list:
    """The citable events of ``kinds`` from ``start_s`` to ``end_s``, in time order."""
    return [m for m in events if start_s <= m.at_s <= end_s and citable(m, kinds)
            and m.kind is not None]


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
    clock = case_clock(result)
    return CaseFacts(clock, data_ends(result), result.final_percent(), numbered_events(result),
                     rise_brackets(result))


def rise_words(facts: CaseFacts) -> dict:
    """``id(alert)`` to its threshold rise in words (the figures' lane labels)."""
    return {k: b.short() for k, b in facts.rises.items()}


# ------------------------------------------------------------------------------- events
@dataclass(frozen=True)
class AlertEvent:
    """One row of the alert table: a focal alert, or a systemic event across channels.

    ``channels`` are in the recording's (montage) order, each once; times in s since its
    start; ``number``: the event it tells of (alerts.json's ``event``).
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
    number: int | None = None


def alert_events(alerts, end_s: float, order=None) -> list[AlertEvent]:
    """Alerts as the alert table gives them, in onset order.

    The systemic alerts of one event (their ``event`` number) and one criterion are one row;
    every other alert is its own row, numbered with its event. Alerts without an event number
    (made outside :func:`iomon.alerting.findings.find`): systemic alerts of one criterion that
    overlap in time are one row. ``order``: the channel names in montage order (a row names
    its channels so); default: by name.
    """
    rank = {n: k for k, n in enumerate(order or sorted({a.channel for a in alerts}))}
    events, groups = [], {}
    for alert in sorted(alerts, key=lambda a: (a.onset_s, rank.get(a.channel, 0))):
        if alert.scope != "systemic":
            events.append(make_event([alert], rank))
        elif getattr(alert, "event", None) is not None:
            groups.setdefault((alert.event, alert.criterion), []).append(alert)
        else:
            group = next((g for key, g in groups.items() if key[0] is None
                          and g[0].criterion == alert.criterion and alert.onset_s <= max(
                              (a.recovery_s if a.recovered else end_s) for a in g)), None)
            if group is None:
                groups[(None, len(groups), alert.criterion)] = [alert]
            else:
                group.append(alert)
    events += [make_event(group, rank) for group in groups.values()]
    return sorted(events, key=lambda e: (e.onset_s, [rank.get(n, 0) for n in e.channels]))


def make_event(alerts, rank) -> AlertEvent:
    """One AlertEvent of ``alerts`` (channels in ``rank`` order: name to position, each once)."""
    alerts = sorted(alerts, key=lambda a: (rank.get(a.channel, 0), a.onset_s))
    first = min(alerts, key=lambda a: a.onset_s)
    nadirs = [a.nadir_percent for a in alerts]
    controls = [a.controls_percent for a in alerts if a.controls_percent is not None]
    recoveries = [a.recovery_s for a in alerts if a.recovered]
    rises = [a.threshold_rise_v for a in alerts if a.threshold_rise_v is not None]
    return AlertEvent(
        scope=first.scope, criterion=first.criterion,
        channels=tuple(dict.fromkeys(a.channel for a in alerts)), phase=first.phase,
        onset_s=first.onset_s, onset_sweep=first.onset_sweep, nadir=(min(nadirs), max(nadirs)),
        controls_percent=float(np.median(controls)) if controls else None,
        recovered=all(a.recovered for a in alerts),
        recovery_s=max(recoveries) if recoveries else None,
        informational=all(a.informational for a in alerts),
        unrecovered=tuple(dict.fromkeys(a.channel for a in alerts if not a.recovered)),
        threshold_rise_v=max(rises) if rises else None, alerts=tuple(alerts),
        number=getattr(first, "event", None))


def sweeps_words(event: AlertEvent) -> str:
    """How many of an event's episode sweeps held a response, as a kind's ``{sweeps}``.

    A loss: " in 10 of 12 sweeps" (none in them); an amplitude drop: " (a response in 9 of 12
    sweeps)" when some held none, else ""; other kinds: "".
    """
    counted = [a for a in event.alerts if getattr(a, "episode_sweeps", None)]
    if not counted:
        return ""
    n = sum(a.episode_sweeps for a in counted)
    responding = sum(a.responding_sweeps for a in counted)
    if event.criterion == "loss":
        return f" in {n - responding} of {n} sweeps"
    return "" if responding == n else f" (a response in {responding} of {n} sweeps)"


def began_level(event: AlertEvent) -> str | None:
    """The level being lesioned where a row's change began (its earliest alert's)."""
    first = min(event.alerts, key=lambda a: (a.first_met_s if a.first_met_s is not None
                                             else a.onset_s))
    return getattr(first, "lesioning_level", None)


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
