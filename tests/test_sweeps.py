import numpy as np
import pandas as pd
import pytest

from iomon.errors import InputError
from iomon.sweeps import Channel, Sweeps


def make(n_sweeps=4, n_channels=2, n_samples=11, sfreq=1000.0, **table):
    rng = np.random.default_rng(0)
    data = rng.standard_normal((n_sweeps, n_channels, n_samples)) * 1e-4
    times = (np.arange(n_samples) - 2) / sfreq
    channels = [Channel("L TA", "TA", "left", "lower", "test"),
                Channel("R TA", "TA", "right", "lower", "control")][:n_channels]
    frame = pd.DataFrame({"onset_s": np.arange(n_sweeps) * 10.0,
                          "phase": ["pre-lesioning", "lesioning", "lesioning",
                                    "post-lesioning"][:n_sweeps], **table})
    return Sweeps(data, times, sfreq, channels, frame)


def test_shapes_and_defaults():
    sweeps = make()
    assert sweeps.n_sweeps == 4 and sweeps.n_channels == 2
    assert list(sweeps.table.columns[:6]) == ["onset_s", "stim_intensity", "stim_unit",
                                              "montage", "phase", "rejected"]
    assert sweeps.table["stim_intensity"].isna().all()
    assert not sweeps.table["rejected"].any()
    assert "4 sweeps x 2 channels" in repr(sweeps)


@pytest.mark.parametrize("change, message", [
    (lambda d: d[0], "shape"),
    (lambda d: d[:0], "no sweeps"),
])
def test_bad_data_is_refused(change, message):
    sweeps = make()
    with pytest.raises(InputError, match=message):
        Sweeps(change(sweeps.data), sweeps.times, sweeps.sfreq, sweeps.channels)


def test_validation_messages():
    s = make()
    with pytest.raises(InputError, match="evenly"):
        Sweeps(s.data, s.times * 1.5, s.sfreq, s.channels)
    with pytest.raises(InputError, match="unique"):
        Sweeps(s.data, s.times, s.sfreq, [Channel("A"), Channel("A")])
    with pytest.raises(InputError, match="rows"):
        Sweeps(s.data, s.times, s.sfreq, s.channels, s.table.iloc[:2])
    with pytest.raises(InputError, match="time order"):
        Sweeps(s.data, s.times, s.sfreq, s.channels, s.table.iloc[::-1])
    with pytest.raises(InputError, match="side"):
        Channel("X", side="up")
    with pytest.raises(InputError, match="sampling rate"):
        Sweeps(s.data, s.times, -1, s.channels)


def test_selection_returns_copies():
    sweeps = make()
    picked = sweeps.pick_channels("R TA")
    assert picked.ch_names == ["R TA"]
    np.testing.assert_array_equal(picked.data[:, 0], sweeps.data[:, 1])
    picked.data[:] = 0
    assert np.abs(sweeps.data).sum() > 0
    lesioning = sweeps.in_phase("lesioning")
    assert lesioning.n_sweeps == 2
    assert list(lesioning.table["onset_s"]) == [10.0, 20.0]
    lesioning.table.loc[0, "phase"] = "changed"
    assert "changed" not in set(sweeps.table["phase"])
    with pytest.raises(InputError, match="no sweep in phase"):
        sweeps.in_phase("closure")
    with pytest.raises(InputError, match="no channel"):
        sweeps.pick_channels("L AH")
    masked = sweeps.select(np.array([True, False, False, True]))
    assert masked.table["phase"].tolist() == ["pre-lesioning", "post-lesioning"]


def test_mne_round_trip():
    sweeps = make(stim_intensity=[300.0, 350, 400, 400], stim_unit=["V"] * 4)
    epochs = sweeps.to_mne()
    assert epochs.get_data().shape == sweeps.data.shape
    back = Sweeps.from_mne(epochs)
    np.testing.assert_allclose(back.data, sweeps.data)
    np.testing.assert_allclose(back.times, sweeps.times)
    assert back.ch_names == sweeps.ch_names
    assert back.channels[0].muscle == "TA" and back.channels[0].side == "left"
    assert back.table["stim_intensity"].tolist() == [300.0, 350, 400, 400]
