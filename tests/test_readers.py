"""Every reader, on files written by other software, meets one contract (as neo's
common_rawio_test and MNE's _test_raw_reader do)."""

import numpy as np
import pytest

from iomon.case.sidecar import read_case
from iomon.io import READERS, ReadOptions, read
from iomon.model.errors import InputError
from test_reader_compliance import check_recording
from test_reader_compliance import csv_text as _csv_text


@pytest.fixture(scope="module")
def edf_case(small_case):
    sim, path = small_case
    return sim, path, read(path)


def test_brainvision_round_trip_matches_edf(edf_case, tmp_path):
    """A simulated case written by pybv reads as the same case as its EDF+."""
    import pybv

    sim, _, from_edf = edf_case
    # pybv writes Stimulus markers with numeric codes, as recorders do ("S  1").
    events = [{"onset": int(round(a.onset_s * sim.sfreq)), "duration": 1,
               "description": 1 if a.text.startswith("TcMEP") else a.text,
               "type": "Stimulus" if a.text.startswith("TcMEP") else "Comment"}
              for a in sim.annotations]
    pybv.write_brainvision(data=sim.signals, sfreq=sim.sfreq,  # pybv takes volts
                           ch_names=[c.name for c in sim.channels], fname_base="case",
                           folder_out=tmp_path, events=events, unit="µV")
    recording = read(tmp_path / "case.vhdr")
    assert recording.format.startswith("BrainVision")
    assert recording.sweeps.ch_names == from_edf.sweeps.ch_names
    np.testing.assert_allclose(recording.sweeps.table["onset_s"],
                               from_edf.sweeps.table["onset_s"], atol=0.5 / sim.sfreq)
    # float32 µV against 16-bit EDF: equal to the EDF's quantisation step.
    step = np.ptp(sim.signals, axis=1).max() / 65535
    assert np.abs(recording.sweeps.data - from_edf.sweeps.data).max() <= step
    texts = {a.text for a in recording.annotations}
    assert {"DREZ lesioning start", "DREZ lesioning end", "Baseline"} <= texts


def test_brainvision_missing_eeg_file(edf_case, tmp_path):
    import pybv

    sim = edf_case[0]
    pybv.write_brainvision(data=sim.signals[:, :5000], sfreq=sim.sfreq,
                           ch_names=[c.name for c in sim.channels], fname_base="gone",
                           folder_out=tmp_path, events=[{"onset": 1000, "duration": 1,
                                                         "description": 1,
                                                         "type": "Stimulus"}])
    (tmp_path / "gone.eeg").unlink()
    with pytest.raises(InputError, match="gone.vhdr") as info:
        read(tmp_path / "gone.vhdr")
    assert "\n" not in str(info.value)


def _episodes(edf_case, n=12):
    sim, _, recording = edf_case
    sweeps = recording.sweeps
    return sim, sweeps.data[:n], sweeps.times, sweeps.sfreq, sweeps.ch_names


def test_nix_episodic_round_trip(edf_case, tmp_path):
    """Sweeps written by neo's NixIO come back as the same sweeps, t = 0 at the artefact."""
    import neo
    import quantities as pq

    sim, data, times, sfreq, names = _episodes(edf_case)
    block = neo.Block()
    for i, sweep in enumerate(data):
        segment = neo.Segment(name=f"sweep {i}")
        segment.analogsignals.append(neo.AnalogSignal(
            sweep.T * 1e3, units="mV", sampling_rate=sfreq * pq.Hz, t_start=i * 2.0 * pq.s,
            array_annotations={"channel_names": np.array(names)}))
        block.segments.append(segment)
    path = tmp_path / "sweeps.nix"
    with neo.io.NixIO(str(path), mode="ow") as io:
        io.write_block(block)
    recording = read(path)
    assert recording.sweeps.n_sweeps == len(data)
    np.testing.assert_allclose(recording.sweeps.data, data, rtol=1e-6, atol=1e-12)
    # The stimulus was found from the artefact: the first pulse sits at t = 0 again.
    assert recording.sweeps.times[0] == pytest.approx(times[0], abs=1.5 / sfreq)
    np.testing.assert_allclose(np.diff(recording.sweeps.table["onset_s"]), 2.0)


def test_abf1_round_trip_with_stimulus_time_from_the_sidecar(edf_case, tmp_path):
    import pyabf
    import pyabf.abfWriter

    sim, data, times, sfreq, names = _episodes(edf_case, 8)
    channel = names.index("L TA")
    path = tmp_path / "ta.abf"
    pyabf.abfWriter.writeABF1(data[:, channel] * 1e3, str(path), sfreq, units="mV")
    stimulus_s = -times[0]
    recording = read(path, ReadOptions(stimulus_s=stimulus_s))
    assert recording.sweeps.n_sweeps == 8
    np.testing.assert_allclose(recording.sweeps.times, times, atol=1e-9)
    # What iomon reads is what pyabf, the writer's own reader, reads...
    abf = pyabf.ABF(str(path))
    for sweep in range(8):
        abf.setSweep(sweep)
        np.testing.assert_allclose(recording.sweeps.data[sweep, 0], abf.sweepY * 1e-3,
                                   rtol=1e-6, atol=1e-12)
    # ...and, through ABF1's 16-bit integers, the sweeps that were written (within 1 µV).
    assert np.abs(recording.sweeps.data[:, 0] - data[:, channel]).max() < 1e-6


