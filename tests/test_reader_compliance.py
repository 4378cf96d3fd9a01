"""One contract every registered reader meets, as neo's common_rawio_test and MNE's
_test_raw_reader: shapes, volts, monotonic times, one table row per sweep, sorted markers.

For each reader of the registry (``iomon.io.READERS``) :data:`SAMPLES` says how the tests get
files of its format: written here by another program's writer (edfio through the simulator,
an EDF+D writer of the specification, pybv, pyabf, neo's NixIO, scipy, a CSV table) or, where
nothing writes the format, real files from ``../shared/realdata`` (those skip, saying why,
where that folder is absent). A reader added to the registry without a sample fails
:func:`test_every_registered_reader_has_a_sample`.
"""

from __future__ import annotations

import numpy as np
import pytest

from iomon.io import READERS, ReadOptions, Recording, detect_format, folder_reader, read


def check_recording(recording: Recording):
    """The compliance test every reader passes."""
    sweeps = recording.sweeps
    n_sweeps, n_channels, n_samples = sweeps.data.shape
    assert n_sweeps >= 1 and n_channels >= 1 and n_samples >= 2
    assert sweeps.data.dtype == np.float64 and np.isfinite(sweeps.data).all()
    assert np.abs(sweeps.data).max() < 10.0, "data must be in volts"
    assert np.all(np.diff(sweeps.times) > 0)
    np.testing.assert_allclose(np.diff(sweeps.times), 1 / sweeps.sfreq, rtol=1e-6)
    assert sweeps.times[0] <= 0 <= sweeps.times[-1]
    assert len(sweeps.table) == n_sweeps
    onsets = sweeps.table["onset_s"].to_numpy()
    assert np.isfinite(onsets).all() and np.all(np.diff(onsets) >= 0)
    assert onsets.min() >= -1e-9 and onsets.max() <= recording.duration_s + 1e-9
    assert len(set(sweeps.ch_names)) == n_channels
    assert all(isinstance(n, str) and n for n in recording.notes) or not recording.notes
    assert recording.format and recording.reader
    onsets_ann = [a.onset_s for a in recording.annotations]
    assert onsets_ann == sorted(onsets_ann)


def csv_text(sweeps, unit_scale=1e6, sep=","):
    """Sweeps as iomon's sweep table: one row per sweep x channel, a column per sample."""
    header = ["sweep", "channel", "onset_s", "stim_intensity", "stim_unit"] + [
        f"{t * 1e3:.1f}" for t in sweeps.times]
    lines = [sep.join(header)]
    for i in range(sweeps.n_sweeps):
        row = sweeps.table.iloc[i]
        for c, name in enumerate(sweeps.ch_names):
            values = [f"{v:.4f}" for v in sweeps.data[i, c] * unit_scale]
            lines.append(sep.join([str(i), name, f"{row.onset_s:.6f}",
                                   f"{row.stim_intensity:g}", row.stim_unit] + values))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- a sample of each format
class Samples:
    """What the builders need: a simulated case (on disk as EDF+), a scratch folder."""

    def __init__(self, sim, path, recording, folder, realdata):
        self.sim, self.path, self.recording = sim, path, recording
        self.folder, self.realdata = folder, realdata

    def real(self, relative: str):
        """A real file of ../shared/realdata; None where that folder is absent."""
        return None if self.realdata is None else self.realdata / relative

    def episodes(self, n=12):
        sweeps = self.recording.sweeps
        return sweeps.data[:n], sweeps.times, sweeps.sfreq, sweeps.ch_names


def _edf(s):
    from edfplus_d import write_edfplus_d

    sweeps = s.recording.sweeps
    onsets = sweeps.table["onset_s"].to_numpy() + sweeps.times[0]
    d = s.folder / "sweeps_d.edf"
    write_edfplus_d(d, sweeps.data[:, :, :550] * 1e6, sweeps.sfreq, sweeps.ch_names, onsets,
                    [(t, "TcMEP 400V") for t in sweeps.table["onset_s"]])
    return [(s.path, None), (d, None), (s.real("edf/test.bdf"), None)]


def _brainvision(s):
    import pybv

    events = [{"onset": int(round(a.onset_s * s.sim.sfreq)), "duration": 1, "description": 1,
               "type": "Stimulus"} for a in s.sim.annotations if a.text.startswith("TcMEP")]
    pybv.write_brainvision(data=s.sim.signals, sfreq=s.sim.sfreq,
                           ch_names=[c.name for c in s.sim.channels], fname_base="case",
                           folder_out=s.folder, events=events, unit="µV")
    return [(s.folder / "case.vhdr", None), (s.real("brainvision/test.vhdr"), None)]


