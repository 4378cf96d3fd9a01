"""The scenario suite against the alerting's targets (iomon.sim.scoring), with margins.

The benchmark (benchmarks/scenario_suite.py) runs 20 seeds per scenario; here fewer, so the
bounds leave room for sampling: a target of "every drop found" is asserted exactly, rates with
a margin of one event over the hours simulated. Every case is acquired as a theatre might
(sampling rate, stimulus train, amplifier saturation, sweep window drawn from its seed:
:func:`iomon.sim.acquisition.draw_acquisition`), not at one fixed setting.
"""

import pytest

from iomon.alerting.criteria import PRESETS
from iomon.sim.scoring import TARGETS, CaseScore, run_suite, score_case, summarise

pytestmark = pytest.mark.slow
SEEDS = range(100, 108)


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    folder = tmp_path_factory.mktemp("suite")
    scores = run_suite(["stable", "focal_recovering", "focal_persistent", "loss", "systemic",
                        "systemic_focal", "fade", "threshold"], SEEDS, folder=folder,
                       acquisition="drawn")
    scores["stable cv 0.5"] = run_suite(["stable"], SEEDS, folder=folder, cv=0.5,
                                        acquisition="drawn")["stable"]
    return {name: summarise(runs) for name, runs in scores.items()}


def test_every_injected_focal_drop_is_found_within_three_sweeps(suite):
    for name in ("focal_recovering", "focal_persistent", "loss"):
        row = suite[name]
        assert row["sensitivity"] == TARGETS["sensitivity"], name
        assert row["max_delay"] <= TARGETS["max_delay_sweeps"], name
        assert row["recovery_ok"] == TARGETS["recovery_ok"], name
        assert row["false_focal"] == 0, name


def test_false_focal_alerts_in_stable_cases_are_rare(suite):
    # Target: <= 1 per 10 case-hours at CV 35-50 %; the literature CVs (27-48 %) and every
    # muscle at 50 %. Margin: one alert more than the target allows over these hours.
    for name in ("stable", "stable cv 0.5"):
        row = suite[name]
        allowed = TARGETS["false_focal_per_h"] * row["case_hours"] + 1
        assert row["false_focal"] <= allowed, (name, row)


def test_systemic_events_are_systemic_and_fade_is_not_focal(suite):
    # Target 95 %; over 8 cases one miss (87.5 %) is the margin.
    assert suite["systemic"]["systemic_ok"] >= 7 / 8
    assert suite["systemic"]["false_focal"] <= 1
    # An injury during the systemic event is still focal, and only the injured legs are.
    both = suite["systemic_focal"]
    assert both["sensitivity"] == 1.0 and both["false_focal"] <= 1
    assert both["systemic_ok"] >= 7 / 8
    fade = suite["fade"]
    assert fade["false_focal"] <= TARGETS["false_focal_per_h"] * fade["case_hours"] + 1


def test_threshold_rise_is_found(suite):
    """Exports of one file per sweep state no intensity: their threshold rises are not
    scored (the criterion does not apply); every rise an export shows is found."""
    row = suite["threshold"]
    assert row["injected"] >= 6
    assert row["sensitivity"] == 1.0
    assert row["recovery_ok"] >= 0.9
    assert row["false_focal"] <= 1


def test_scoring_counts_what_it_should(cases):
    """The scorer itself: a found drop, and a missed one when the criterion cannot see it."""
    sim, result = cases.analyse("focal_persistent", 0)
    score = score_case(sim, result)
    assert isinstance(score, CaseScore)
    assert (score.injected, score.found, score.false_focal) == (2, 2, 0)
    assert score.recovery_ok == [True, True]
    # A criterion needing a 100 % drop never fires on a drop to 20 %: nothing found.
    import dataclasses

    from iomon.io import read
    from iomon.pipeline import analyze, load_case

    _, path = cases.write("focal_persistent", 0)
    blind = dataclasses.replace(PRESETS["fifty"], name="blind", amplitude_drop_percent=100.0)
    missed = score_case(sim, analyze(read(path), load_case(path), blind))
    assert (missed.injected, missed.found) == (2, 0)


def test_presets_compared_per_muscle_group_on_the_same_case():
    """issue 15: one case measured once, scored per preset and per muscle group."""
    from iomon.sim.scoring import (
        DROP_MUSCLES,
        LONG_SCHEDULE,
        MUSCLE_GROUPS,
        compare_presets,
        drop_class_options,
    )

    assert LONG_SCHEDULE.positioning_min + LONG_SCHEDULE.exposure_min + (
        LONG_SCHEDULE.lesioning_min + LONG_SCHEDULE.closure_min) == 300.0
    presets = [PRESETS["drez"], PRESETS["drez-cusum"]]
    fixed, sequential = (runs["focal_recovering"] for runs in compare_presets(
        ["focal_recovering"], [3], presets, **drop_class_options(60, 6)))
    assert [s.criteria for s in fixed + sequential] == ["drez", "drez-cusum"]
    for scores in (fixed, sequential):
        # Every lesioning-side muscle dropped, each counted in exactly one group.
        assert sorted(e.muscle for e in scores[0].events) == sorted(DROP_MUSCLES)
        per_group = [summarise(scores, muscles) for muscles in MUSCLE_GROUPS.values()]
        assert sum(g["injected"] for g in per_group) == summarise(scores)["injected"] == 6
    for muscles in (("TA",), ("AH",), None):
        found = [summarise(s, muscles)["sensitivity"] for s in (fixed, sequential)]
        assert found[1] >= found[0], muscles
