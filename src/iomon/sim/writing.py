"""Writing a simulated case: the recording, its case sidecar and its ground truth.

The recording is one EDF+C file (:func:`write_edf`), or a folder of one EDF+D file per sweep
as inomed ISIS exports a case (:func:`write_sweep_files`).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np

from ..case.sidecar import Case
from ..io import DEFAULT_WINDOW_S, ReadOptions
from ..model.errors import InputError

__all__ = ["RECORDING_START", "sweep_file_name", "sweep_windows", "write_case_toml",
           "write_edf", "write_simulated_case", "write_sweep_files"]


def _toml_value(value) -> str:
    """A TOML literal of a string, bool, number or a list of them.

    JSON's string escapes are TOML's.
    """
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def write_case_toml(case: Case, path: Path, recording: dict | None = None) -> None:
    """Write a case sidecar (the format :func:`iomon.case.sidecar.read_case` reads).

    ``recording`` is its ``[recording]`` table (key -> number or text), if any.
    """
    lines = ["[case]", f'id = "{case.id}"']
    if case.side:
        lines.append(f'side = "{case.side}"')
    lines.append("levels = [" + ", ".join(f'"{v}"' for v in case.levels) + "]")
    if case.procedure:
        lines.append(f"procedure = {_toml_value(case.procedure)}")
    for spec in case.channels:
        lines += ["", "[[channels]]", f'name = "{spec.name}"']
        for key in ("muscle", "side", "limb", "role"):
            value = getattr(spec, key)
            if value is not None:
                lines.append(f'{key} = "{value}"')
    for phase in case.phases:
        lines += ["", "[[phases]]", f'name = "{phase.name}"', f"start_s = {phase.start_s}",
                  f"end_s = {phase.end_s}"]
    if case.clinical:
        lines += ["", "[clinical]"]
        lines += [f"{key} = {_toml_value(value)}" for key, value in case.clinical.items()]
    window = case.read_options.window_s
    table = [f"{key} = {_toml_value(value)}" for key, value in (recording or {}).items()]
    if tuple(window) != DEFAULT_WINDOW_S and "window_ms" not in (recording or {}):
        table.append(f"window_ms = [{window[0] * 1e3:g}, {window[1] * 1e3:g}]")
    if table:
        lines += ["", "[recording]", *table]
    simulation = case.simulation
    if simulation is not None:  # says the case is synthetic, and how compressed its time is
        lines += ["", "[simulation]"] + [
            f"{key} = {_toml_value(value)}" for key, value in (
                ("time_compression", simulation.time_compression),
                ("scenario", simulation.scenario), ("seed", simulation.seed))
            if value is not None]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


#: EDF's 16-bit digital range.
_DIGITAL_RANGE = (-32768, 32767)


#: When a simulated recording starts (its EDF header's start date and time).
RECORDING_START = datetime.datetime(2024, 1, 1, 8, 0, 0)


def _identity(patient_name: str):
    """The header's patient, recording and start, as edfio objects."""
    from edfio import Patient, Recording

    return dict(patient=Patient(code="SIM001", sex="X", name=patient_name),
                recording=Recording(startdate=RECORDING_START.date(),
                                    hospital_administration_code="SIM",
                                    investigator_technician_code="iomon",
                                    equipment_code="iomon.simulate"),
                starttime=RECORDING_START.time())


def _extremes_uv(plan) -> tuple[np.ndarray, np.ndarray]:
    """Each channel's physical range for the file: its extremes in µV, widened to integers."""
    low = np.full(plan.n_channels, np.inf)
    high = np.full(plan.n_channels, -np.inf)
    for _, block in plan.blocks():
        uv = block * 1e6
        low, high = np.minimum(low, uv.min(axis=1)), np.maximum(high, uv.max(axis=1))
    return np.floor(low) - 1.0, np.ceil(high) + 1.0


def _tal(onset: float, text: str = "") -> bytes:
    """One time-stamped annotation list of EDF+ (onset in s, shortest round-trip digits)."""
    return f"{np.format_float_positional(onset, unique=True, trim='-', sign=True)}\x14{text}\x14" \
        .encode()


def annotation_records(annotations, n_records: int, record_s: float = 1.0) -> list[bytes]:
    """The EDF+ annotation signal, record by record, padded to one length.

    Each record starts with its time-keeping annotation; an annotation goes into the record
    it falls in (the last record takes any after the end), in time order.
    """
    pending = sorted(((a.onset_s, a.text) for a in annotations), reverse=True)
    records = []
    for i, start in enumerate(np.arange(n_records) * record_s):
        tals = [_tal(start)]
        while pending and (pending[-1][0] < start + record_s or i == n_records - 1):
            onset, text = pending.pop()
            tals.append(_tal(onset, text))
        records.append(b"\x00".join(tals) + b"\x00")
    longest = max(len(r) for r in records)
    longest += longest % 2
    return [r.ljust(longest, b"\x00") for r in records]


