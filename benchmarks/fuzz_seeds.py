"""Valid files of every format iomon reads, for the fuzz harness (benchmarks/fuzz.py).

Small cases are simulated and written in every format (EDF+C, EDF+D, BDF+C, BrainVision,
NIX, ABF1, CFS, CSV, TSV, MATLAB v4, v5, v5 compressed and v7.3, Cadwell case JSON, a folder of
one EDF+D file per sweep), beside the real files of
``../shared/realdata/`` (the pCLAMP ABFs made voltage recordings by renaming their units) and
two case sidecars that use every key. Each seed is a set of files, the one handed to iomon, and the
ones a mutation may touch.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REALDATA = ROOT.parent / "shared" / "realdata"

#: Format groups, each given an equal share of the mutants.
GROUPS = ("EDF", "BDF", "BrainVision", "WinWCP", "ABF", "Spike2", "NIX", "CFS", "CSV/TSV",
          "MAT", "Cadwell", "sweep files", "sidecar")


@dataclass
class Seed:
    """A valid input: its files (name -> bytes), the recording, and the files to mutate."""

    name: str
    group: str
    files: dict
    recording: str
    targets: tuple
    case: str | None = None
    notes: list = field(default_factory=list)


# ---------------------------------------------------------------------------- simulated case
def _simulated(work: Path):
    """A short DREZ case (4 channels, about 36 sweeps in 12 s) and its sweeps as iomon reads."""
    from iomon.io import read
    from iomon.sim import Schedule, simulate_case, write_simulated_case

    schedule = Schedule(positioning_min=2, exposure_min=3, lesioning_min=4, closure_min=2,
                        routine_interval_s=(20, 30), lesioning_interval_s=(10, 15),
                        pre_baseline_sweeps=2)
    sim = simulate_case("focal_recovering", 1, muscles=("TA", "APB"), schedule=schedule,
                        time_compression=60, case_id="FUZZ")
    path = write_simulated_case(sim, work / "sim", stem="sim")
    return sim, path, read(path).sweeps


def _field(text, width):
    encoded = str(text).encode("ascii")[:width]
    return encoded + b" " * (width - len(encoded))


def write_edfplus(path, records, sfreq, labels, record_onsets_s, annotations=(), *,
                  bdf=False, discontinuous=True, annotation_bytes=240):
    """Write (n_records, n_signals, samples) µV records as EDF+/BDF+ (C or D) with TALs."""
    records = np.asarray(records, float)
    n_records, n_signals, per_record = records.shape
    record_s = per_record / sfreq
    low, high = float(records.min()) - 1, float(records.max()) + 1
    width = 3 if bdf else 2
    d_lo, d_hi = (-(1 << 23), (1 << 23) - 1) if bdf else (-32768, 32767)
    digital = np.round((records - low) / (high - low) * (d_hi - d_lo) + d_lo).astype("<i4")
    n_all = n_signals + 1
    kind = ("BDF+" if bdf else "EDF+") + ("D" if discontinuous else "C")
    version = b"\xffBIOSEMI" if bdf else _field("0", 8)
    header = b"".join([
        version, _field("X X X X", 80), _field("Startdate 01-JAN-2024 X X X", 80),
        _field("01.01.24", 8), _field("08.00.00", 8), _field(256 * (n_all + 1), 8),
        _field(kind, 44), _field(n_records, 8), _field(f"{record_s:g}", 8), _field(n_all, 4),
    ])
    label = "BDF Annotations" if bdf else "EDF Annotations"
    columns = [
        (16, list(labels) + [label]), (80, [""] * n_all), (8, ["uV"] * n_signals + [""]),
        (8, [f"{low:.6g}"] * n_signals + ["-1"]), (8, [f"{high:.6g}"] * n_signals + ["1"]),
        (8, [str(d_lo)] * n_all), (8, [str(d_hi)] * n_all), (80, [""] * n_all),
        (8, [per_record] * n_signals + [annotation_bytes // width]), (32, [""] * n_all),
    ]
    for size, values in columns:
        header += b"".join(_field(v, size) for v in values)
    body = []
    for r in range(n_records):
        samples = digital[r].reshape(-1)
        if bdf:
            raw = samples.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
        else:
            raw = samples.astype("<i2").tobytes()
        start = record_onsets_s[r]
        tal = f"+{start:.6f}\x14\x14\x00".encode()
        for onset, text in annotations:
            if start <= onset < start + record_s:
                tal += f"+{onset:.6f}\x14{text}\x14\x00".encode()
        body.append(raw + tal[:annotation_bytes].ljust(annotation_bytes, b"\x00"))
    Path(path).write_bytes(header + b"".join(body))


def _stimulus_text(intensity):
    return f"TcMEP {intensity:g}V C3-C4" if np.isfinite(intensity) else "TcMEP"


def _edf_d(sweeps, work):
    n = 12
    data = sweeps.data[:n, :, :-1] * 1e6
    onsets = sweeps.table["onset_s"].to_numpy()[:n]
    starts = onsets + sweeps.times[0]
    intensities = sweeps.table["stim_intensity"].to_numpy()[:n]
    notes = [(float(t), _stimulus_text(i)) for t, i in zip(onsets, intensities)]
    notes += [(float(starts[1]), "Baseline"), (float(starts[6]), "DREZ lesioning start")]
    path = work / "sim_d.edf"
    write_edfplus(path, data, sweeps.sfreq, sweeps.ch_names, starts, notes)
    return path


def _bdf_c(sim, work):
    seconds = 4
    n = int(seconds * sim.sfreq)
    records = sim.signals[:, :n].reshape(len(sim.channels), seconds, -1).transpose(1, 0, 2)
    notes = [(a.onset_s, a.text) for a in sim.annotations if a.onset_s < seconds - 0.2]
    path = work / "sim_c.bdf"
    write_edfplus(path, records * 1e6, sim.sfreq, [c.name for c in sim.channels],
                  np.arange(seconds, dtype=float), notes, bdf=True, discontinuous=False)
    return path


def _brainvision(sim, work):
    import pybv

    n = int(4 * sim.sfreq)
    events = [{"onset": int(round(a.onset_s * sim.sfreq)), "duration": 1,
               "description": 1 if a.text.startswith("TcMEP") else a.text,
               "type": "Stimulus" if a.text.startswith("TcMEP") else "Comment"}
              for a in sim.annotations if a.onset_s < 3.8]
    pybv.write_brainvision(data=sim.signals[:, :n], sfreq=sim.sfreq,
                           ch_names=[c.name for c in sim.channels], fname_base="bv",
                           folder_out=work / "bv", events=events, unit="µV", overwrite=True)
    return work / "bv"


def _nix(sweeps, work):
    import neo
    import quantities as pq

    block = neo.Block()
    for i, sweep in enumerate(sweeps.data[:10]):
        segment = neo.Segment(name=f"sweep {i}")
        segment.analogsignals.append(neo.AnalogSignal(
            sweep.T * 1e3, units="mV", sampling_rate=sweeps.sfreq * pq.Hz,
            t_start=i * 2.0 * pq.s,
            array_annotations={"channel_names": np.array(sweeps.ch_names)}))
        block.segments.append(segment)
    path = work / "sweeps.nix"
    with neo.io.NixIO(str(path), mode="ow") as io:
        io.write_block(block)
    return path


def _abf1(sweeps, work):
    import pyabf.abfWriter

    path = work / "ta.abf"
    pyabf.abfWriter.writeABF1(sweeps.data[:8, 0] * 1e3, str(path), sweeps.sfreq, units="mV")
    return path


def write_cfs(path, sweeps, n_frames=8, n_channels=2):
    """A CED CFS file of int16 frames (mV), with one frame variable (the intensity)."""
    general = struct.Struct("<8s14si8s8shhhhhiHH74si40s")
    channel = struct.Struct("<22s10s10sBBhh")
    variable = struct.Struct("<22sh10sh")
    ds_header = struct.Struct("<iiiH16s")
    ds_channel = struct.Struct("<iiffff")

    def pascal(text, size):
        raw = text.encode("latin-1")[:size - 1]
        return bytes([len(raw)]) + raw.ljust(size - 1, b"\x00")

    data = sweeps.data[:n_frames, :n_channels] * 1e3
    points = data.shape[2]
    scale = float(np.abs(data).max()) / 30000
    digital = np.round(data / scale).astype("<i2")
    intensities = np.nan_to_num(sweeps.table["stim_intensity"].to_numpy()[:n_frames])
    channels = b"".join(channel.pack(pascal(name, 22), pascal("mV", 10), pascal("s", 10),
                                     2, 0, 2, 0) for name in sweeps.ch_names[:n_channels])
    variables = (variable.pack(pascal("system", 22), 0, pascal("", 10), 0)        # file: none
                 + variable.pack(pascal("Intensity", 22), 5, pascal("V", 10), 0)  # per frame
                 + variable.pack(pascal("system", 22), 0, pascal("", 10), 4))
    head_size = general.size + len(channels) + len(variables)
    frames, offsets = b"", []
    for f in range(n_frames):
        data_start = head_size + len(frames)
        samples = digital[f].tobytes()
        header_at = data_start + len(samples)
        table = b"".join(ds_channel.pack(c * points * 2, points, scale, 0.0,
                                         1.0 / sweeps.sfreq, float(sweeps.times[0]))
                         for c in range(n_channels))
        frame_header = ds_header.pack(0, data_start, len(samples), 0, b"\x00" * 16)
        frames += samples + frame_header + table + struct.pack("<f", intensities[f])
        offsets.append(header_at)
    table_at = head_size + len(frames)
    size = table_at + 4 * n_frames
    head = general.pack(b'CEDFILE"', pascal("fuzz", 14), size, b"00:00:00", b"01/01/24",
                        n_channels, 0, 1, head_size, ds_header.size, 0, n_frames, 1,
                        pascal("iomon fuzz seed", 74), table_at, b"\x00" * 40)
    Path(path).write_bytes(head + channels + variables + frames
                           + struct.pack(f"<{n_frames}i", *offsets))
    return Path(path)


def _tables(sweeps, work):
    """The sweeps as CSV and TSV sweep tables (6 sweeps)."""
    paths = []
    for sep, name in ((",", "sweeps.csv"), ("\t", "sweeps.tsv")):
        header = ["sweep", "channel", "onset_s", "stim_intensity", "stim_unit"] + [
            f"{t * 1e3:.1f}" for t in sweeps.times]
        lines = [sep.join(header)]
        for i in range(6):
            row = sweeps.table.iloc[i]
            for c, channel in enumerate(sweeps.ch_names):
                values = [f"{v:.3f}" for v in sweeps.data[i, c] * 1e6]
                lines.append(sep.join([str(i), channel, f"{row.onset_s:.6f}",
                                       f"{row.stim_intensity:g}", row.stim_unit] + values))
        path = work / name
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths


MAPPED_TABLE_SIDECAR = """[tabular]
sweep_column = "Trial"
channel_column = "Lead"
onset_column = "Time"
intensity_column = "Volts"
sfreq_hz = {sfreq:g}
first_sample_ms = {first_ms:g}
unit = "mV"
"""


def _mapped_tables(sweeps, work):
    """Two tables in other layouts: (name, text, sidecar or None).

    A semicolon-separated export whose columns the sidecar's ``[tabular]`` maps (sample
    columns numbered, not named by time; values in mV), and a one-channel table with a
    ``montage`` column and sweeps out of time order.
    """
    mapped = [";".join(["Trial", "Lead", "Time", "Volts"]
                       + [f"s{k}" for k in range(sweeps.times.size)])]
    for i in range(4):
        row = sweeps.table.iloc[i]
        for c, channel in enumerate(sweeps.ch_names[:2]):
            mapped.append(";".join([f"T{i + 1}", channel, f"{row.onset_s:.4f}",
                                    f"{row.stim_intensity:g}"]
                                   + [f"{v:.5f}" for v in sweeps.data[i, c] * 1e3]))
    sidecar = MAPPED_TABLE_SIDECAR.format(sfreq=sweeps.sfreq, first_ms=sweeps.times[0] * 1e3)
    single = [",".join(["sweep", "channel", "onset_s", "montage"]
                       + [f"{t * 1e3:.1f}" for t in sweeps.times])]
    for i in (2, 0, 1):
        row = sweeps.table.iloc[i]
        single.append(",".join([str(i), sweeps.ch_names[0], f"{row.onset_s:.6f}", "C3-C4"]
                               + [f"{v:.2f}" for v in sweeps.data[i, 0] * 1e6]))
    return [("mapped.csv", "\n".join(mapped) + "\n", sidecar),
            ("single.csv", "\n".join(single) + "\n", None)]


def _mats(sweeps, work):
    import scipy.io

    n = 10
    variables = {"data": sweeps.data[:n] * 1e6, "sfreq": sweeps.sfreq,
                 "first_sample_ms": sweeps.times[0] * 1e3,
                 "channels": np.array(sweeps.ch_names, dtype=object),
                 "onset_s": sweeps.table["onset_s"].to_numpy()[:n],
                 "stim_intensity": sweeps.table["stim_intensity"].to_numpy()[:n]}
    plain, packed, v4 = work / "sweeps.mat", work / "packed.mat", work / "v4.mat"
    scipy.io.savemat(plain, variables)
    scipy.io.savemat(packed, variables, do_compression=True)
    scipy.io.savemat(v4, {"data": sweeps.data[:n, 0] * 1e6, "sfreq": sweeps.sfreq,
                          "first_sample_ms": sweeps.times[0] * 1e3,
                          "onset_s": sweeps.table["onset_s"].to_numpy()[:n]}, format="4")
    tabular = work / "meps.mat"
    scipy.io.savemat(tabular, {"meps": sweeps.data[:n, 0].T * 1e3}, do_compression=True)
    v73 = work / "v73.mat"
    write_mat73(v73, dict(variables, channels=list(sweeps.ch_names)))
    return plain, packed, v4, v73, tabular


# MATLAB v7.3, as ``save -v7.3`` writes it (MathWorks, "MAT-File Versions"; the layout
# ``hdf5storage`` writes too): a 512-byte user block whose first 128 bytes are the MAT header
# (text, version 0x0200, endian mark IM); every variable a dataset at the root with the
# attribute MATLAB_class; arrays column-major (the dataset holds the transpose); char as
# uint16 code units; a cell a dataset of object references into the #refs# group.
def _header() -> bytes:
    text = (b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 08:00:00 2024 "
            b"HDF5 schema 1.00 .")
    return text.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"


def _char(group, name, text):
    codes = np.array([ord(c) for c in text], dtype=np.uint16).reshape(1, -1)
    ds = group.create_dataset(name, data=codes.T)
    ds.attrs["MATLAB_class"] = np.bytes_("char")
    ds.attrs["MATLAB_int_decode"] = np.int32(2)
    return ds


def _put(f, name, value, refs):
    """One MATLAB variable: a number or array (double), text (char) or a list of text (cell)."""
    import h5py

    if isinstance(value, str):
        _char(f, name, value)
    elif isinstance(value, list):  # a 1 x n cell of char rows
        targets = [_char(refs, f"{name}_{k}", text).ref for k, text in enumerate(value)]
        cell = np.array(targets, dtype=h5py.ref_dtype).reshape(1, -1)
        ds = f.create_dataset(name, data=cell.T, dtype=h5py.ref_dtype)
        ds.attrs["MATLAB_class"] = np.bytes_("cell")
    else:
        array = np.atleast_2d(np.asarray(value, dtype=float))
        ds = f.create_dataset(name, data=array.T)  # column-major: the transpose
        ds.attrs["MATLAB_class"] = np.bytes_("double")


def write_mat73(path, variables: dict) -> None:
    """Write ``variables`` (name -> number, array, str or list of str) as MATLAB v7.3."""
    import h5py

    with h5py.File(path, "w", userblock_size=512, libver="earliest") as f:
        refs = f.create_group("#refs#")
        for name, value in variables.items():
            _put(f, name, value, refs)
    with open(path, "r+b") as f:
        f.write(_header())


FULL_SIDECAR = """[case]
id = "FUZZ-1"
side = "left"
levels = ["C5", "C6", "C7", "C8"]
procedure = "Left C5-C8 DREZ lesioning"

