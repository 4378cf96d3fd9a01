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