def _header(sim, low, high, n_records: int, annotation_samples: int, patient_name: str
            ) -> bytes:
    """The EDF+C header, formatted by edfio (a one-record file), with the real counts."""
    import io

    from edfio import Edf, EdfSignal

    per_record = int(round(sim.sfreq))
    signals = [EdfSignal(np.full(per_record, lo), sim.sfreq, label=ch.name,
                         transducer_type="AgAgCl", physical_dimension="uV",
                         physical_range=(lo, hi), prefiltering="HP:0.1Hz LP:2500Hz")
               for ch, lo, hi in zip(sim.channels, low, high)]
    buffer = io.BytesIO()
    Edf(signals, data_record_duration=1.0, annotations=[], **_identity(patient_name)) \
        .write(buffer)
    n_signals = len(signals) + 1
    header = bytearray(buffer.getvalue()[:256 * (n_signals + 1)])
    # EDF: number of data records at byte 236; each signal's samples per record after the
    # 216 bytes per signal of the fields before it (the annotation signal is the last).
    header[236:244] = str(n_records).ljust(8).encode()
    at = 256 + 216 * n_signals + 8 * (n_signals - 1)
    header[at:at + 8] = str(annotation_samples).ljust(8).encode()
    return bytes(header)


def write_edf(sim, path: str | Path, *, patient_name: str = "Synthetic_Patient"):
    """Write the simulated recording as EDF+C (µV, 16 bit, 1 s records) with its annotations.

    The recording is rendered block by block twice (its extremes set each channel's physical
    range, then the records are written), so a case of any length is written in the memory of
    a few blocks. The file is byte for byte what edfio writes from the whole recording (the
    header is edfio's; tested).
    """
    plan = sim.plan
    per_record = int(round(sim.sfreq))
    if abs(sim.sfreq - per_record) > 1e-9 or plan.n_samples % per_record or \
            plan.block % per_record:
        raise InputError("the simulated recording must last a whole number of seconds at a "
                         "whole-number sampling rate")
    n_records = plan.n_samples // per_record
    low, high = _extremes_uv(plan)
    gain = (high - low) / (_DIGITAL_RANGE[1] - _DIGITAL_RANGE[0])
    offset = high / gain - _DIGITAL_RANGE[1]
    tals = annotation_records(sim.annotations, n_records)
    with Path(path).open("wb") as f:
        f.write(_header(sim, low, high, n_records, len(tals[0]) // 2, patient_name))
        for first, block in plan.blocks():
            scaled = block * 1e6  # in place from here: one temporary of the block's size
            scaled /= gain[:, None]
            scaled -= offset[:, None]
            digital = np.round(scaled, out=scaled).astype("<i2")
            del scaled
            n = block.shape[1] // per_record
            records = digital.reshape(plan.n_channels, n, per_record).transpose(1, 0, 2)
            k = first // per_record
            annotations = np.frombuffer(b"".join(tals[k:k + n]), np.uint8).reshape(n, -1)
            np.concatenate([records.reshape(n, -1).view(np.uint8), annotations],
                           axis=1).tofile(f)


def write_simulated_case(sim, out_dir: str | Path, stem: str | None = None,
                         fmt: str = "edf") -> Path:
    """Write recording, ``.case.toml`` sidecar and ``.truth.json`` into ``out_dir``.

    A case whose acquisition exports one file per sweep (``layout`` ``"sweep-files"``) is
    written as a folder ``<stem>`` of sweep files instead (:func:`write_sweep_files`, the
    sidecar inside, the truth beside it). Returns the path of the recording (or folder).
    Files are written under temporary names and renamed,
    so an interrupted run leaves no partial recording.
    """
    if fmt != "edf":
        raise InputError(f"unknown format {fmt!r} (available: edf)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = stem or sim.case.id
    acquisition = sim.plan.acquisition
    if acquisition.layout == "sweep-files":
        return write_sweep_files(sim, out_dir / stem, window_s=tuple(acquisition.window_s))
    recording = out_dir / f"{stem}.edf"
    targets = [(recording, lambda p: write_edf(sim, p)),
               (out_dir / f"{stem}.case.toml", lambda p: write_case_toml(sim.case, p)),
               (out_dir / f"{stem}.truth.json",
                lambda p: p.write_text(json.dumps(sim.truth.to_dict(), indent=1),
                                       encoding="utf-8"))]
    for target, write in targets:
        tmp = target.with_name(f".{target.name}.partial")
        try:
            write(tmp)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()
    return recording


# ------------------------------------------------------------------ one EDF+D file per sweep
def sweep_file_name(start: datetime.datetime, uid: uuid.UUID) -> str:
    """An inomed-style sweep file name: ``YYYYMMDD_HHMMSS_mmm.MEPt_<uuid>.edf``."""
    return f"{start:%Y%m%d_%H%M%S}_{start.microsecond // 1000:03d}.MEPt_{uid}.edf"


def _edf_field(value, width: int) -> bytes:
    text = str(value).encode("ascii")
    if len(text) > width:
        raise ValueError(f"{value!r} does not fit an EDF header field of {width} characters")
    return text.ljust(width)


def _edf_number(value: float, outward: float) -> str:
    """A number in at most 8 characters, rounded away from the data (``outward`` -1 or +1)."""
    for decimals in range(6, -1, -1):
        scale = 10.0 ** decimals
        rounded = (np.floor if outward < 0 else np.ceil)(value * scale) / scale
        text = f"{rounded:.{decimals}f}"
        if len(text) <= 8:
            return text
    raise ValueError(f"{value!r} does not fit an EDF header number")


_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def _sweep_header(names, lows, highs, n_samples: int, record_s: float, n_tal: int,
                  start: datetime.datetime) -> bytes:
    """The EDF+D header of a one-record sweep file, channels in mV."""
    n_all = len(names) + 1
    duration = f"{record_s:.8g}"[:8]
    header = b"".join([
        _edf_field("0", 8), _edf_field("X X X Anonymous", 80),
        _edf_field(f"Startdate {start:%d}-{_MONTHS[start.month - 1]}-{start:%Y} X X X", 80),
        _edf_field(f"{start:%d.%m.%y}", 8), _edf_field(f"{start:%H.%M.%S}", 8),
        _edf_field(256 * (n_all + 1), 8), _edf_field("EDF+D", 44), _edf_field(1, 8),
        _edf_field(duration, 8), _edf_field(n_all, 4)])
    columns = [(16, list(names) + ["EDF Annotations"]),
               (80, ["AgAgCl electrode"] * len(names) + [""]),
               (8, ["mV"] * len(names) + [""]), (8, list(lows) + ["-1"]),
               (8, list(highs) + ["1"]), (8, ["-32768"] * n_all), (8, ["32767"] * n_all),
               (80, [""] * n_all), (8, [n_samples] * len(names) + [n_tal]),
               (32, [""] * n_all)]
    for width, values in columns:
        header += b"".join(_edf_field(v, width) for v in values)
    return header


def _sweep_record(window_mv, range_mv):
    """Each channel's physical range (header texts) and its samples as EDF digital values."""
    if range_mv is None:
        low, high = window_mv.min(axis=1), window_mv.max(axis=1)
        span = np.maximum(high - low, 1e-3)
        lows = [_edf_number(v, -1) for v in low - 1e-3 * span]
        highs = [_edf_number(v, +1) for v in high + 1e-3 * span]
    else:  # a fixed range, as an amplifier's: what lies beyond saturates
        lows = [_edf_number(-range_mv, -1)] * len(window_mv)
        highs = [_edf_number(range_mv, +1)] * len(window_mv)
    lo = np.array(lows, float)[:, None]
    gain = (np.array(highs, float)[:, None] - lo) / 65535
    digital = np.clip(np.round((window_mv - lo) / gain - 32768), -32768, 32767)
    return lows, highs, digital.astype("<i2")


def _tal_block(onset_s: float, markers) -> bytes:
    """The annotation signal of a sweep's one record: its time-keeping TAL, then markers."""
    tals = [_tal(onset_s)] + [_tal(at, text) for at, text in markers]
    block = b"\x00".join(tals) + b"\x00"
    return block.ljust(len(block) + len(block) % 2, b"\x00")


def _write_sweep(path: Path, names, window_v, sfreq, start_s, markers, range_mv) -> None:
    """One sweep as a one-record EDF+D file whose record starts ``start_s`` after 08:00:00."""
    whole = int(np.floor(start_s))
    header_start = RECORDING_START + datetime.timedelta(seconds=whole)
    lows, highs, digital = _sweep_record(window_v * 1e3, range_mv)
    tal = _tal_block(start_s - whole, [(at - whole, text) for at, text in markers])
    n_samples = window_v.shape[1]
    record_s = n_samples / sfreq
    if abs(float(f"{record_s:.8g}"[:8]) * sfreq - n_samples) > 1e-6:
        raise InputError(f"a sweep of {n_samples} samples at {sfreq:g} Hz lasts "
                         f"{record_s!r} s, which an EDF header cannot state in 8 characters")
    with path.open("wb") as f:
        f.write(_sweep_header(names, lows, highs, n_samples, record_s, len(tal) // 2,
                              header_start))
        f.write(digital.tobytes())
        f.write(tal)


def sweep_windows(sim, starts, n_samples):
    """Yield ``(k, window)`` for each sweep window of the rendered recording, in time order.

    ``starts`` are the windows' first samples (increasing); each window, volts
    (n_channels, n_samples), is gathered from the blocks it overlaps, so that memory holds a
    block and the windows it completes.
    """
    pending, k = {}, 0
    for first, block in sim.plan.blocks():
        stop = first + block.shape[1]
        while k < len(starts) and starts[k] < stop:
            pending[k] = np.empty((block.shape[0], n_samples))
            k += 1
        for j in sorted(pending):
            a, b = max(starts[j], first), min(starts[j] + n_samples, stop)
            if a < b:
                pending[j][:, a - starts[j]:b - starts[j]] = block[:, a - first:b - first]
            if starts[j] + n_samples <= stop:
                yield j, pending.pop(j)


def _markers_by_sweep(annotations, window_starts_s) -> list[list]:
    """Phase and baseline markers (not stimuli), each in the file of the sweep after it."""
    from ..model.annotations import is_stimulus

    out = [[] for _ in window_starts_s]
    for a in annotations:
        if is_stimulus(a.text):
            continue
        k = min(int(np.searchsorted(window_starts_s, a.onset_s)), len(out) - 1)
        out[k].append((a.onset_s, a.text))
    return out


def write_sweep_files(sim, folder: str | Path, window_s=(-0.010, 0.100), *,
                      range_mv: float | None = None, markers: bool = True) -> Path:
    """Write a simulated case as inomed ISIS exports one: a folder of one EDF+D file per sweep.

    Each stimulus gives a file named ``YYYYMMDD_HHMMSS_mmm.MEPt_<uuid>.edf`` (the sweep's
    start; the uuids drawn from the case's seed), holding one data record of the window
    around it, whose time-keeping annotation gives the record's onset after the header's
    start time (a whole second); the channels in mV, each with the physical range of its data
    (or ``range_mv`` either side of zero, beyond which the data saturate, as an amplifier's
    fixed range does); patient field ``X X X Anonymous``; no stimulus annotation. With
    ``markers`` the phase and ``Baseline`` markers go into the next sweep's file as EDF+
    annotations (their onsets may precede the record). The folder also gets the case sidecar
    (``case.toml``, with ``[recording] mains_hz`` as a team states it for such exports, and
    ``stimulus_s`` when the window starts before the stimulus) and, beside it,
    ``<folder>.truth.json``.

    Parameters
    ----------
    sim : SimulatedCase
    folder : str or Path
        Created; refused if it exists and is not empty. Written under a temporary name and
        renamed, so an interrupted run leaves no partial case.
    window_s : (float, float)
        The sweep, s around each stimulus; (0, 0.15) starts at the stimulus as inomed's do.
    range_mv : float, optional
    markers : bool

    Returns
    -------
    Path
        The folder.
    """
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InputError("exists and is not an empty folder: sweep files are written into a "
                         "new one", folder)
    sfreq, onsets = sim.sfreq, np.asarray(sim.truth.sweeps.onset_s, float)
    first = int(round(window_s[0] * sfreq))
    n_samples = int(round((window_s[1] - window_s[0]) * sfreq))
    starts = np.round(onsets * sfreq).astype(int) + first
    if n_samples < 2 or starts[0] < 0 or starts[-1] + n_samples > sim.plan.n_samples:
        raise InputError(f"the sweep window {window_s} s does not fit the simulated recording")
    rng = np.random.default_rng(sim.truth.seed)
    uids = [uuid.UUID(bytes=rng.bytes(16), version=4) for _ in starts]
    marks = _markers_by_sweep(sim.annotations if markers else [], starts / sfreq)
    names = [ch.name for ch in sim.channels]
    tmp = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for k, window in sweep_windows(sim, starts, n_samples):
            start_s = starts[k] / sfreq
            when = RECORDING_START + datetime.timedelta(seconds=float(start_s))
            _write_sweep(tmp / sweep_file_name(when, uids[k]), names, window, sfreq, start_s,
                         marks[k], range_mv)
        # Episodic files: the window is each file's, not one cut from a recording.
        # Sweeps alone are too short to tell 50 from 60 Hz hum: the team states its mains, as
        # iomon's note on such exports asks.
        recording = {"mains_hz": int(round(sim.truth.mains_hz))}
        if first < 0:
            recording["stimulus_s"] = -first / sfreq
        write_case_toml(dataclasses.replace(sim.case, read_options=ReadOptions()),
                        tmp / "case.toml", recording)
        if folder.exists():
            folder.rmdir()
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    folder.with_name(folder.name + ".truth.json").write_text(
        json.dumps(sim.truth.to_dict(), indent=1), encoding="utf-8")
    return folder
