"""Events: the alerts that tell of one change, counted once everywhere.

A change can raise several alerts: a leg whose response falls while the team raises the
intensity raises an amplitude alert, then a threshold alert, then another amplitude alert,
one episode each. A clinician counts one event, and so does every output of iomon (the
report's heading and conclusion, alerts.json's ``event``, summary.json's ``n_events``, the
cohort's counts):

- a **focal** (or undetermined) event is one channel's alerts whose spans overlap, whatever
  their criterion;
- a **systemic** event is the systemic alerts, on any channels and of any criterion, whose
  spans overlap: the controls fell with the channels at risk.

An alert's span runs from where its change began (its first-met sweep, else the sweep that
called it) to its recovery, or to where the channel's valid sweeps end when it never
recovered. Events are numbered from 1 in the order they began.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Event", "alert_span", "events_of", "number_events"]


@dataclass(frozen=True)
class Event:
    """One event: its number and the alerts that tell of it (in onset order).

    Its scope is ``systemic`` for systemic alerts, else ``focal`` when any of its alerts is
    focal, else ``undetermined``; it is informational when every alert is, recovered when
    every alert recovered.
    """

    number: int
    alerts: tuple

    @property
    def scope(self) -> str:
        """systemic, focal or undetermined."""
        scopes = {a.scope for a in self.alerts}
        return next(s for s in ("systemic", "focal", "undetermined") if s in scopes)

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels that alerted, each once, in the alerts' order."""
        return tuple(dict.fromkeys(a.channel for a in self.alerts))

    @property
    def informational(self) -> bool:
        """Every alert of it lies outside the phases the preset watches."""
        return all(a.informational for a in self.alerts)

    @property
    def recovered(self) -> bool:
        """Every alert of it recovered before the end."""
        return all(a.recovered for a in self.alerts)

    @property
    def criteria(self) -> tuple[str, ...]:
        """The criteria its alerts met, each once, in onset order."""
        return tuple(dict.fromkeys(a.criterion for a in self.alerts))


def events_of(alerts) -> list[Event]:
    """The events of alerts numbered by :func:`number_events`, in their order."""
    groups: dict[int, list] = {}
    for alert in sorted(alerts, key=lambda a: (a.onset_s, a.channel)):
        groups.setdefault(alert.event, []).append(alert)
    return [Event(number, tuple(group)) for number, group in sorted(
        groups.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))]


def alert_span(alert, data_end_s: float) -> tuple[float, float]:
    """Where an alert's change began and where it ended, s since the recording's start.

    ``data_end_s``: where its channel's valid sweeps end (the end of an unrecovered alert).
    """
    began = alert.first_met_s if alert.first_met_s is not None else alert.onset_s
    return float(began), float(alert.recovery_s if alert.recovered else data_end_s)


def _overlapping(items) -> list[list[int]]:
    """Groups of ``(start, end, index)`` whose spans overlap (or touch), in start order."""
    groups, end = [], -np.inf
    for start, stop, index in sorted(items):
        if groups and start <= end:
            groups[-1].append(index)
            end = max(end, stop)
        else:
            groups.append([index])
            end = stop
    return groups


def number_events(alerts, data_end_s: dict, order=()) -> list[int]:
    """The event number of each alert (from 1, in the order the events began).

    Events that began together are numbered in the order they were called, systemic first,
    then by their first channel in ``order``.

    Parameters
    ----------
    alerts : sequence of Alert
    data_end_s : dict
        Channel name to where its valid sweeps end, s.
    order : sequence of str
        The channel names in the recording's (montage) order.

    Returns
    -------
    list of int
        One per alert, in the order given.
    """
    spans = [alert_span(a, data_end_s[a.channel]) for a in alerts]
    groups = _overlapping([(s, e, k) for k, ((s, e), a) in enumerate(zip(spans, alerts))
                           if a.scope == "systemic"])
    for channel in dict.fromkeys(a.channel for a in alerts if a.scope != "systemic"):
        groups += _overlapping([(s, e, k) for k, ((s, e), a) in enumerate(zip(spans, alerts))
                                if a.scope != "systemic" and a.channel == channel])
    rank = {name: k for k, name in enumerate(order)}
    groups.sort(key=lambda g: (min(spans[k][0] for k in g), min(alerts[k].onset_s for k in g),
                               alerts[g[0]].scope != "systemic",
                               min(rank.get(alerts[k].channel, len(rank)) for k in g)))
    numbers = [0] * len(alerts)
    for number, group in enumerate(groups, start=1):
        for k in group:
            numbers[k] = number
    return numbers