def _abf(s):
    import pyabf.abfWriter

    data, times, sfreq, _ = s.episodes(8)
    path = s.folder / "ta.abf"
    pyabf.abfWriter.writeABF1(data[:, 0] * 1e3, str(path), sfreq, units="mV")
    return [(path, ReadOptions(stimulus_s=-times[0]))]


def _nix(s):
    import neo
    import quantities as pq

    data, _, sfreq, names = s.episodes()
    block = neo.Block()
    for i, sweep in enumerate(data):
        segment = neo.Segment(name=f"sweep {i}")
        segment.analogsignals.append(neo.AnalogSignal(
            sweep.T * 1e3, units="mV", sampling_rate=sfreq * pq.Hz, t_start=i * 2.0 * pq.s,
            array_annotations={"channel_names": np.array(names)}))
        block.segments.append(segment)
    path = s.folder / "sweeps.nix"
    with neo.io.NixIO(str(path), mode="ow") as io:
        io.write_block(block)
    return [(path, None)]


def _mat(s):
    import scipy.io

    sweeps = s.recording.sweeps
    path = s.folder / "sweeps.mat"
    scipy.io.savemat(path, {"data": sweeps.data * 1e6, "sfreq": sweeps.sfreq,
                            "first_sample_ms": sweeps.times[0] * 1e3,
                            "channels": np.array(sweeps.ch_names, dtype=object),
                            "onset_s": sweeps.table["onset_s"].to_numpy()})
    return [(path, None)]


def _csv(s):
    sweeps = s.recording.sweeps.select(np.arange(s.recording.sweeps.n_sweeps) < 10)
    out = []
    for sep, name in ((",", "sweeps.csv"), ("\t", "sweeps.tsv")):
        (s.folder / name).write_text(csv_text(sweeps, sep=sep))
        out.append((s.folder / name, None))
    return out


def _smr(s):
    from iomon.case.sidecar import read_case

    path = s.real("smr/physiology.smr")
    if path is None:
        return [(None, None)]
    sidecar = s.folder / "physiology.case.toml"
    sidecar.write_text('[recording]\nstimulus_channel = "Magnet"\nwindow_ms = [-20, 100]\n')
    return [(path, read_case(sidecar).read_options)]


def _cadwell(s):
    from iomon.sim.cadwell import write_cadwell_json

    path = write_cadwell_json(s.sim, s.folder / "case.json", delay_in_file=True)
    return [(path, None)]


def _sweep_files(s):
    from iomon.sim.writing import write_sweep_files

    before = write_sweep_files(s.sim, s.folder / "sweeps")
    at = write_sweep_files(s.sim, s.folder / "from-stimulus", window_s=(0.0, 0.150))
    return [(before, ReadOptions(stimulus_s=0.010)), (at, None)]


def _bids(s):
    from iomon.bids import export_case

    continuous = export_case(s.path, s.folder / "bids", report=False).data_file
    # Sweeps of another format become an epoched BDF+D recording.
    (nix, _), = _nix(s)
    epoched = export_case(nix, s.folder / "bids", report=False).data_file
    return [(continuous, None), (epoched, None)]


#: How the tests get files of each registered format: reader name -> builder of
#: ``[(path, ReadOptions or None), ...]``.
SAMPLES = {
    "edf": _edf,
    "brainvision": _brainvision,
    "wcp": lambda s: [(s.real("wcp/wcp-file.wcp"), None)],
    "abf": _abf,
    "smr": _smr,
    "nix": _nix,
    "cfs": lambda s: [(s.real("cfs/test_file.cfs"), None)],
    "mat": _mat,
    "csv": _csv,
    "cadwell": _cadwell,
    "sweep-files": _sweep_files,
    "bids": _bids,
}


@pytest.fixture()
def samples(small_case, tmp_path):
    from conftest import REALDATA

    sim, path = small_case
    return Samples(sim, path, read(path), tmp_path,
                   REALDATA if REALDATA.is_dir() else None)


def test_every_registered_reader_has_a_sample():
    missing = [r.name for r in READERS if r.name not in SAMPLES]
    assert not missing, f"readers without a sample in SAMPLES: {missing}"
    assert set(SAMPLES) <= {r.name for r in READERS}, "a sample for a reader that is gone"


@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.name)
def test_reader_compliance(reader, samples):
    """Each sample is told to be of its reader's format and read to the contract."""
    if reader.name not in SAMPLES:
        pytest.fail(f"no sample for the {reader.title} reader: add one to SAMPLES")
    found = [(path, options) for path, options in SAMPLES[reader.name](samples)
             if path is not None]
    if not found:
        pytest.skip(f"the {reader.title} samples live in ../shared/realdata, absent here")
    for path, options in found:
        told = folder_reader() if path.is_dir() else detect_format(path)
        assert told is reader, path.name
        check_recording(read(path, options))
