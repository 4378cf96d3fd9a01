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
margins over fewer.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["TARGETS", "CaseScore", "run_case", "run_suite", "score_case", "summarise"]

#: What the specification asks for (see the module docstring).
TARGETS = {"sensitivity": 1.0, "max_delay_sweeps": 3, "false_focal_per_h": 0.1,
           "systemic_ok": 0.95, "recovery_ok": 1.0}

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
    names = result.sweeps.ch_names
    valid = ~result.rejected
    score = CaseScore(truth.scenario, truth.seed,
                      truth.phases_nominal_s["closure"][1] / 3600.0)
    expected = set(truth.focal_channels)
    # What the surgeon hears: focal alerts that are not informational.
    focal = [a for a in result.alerts if a.scope == "focal" and not a.informational]
    score.false_focal = sum(a.channel not in expected for a in focal)
    for event in truth.events:
        if event.kind not in ("focal", "loss", "threshold"):
            continue
        first = _reference_sweep(event, onsets, truth, result.criteria)
        kinds = ({"threshold"} if event.kind == "threshold" else {"amplitude", "loss"})
        for channel in event.channels:
            if channel not in expected:
                continue  # no response at baseline: nothing to find
            score.injected += 1
            if first is None:
                continue
            c = names.index(channel)
            hits = [a for a in focal if a.channel == channel and a.criterion in kinds
                    and a.onset_s >= event.start_s and a.onset_s <= event.end_s]
            if not hits:
                continue
            alert = min(hits, key=lambda a: a.onset_sweep)
            score.found += 1
            # Negative when the alert came before the reference sweep (a threshold rise is
            # seen in 50 V steps, so it can be called a step early).
            score.delays.append(int(valid[first:alert.onset_sweep, c].sum())
                                - int(valid[alert.onset_sweep:first, c].sum()))
            if event.recovers:
                after = np.flatnonzero(onsets >= event.end_s)
                end = int(after[0]) if after.size else onsets.size
                # Recovered, and not before the event ended.
                during = [a for a in hits if a.onset_sweep < end]
                ok = bool(during) and all(a.recovered and a.recovery_sweep >= end
                                          for a in during)
                if ok:
                    last = max(a.recovery_sweep for a in during)
                    score.recovery_delays.append(int(valid[end:last, c].sum()))
            else:
                ok = not any(a.recovered for a in hits)
            score.recovery_ok.append(bool(ok))
    if truth.systemic_expected:
        # Alerts during the event on channels without an injected focal change of their own.
        during = [a for a in result.alerts for e in truth.events
                  if e.kind == "systemic" and e.start_s <= a.onset_s <= e.end_s
                  and a.channel not in expected]
        score.systemic_ok = bool(during) and all(a.scope == "systemic" for a in during)
    return score


def run_case(scenario, seed, folder, criteria=None, **simulate_options) -> CaseScore:
    """Simulate one case, write it as EDF+, read it back, analyse and score it."""
    from ..io import read
    from ..pipeline import analyze, load_case
    from . import simulate_case, write_simulated_case

    options = {"time_compression": 40.0, **simulate_options}
    sim = simulate_case(scenario, seed, **options)
    path = write_simulated_case(sim, Path(folder) / f"{scenario}-{seed}",
                                stem=f"{scenario}-{seed}")
    result = analyze(read(path), load_case(path), criteria)
    return score_case(sim, result)


def summarise(scores) -> dict:
    """Figures over many cases of one scenario (NaN where a figure does not apply)."""
    injected = sum(s.injected for s in scores)
    delays = [d for s in scores for d in s.delays]
    recovery = [ok for s in scores for ok in s.recovery_ok]
    recovery_delays = [d for s in scores for d in s.recovery_delays]
    systemic = [s.systemic_ok for s in scores if s.systemic_ok is not None]
    hours = sum(s.hours for s in scores)
    return {
        "cases": len(scores),
        "case_hours": hours,
        "sensitivity": sum(s.found for s in scores) / injected if injected else float("nan"),
        "median_delay": float(np.median(delays)) if delays else float("nan"),
        "max_delay": float(max(delays)) if delays else float("nan"),
        "false_focal": sum(s.false_focal for s in scores),
        "false_focal_per_h": sum(s.false_focal for s in scores) / hours,
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
    if folder is None:
        with tempfile.TemporaryDirectory(prefix="iomon-suite-") as temporary:
            return run_suite(scenarios, seeds, criteria, temporary, **simulate_options)
    return {scenario: [run_case(scenario, seed, folder, criteria, **simulate_options)
                       for seed in seeds]
            for scenario in scenarios}
