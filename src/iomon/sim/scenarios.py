"""Scenarios of simulated cases, as data: what each one injects into the physiology.

A scenario is a :class:`Scenario`; :data:`SCENARIOS` lists them. Drops are placed on the
lesioning phase by fractions of its length, so that they fall where a surgeon works whatever
the schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SCENARIOS", "Drop", "Scenario"]

#: Intensity of routine monitoring (V) and of threshold-level monitoring (Calancie 1998: one or
#: two 50 V steps above the intensity that first evokes the leg muscles in the ramp-up).
ROUTINE_INTENSITY_V = 400.0
THRESHOLD_LEVEL_V = 300.0


@dataclass(frozen=True)
class Drop:
    """An amplitude drop during lesioning.

    Attributes
    ----------
    level : float
        Share of the amplitude left during the drop (multiplies what is there).
    start, end : float
        Where it starts and ends, as fractions of the lesioning phase; ``end`` None: it lasts
        to the end of the case.
    after : float or None
        Share of the amplitude after it ends (None: back to what it was).
    recovers : bool
        Whether the truth calls it recovering.
    """

    level: float
    start: float
    end: float | None
    after: float | None = None
    recovers: bool = False


@dataclass(frozen=True)
class Scenario:
    """What a simulated case injects.

    Attributes
    ----------
    name, description : str
    focal : Drop or None
        On the ipsilateral leg muscles.
    focal_kind : str
        ``"focal"``, or ``"loss"`` for a drop to nothing.
    systemic : Drop or None
        On every channel (blood pressure).
    fade_to : float or None
        Every channel declines steadily to this share by the end (anaesthetic fade).
    cautery_share : float
        Share of the exposure and lesioning sweeps with an electrocautery burst.
    threshold_rise_v : float
        Rise of the ipsilateral leg threshold over lesioning, V; the team then monitors at
        threshold level and chases it.
    focal_muscles : tuple of str or None
        The muscles whose channels on the lesioning side ``focal`` drops (None: the leg
        muscles, where a DREZ injury shows first).
    """

    name: str
    description: str
    focal: Drop | None = None
    focal_kind: str = "focal"
    systemic: Drop | None = None
    fade_to: float | None = None
    cautery_share: float = 0.03
    threshold_rise_v: float = 0.0
    focal_muscles: tuple[str, ...] | None = None

    @property
    def intensity_v(self) -> float:
        """The monitoring intensity after the ramp-up."""
        return THRESHOLD_LEVEL_V if self.threshold_rise_v else ROUTINE_INTENSITY_V

    def focal_targets(self, channels) -> np.ndarray:
        """Which channels the focal drop reaches: shape (n_channels,), bool."""
        return np.array([ch.role == "test" and (ch.limb == "lower" if self.focal_muscles is None
                                                else ch.muscle in self.focal_muscles)
                         for ch in channels], bool)


_LEGS_DROP = Drop(0.2, 0.35, 0.65, after=0.9, recovers=True)
_BLOOD_PRESSURE = Drop(0.3, 0.35, 0.70, recovers=True)

#: Every scenario, by name.
SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("stable", "no change beyond variability and mild fade"),
    Scenario("focal_recovering", "ipsilateral leg muscles drop to ~20 % during lesioning, then "
             "recover", focal=_LEGS_DROP),
    Scenario("focal_persistent", "ipsilateral leg muscles drop to ~20 % during lesioning, to "
             "the end", focal=Drop(0.2, 0.35, None)),
    Scenario("loss", "ipsilateral leg responses disappear during lesioning, to the end",
             focal=Drop(0.0, 0.35, None), focal_kind="loss"),
    Scenario("systemic", "every channel drops to ~30 % during lesioning (blood pressure), then "
             "recovers", systemic=_BLOOD_PRESSURE),
    Scenario("systemic_focal", "as systemic, and the ipsilateral leg muscles lose a further 80 "
             "% over the same sweeps (an injury during a blood-pressure drop)",
             systemic=_BLOOD_PRESSURE, focal=Drop(0.2, 0.35, 0.70, recovers=True)),
    Scenario("fade", "every channel declines steadily to ~60 % by the end (anaesthetic fade)",
             fade_to=0.6),
    Scenario("cautery", "electrocautery bursts contaminate about 15 % of the sweeps",
             cautery_share=0.15),
    Scenario("threshold", "threshold-level monitoring: the ipsilateral leg threshold rises 200 "
             "V during lesioning and the team chases it in 50 V steps", threshold_rise_v=200.0),
)}


def drop_span(drop: Drop, nominal, lesioning, case_end, n_sweeps=None):
    """Start and end of a drop on the surgical clock, s.

    ``n_sweeps`` makes a brief drop: the first that many sweeps from its start.
    """
    les_start, les_end = lesioning
    start = les_start + drop.start * (les_end - les_start)
    end = case_end if drop.end is None else les_start + drop.end * (les_end - les_start)
    if n_sweeps is not None:
        after = np.flatnonzero(nominal >= start)[n_sweeps:]
        end = nominal[after[0]] if after.size else case_end
    return start, end


def amplitude_factors(scenario, nominal, lesioning, case_end, legs, focal_sweeps=None):
    """Per sweep x channel amplitude factor the scenario injects, and its events.

    Parameters
    ----------
    scenario : Scenario
    nominal : array of float, shape (n_sweeps,)
        Stimulus times on the surgical clock, s.
    lesioning : (float, float)
    case_end : float
    legs : array of bool, shape (n_channels,)
        The channels a focal drop reaches (:meth:`Scenario.focal_targets`: the ipsilateral
        leg channels unless the scenario names other muscles).
    focal_sweeps : int, optional
        A brief focal drop of this many sweeps.

    Returns
    -------
    factor : array of float, shape (n_sweeps, n_channels)
    events : list of (kind, Drop, start_s, end_s, level, on_legs) in the order they were
        applied (surgical clock).
    """
    factor = np.ones((nominal.size, legs.size))
    events = []
    if scenario.systemic is not None:
        start, end = drop_span(scenario.systemic, nominal, lesioning, case_end)
        factor[(nominal >= start) & (nominal < end)] *= scenario.systemic.level
        events.append(("systemic", scenario.systemic, start, end, scenario.systemic.level,
                        False))
    if scenario.focal is not None:
        drop = scenario.focal
        start, end = drop_span(drop, nominal, lesioning, case_end, focal_sweeps)
        factor[np.ix_((nominal >= start) & (nominal < end), legs)] *= drop.level
        if drop.after is not None:
            factor[np.ix_(nominal >= end, legs)] *= drop.after
        level = drop.level * (scenario.systemic.level if scenario.systemic else 1.0)
        events.append((scenario.focal_kind, drop, start, min(end, case_end), level, True))
    return factor, events