{channels}
[[phases]]
name = "lesioning"
start_s = 5.0
end_s = 9.0

[recording]
window_ms = [-10, 100]
mains_hz = 50

[processing]
band_hz = [2, 1500]
artefact_ms = [-0.5, 2.0]
noise_window_ms = [-10, -1]
presence_uv = 30
presence_noise_ratio = 12
baseline_sweeps = 5

[[exclude]]
channel = "R APB"
from_s = 10.0
reason = "electrode displaced"

[[exclude]]
sweep = [3, 4]
reason = "cautery"

[[events]]
at_s = 6.0
text = "MAP 55 mmHg"

[[rebaseline]]
at_s = 9.5
reason = "leg electrodes re-taped"

[clinical]
sex = "F"
age = 66
etiology = "MVC"
surgery_date = 2023-10-04
vas_pre = 8
vas_post = 1
analgesics_post = false
complications = ""
new_deficit = false
"""

TABULAR_SIDECAR = """[tabular]
data_variable = "meps"
layout = "samples,sweeps"
sfreq_hz = 5000
first_sample_ms = -10
channels = ["L TA"]
unit = "mV"

[recording]
stimulus_s = 0.01
"""


def _cadwell(sim, work) -> Path:
    """A Cadwell case JSON of the simulated case (two MEP modes and an SSEP one), indented so
    that line operations find its fields."""
    import json

    from iomon.sim.cadwell import write_cadwell_json

    path = write_cadwell_json(sim, work / "case.json", modes=("L MEP", "R MEP"),
                              other_mode=True)
    path.write_text(json.dumps(json.loads(path.read_text()), indent=1))
    return path


def _sweep_files(sim, work) -> Path:
    """The simulated case as a folder of one EDF+D file per sweep, its first 8 sweeps."""
    from iomon.sim.writing import write_sweep_files

    folder = write_sweep_files(sim, work / "P01", (-0.010, 0.100))
    for path in sorted(folder.glob("*.edf"))[8:]:
        path.unlink()
    return folder


def _channels_toml(sim) -> str:
    return "".join(f'[[channels]]\nname = "{c.name}"\nmuscle = "{c.muscle}"\nside = "{c.side}"\n'
                   f'limb = "{c.limb}"\n\n' for c in sim.channels)


def _abf_voltage(path: Path) -> bytes:
    """A real pCLAMP ABF file whose current channels are renamed to mV (a voltage seed)."""
    return path.read_bytes().replace(b"pA", b"mV")


# ---------------------------------------------------------------------------- the corpus
def build_seeds(work: Path) -> list[Seed]:
    """Every seed, the simulated ones written into ``work``."""
    work.mkdir(parents=True, exist_ok=True)
    sim, edf, sweeps = _simulated(work)
    seeds = []

    def add(name, group, files, recording, targets=None, case=None):
        files = {k: (v.read_bytes() if isinstance(v, Path) else v) for k, v in files.items()}
        seeds.append(Seed(name, group, files, recording, tuple(targets or [recording]), case))

    add("sim.edf", "EDF", {"sim.edf": edf}, "sim.edf")
    add("sim_d.edf", "EDF", {"sim_d.edf": _edf_d(sweeps, work)}, "sim_d.edf")
    add("sim_c.bdf", "BDF", {"sim_c.bdf": _bdf_c(sim, work)}, "sim_c.bdf")
    folder = _brainvision(sim, work)
    add("bv.vhdr", "BrainVision", {p.name: p for p in folder.iterdir()}, "bv.vhdr",
        ["bv.vhdr", "bv.vmrk", "bv.eeg"])
    add("sweeps.nix", "NIX", {"sweeps.nix": _nix(sweeps, work)}, "sweeps.nix")
    add("ta.abf", "ABF", {"ta.abf": _abf1(sweeps, work)}, "ta.abf")
    add("sim.cfs", "CFS", {"sim.cfs": write_cfs(work / "sim.cfs", sweeps)}, "sim.cfs")
    for path in _tables(sweeps, work):
        add(path.name, "CSV/TSV", {path.name: path}, path.name)
    for name, text, sidecar in _mapped_tables(sweeps, work):
        files = {name: text.encode()}
        if sidecar is not None:
            files[name.replace(".csv", ".case.toml")] = sidecar.encode()
        add(name, "CSV/TSV", files, name, list(files))
    plain, packed, v4, v73, tabular = _mats(sweeps, work)
    for path in (plain, packed, v4, v73):
        add(path.name, "MAT", {path.name: path}, path.name)
    add("case.json", "Cadwell", {"case.json": _cadwell(sim, work)}, "case.json")
    folder = _sweep_files(sim, work)
    files = {f"P01/{p.name}": p for p in sorted(folder.iterdir())}
    add("P01/", "sweep files", files, "P01", [n for n in files if n.endswith(".edf")][:4]
        + ["P01/case.toml"])
    sidecar = FULL_SIDECAR.format(channels=_channels_toml(sim))
    add("sim.case.toml", "sidecar", {"sim.edf": edf, "sim.case.toml": sidecar.encode()},
        "sim.edf", ["sim.case.toml"])
    add("meps.case.toml", "sidecar", {"meps.mat": tabular,
                                      "meps.case.toml": TABULAR_SIDECAR.encode()},
        "meps.mat", ["meps.case.toml"])
    seeds += _real_seeds()
    return seeds


#: Sidecars that make real files analysable (those of benchmarks/fingerprint.py, and more).
REAL_SIDECARS = {
    "smr/physiology.smr": '[recording]\nstimulus_channel = "Magnet"\nwindow_ms = [-20, 100]\n',
    "edf/test_subsecond.edf": '[recording]\nstimulus_channel = "XLSpike"\n'
                              'window_ms = [-100, 500]\n',
    "mat_mep/ID02.mat": "TA", "mat_mep/ID04.mat": "TA", "mat_mep/ID10_1.mat": "ECR",
    # Episodes recorded from their first sample: a stimulus 50 ms in gives a noise window.
    "abf/pclamp11_4ch.abf": "[recording]\nstimulus_s = 0.05\n",
    "abf/pclamp11_4ch_abf1.abf": "[recording]\nstimulus_s = 0.05\n",
}
REAL_GROUPS = {".edf": "EDF", ".bdf": "BDF", ".vhdr": "BrainVision", ".wcp": "WinWCP",
               ".abf": "ABF", ".smr": "Spike2", ".cfs": "CFS", ".mat": "MAT"}


def _real_seeds() -> list[Seed]:
    """The real files of ../shared/realdata (none when that folder is absent)."""
    from iomon.agreement import mepfeatx_sidecar

    if not REALDATA.is_dir():
        return []
    seeds = []
    for path in sorted(REALDATA.rglob("*")):
        group = REAL_GROUPS.get(path.suffix.lower())
        if group is None:
            continue
        relative = path.relative_to(REALDATA).as_posix()
        files = {path.name: path.read_bytes()}
        targets = [path.name]
        if group == "BrainVision":
            for other in (".vmrk", ".eeg"):
                files[path.stem + other] = path.with_suffix(other).read_bytes()
                targets.append(path.stem + other)
        if group == "ABF":
            files = {path.name: _abf_voltage(path)}
        sidecar = REAL_SIDECARS.get(relative)
        if sidecar is not None:
            text = sidecar if "=" in sidecar else mepfeatx_sidecar(path.stem, sidecar)
            files[f"{path.stem}.case.toml"] = text.encode()
        seeds.append(Seed(f"real/{relative}", group, files, path.name, tuple(targets)))
    return seeds
