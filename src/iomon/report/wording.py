"""The conclusion of a case report, in a clinician's words.

Focal changes of the at-risk channels first (grouped by muscle, in montage order), then
control channels that changed alone, systemic events with the theatre event nearest them,
undetermined and informational ones, declines without an alert, channels absent at baseline,
and where every channel stood at the end. Every time is rounded to the whole second once
(:class:`~iomon.report.figures.TimeAxis`), so clock time and time elapsed agree.
"""

from __future__ import annotations

import numpy as np

from .clock import TimeAxis
from .facts import (
    RESPONSES,
    SYSTEMIC_CAUSES,
    AlertEvent,
    CaseFacts,
    DataEnd,
    began_level,
    controls_final,
    controls_rise,
    events_between,
    final_intensity,
    first_sweep,
    kind_of,
    make_event,
    marker_words,
    names_text,
    nearest_event,
    on_control,
    percent_text,
    role_of,
    span_text,
    sweeps_words,
    times_text,
)
from .figures.marks import alert_end_s
from .figures.overlay import final_sweep

__all__ = ["conclusion", "decline_notes", "declines_paragraph", "final_text", "outcome_words",
           "when_text"]


# ------------------------------------------------------------------------------ wording
def when_text(seconds: float, clock: TimeAxis) -> str:
    """Clock time with the time elapsed since the recording's start beside it."""
    elapsed = clock.elapsed(seconds)
    return elapsed if clock.start is None else f"{clock.text(seconds, True)} (+{elapsed})"


def _first_words(result, criterion: str, name: str) -> str:
    """What "first met" means for a criterion: "first below 50 %", "first up 100 V"..."""
    muscle = result.sweeps.channels[result.sweeps.ch_names.index(name)].muscle
    return kind_of(result, criterion).first_words(result.criteria, muscle)


def _since(result, event: AlertEvent, facts: CaseFacts) -> str:
    """When a finding began: "from 08:00:25 (lesioning; first below 50 % at 08:00:22)"."""
    clock = facts.clock
    level = began_level(event)
    text = f"from {clock.text(event.onset_s, True)} ({event.phase}"
    first = first_sweep(event)
    if first is not None and first != event.onset_sweep:
        onset = float(result.sweeps.column("onset_s")[first])
        text += (f"; {_first_words(result, event.criterion, event.channels[0])} at "
                 f"{clock.text(onset, True)}")
    if level:  # the level being lesioned where the change began
        text += f", during {level} lesioning"
    return text + ")"


def _unassessable(name: str, end: DataEnd, clock: TimeAxis, named: bool) -> str:
    who = f"{name}: recovery" if named else "recovery"
    if end.excluded is not None:
        return (f"{who} not assessable, excluded from {clock.text(end.stop_s, True)} "
                f"({end.excluded})")
    return f"{who} not assessable, no valid sweep after {clock.text(end.last_s, True)}"


