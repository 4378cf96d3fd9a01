import pytest

from iomon.case.channels import decide_channels
from iomon.case.sidecar import Case, read_case
from iomon.model.errors import InputError

GOOD = """
[case]
id = "P03"
side = "left"
levels = ["C5", "C6", "C7", "C8"]

[[channels]]
name = "Chan 7"
muscle = "ta"
side = "left"
limb = "lower"

[[channels]]
name = "R TA"
role = "test"

[[phases]]
name = "lesioning"
start_s = 5400.0
end_s = 7800.0

[clinical]
sex = "F"
age = 66
surgery_date = 2023-10-04
new_deficit = false
"""


def write(tmp_path, text, name="x.case.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_sidecar_is_read(tmp_path):
    case = read_case(write(tmp_path, GOOD))
    assert case.id == "P03" and case.side == "left" and case.levels[-1] == "C8"
    assert case.phases[0].start_s == 5400.0
    assert case.clinical["surgery_date"] == "2023-10-04"
    channels = decide_channels(["Chan 7", "R TA", "L AH", "Misc"], case)
    facts = {c.name: (c.muscle, c.side, c.limb, c.role) for c in channels}
    assert facts["Chan 7"] == ("TA", "left", "lower", "test")
    assert facts["R TA"] == ("TA", "right", "lower", "test")  # explicit role wins
    assert facts["L AH"] == ("AH", "left", "lower", "test")  # ipsilateral = test
    assert facts["Misc"] == (None, None, None, None)  # unknown stays unknown


def test_roles_without_a_case_side_stay_unknown():
    channels = decide_channels(["L TA", "R TA"], Case("x"))
    assert [c.role for c in channels] == [None, None]


@pytest.mark.parametrize("text, message", [
    ('[case]\nside = "up"\n', "case.side"),
    ('[case]\nlevels = ["X9"]\n', "not a root level"),
    ('[case]\ncolour = "red"\n', "unknown key 'colour'"),
    ('[[phases]]\nname = "a"\nstart_s = 10\nend_s = 5\n', "must be after"),
    ('[[phases]]\nname = "a"\nstart_s = -1\nend_s = 5\n', "seconds >= 0"),
    ('[[channels]]\nname = "L TA"\nrole = "boss"\n', "role"),
    ('[clinical]\nage = "old"\n', "clinical.age"),
    ("[case\n", "not valid TOML"),
])
def test_bad_sidecars_are_refused_with_the_file_named(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(InputError, match=message) as info:
        read_case(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_sidecar_channel_missing_from_recording(tmp_path):
    case = read_case(write(tmp_path, '[[channels]]\nname = "L XX"\n'))
    with pytest.raises(InputError, match="lacks"):
        decide_channels(["L TA"], case)
