"""Scenario suite: the alerting measured against the simulator's ground truth.

Each case is simulated, written to a real EDF+ file, read back and analysed as a user's file
would be; the alerts are then scored against what was injected. The targets are those of the
alerting's specification (issue 5):

- every injected focal drop (>= 60 %, lasting >= 3 sweeps) found within 3 valid sweeps of its
  first dropped sweep;
- at most 1 false focal alert per 10 stable case-hours at a variability (CV) of 35-50 %;
- systemic events classified systemic in at least 95 % of the runs;
- recovery reported correctly.

``benchmarks/scenario_suite.py`` prints the figures over many seeds; the tests assert them with
margins over fewer. Its ``--compare`` mode puts presets side by side per muscle group
(:data:`MUSCLE_GROUPS`) on the same simulated cases (:func:`compare_presets`): false focal
alerts per 100 case-hours in stable, fade (also :data:`LONG_SCHEDULE` cases), cautery and
systemic scenarios, and the share found and delay of brief focal drops
(:func:`drop_class_options`), each case measured once and scored under every preset.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .schedule import Schedule

__all__ = ["DROP_MUSCLES", "LONG_SCHEDULE", "MUSCLE_GROUPS", "TARGETS", "CaseScore",
           "ChannelEvent", "compare_presets", "drop_class_options", "run_case", "run_presets",
           "run_suite", "score_case", "summarise"]

#: What the specification asks for (see the module docstring).
TARGETS = {"sensitivity": 1.0, "max_delay_sweeps": 3, "false_focal_per_h": 0.1,
           "systemic_ok": 0.95, "recovery_ok": 1.0}

#: Muscle groups scored apart: their sweep-to-sweep variability differs (CV about 48 % for the
#: hand, 40 % for the arm, 35 % for abductor hallucis, 27 % for tibialis anterior).
MUSCLE_GROUPS = {"hand": ("APB", "ADM", "FDI"), "arm": ("Deltoid", "Biceps", "Triceps", "ECR"),
                 "TA": ("TA",), "AH": ("AH",)}

#: A 5-hour case (positioning 12 min, exposure 3 h, lesioning 1 h, closure 48 min), where
#: anaesthetic fade goes furthest.
LONG_SCHEDULE = Schedule(positioning_min=12.0, exposure_min=180.0, lesioning_min=60.0,
                         closure_min=48.0)

#: The lesioning-side muscles a brief focal drop reaches in :func:`drop_class_options`: one
#: case gives every group (each channel is judged against the other side's controls only).
DROP_MUSCLES = ("Deltoid", "Biceps", "APB", "ADM", "TA", "AH")


def drop_class_options(drop_percent, n_sweeps) -> dict:
    """Options of :func:`iomon.sim.simulate_case` for a brief focal drop on every group.

    ``focal_recovering`` with a drop of ``drop_percent`` lasting ``n_sweeps`` sweeps on the
    lesioning side's :data:`DROP_MUSCLES`; no recorded muscle's root is avulsed, so that the
    arm muscles respond on that side too.
    """
    return {"focal_level": 1.0 - drop_percent / 100.0, "focal_sweeps": n_sweeps,
            "focal_muscles": DROP_MUSCLES, "levels": ()}


@dataclass(frozen=True)
class ChannelEvent:
    """One channel's part in an injected focal change, as scored.

    ``delay`` and ``recovery_delay`` in valid sweeps as in :class:`CaseScore` (None when not
    found, or not recovering); ``recovery_ok`` None when not found.
    """

    channel: str
    muscle: str
    found: bool
    delay: int | None = None
    recovery_ok: bool | None = None
    recovery_delay: int | None = None

@dataclass
class CaseScore:
    """How one simulated case's alerts compare with its truth.

    Attributes
    ----------
    scenario : str
    seed : int
    hours : float
        Length of the case on the surgical clock.
    injected : int
        Channel-events with an injected focal change (drop, loss, threshold rise).
    found : int
        Of those, how many raised a focal alert during the event.
    delays : list of int
        Per found channel-event, valid sweeps from the first changed sweep (for a threshold
        rise: the first sweep where it reached the criterion) to the alert; negative when the
        alert came first.
    recovery_ok : list of bool
        Per found channel-event, whether the alert recovered exactly when the truth does (a
        recovery called during the event is wrong).
    recovery_delays : list of int
        Per found recovering channel-event, valid sweeps from the end of the event to the
        recovery (the sustained count makes it at least ``sustained_n - 1``).
    false_focal : int
        Focal alerts (not informational) on channels without an injected focal change.
    systemic_ok : bool or None
        Scenarios with a systemic event: whether some alert started during it on a channel
        without a focal change of its own, and all such alerts were systemic. None for others.
    events : list of ChannelEvent
        The injected channel-events one by one (``injected`` ... ``recovery_delays`` sum
        them up), for figures per muscle group.
    false_focal_muscles : list of str
        The muscle of each false focal alert.
    criteria : str
        The preset that ran.
    unassessable : int
        Channel-events the export cannot show (a threshold rise where no sweep states its
        intensity): not counted in ``injected``.
    """

    scenario: str
    seed: int
    hours: float
    injected: int = 0
    found: int = 0
    delays: list = field(default_factory=list)
    recovery_ok: list = field(default_factory=list)
    recovery_delays: list = field(default_factory=list)
    false_focal: int = 0
    systemic_ok: bool | None = None
    events: list = field(default_factory=list)
    false_focal_muscles: list = field(default_factory=list)
    criteria: str = ""
    unassessable: int = 0


def _reference_sweep(event, onsets, truth, criteria):
    """First sweep at which the injected change meets the criterion."""
    if event.kind == "threshold":
        rise = np.asarray(truth.sweeps.threshold_rise_v, float)
        needed = criteria.threshold_rise_v or 0.0
        hit = np.flatnonzero(rise >= needed)
    else:
        hit = np.flatnonzero(onsets >= event.start_s)
    return int(hit[0]) if hit.size else None


def score_case(sim, result) -> CaseScore:
    """Score the alerts of an analysed simulated case against its ground truth."""
    truth = sim.truth
    onsets = result.sweeps.table["onset_s"].to_numpy()
    muscles = {ch.name: ch.muscle for ch in truth.channels}
    score = CaseScore(truth.scenario, truth.seed, truth.phases_nominal_s["closure"][1] / 3600.0,
                      criteria=result.criteria.name)
    expected = set(truth.focal_channels)
    # What the surgeon hears: focal alerts that are not informational.
    focal = [a for a in result.alerts if a.scope == "focal" and not a.informational]
    score.false_focal_muscles = [muscles[a.channel] for a in focal if a.channel not in expected]
    score.false_focal = len(score.false_focal_muscles)
    # An export that states no stimulus intensity (one file per sweep, as inomed's) cannot show
    # a threshold rise: the criterion does not apply, and the event is not scored.
    intensities = np.isfinite(result.sweeps.table["stim_intensity"].to_numpy(float)).any()
    for event in truth.events:
        if event.kind not in ("focal", "loss", "threshold"):
            continue
        if event.kind == "threshold" and not intensities:
            score.unassessable += len([c for c in event.channels if c in expected])
            continue
        first = _reference_sweep(event, onsets, truth, result.criteria)
        for channel in event.channels:
            if channel in expected:  # else no response at baseline: nothing to find
                score.events.append(_channel_event(event, channel, muscles[channel], first,
                                                   focal, result))
    found = [e for e in score.events if e.found]
    score.injected, score.found = len(score.events), len(found)
    score.delays = [e.delay for e in found]
    score.recovery_ok = [e.recovery_ok for e in found]
    score.recovery_delays = [e.recovery_delay for e in found if e.recovery_delay is not None]
    if truth.systemic_expected:
        # Alerts during the event on channels without an injected focal change of their own.
        during = [a for a in result.alerts for e in truth.events
                  if e.kind == "systemic" and e.start_s <= a.onset_s <= e.end_s
                  and a.channel not in expected]
        score.systemic_ok = bool(during) and all(a.scope == "systemic" for a in during)
    return score


def _channel_event(event, channel, muscle, first, focal, result) -> ChannelEvent:
    """How the focal alerts of one channel answer one injected event (see :class:`CaseScore`)."""
    if first is None:
        return ChannelEvent(channel, muscle, False)
    onsets = result.sweeps.table["onset_s"].to_numpy()
    valid = ~result.rejected
    c = result.sweeps.ch_names.index(channel)
    kinds = {"threshold"} if event.kind == "threshold" else {"amplitude", "loss"}
    hits = [a for a in focal if a.channel == channel and a.criterion in kinds
            and a.onset_s >= event.start_s and a.onset_s <= event.end_s]
    if not hits:
        return ChannelEvent(channel, muscle, False)
    alert = min(hits, key=lambda a: a.onset_sweep)
    # Negative when the alert came before the reference sweep (a threshold rise is seen in
    # 50 V steps, so it can be called a step early).
    delay = (int(valid[first:alert.onset_sweep, c].sum())
             - int(valid[alert.onset_sweep:first, c].sum()))
    recovery_delay = None
    if event.recovers:
        after = np.flatnonzero(onsets >= event.end_s)
        end = int(after[0]) if after.size else onsets.size
        # Recovered, and not before the event ended.
        during = [a for a in hits if a.onset_sweep < end]
        ok = bool(during) and all(a.recovered and a.recovery_sweep >= end for a in during)
        if ok:
            last = max(a.recovery_sweep for a in during)
            recovery_delay = int(valid[end:last, c].sum())
    else:
        ok = not any(a.recovered for a in hits)
    return ChannelEvent(channel, muscle, True, delay, bool(ok), recovery_delay)


def run_case(scenario, seed, folder, criteria=None, **simulate_options) -> CaseScore:
    """Simulate one case, write it as EDF+, read it back, analyse and score it."""
    return run_presets(scenario, seed, folder, [criteria], **simulate_options)[0]


def run_presets(scenario, seed, folder, presets, keep=True,
                **simulate_options) -> list[CaseScore]:
    """As :func:`run_case`, the one simulated case measured once and scored under each preset.

    ``keep`` False removes the case's files once scored (a long comparison writes GBs).
    """
    from ..io import read
    from ..pipeline import analyze_each, load_case
    from . import simulate_case, write_simulated_case

    options = {"time_compression": 40.0, **simulate_options}
    sim = simulate_case(scenario, seed, **options)
    # A folder of its own: the same scenario and seed may run again with other options.
    target = Path(tempfile.mkdtemp(prefix=f"{scenario}-{seed}-", dir=folder))
    path = write_simulated_case(sim, target, stem=f"{scenario}-{seed}")
    try:
        results = analyze_each(read(path), load_case(path), presets)
        return [score_case(sim, result) for result in results]
    finally:
        if not keep:
            shutil.rmtree(target, ignore_errors=True)


def _within(scores, muscles):
    """The channel-events and false focal muscles of ``scores`` on ``muscles`` (None: all)."""
    events = [e for s in scores for e in s.events if muscles is None or e.muscle in muscles]
    false = [m for s in scores for m in s.false_focal_muscles
             if muscles is None or m in muscles]
    return events, false


def summarise(scores, muscles=None) -> dict:
    """Figures over many cases of one scenario (NaN where a figure does not apply).

    ``muscles`` (e.g. a value of :data:`MUSCLE_GROUPS`) keeps the channel-events and false
    alerts of those muscles only; ``false_focal_per_h`` stays per case-hour.
    """
    events, false = _within(scores, muscles)
    found = [e for e in events if e.found]
    delays = [e.delay for e in found]
    recovery = [e.recovery_ok for e in found]
    recovery_delays = [e.recovery_delay for e in found if e.recovery_delay is not None]
    systemic = [s.systemic_ok for s in scores if s.systemic_ok is not None]
    hours = sum(s.hours for s in scores)
    return {
        "cases": len(scores),
        "case_hours": hours,
        "injected": len(events),
        "unassessable": sum(s.unassessable for s in scores),
        "sensitivity": len(found) / len(events) if events else float("nan"),
        "median_delay": float(np.median(delays)) if delays else float("nan"),
        "max_delay": float(max(delays)) if delays else float("nan"),
        "false_focal": len(false),
        "false_focal_per_h": len(false) / hours,
        "systemic_ok": float(np.mean(systemic)) if systemic else float("nan"),
        "recovery_ok": float(np.mean(recovery)) if recovery else float("nan"),
        "median_recovery_delay": (float(np.median(recovery_delays)) if recovery_delays
                                  else float("nan")),
        "max_recovery_delay": float(max(recovery_delays)) if recovery_delays else float("nan"),
    }


def run_suite(scenarios, seeds, criteria=None, folder=None, **simulate_options) -> dict:
    """Scores per scenario: {scenario: [CaseScore, ...]} over ``seeds`` (an iterable of ints).

    The cases are written to ``folder``, or to a temporary folder removed afterwards (a
    20-seed suite writes a few GB).
    """
    return compare_presets(scenarios, seeds, [criteria], folder, **simulate_options)[0]


def compare_presets(scenarios, seeds, presets, folder=None, keep=True,
                    **simulate_options) -> list[dict]:
    """As :func:`run_suite` for each preset, on the same simulated cases (one per seed).

    Each case is measured once (:func:`iomon.pipeline.analyze_each`) and scored under every
    preset. Without ``folder`` the cases go to a temporary folder, each removed once scored;
    ``keep`` False does the same in ``folder``.

    Returns one {scenario: [CaseScore, ...]} per preset, in the order of ``presets``.
    """
    if folder is None:
        with tempfile.TemporaryDirectory(prefix="iomon-suite-") as temporary:
            return compare_presets(scenarios, seeds, presets, temporary, False,
                                   **simulate_options)
    out = [{scenario: [] for scenario in scenarios} for _ in presets]
    for scenario in scenarios:
        for seed in seeds:
            scores = run_presets(scenario, seed, folder, presets, keep, **simulate_options)
            for per_preset, score in zip(out, scores):
                per_preset[scenario].append(score)
    return out