def outcome_words(result, alerts, facts: CaseFacts, cite: bool = False, after_s=None,
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
            when = f"{when_text(last.recovery_s, clock)}, {phase}"
            parts.append(when if not open_ else f"{len(done)} of {len(alerts)} by {when}")
        else:
            when = f"{clock.text(last.recovery_s, True)} ({phase})"
            when += _cite(facts, last.recovery_s, after_s, SYSTEMIC_CAUSES) if cite else ""
            parts.append(f"recovered by {when}" if not open_
                         else f"{len(done)} of {len(alerts)} recovered by {when}")
    parts += [_unassessable(a.channel, facts.ends[a.channel], clock, named)
              for a in open_ if a.channel in facts.ends]
    plain = [a.channel for a in open_ if a.channel not in facts.ends]
    if plain:
        who = f"{names_text(plain)}: " if named and (done or len(plain) < len(open_)) else ""
        parts.append(f"{who}not recovered by the end{'' if cell else ' of the recording'}")
    return "; ".join(parts)


def _cite(facts: CaseFacts, at_s: float, after_s=None, kinds=None) -> str:
    """The theatre event just before ``at_s``: ", 4 s after #3 (blood pressure: ...)" or "".

    ``kinds``: the kinds of event that may be cited (see :func:`~.facts.citable`).
    """
    found = nearest_event(facts.events, at_s, -np.inf if after_s is None else after_s,
                          kinds=kinds, scale=facts.clock.scale)
    if found is None:
        return ""
    gap = int(round(facts.clock.surgical_s(at_s - found.at_s)))
    gap_text = f"{gap} s" if gap < 120 else f"{int(round(gap / 60))} min"
    return (f", {gap_text} after #{found.number} ({marker_words(found)}, "
            f"{facts.clock.text(found.at_s, True)})")


def _responses(result, alerts, facts: CaseFacts) -> str:
    """What the team did while a focal change lasted: "; surgeon informed at 08:46:10 (#7)"."""
    start = min(a.first_met_s if a.first_met_s is not None else a.onset_s for a in alerts)
    end = max(alert_end_s(result, a) for a in alerts)
    done = events_between(facts.events, start, end, RESPONSES)
    return "".join(f"; {marker_words(m)} at {facts.clock.text(m.at_s, True)} (#{m.number})"
                   for m in done)


def _controls_words(result, alerts, facts: CaseFacts, other: bool) -> str:
    """How the controls stood while a focal finding was called."""
    who = "the other controls" if other else "the controls"
    kind = kind_of(result, alerts[0].criterion)
    if kind.style == "rise_v":
        rises = [r for r in (controls_rise(result, a) for a in alerts) if r is not None]
        if not rises:
            return ""
        rise = float(np.median(rises))
        held = rise < result.criteria.value(kind.keys[0])
        return (f" while {who}' thresholds held (median {rise:+g} V)" if held
                else f", {who}' thresholds up as well (median {rise:+g} V)")
    values = [a.controls_percent for a in alerts if a.controls_percent is not None]
    if not values:
        return ""
    level = percent_text(float(np.median(values)))
    if kind.style == "amplitude":
        if float(np.median(values)) > result.criteria.threshold_percent:
            return f" while {who} held (median {level} of baseline when it was called)"
        return (f", deeper than {who}, themselves at a median of {level} of baseline when it "
                "was called")
    return f" ({who} at {level} of their baseline {kind.noun})"


def _change_words(result, event: AlertEvent, facts: CaseFacts, noun: bool) -> str:
    """The change itself, in the kind's words ("amplitude fell to 12–20 % of baseline")."""
    kind = kind_of(result, event.criterion)
    bracket = facts.rises.get(id(event.alerts[0]))
    rise = event.threshold_rise_v
    by = bracket.rise() if bracket is not None else f"by {rise:g} V" if rise is not None else ""
    return kind.finding[0 if noun else 1].format(
        span=span_text([a.nadir_percent for a in event.alerts]), by=by,
        its="their" if len(event.channels) > 1 else "its",
        rise_v="" if rise is None else f"{rise:g}", sweeps=sweeps_words(event))


def _finding(result, event: AlertEvent, facts: CaseFacts, noun: bool, other=False,
             outcome=True) -> str:
    """One criterion's change on one or more channels (``noun``: name the measure)."""
    what = _change_words(result, event, facts, noun)
    began = min(a.first_met_s if a.first_met_s is not None else a.onset_s
                for a in event.alerts)
    return (f"{what} {_since(result, event, facts)}"
            f"{_cite(facts, began, kinds=('intervention', 'position'))}"
            f"{_controls_words(result, event.alerts, facts, other)}"
            f"{_responses(result, event.alerts, facts)}"
            + (f"; {outcome_words(result, event.alerts, facts)}" if outcome else ""))


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
    return make_event(alerts, {n: k for k, e in enumerate(events) for n in e.channels})


def _focal_sentences(result, events, facts, control=False) -> list[str]:
    """Focal findings grouped by channel; channels with the same story in one sentence."""
    out = []
    for names, findings in _channel_groups(result, events, facts):
        merged = [_merged(f) for f in findings]
        subject = names_text(names)
        if control:
            subject = (f"Control channel{'s' if len(names) > 1 else ''} {subject} (not at risk "
                       "from the lesioning)")
        if len(merged) == 1 and kind_of(result, merged[0].criterion).style == "amplitude":
            out.append(f"{subject} {_finding(result, merged[0], facts, False, control)}.")
            continue
        numbers = {getattr(a, "event", None) for m in merged for a in m.alerts}
        if len(merged) > 1 and len(numbers) == len(names) and None not in numbers:
            # One event per channel told by several alerts: its outcome is said once, for the
            # event (an amplitude alert that ended while a threshold alert went on did not end
            # the event), after each finding.
            text = "; ".join(_finding(result, m, facts, True, control, False) for m in merged)
            alerts = [a for m in merged for a in m.alerts]
            open_ = [a for a in alerts if not a.recovered]
            subject += f" (event{'s' if len(numbers) > 1 else ''} " \
                       f"{names_text([str(n) for n in sorted(numbers)])})"
            out.append(f"{subject}: {text}; as one event, "
                       f"{outcome_words(result, open_ or alerts, facts)}.")
            continue
        outcomes = {outcome_words(result, m.alerts, facts) for m in merged}
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
    kind = kind_of(result, event.criterion)
    groups = []
    for role, label in (("test", "at risk"), ("control", "controls"), (None, "")):
        alerts = [a for a in event.alerts if role_of(result, a.channel) == role]
        if alerts:
            span = span_text([a.nadir_percent for a in alerts])
            values = (f"{span} of baseline" if kind.style == "amplitude"
                      else f"{span} of their baseline {event.criterion}")
            if kind.style == "rise_v":
                values = f"+{max(a.threshold_rise_v or 0 for a in alerts):g} V at most"
            who_here = names_text(list(dict.fromkeys(a.channel for a in alerts))) + (
                f" ({label})" if label else "")
            groups.append(f"{who_here} to a lowest {values}" if kind.style != "rise_v"
                          else f"{who_here} {values}")
    return (f"Systemic: {who} {kind.systemic_verb} {_since(result, event, facts)}"
            f"{_cite(facts, event.onset_s, kinds=SYSTEMIC_CAUSES)}: {'; '.join(groups)}; "
            "consistent with a blood-pressure or anaesthetic change. "
            f"{_capital(outcome_words(result, event.alerts, facts, True, event.onset_s))}.")


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _undetermined_sentences(result, events, facts) -> list[str]:
    out = []
    for event in events:
        out.append("Scope undetermined (no responding control to compare with): "
                   f"{names_text(event.channels)} {_finding(result, event, facts, False)}.")
    return out


def _no_change(result) -> str:
    """No counted alert: what was looked for, all of it, in plain words."""
    c = result.criteria
    looked = [kind.looked_for(c) for kind in c.kinds() if kind.looked_for is not None]
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
    starts = names_text([clock.text(d.onset_s, True) for d in drops])
    controls = [d.controls_percent for d in drops if d.controls_percent is not None]
    who = "the other controls" if other else "the controls"
    return (f"{name} fell {level} of its baseline {times_text(len(drops))} (from {starts}; "
            f"lowest {percent_text(min(d.nadir_percent for d in drops))}, {who} "
            f"{'then ' if len(drops) > 1 else ''}at {span_text(controls)})")


def _declines_by_channel(result, drops) -> list[list]:
    return [[d for d in drops if d.channel == n] for n in result.sweeps.ch_names
            if any(d.channel == n for d in drops)]


def declines_paragraph(result, drops, facts) -> str | None:
    """At-risk channels below the criterion on their own baseline without an alert."""
    mine = [d for d in drops if role_of(result, d.channel) != "control"]
    if not mine:
        return None
    return ("No alert, a decline the controls shared in part (within each channel's "
            "variability against them): " + "; ".join(
                _decline_words(result, group, facts, False)
                for group in _declines_by_channel(result, mine)) + ".")


def decline_notes(result, drops, facts) -> list[str]:
    """Control channels below the criterion on their own baseline without an alert."""
    mine = [d for d in drops if role_of(result, d.channel) == "control"]
    return [f"control channel {_decline_words(result, group, facts, True)}: a decline shared "
            "in part, within the channel's variability against the other controls; no alert"
            for group in _declines_by_channel(result, mine)]


def _absent(result) -> str | None:
    from ..model.muscles import MUSCLES

    absent = [ch for ch, p in zip(result.sweeps.channels, result.baseline.present) if not p]
    if not absent:
        return None
    levels = set(result.case.levels)
    avulsed = [ch.name for ch in absent if ch.muscle in MUSCLES
               and ch.side == result.case.side and set(MUSCLES[ch.muscle].roots) <= levels]
    text = (f"{names_text([ch.name for ch in absent])} had no response at baseline and "
            f"{'was' if len(absent) == 1 else 'were'} not monitored for change")
    if avulsed:
        text += f" ({names_text(avulsed)}: all roots among the avulsed levels)"
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
        text = (f"At the end of the recording, at {common[0]:g} V (baseline sweeps at "
                f"{common[1]:g} V), ")
    else:
        items = [f"{channels[c].name} {final_text(result, c, facts)}" for c in watched]
        text = "At the end of the recording "
    text += (f"{'the at-risk channels' if roles else 'the channels'} stood at "
             f"{names_text(items)} of baseline")
    controls, early = controls_final(result, facts.final, facts.ends)
    if controls is not None:
        text += f", the controls at a median of {percent_text(controls)}"
        if early:
            text += f" ({names_text(early)} left out: no valid sweep to the end)"
    bases = sorted({pair[1] for c in watched if (pair := final_intensity(result, c))})
    if bases and common is None:
        text += f" (baseline sweeps at {names_text([f'{b:g} V' for b in bases])})"
    return text + "; each channel the median of its last 3 valid sweeps."


def conclusion(result, events, facts: CaseFacts, drops=None) -> list[str]:
    """The report's conclusion: what happened, where, when, and how it ended.

    Focal changes of the at-risk channels first (grouped by channel, in montage order), then
    control channels that changed alone, systemic events with the theatre event nearest them,
    undetermined ones, informational ones, declines without an alert, channels absent at
    baseline, and where every channel stood at the end.
    """
    drops = result.declines if drops is None else drops
    counted = [e for e in events if not e.informational]
    focal = [e for e in counted if e.scope == "focal"]
    paragraphs = [] if counted else [_no_change(result)]
    at_risk = [e for e in focal if not on_control(result, e)]
    if at_risk:
        paragraphs.append("Focal: " + " ".join(_focal_sentences(result, at_risk, facts)))
    controls = [e for e in focal if on_control(result, e)]
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
