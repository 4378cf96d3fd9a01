import numpy as np
import pytest

from iomon.model.annotations import (
    Annotation,
    Phase,
    assign_phases,
    complete_phases,
    find_baseline_start,
    find_stimuli,
    is_stimulus,
    phases_from_annotations,
)


@pytest.mark.parametrize("text, expected", [
    ("TcMEP", True), ("TC-MEP 400V", True), ("mep", True), ("Stim", True),
    ("stimulus 120 mA", True), ("MEPs ok", False), ("stimulated", False), ("Baseline", False),
])
def test_stimulus_words(text, expected):
    assert is_stimulus(text) is expected


def test_intensity_and_montage_are_parsed():
    stimuli = find_stimuli([
        Annotation(2.0, 0, "TcMEP 400 V C4-C3"),
        Annotation(1.0, 0, "stim 120mA"),
        Annotation(3.0, 0, "MEP"),
        Annotation(4.0, 0, "note"),
    ])
    assert [s.onset_s for s in stimuli] == [1.0, 2.0, 3.0]
    assert (stimuli[0].intensity, stimuli[0].unit) == (120.0, "mA")
    assert (stimuli[1].intensity, stimuli[1].unit, stimuli[1].montage) == (400.0, "V", "C4-C3")
    assert np.isnan(stimuli[2].intensity) and stimuli[2].unit == ""


def test_phases_from_lesioning_markers():
    notes = [Annotation(10, 0, "Baseline"), Annotation(100, 0, "DREZ lesioning start"),
             Annotation(200, 0, "lesion end")]
    phases = phases_from_annotations(notes, 300.0)
    assert [(p.name, p.start_s, p.end_s) for p in phases] == [
        ("pre-lesioning", 0.0, 100), ("lesioning", 100, 200), ("post-lesioning", 200, 300.0)]
    assert find_baseline_start(notes) == 10
    names = assign_phases([5, 100, 150, 250, 300], phases)
    assert names.tolist() == ["pre-lesioning", "lesioning", "lesioning", "post-lesioning",
                              "post-lesioning"]


def test_no_markers_means_one_phase_and_open_end():
    assert [p.name for p in phases_from_annotations([], 50.0)] == ["unassigned"]
    phases = phases_from_annotations([Annotation(20, 0, "DREZ start")], 50.0)
    assert [(p.name, p.end_s) for p in phases] == [("pre-lesioning", 20), ("lesioning", 50.0)]


def test_explicit_phases_are_completed():
    phases = complete_phases([Phase("lesioning", 100, 200)], 300)
    assert [(p.name, p.start_s, p.end_s) for p in phases] == [
        ("pre-lesioning", 0.0, 100), ("lesioning", 100, 200), ("post-lesioning", 200, 300)]
    phases = complete_phases([Phase("exposure", 50, 80)], 100)
    assert [p.name for p in phases] == ["unassigned", "exposure", "unassigned"]
