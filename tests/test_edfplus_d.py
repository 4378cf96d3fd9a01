"""EDF+D: one data record per sweep, each with its true start time."""

import numpy as np
import pytest

from edfplus_d import write_edfplus_d
from iomon.io import read


@pytest.fixture(scope="module")
def sweeps(small_case):
    from iomon.io import read as read_any

    return read_any(small_case[1]).sweeps


def _write(sweeps, path, with_markers, delay_s=0.0):
    """One record per sweep, each exactly the sweep window half-open (-10 to +100 ms, 550
    samples at 5 kHz), the first ``delay_s`` after the file's start time."""
    n = sweeps.n_sweeps
    stimuli = sweeps.table["onset_s"].to_numpy() + delay_s
    onsets = stimuli + sweeps.times[0]  # record = sweep window
    annotations = [(t, f"TcMEP {v:.0f}V") for t, v in zip(stimuli,
                                                         sweeps.table["stim_intensity"])]
    annotations.append((onsets[0] + 0.02, "Baseline"))
    annotations.append((stimuli[n // 2] - 0.001, "DREZ lesioning start"))
    write_edfplus_d(path, sweeps.data[:, :, :550] * 1e6, sweeps.sfreq, sweeps.ch_names,
                    onsets[:n], annotations if with_markers else [])
    return stimuli


@pytest.mark.parametrize("with_markers", [True, False])
@pytest.mark.parametrize("delay_s", [0.0, 60.0])
def test_edfplus_d_keeps_each_sweeps_true_onset(sweeps, tmp_path, with_markers, delay_s):
    """Read with the default window (-10 to +100 ms, one sample more than a record holds):
    trimmed by that sample, not refused; times count from the file's start (issue 9)."""
    path = tmp_path / "sweeps.edf"
    stimuli = _write(sweeps, path, with_markers, delay_s)
    recording = read(path)
    assert recording.format.startswith("EDF+D")
    got = recording.sweeps
    assert got.n_sweeps == sweeps.n_sweeps
    assert got.data.shape[2] == 550
    # The gaps between records are kept: each sweep's onset is its true stimulus time,
    # counted from the file's start time however late the first record begins.
    np.testing.assert_allclose(got.table["onset_s"], stimuli, atol=1.5 / sweeps.sfreq)
    assert recording.duration_s >= stimuli[-1]
    step = np.ptp(sweeps.data) / 65535
    np.testing.assert_allclose(got.data[:, :, :549], sweeps.data[:, :, :549], atol=step)
    if with_markers:
        assert any("trimmed by one sample at its end" in note for note in recording.notes)
        np.testing.assert_allclose(got.table["stim_intensity"], sweeps.table["stim_intensity"])
        # The phases and the baseline marker land on the same clock as the sweeps.
        from iomon.pipeline import analyze

        result = analyze(recording)
        phases = result.sweep_phase
        n = sweeps.n_sweeps
        assert set(phases[:n // 2]) == {"pre-lesioning"} and set(phases[n // 2:]) == {
            "lesioning"}
    else:
        # Without markers the stimulus is found from the train artefact in the data.
        assert got.times[0] == pytest.approx(sweeps.times[0], abs=1.5 / sweeps.sfreq)
        assert any("artefact" in note for note in recording.notes)


def test_our_edfplus_d_files_are_valid_for_other_readers(sweeps, tmp_path):
    import edfio
    import mne

    path = tmp_path / "sweeps.edf"
    _write(sweeps, path, True)
    assert not edfio.read_edf(path).is_continuous
    raw = mne.io.read_raw_edf(path, verbose="error")
    assert raw.ch_names[:len(sweeps.ch_names)] == sweeps.ch_names
    assert raw.n_times == sweeps.n_sweeps * 550
    # MNE joins the records end to end (losing the gaps), so only the first stimulus keeps
    # its place: 10 ms into the first record.
    first = next(o for o, d in zip(raw.annotations.onset, raw.annotations.description)
                 if d.startswith("TcMEP"))
    assert first == pytest.approx(0.010, abs=1e-3)
