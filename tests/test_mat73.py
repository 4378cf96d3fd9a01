"""MATLAB v7.3 (HDF5) sweep tables (issue 19): the same variables as a v5 file, read with h5py
under the parse guard; files written in MATLAB's layout by benchmarks/fuzz_seeds.py."""

import sys
from pathlib import Path

import numpy as np
import pytest

from iomon.io import read
from iomon.model.errors import InputError
from test_readers import check_recording

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from fuzz_seeds import write_mat73  # noqa: E402


@pytest.fixture(scope="module")
def sweeps(small_case):
    return read(small_case[1]).sweeps


def _variables(sweeps):
    return {"data": sweeps.data * 1e6, "sfreq": sweeps.sfreq,
            "first_sample_ms": sweeps.times[0] * 1e3, "channels": list(sweeps.ch_names),
            "onset_s": sweeps.table["onset_s"].to_numpy(),
            "stim_intensity": sweeps.table["stim_intensity"].to_numpy()}


def test_v73_reads_as_its_v5_twin(sweeps, tmp_path):
    import scipy.io

    variables = _variables(sweeps)
    v73 = tmp_path / "sweeps73.mat"
    write_mat73(v73, variables)
    assert v73.read_bytes().startswith(b"MATLAB 7.3 MAT-file")
    v5 = tmp_path / "sweeps5.mat"
    scipy.io.savemat(v5, dict(variables, channels=np.array(variables["channels"],
                                                           dtype=object)))
    new, old = read(v73), read(v5)
    check_recording(new)
    assert new.reader.startswith("h5py") and old.reader == "scipy.io.loadmat"
    assert new.sweeps.ch_names == old.sweeps.ch_names == sweeps.ch_names
    np.testing.assert_array_equal(new.sweeps.data, old.sweeps.data)
    np.testing.assert_allclose(new.sweeps.data, sweeps.data, atol=1e-15)
    np.testing.assert_array_equal(new.sweeps.times, old.sweeps.times)
    assert new.sweeps.table.equals(old.sweeps.table)
    # Column-major: a sweeps x channels x samples array read in MATLAB's order, not HDF5's.
    assert new.sweeps.data.shape == sweeps.data.shape


def test_v73_with_a_sidecar_layout(sweeps, tmp_path):
    """One channel stored samples x sweeps and named by the sidecar, as for v5 files."""
    from iomon.case.sidecar import read_case

    path = tmp_path / "one.mat"
    write_mat73(path, {"meps": sweeps.data[:, 2].T * 1e6})
    sidecar = tmp_path / "one.case.toml"
    sidecar.write_text('[tabular]\ndata_variable = "meps"\nlayout = "samples,sweeps"\n'
                       f'sfreq_hz = {sweeps.sfreq:g}\nfirst_sample_ms = -10\n'
                       'channels = ["L TA"]\n')
    recording = read(path, read_case(sidecar).read_options)
    np.testing.assert_allclose(recording.sweeps.data[:, 0], sweeps.data[:, 2], atol=1e-15)


def _refused(path, match):
    with pytest.raises(InputError, match=match) as info:
        read(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_damaged_v73_files_are_refused_in_one_line(sweeps, tmp_path):
    good = tmp_path / "good.mat"
    write_mat73(good, _variables(sweeps))
    raw = good.read_bytes()
    cut = tmp_path / "cut.mat"
    cut.write_bytes(raw[:len(raw) // 2])
    _refused(cut, "MATLAB v7.3")
    wiped = tmp_path / "wiped.mat"
    wiped.write_bytes(raw[:512] + bytes(len(raw) - 512))  # no HDF5 superblock
    _refused(wiped, "MATLAB v7.3")
    # Damage in the middle of the file, where the data and the object headers lie.
    flipped = bytearray(raw)
    for at in range(600, len(raw), 997):
        flipped[at] ^= 0xFF
    scrambled = tmp_path / "scrambled.mat"
    scrambled.write_bytes(bytes(flipped))
    try:
        recording = read(scrambled)
    except InputError as err:
        assert "\n" not in str(err) and "scrambled.mat" in str(err)
    else:  # HDF5 did not notice: then what was read is still a valid recording
        check_recording(recording)


def test_a_broken_cell_reference_is_refused(sweeps, tmp_path):
    import h5py

    path = tmp_path / "refs.mat"
    write_mat73(path, _variables(sweeps))
    with h5py.File(path, "r+") as f:
        refs = f["channels"][()]
        refs[0, 0] = h5py.Reference()  # a null reference: it points nowhere
        f["channels"][...] = refs
    _refused(path, "reference is broken|damaged MATLAB v7.3")


def test_v73_limits(sweeps, tmp_path, monkeypatch):
    from iomon.io import mat73

    path = tmp_path / "big.mat"
    write_mat73(path, _variables(sweeps))
    monkeypatch.setattr(mat73, "MAX_VALUES", 1000)
    _refused(path, "past 1000 values")