def test_real_winwcp(realdata):
    recording = read(realdata / "wcp" / "wcp-file.wcp")
    # 11 records of Im (pA, left out: not a voltage) and Vm (mV).
    assert recording.sweeps.n_sweeps == 11 and recording.sweeps.ch_names == ["Vm"]
    assert any("not a voltage" in n for n in recording.notes)
    assert recording.sweeps.data.shape[2] == 256
    with pytest.raises(InputError, match="no records"):
        read(realdata / "wcp" / "wcp-file-empty.wcp")


@pytest.mark.parametrize("name", ["pclamp11_4ch.abf", "pclamp11_4ch_abf1.abf",
                                  "2018_12_09_pCLAMP11_0001.abf"])
def test_real_abf_current_clamp_files_are_refused(realdata, name):
    # These pCLAMP files record currents (pA / A): there is no voltage to measure an MEP on.
    with pytest.raises(InputError, match="no voltage channel"):
        read(realdata / "abf" / name)


def test_real_spike2_magnetic_stimulation(realdata, tmp_path):
    """Soleus responses to 10 magnetic stimuli: median peak-to-peak about 9.3 mV (README)."""
    path = realdata / "smr" / "physiology.smr"
    with pytest.raises(InputError, match="stimulus_channel"):
        read(path)
    sidecar = tmp_path / "physiology.case.toml"
    sidecar.write_text('[recording]\nstimulus_channel = "Magnet"\nwindow_ms = [-20, 100]\n')
    case = read_case(sidecar)
    recording = read(path, case.read_options)
    sweeps = recording.sweeps
    assert sweeps.n_sweeps == 10 and sweeps.sfreq == 2000.0
    assert {"FDI", "soleus"} <= set(sweeps.ch_names)
    from iomon.pipeline import analyze

    result = analyze(recording, case)
    soleus = sweeps.ch_names.index("soleus")
    amplitude_mv = np.median(result.measurements.amplitude[:, soleus]) * 1e3
    assert 7.0 < amplitude_mv < 12.0
    latency_ms = np.nanmedian(result.measurements.onset_latency[:, soleus]) * 1e3
    assert 15.0 < latency_ms < 45.0


def test_real_brainvision(realdata):
    recording = read(realdata / "brainvision" / "test.vhdr")
    assert recording.sweeps.n_sweeps == 7  # the Stimulus markers with room for a sweep
    # Marker positions count from 1: Mk2 at data point 487 is 0.486 s.
    assert recording.annotations[0].text == "Stimulus S253"
    assert recording.sweeps.table["onset_s"].iloc[0] == pytest.approx(0.486)


def test_every_real_file_reads_or_is_refused_cleanly(realdata):
    outcomes = {}
    for path in sorted(realdata.rglob("*")):
        if path.suffix.lower() not in {e for r in READERS for e in r.extensions}:
            continue
        try:
            check_recording(read(path))
            outcomes[path.name] = "read"
        except InputError as err:
            assert str(path) in str(err) and "\n" not in str(err)
            outcomes[path.name] = "refused"
    assert len(outcomes) >= 21
    assert outcomes["wcp-file.wcp"] == "read" and outcomes["wcp-file-empty.wcp"] == "refused"


@pytest.mark.parametrize("sep, suffix", [(",", ".csv"), ("\t", ".tsv"), (";", ".csv")])
def test_csv_sweep_table_round_trip(edf_case, tmp_path, sep, suffix):
    sweeps = edf_case[2].sweeps.select(np.arange(edf_case[2].sweeps.n_sweeps) < 10)
    path = tmp_path / f"sweeps{suffix}"
    path.write_text(_csv_text(sweeps, sep=sep))
    recording = read(path)
    assert recording.sweeps.ch_names == sweeps.ch_names
    assert recording.sweeps.sfreq == pytest.approx(sweeps.sfreq)
    np.testing.assert_allclose(recording.sweeps.times, sweeps.times, atol=1e-9)
    np.testing.assert_allclose(recording.sweeps.data, sweeps.data, atol=1e-10)
    np.testing.assert_allclose(recording.sweeps.table["stim_intensity"],
                               sweeps.table["stim_intensity"])


