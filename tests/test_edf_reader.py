import os

import numpy as np
import pytest

from iomon.io import read
from iomon.model.errors import InputError


def test_simulated_case_round_trip(small_case):
    sim, path = small_case
    recording = read(path)
    sweeps = recording.sweeps
    truth = sim.truth
    assert recording.format == "EDF+C"
    assert sweeps.n_sweeps == len(truth.sweeps.onset_s)
    np.testing.assert_allclose(sweeps.table["onset_s"], truth.sweeps.onset_s, atol=1e-6)
    np.testing.assert_allclose(sweeps.table["stim_intensity"], truth.sweeps.intensity_v)
    assert set(sweeps.table["stim_unit"]) == {"V"} and set(sweeps.table["montage"]) == {"C3-C4"}
    assert sweeps.ch_names == [c.name for c in sim.channels]
    # The reader knows channels by name; their facts are decided with the case (from the
    # names alone here, as without a sidecar).
    from iomon.case.channels import decide_channels
    from iomon.case.sidecar import Case

    assert all(c.muscle is None for c in sweeps.channels)
    decided = decide_channels(sweeps.ch_names, Case("x"))
    assert [(c.muscle, c.side) for c in decided] == [(c.muscle, c.side) for c in sim.channels]
    # The cut windows hold exactly the simulated signal, in volts, to 16-bit resolution.
    sfreq = sim.sfreq
    first = int(round(sweeps.times[0] * sfreq))
    for i in (0, sweeps.n_sweeps // 2, sweeps.n_sweeps - 1):
        start = int(round(truth.sweeps.onset_s[i] * sfreq)) + first
        expected = sim.signals[:, start:start + sweeps.data.shape[2]]
        step = np.ptp(sim.signals, axis=1, keepdims=True) / 65535
        assert np.all(np.abs(sweeps.data[i] - expected) <= step + 1e-12)
    assert sweeps.times[0] == pytest.approx(-0.010) and sweeps.times[-1] == pytest.approx(0.100)
    assert "Synthetic_Patient" in recording.patient


def test_trigger_channel_gives_the_stimuli(tmp_path):
    from edfio import Edf, EdfSignal

    sfreq = 2000.0
    n = int(20 * sfreq)
    trigger = np.zeros(n)
    onsets = [2.0, 7.5, 13.25]
    for t in onsets:
        trigger[int(t * sfreq):int(t * sfreq) + 4] = 5.0
    emg = np.random.default_rng(0).standard_normal(n) * 5.0
    path = tmp_path / "trig.edf"
    Edf([EdfSignal(emg, sfreq, label="L TA", physical_dimension="uV"),
         EdfSignal(trigger, sfreq, label="TRIG", physical_dimension="V")]).write(path)
    recording = read(path)
    np.testing.assert_allclose(recording.sweeps.table["onset_s"], onsets)
    assert recording.sweeps.ch_names == ["L TA"]
    assert recording.sweeps.data.std() == pytest.approx(5e-6, rel=0.2)


def test_bad_files(tmp_path, small_case):
    _, good = small_case
    cases = {
        "missing.edf": None,
        "text.edf": b"this is not an EDF file at all" * 20,
        "tiny.edf": b"0   ",
        "truncated.edf": good.read_bytes()[:200_000],
        "notes.xyz": b"hello",
    }
    messages = {"missing.edf": "not found", "text.edf": "not an EDF",
                "tiny.edf": "not an EDF", "truncated.edf": "truncated",
                "notes.xyz": "not a recording iomon reads"}
    for name, content in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(InputError, match=messages[name]) as info:
            read(path)
        assert name in str(info.value) and "\n" not in str(info.value)


def test_recording_without_stimuli(tmp_path):
    from edfio import Edf, EdfSignal

    path = tmp_path / "quiet.edf"
    Edf([EdfSignal(np.zeros(10_000), 1000, label="L TA", physical_dimension="uV",
                   physical_range=(-100, 100))]).write(path)
    with pytest.raises(InputError, match="no stimuli found"):
        read(path)


def test_input_file_is_not_modified(small_case):
    import hashlib

    _, path = small_case
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    read(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_real_edf_files_read_or_refuse_cleanly(realdata):
    """Files written by other software: a valid case model or one clear refusal, never a crash."""
    outcomes = {}
    for path in sorted((realdata / "edf").iterdir()):
        try:
            recording = read(path)
        except InputError as err:
            assert path.name in str(err) and "\n" not in str(err)
            outcomes[path.name] = "refused"
            continue
        sweeps = recording.sweeps
        assert sweeps.data.ndim == 3 and np.isfinite(sweeps.data).all()
        assert np.all(np.diff(sweeps.times) > 0)
        assert len(sweeps.table) == sweeps.n_sweeps
        assert np.all(np.diff(sweeps.table["onset_s"]) >= 0)
        outcomes[path.name] = "read"
    # The BioSemi files carry a Status trigger channel and must read.
    assert outcomes["test_bdf_stim_channel.bdf"] == "read"
    assert outcomes["test.bdf"] == "read"
    assert outcomes["test_edf_stim_channel.edf"] == "read"


def test_subsecond_start_and_inverted_gain(realdata):
    """pyedflib's test file: the first record starts 0.39 s after the header's start time and
    physical_min > physical_max. Its XLSpike annotations serve as stimuli."""
    import edfio

    from iomon.io import ReadOptions

    path = realdata / "edf" / "test_subsecond.edf"
    recording = read(path, ReadOptions(stimulus_channel="XLSpike", window_s=(-0.1, 0.5)))
    reference = edfio.read_edf(path)
    signal = reference.signals[0].data * 1e-6
    spikes = [a.onset for a in reference.annotations if a.text == "XLSpike"]
    sfreq = 128.0
    assert recording.sweeps.n_sweeps == len(spikes)
    # Times count from the header's start time: the first record begins 0.39 s after it
    # (edfio folds that offset into its start time instead).
    np.testing.assert_allclose(recording.sweeps.table["onset_s"], np.array(spikes) + 0.3945312,
                               atol=1e-6)
    for i, onset in enumerate(spikes):
        # edfio's onsets count from the first sample.
        start = int(round(onset * sfreq)) + int(round(-0.1 * sfreq))
        np.testing.assert_allclose(recording.sweeps.data[i, 0],
                                   signal[start:start + recording.sweeps.data.shape[2]])
    # The inverted range flips the sign of the gain, not the data: edfio and MNE agree.
    import mne

    raw = mne.io.read_raw_edf(path, verbose="error")
    np.testing.assert_allclose(raw.get_data()[0, :1000], signal[:1000], atol=1e-9)


def test_mixed_rates_keep_the_dominant_rate(realdata):
    """EDFlib's generator file: signals at 1000-2000 Hz; its square wave serves as trigger."""
    from iomon.io import ReadOptions

    path = realdata / "edf" / "test_generator_datarec_generator_0_5.bdf"
    recording = read(path, ReadOptions(stimulus_channel="square 26Hz"))
    assert recording.sweeps.sfreq == 2000.0
    assert any("other sampling rates" in note for note in recording.notes)
    assert "square 26Hz" not in recording.sweeps.ch_names
    # A 26 Hz square wave rises every 38.5 ms.
    gaps = np.diff(recording.sweeps.table["onset_s"])
    np.testing.assert_allclose(np.median(gaps), 1 / 26, rtol=0.02)


def test_duplicate_labels_are_numbered(realdata):
    from iomon.io import ReadOptions

    path = realdata / "edf" / "duplicate_channel_labels.edf"
    recording = read(path, ReadOptions(stimulus_channel="EEG F2-Ref"))
    names = recording.sweeps.ch_names
    assert "EEG F1-Ref" in names and "EEG F1-Ref-2" in names
    assert any("duplicate channel labels" in note for note in recording.notes)


@pytest.mark.parametrize("offset, value, message", [
    (252, b"abcd", "corrupt EDF header"),
    (184, b"-1      ", "corrupt EDF header"),
])
def test_header_fields_out_of_range(small_case, tmp_path, offset, value, message):
    _, good = small_case
    content = bytearray(good.read_bytes())
    content[offset:offset + len(value)] = value
    path = tmp_path / "broken.edf"
    path.write_bytes(bytes(content))
    with pytest.raises(InputError, match=message) as info:
        read(path)
    assert "broken.edf" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["test.bdf", "test_bdf_stim_channel.bdf",
                                  "test_generator_datarec_generator_0_5.bdf"])
def test_lazy_bdf_signals_match_mne(realdata, name):
    """iomon reads BDF samples itself (lazily); MNE's BDF reader is the reference."""
    import mne

    from iomon.io.edf import BdfSignal, check_header

    path = realdata / "edf" / name
    layout = check_header(path)
    raw = mne.io.read_raw_bdf(path, preload=False, verbose="error")
    compared = 0
    for index, label in enumerate(layout["labels"][:6]):
        signal = BdfSignal(path, layout, index)
        if label not in raw.ch_names or signal.sampling_frequency != raw.info["sfreq"]:
            continue  # MNE resamples channels slower than the fastest one
        n = min(1000, raw.n_times)
        mine = signal.get_data_slice(0, n / signal.sampling_frequency)
        reference = raw.get_data(picks=[label], start=0, stop=n)[0]
        scale = 1e-6 if signal.physical_dimension in ("uV", "µV") else 1.0
        if label == "Status":
            continue  # MNE keeps only the trigger bits of the Status channel
        np.testing.assert_allclose(mine * scale, reference, rtol=1e-6, atol=1e-9)
        compared += 1
    assert compared >= 1


# ---------------------------------------------------------------------------- bulk windows
def _starts(n_total, n_samples, count=40, seed=0):
    """Window starts at random, and the first and last windows that fit."""
    rng = np.random.default_rng(seed)
    return np.r_[0, np.sort(rng.integers(0, n_total - n_samples, count)), n_total - n_samples]


def _edf_c(path):
    from edfio import Edf, EdfAnnotation, EdfSignal

    rng = np.random.default_rng(3)
    data = rng.standard_normal((3, 200 * 6))
    Edf([EdfSignal(data[0] * 300, 200, label="L TA", physical_dimension="uV",
                   physical_range=(-4000, 4000)),
         EdfSignal(data[1] * 0.3, 200, label="R TA", physical_dimension="mV",
                   physical_range=(-3.3, 7.1)),
         EdfSignal(data[2] * 20, 200, label="L APB", physical_dimension="uV")],
        annotations=[EdfAnnotation(1.5, None, "TcMEP 400V")]).write(path)


def _edf_d(path):
    from edfplus_d import write_edfplus_d

    rng = np.random.default_rng(4)
    write_edfplus_d(path, rng.standard_normal((5, 2, 100)) * 50, 200.0, ["L TA", "R TA"],
                    [0.0, 0.5, 3.0, 3.5, 9.0], [(0.7, "TcMEP 400V")])


@pytest.mark.parametrize("piecewise", [False, True])
@pytest.mark.parametrize("kind, write", [("EDF+C", _edf_c), ("EDF+D", _edf_d)])
def test_bulk_windows_equal_edfio(tmp_path, monkeypatch, kind, write, piecewise):
    """Windows cut in bulk from the records they cover are edfio's values bit for bit,
    across record boundaries, annotation signals and units; so are they when the reader reads
    each channel's part instead (records too large to read at once, or a window a small part
    of them)."""
    import edfio

    from iomon.io.edf import EdfSignal, Records, _edfio_indices, check_header

    # Each path forced: piece by piece (records too large, or a window a small part of
    # them), or the covered records read whole.
    monkeypatch.setattr(Records, "MAX_READ_BYTES" if piecewise else "PIECE_COST_BYTES",
                        1 if piecewise else 1 << 62)

    path = tmp_path / "bulk.edf"
    write(path)
    layout = check_header(path)
    assert layout["reserved"].startswith(kind)
    lazy = edfio.read_edf(path, lazy_load_data=True)
    signals = [EdfSignal(s, i) for s, i in zip(lazy.signals, _edfio_indices(lazy, layout,
                                                                            path))]
    reference = edfio.read_edf(path)  # every sample loaded and calibrated by edfio
    n_total = len(reference.signals[0].data)
    n_samples = 130  # longer than a record: windows span two or three
    starts = _starts(n_total, n_samples)
    windows = Records(path, layout).windows(signals, starts, n_samples, [1.0] * len(signals))
    if piecewise:
        # where a read returns less than asked (network file systems): read on
        pread = os.pread
        monkeypatch.setattr(os, "pread", lambda fd, size, at: pread(fd, min(size, 7), at))
        again = Records(path, layout).windows(signals, starts, n_samples, [1.0] * len(signals))
        assert again.tobytes() == windows.tobytes()
        # and where the system has no positioned read (Windows): seek and read
        monkeypatch.delattr(os, "pread")
        again = Records(path, layout).windows(signals, starts, n_samples, [1.0] * len(signals))
        assert again.tobytes() == windows.tobytes()
    for c, signal in enumerate(reference.signals):
        expected = np.stack([signal.data[s:s + n_samples] for s in starts])
        assert windows[:, c].tobytes() == expected.tobytes()
        # and the per-window read the reader used before, through edfio's lazy slices
        sfreq = signal.sampling_frequency
        lazy_windows = np.stack([signals[c].get_data_slice(s / sfreq, (s + n_samples) / sfreq)
                                 for s in starts])
        assert windows[:, c].tobytes() == lazy_windows.tobytes()


@pytest.mark.parametrize("piecewise", [False, True])
@pytest.mark.parametrize("name", ["test.bdf", "test_generator_datarec_generator_0_5.bdf"])
def test_bulk_bdf_windows_equal_mne(realdata, monkeypatch, name, piecewise):
    """BDF windows in bulk: MNE's values, and the per-window reads bit for bit."""
    import mne

    from iomon.io.edf import BdfSignal, Records, check_header

    # Each path forced: piece by piece (records too large, or a window a small part of
    # them), or the covered records read whole.
    monkeypatch.setattr(Records, "MAX_READ_BYTES" if piecewise else "PIECE_COST_BYTES",
                        1 if piecewise else 1 << 62)

    path = realdata / "edf" / name
    layout = check_header(path)
    raw = mne.io.read_raw_bdf(path, preload=False, verbose="error")
    signals = [BdfSignal(path, layout, i) for i, label in enumerate(layout["labels"])
               if label in raw.ch_names and label != "Status"
               and layout["per_record"][i] / layout["record_s"] == raw.info["sfreq"]]
    assert signals
    n_samples = min(3 * max(layout["per_record"]) // 2, raw.n_times // 3)
    starts = _starts(raw.n_times, n_samples, count=20)
    windows = Records(path, layout).windows(signals, starts, n_samples, [1.0] * len(signals))
    sfreq = signals[0].sampling_frequency
    for c, signal in enumerate(signals):
        before = np.stack([signal.get_data_slice(s / sfreq, (s + n_samples) / sfreq)
                           for s in starts])
        assert windows[:, c].tobytes() == before.tobytes()
        scale = 1e-6 if signal.physical_dimension in ("uV", "µV") else 1.0
        expected = np.stack([raw.get_data(picks=[signal.label], start=s, stop=s + n_samples)[0]
                             for s in starts])
        np.testing.assert_allclose(windows[:, c] * scale, expected, rtol=1e-6, atol=1e-9)
