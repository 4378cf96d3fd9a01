"""A simulated DREZ case series: an archive of cases with ``[clinical]`` filled, for batch runs.

The clinical facts follow what published DREZ series for brachial plexus avulsion pain
report: mostly young men after motorcycle accidents, pain scores of 7-10 before surgery, about
half with complete relief after it. They are drawn from a seeded generator, so the same seed
gives the same series. ``new_deficit`` follows the monitoring truth: a case whose injected leg
drop lasts to the end of the case (``focal_persistent``, ``loss``) leaves a new deficit in the
leg of the lesioning side (``deficit_limbs``), every other case none, so an alert audit run on
the series has an answer to find, per case and per limb.
"""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path

import numpy as np

__all__ = ["COHORT_SCENARIOS", "clinical_facts", "write_cohort"]

#: The scenarios of a simulated series, taken in turn (a series of 6 holds two new deficits).
COHORT_SCENARIOS = ("focal_recovering", "stable", "focal_persistent", "systemic", "loss",
                    "fade", "cautery", "systemic_focal", "threshold")
#: Scenarios whose injected injury lasts to the end of the case: the patient wakes with a new
#: deficit.
DEFICIT_SCENARIOS = ("focal_persistent", "loss")
#: Avulsed root levels, drawn per case.
_LEVELS = (("C5", "C6", "C7", "C8"), ("C5", "C6", "C7", "C8", "T1"), ("C6", "C7", "C8", "T1"),
           ("C5", "C6", "C7"))
_ETIOLOGIES = ("motorcycle accident", "car accident", "fall from height", "other trauma")
_ETIOLOGY_SHARE = (0.7, 0.15, 0.1, 0.05)
_FIRST_DATE = datetime.date(2019, 3, 4)


def clinical_facts(index: int, scenario: str, rng: np.random.Generator, side: str = "left"
                   ) -> dict:
    """The ``[clinical]`` table of the ``index``-th case of a series (0-based).

    A new deficit is in the leg of the lesioning ``side`` (``deficit_limbs``), where the
    simulator drops the responses.
    """
    vas_pre = int(rng.integers(7, 11))
    outcome = rng.choice(3, p=(0.5, 0.35, 0.15))  # complete, partial, poor relief
    vas_post = (0 if outcome == 0 else int(rng.integers(1, 5)) if outcome == 1
                else int(rng.integers(5, vas_pre + 1)))
    deficit = scenario in DEFICIT_SCENARIOS
    complications = ("new weakness of the ipsilateral leg" if deficit
                     else "CSF leak" if rng.random() < 0.1 else "")
    date = _FIRST_DATE + datetime.timedelta(days=75 * index + int(rng.integers(0, 40)))
    return {
        "sex": "M" if rng.random() < 0.85 else "F",
        "age": int(np.clip(round(rng.normal(33.0, 10.0)), 18, 70)),
        "etiology": str(rng.choice(_ETIOLOGIES, p=_ETIOLOGY_SHARE)),
        "surgery_date": date.isoformat(),
        "vas_pre": vas_pre,
        "vas_post": vas_post,
        "analgesics_post": bool(vas_post >= 3 or rng.random() < 0.15),
        "complications": complications,
        "new_deficit": deficit,
        "deficit_limbs": [f"{side} lower"] if deficit else [],
    }


def write_cohort(out_dir: str | Path, n_cases: int, seed: int = 0, **simulate_kwargs
                 ) -> list[Path]:
    """Simulate ``n_cases`` DREZ cases with clinical facts and write them into ``out_dir``.

    Cases are named ``P01``, ``P02``, ...; each is written as its recording, its sidecar (with
    ``[clinical]``) and its ground truth, by :func:`~iomon.sim.write_simulated_case`.

    Parameters
    ----------
    out_dir : str or Path
    n_cases : int
    seed : int
        Seed of the series; case ``i`` uses the seed ``seed * 1000 + i``.
    **simulate_kwargs
        Passed to :func:`~iomon.sim.simulate_case` (muscles, schedule, time_compression, ...).

    Returns
    -------
    list of Path
        The recordings.
    """
    from . import simulate_case, write_simulated_case

    paths = []
    for index in range(n_cases):
        scenario = COHORT_SCENARIOS[index % len(COHORT_SCENARIOS)]
        rng = np.random.default_rng([seed, index])
        case_id = f"P{index + 1:02d}"
        side = "left" if rng.random() < 0.6 else "right"
        levels = _LEVELS[int(rng.integers(len(_LEVELS)))]
        clinical = clinical_facts(index, scenario, rng, side)
        sim = simulate_case(scenario, seed * 1000 + index, side=side, levels=levels,
                            case_id=case_id, **simulate_kwargs)
        sim.case = dataclasses.replace(sim.case, clinical=clinical,
                                       procedure="DREZ lesioning")
        paths.append(write_simulated_case(sim, out_dir, stem=case_id))
    return paths