def test_csv_with_a_sidecar_mapping(edf_case, tmp_path):
    sweeps = edf_case[2].sweeps.select(np.arange(edf_case[2].sweeps.n_sweeps) < 4)
    text = _csv_text(sweeps, unit_scale=1e3).replace("sweep,channel,onset_s",
                                                    "Trial,Muscle,Time")
    path = tmp_path / "export.csv"
    path.write_text(text)
    with pytest.raises(InputError, match="no 'sweep' column"):
        read(path)
    sidecar = tmp_path / "export.case.toml"
    sidecar.write_text('[tabular]\nsweep_column = "Trial"\nchannel_column = "Muscle"\n'
                       'onset_column = "Time"\nunit = "mV"\n')
    recording = read(path, read_case(sidecar).read_options)
    # Four decimals in mV: 0.05 µV.
    np.testing.assert_allclose(recording.sweeps.data, sweeps.data, atol=1e-7)


@pytest.mark.parametrize("damage, message", [
    (lambda t: "\n".join(t.splitlines()[:2] + [t.splitlines()[2] + "x"]
                         + t.splitlines()[3:]), "non-numeric cell"),
    (lambda t: "\n".join(t.splitlines()[:3] + [t.splitlines()[3].rsplit(",", 5)[0]]
                         + t.splitlines()[4:]), "mismatched sample counts"),
    (lambda t: "\n".join(t.splitlines()[:-1]), "one row per channel"),
    (lambda t: "", "empty"),
])
def test_bad_csv_tables(edf_case, tmp_path, damage, message):
    sweeps = edf_case[2].sweeps.select(np.arange(edf_case[2].sweeps.n_sweeps) < 3)
    path = tmp_path / "bad.csv"
    path.write_text(damage(_csv_text(sweeps)))
    with pytest.raises(InputError, match=message) as info:
        read(path)
    assert "bad.csv" in str(info.value) and "\n" not in str(info.value)


def test_mat_round_trip_and_layouts(edf_case, tmp_path):
    import scipy.io

    sweeps = edf_case[2].sweeps
    path = tmp_path / "sweeps.mat"
    scipy.io.savemat(path, {"data": sweeps.data * 1e6, "sfreq": sweeps.sfreq,
                            "first_sample_ms": sweeps.times[0] * 1e3,
                            "channels": np.array(sweeps.ch_names, dtype=object),
                            "onset_s": sweeps.table["onset_s"].to_numpy()})
    recording = read(path)
    np.testing.assert_allclose(recording.sweeps.data, sweeps.data, atol=1e-12)
    assert recording.sweeps.ch_names == sweeps.ch_names
    # One channel stored samples x sweeps, described by the sidecar.
    single = tmp_path / "one.mat"
    scipy.io.savemat(single, {"meps": sweeps.data[:, 0].T * 1e6})
    sidecar = tmp_path / "one.case.toml"
    sidecar.write_text('[tabular]\ndata_variable = "meps"\nlayout = "samples,sweeps"\n'
                       'sfreq_hz = 5000\nfirst_sample_ms = -10\nchannels = ["L Deltoid"]\n')
    recording = read(single, read_case(sidecar).read_options)
    np.testing.assert_allclose(recording.sweeps.data[:, 0], sweeps.data[:, 0], atol=1e-12)
    with pytest.raises(InputError, match="no variable 'data'"):
        read(single)


def test_real_tms_meps_from_matlab(realdata, tmp_path):
    """MEPFeatX's TMS sweeps (3 kHz, µV, samples x trials) read through a sidecar mapping."""
    sidecar = tmp_path / "mep.case.toml"
    sidecar.write_text('[tabular]\ndata_variable = "raw_meps"\nlayout = "samples,sweeps"\n'
                       'sfreq_hz = 3000\nfirst_sample_ms = -50\nchannels = ["TA"]\n')
    options = read_case(sidecar).read_options
    for name, n_trials in (("ID02.mat", 40), ("ID04.mat", 20)):
        recording = read(realdata / "mat_mep" / name, options)
        assert recording.sweeps.data.shape == (n_trials, 1, 601)
        peak_to_peak_uv = np.ptp(recording.sweeps.data, axis=-1) * 1e6
        assert 10 < np.median(peak_to_peak_uv) < 5000


def test_real_cfs_matches_ceds_own_library(realdata):
    """CED's SIMPLEW example file: iomon's parser against pythonCFS (CED's C API)."""
    path = realdata / "cfs" / "test_file.cfs"
    recording = read(path)
    sweeps = recording.sweeps
    assert sweeps.data.shape == (3, 1, 256) and sweeps.ch_names == ["ECG"]
    assert sweeps.sfreq == pytest.approx(100.0)
    assert any("Blood Pressure" in n and "not a voltage" in n for n in recording.notes)
    cfs = pytest.importorskip("CFS.CFSFile", reason="pythonCFS has wheels for CPython 3.11 "
                              "on x86_64 only")
    from pathlib import Path

    reference = cfs.CFSFile(Path(path))
    for frame in range(3):
        np.testing.assert_allclose(sweeps.data[frame, 0] * 1e3,
                                   np.asarray(reference.channel_data[0][frame]), rtol=1e-6)


