import numpy as np
import pandas as pd
import pytest

from iomon.model.errors import InputError
from iomon.model.sweeps import Channel, Sweeps


def make(n_sweeps=4, n_channels=2, n_samples=11, sfreq=1000.0, **table):
    rng = np.random.default_rng(0)
    data = rng.standard_normal((n_sweeps, n_channels, n_samples)) * 1e-4
    times = (np.arange(n_samples) - 2) / sfreq
    channels = [Channel("L TA", "TA", "left", "lower", "test"),
                Channel("R TA", "TA", "right", "lower", "control")][:n_channels]
    frame = pd.DataFrame({"onset_s": np.arange(n_sweeps) * 10.0,
                          "montage": ["C3-C4", "C4-C3", "C4-C3", "C3-C4"][:n_sweeps], **table})
    return Sweeps(data, times, sfreq, channels, frame)


def test_shapes_and_defaults():
    sweeps = make()
    assert sweeps.n_sweeps == 4 and sweeps.n_channels == 2
    assert list(sweeps.table.columns) == ["onset_s", "stim_intensity", "stim_unit", "montage"]
    assert sweeps.table["stim_intensity"].isna().all()
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
    with pytest.raises(InputError, match="no channel"):
        sweeps.pick_channels("L AH")
    masked = sweeps.select(np.array([True, False, False, True]))
    assert masked.table["montage"].tolist() == ["C3-C4", "C3-C4"]
    assert list(masked.table["onset_s"]) == [0.0, 30.0]
    with pytest.raises(InputError, match="holds no sweep"):
        sweeps.select(np.zeros(4, bool))


def test_the_model_cannot_be_changed_in_place():
    """Issue 10: data read-only, the table handed out as a copy, changes make new Sweeps."""
    sweeps = make()
    with pytest.raises(ValueError, match="read-only"):
        sweeps.data[0, 0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        sweeps.times[0] = 1.0
    table = sweeps.table
    table.loc[0, "montage"] = "changed"
    assert "changed" not in set(sweeps.table["montage"])
    with pytest.raises(AttributeError):
        sweeps.data = np.zeros(3)
    louder = sweeps.replace(data=sweeps.data * 2)
    np.testing.assert_allclose(louder.data, sweeps.data * 2)
    assert louder.table.equals(sweeps.table) and louder.channels == sweeps.channels
    with pytest.raises(InputError, match="shape"):
        sweeps.replace(data=sweeps.data[:, :, :5])


def test_mne_round_trip():
    sweeps = make(stim_intensity=[300.0, 350, 400, 400], stim_unit=["V"] * 4)
    epochs = sweeps.to_mne()
    assert epochs.get_data().shape == sweeps.data.shape
    back = Sweeps.from_mne(epochs)
    np.testing.assert_allclose(back.data, sweeps.data)
    np.testing.assert_allclose(back.times, sweeps.times)
    assert back.ch_names == sweeps.ch_names
    assert back.channels[0].muscle is None  # facts are decided with the case, not here
    kept = Sweeps.from_mne(epochs, sweeps.channels)
    assert kept.channels[0].muscle == "TA" and kept.channels[0].side == "left"
    assert back.table["stim_intensity"].tolist() == [300.0, 350, 400, 400]


def test_a_table_given_as_columns_is_the_table_given_as_a_dataframe():
    """Readers give the sweep table as columns, so an analysis needs no pandas: the DataFrame
    made from them when asked for, and every column read without it, are those of the same
    table given as a DataFrame, in selections too."""
    n = 5
    columns = {"onset_s": [0.5, 1.0, 1.5, None, 3.0],
               "stim_intensity": [400.0, None, float("nan"), 350, 300.0],
               "stim_unit": ["V", None, "V", float("nan"), ""],
               "montage": ["C3-C4", "", None, "C3-C4", "Cz"],
               "frame_state": [1, 2, 3, 4, 5]}
    data = np.zeros((n, 2, 10))
    channels = [Channel("a"), Channel("b")]
    by_columns = Sweeps(data, np.arange(10) / 1000.0, 1000.0, channels, columns)
    by_frame = Sweeps(data, np.arange(10) / 1000.0, 1000.0, channels, pd.DataFrame(columns))
    pd.testing.assert_frame_equal(by_columns.table, by_frame.table)
    for name in ("onset_s", "stim_intensity", "stim_unit", "montage", "frame_state"):
        np.testing.assert_array_equal(by_columns.column(name), by_frame.table[name].to_numpy())
    keep = np.array([True, False, True, True, False])
    for pick in (lambda s: s.select(keep), lambda s: s.pick_channels(["b"]),
                 lambda s: s.replace(data=data + 1.0)):
        pd.testing.assert_frame_equal(pick(by_columns).table, pick(by_frame).table)
    core = {k: v for k, v in columns.items() if k != "frame_state"}
    only_core = Sweeps(data, np.arange(10) / 1000.0, 1000.0, channels, core)
    pd.testing.assert_frame_equal(only_core.select(keep).table,
                                  Sweeps(data, np.arange(10) / 1000.0, 1000.0, channels,
                                         pd.DataFrame(core)).select(keep).table)
    assert list(Sweeps(data, np.arange(10) / 1000.0, 1000.0, channels).column("montage")) == [
        ""] * n
    # Values other than numbers and text are read as pandas reads them.
    foreign = {"stim_intensity": [np.float32(400), None, True, "350", 300],
               "montage": [pd.NA, np.float32("nan"), b"C3-C4", "Cz", None]}
    by_columns = Sweeps(data, np.arange(10) / 1000.0, 1000.0, channels, foreign)
    by_frame = Sweeps(data, np.arange(10) / 1000.0, 1000.0, channels, pd.DataFrame(foreign))
    pd.testing.assert_frame_equal(by_columns.table, by_frame.table)
    for name in ("stim_intensity", "montage"):
        np.testing.assert_array_equal(by_columns.column(name), by_frame.table[name].to_numpy())
    with pytest.raises(InputError, match="4 rows for 5 sweeps"):
        Sweeps(data, np.arange(10) / 1000.0, 1000.0, channels, {"onset_s": [0.0, 1, 2, 3]})
