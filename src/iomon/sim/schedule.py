"""The surgical schedule of a simulated DREZ case: phases and when stimuli are given."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DEFAULT_SCHEDULE", "SHORT_SCHEDULE", "Schedule", "schedule_onsets"]

#: The first stimulus, s after the start of the recording (surgical clock).
FIRST_STIMULUS_S = 30.0
#: No stimulus is given this close to the end of closure, s.
LAST_STIMULUS_MARGIN_S = 5.0
#: A team stimulates right at the start of lesioning: this long after it, s.
LESIONING_FIRST_STIMULUS_S = 1.0


@dataclass(frozen=True)
class Schedule:
    """Durations (minutes) and stimulus intervals (seconds) of the surgical phases.

    The positioning phase ends with the ``Baseline`` annotation after ``pre_baseline_sweeps``
    sweeps of intensity ramp-up.
    """

    positioning_min: float = 12.0
    exposure_min: float = 30.0
    lesioning_min: float = 30.0
    closure_min: float = 15.0
    routine_interval_s: tuple[float, float] = (60.0, 120.0)
    lesioning_interval_s: tuple[float, float] = (10.0, 30.0)
    pre_baseline_sweeps: int = 3


DEFAULT_SCHEDULE = Schedule()
SHORT_SCHEDULE = Schedule(positioning_min=8.0, exposure_min=10.0, lesioning_min=16.0,
                          closure_min=8.0, lesioning_interval_s=(15.0, 30.0))


def phase_bounds(schedule: Schedule) -> dict[str, tuple[float, float]]:
    """Start and end of each surgical phase on the surgical clock, s."""
    bounds = {}
    t = 0.0
    for name, minutes in (("positioning", schedule.positioning_min),
                          ("exposure", schedule.exposure_min),
                          ("lesioning", schedule.lesioning_min),
                          ("closure", schedule.closure_min)):
        bounds[name] = (t, t + minutes * 60.0)
        t += minutes * 60.0
    return bounds


def schedule_onsets(schedule: Schedule, rng):
    """Stimulus times (s, surgical clock), their phases and the phase bounds.

    A stimulus every ``routine_interval_s`` (uniform), every ``lesioning_interval_s`` while
    lesioning, one right at the start of lesioning.

    Returns
    -------
    onsets : array of float
    phases : list of str
    bounds : dict of str to (float, float)
    """
    bounds = phase_bounds(schedule)
    onsets, phases = [], []
    t = FIRST_STIMULUS_S
    les_start = bounds["lesioning"][0]
    while t < bounds["closure"][1] - LAST_STIMULUS_MARGIN_S:
        phase = next(n for n, (a, b) in bounds.items() if a <= t < b)
        onsets.append(t)
        phases.append(phase)
        low, high = (schedule.lesioning_interval_s if phase == "lesioning"
                     else schedule.routine_interval_s)
        nxt = t + rng.uniform(low, high)
        if (t < les_start < nxt
                and les_start + LESIONING_FIRST_STIMULUS_S - t >= schedule.lesioning_interval_s[0]):
            nxt = les_start + LESIONING_FIRST_STIMULUS_S
        t = nxt
    return np.array(onsets), phases, bounds
