import pytest

from iomon.model.muscles import parse_channel_name


@pytest.mark.parametrize("label, side, muscle", [
    ("L TA", "left", "TA"),
    ("TA-L", "left", "TA"),
    ("Lt TA", "left", "TA"),
    ("Left Tib Ant", "left", "TA"),
    ("LTA", "left", "TA"),
    ("R APB", "right", "APB"),
    ("Rt. AH", "right", "AH"),
    ("RAPB", "right", "APB"),
    ("Right Abductor Hallucis", "right", "AH"),
    ("L Deltoid", "left", "Deltoid"),
    ("ADM_R", "right", "ADM"),
    ("Quad L", "left", "Quad"),
    ("L. TA", "left", "TA"),
    ("TIB ANT L", "left", "TA"),
    ("APB (R)", "right", "APB"),
    ("L_AH", "left", "AH"),
    ("Lt Gastroc", "left", "Gastroc"),
    ("R-Quad", "right", "Quad"),
])
def test_common_label_styles(label, side, muscle):
    assert parse_channel_name(label) == (side, muscle)


@pytest.mark.parametrize("label, expected", [
    ("EEG Fp1", (None, None)),
    ("Status", (None, None)),
    ("L XYZ", ("left", None)),
    ("Chan 3", (None, None)),
    ("", (None, None)),
])
def test_unreadable_labels_stay_unknown(label, expected):
    assert parse_channel_name(label) == expected


# Vendor labels (inomed ISIS: German and Latin muscle names, side "re"/"li"), and side words
# of other languages.
@pytest.mark.parametrize("label, side, muscle", [
    ("Tib ant re", "right", "TA"),
    ("Thenar li", "left", "APB"),
    ("Abd hall", None, "AH"),
    ("Abd hall li", "left", "AH"),
    ("Deltoideus", None, "Deltoid"),
    ("Deltoideus re", "right", "Deltoid"),
    ("Extensor", None, "Extensors"),
    ("Extensor re", "right", "Extensors"),
    ("Biceps re", "right", "Biceps"),
    ("Masseter re", "right", "Masseter"),
    ("Orb oris re", "right", "OrbOris"),
    ("Hypogloss re", "right", "Tongue"),
    ("Tib ant rechts", "right", "TA"),
    ("links Thenar", "left", "APB"),
    ("TA dx", "right", "TA"),
    ("APB sx", "left", "APB"),
    ("Tibialis anterior droite", "right", "TA"),
    ("AH izq", "left", "AH"),
    ("Quadrizeps li", "left", "Quad"),
])
def test_vendor_labels(label, side, muscle):
    assert parse_channel_name(label) == (side, muscle)


def test_face_and_tongue_muscles_are_neither_limb():
    """Corticobulbar responses next to the stimulating electrodes: short latency, no limb,
    no spinal root; a control once the case's side is known, never at risk."""
    from iomon.case.channels import decide_channels
    from iomon.case.sidecar import Case
    from iomon.model.muscles import MUSCLES

    for code in ("Masseter", "OrbOris", "Tongue"):
        muscle = MUSCLES[code]
        assert muscle.cranial and muscle.limb is None
        assert muscle.roots[0].startswith("CN ")
        assert 0.005 <= muscle.onset_s[0] < muscle.onset_s[1] <= 0.020
    assert not any(m.cranial for m in MUSCLES.values() if m.limb is not None)
    names = ["Masseter re", "Orb oris li", "Tib ant re", "Tib ant li", "Hypogloss re"]
    channels = {c.name: c for c in decide_channels(names, Case("x", side="right"))}
    assert channels["Tib ant re"].role == "test" and channels["Tib ant li"].role == "control"
    for name in ("Masseter re", "Orb oris li", "Hypogloss re"):
        assert channels[name].limb is None and channels[name].role == "control"
    assert decide_channels(["Masseter re"], Case("x"))[0].role is None  # no case side


def test_sidecar_muscle_spellings_and_unknown_muscles(tmp_path):
    from iomon.case.sidecar import read_case

    path = tmp_path / "x.case.toml"
    path.write_text('[[channels]]\nname = "Chan 1"\nmuscle = "Delt"\n\n'
                    '[[channels]]\nname = "Chan 2"\nmuscle = "Bic"\n\n'
                    '[[channels]]\nname = "Chan 3"\nmuscle = "Tib ant"\n\n'
                    '[[channels]]\nname = "Chan 4"\nmuscle = "orbicularis oris"\n\n'
                    '[[channels]]\nname = "Chan 5"\nmuscle = "Pectoralis"\n')
    case = read_case(path)
    assert [s.muscle for s in case.channels] == ["Deltoid", "Biceps", "TA", "OrbOris",
                                                 "Pectoralis"]
    assert len(case.notes) == 1
    assert "x.case.toml" in case.notes[0] and "'Chan 5'" in case.notes[0]
    assert "'Pectoralis'" in case.notes[0] and "not know" in case.notes[0]


def test_an_unknown_muscle_reaches_the_outputs_notes(small_case, tmp_path):
    from iomon.case.sidecar import read_case
    from iomon.io import read
    from iomon.pipeline import analyze

    sim, path = small_case
    sidecar = tmp_path / "case.case.toml"
    sidecar.write_text('[case]\nside = "left"\n\n[[channels]]\nname = "L TA"\n'
                       'muscle = "Tib ant"\n\n[[channels]]\nname = "R TA"\nmuscle = "Peroneus"\n')
    result = analyze(read(path), read_case(sidecar))
    assert result.sweeps.channels[result.sweeps.ch_names.index("L TA")].muscle == "TA"
    assert any("'Peroneus'" in note.words and "'R TA'" in note.words for note in result.notes)