def test_bad_cfs_files(realdata, tmp_path):
    good = (realdata / "cfs" / "test_file.cfs").read_bytes()
    cases = {
        "truncated.cfs": (good[:1000], "truncated"),
        "magic.cfs": (b"NOTACFS!" + good[8:], "not a CFS file"),
        "empty.cfs": (good[:56] + b"\x00\x00" + good[58:], "no frames"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(InputError, match=message) as info:
            read(path)
        assert name in str(info.value) and "\n" not in str(info.value)


def test_unique_names():
    from iomon.io.base import unique_names

    notes = []
    assert unique_names(["A", "B", "A", "A"], notes) == ["A", "B", "A-2", "A-3"]
    assert notes and "A-2" in notes[0]
    notes = []
    assert unique_names(["A", "B"], notes) == ["A", "B"] and notes == []


def test_mne_export_round_trip_matches_edfio(edf_case, tmp_path):
    """The same simulated case exported by MNE (its EDF writer) reads as the edfio-written one."""
    import mne

    sim, _, from_edf = edf_case
    info = mne.create_info([c.name for c in sim.channels], sim.sfreq, ch_types="emg")
    raw = mne.io.RawArray(sim.signals, info, verbose="error")
    raw.set_annotations(mne.Annotations([a.onset_s for a in sim.annotations], 0.0,
                                        [a.text for a in sim.annotations]))
    path = tmp_path / "mne.edf"
    mne.export.export_raw(path, raw, fmt="edf", verbose="error")
    recording = read(path)
    np.testing.assert_allclose(recording.sweeps.table["onset_s"],
                               from_edf.sweeps.table["onset_s"], atol=0.5 / sim.sfreq)
    np.testing.assert_allclose(recording.sweeps.table["stim_intensity"],
                               from_edf.sweeps.table["stim_intensity"])
    step = np.ptp(sim.signals, axis=1).max() / 65535
    assert np.abs(recording.sweeps.data - from_edf.sweeps.data).max() <= 2 * step


def test_a_format_is_one_module_and_one_registry_line(tmp_path, monkeypatch, edf_case):
    """Issue 10: the registry dispatches, lists formats for help and errors, and owns sidecar
    sections through their readers."""
    import iomon.io as io
    from iomon.io.base import Reader, assemble

    _, path, recording = edf_case
    sweeps = recording.sweeps

    def read_toy(path, options):
        # A toy format: the EDF case's sweeps, whatever the file holds.
        return assemble(path, "toy", "test", sweeps.data, sweeps.times, sweeps.sfreq,
                        sweeps.ch_names, _stimuli(sweeps),
                        float(sweeps.table["onset_s"].max() + 1))

    toy = Reader("toy", "Toy sweeps", (".toy",), read_toy,
                 lambda head, suffix: head.startswith(b"TOY1"))
    monkeypatch.setattr(io, "READERS", io.READERS + (toy,))
    file = tmp_path / "case.dat"
    file.write_bytes(b"TOY1 anything")
    got = io.read(file)
    check_recording(got)
    assert got.format == "toy" and got.sweeps.n_sweeps == sweeps.n_sweeps
    assert "Toy sweeps (.toy)" in io.formats_text()
    (tmp_path / "unknown.xyz").write_text("?")
    with pytest.raises(InputError, match="Toy sweeps"):
        io.read(tmp_path / "unknown.xyz")
    # Every registered file reader names its extensions; one reader reads folders (a case
    # exported as one file per sweep); sidecar sections are the readers'.
    assert all(r.extensions and all(e.startswith(".") for e in r.extensions)
               for r in io.READERS if not r.folder)
    assert [r.name for r in io.READERS if r.folder] == ["sweep-files"]
    assert io.sidecar_sections() == {"tabular"}


def _stimuli(sweeps):
    from iomon.model.annotations import Stimulus

    return [Stimulus(t, np.nan, "", "") for t in sweeps.table["onset_s"]]


def test_analyze_touches_no_disk(edf_case, tmp_path):
    """Issue 10: analyze works on what it is given; analyze_file adds the checksum."""
    import dataclasses

    from iomon.pipeline import analyze, analyze_file, file_sha256

    _, path, recording = edf_case
    elsewhere = dataclasses.replace(recording, path=tmp_path / "gone" / "nothing.edf")
    result = analyze(elsewhere)
    assert result.input_sha256 is None and result.sweeps.n_sweeps == recording.sweeps.n_sweeps
    assert analyze_file(path).input_sha256 == file_sha256(path)
