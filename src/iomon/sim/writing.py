"""Writing a simulated case: the recording (EDF+C), its case sidecar and its ground truth."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..case.sidecar import Case
from ..io import DEFAULT_WINDOW_S
from ..model.errors import InputError

__all__ = ["write_case_toml", "write_edf", "write_simulated_case"]


def _toml_value(value) -> str:
    """A TOML literal of a string, bool or number (JSON's string escapes are TOML's)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def write_case_toml(case: Case, path: Path) -> None:
    """Write a case sidecar (the format :func:`iomon.case.sidecar.read_case` reads)."""
    lines = ["[case]", f'id = "{case.id}"']
    if case.side:
        lines.append(f'side = "{case.side}"')
    lines.append("levels = [" + ", ".join(f'"{v}"' for v in case.levels) + "]")
    if case.procedure:
        lines.append(f"procedure = {_toml_value(case.procedure)}")
    window = case.read_options.window_s
    if tuple(window) != DEFAULT_WINDOW_S:
        lines += ["", "[recording]",
                  f"window_ms = [{window[0] * 1e3:g}, {window[1] * 1e3:g}]"]
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
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


#: EDF's 16-bit digital range.
_DIGITAL_RANGE = (-32768, 32767)


def _identity(patient_name: str):
    """The header's patient, recording and start, as edfio objects."""
    import datetime

    from edfio import Patient, Recording

    return dict(patient=Patient(code="SIM001", sex="X", name=patient_name),
                recording=Recording(startdate=datetime.date(2024, 1, 1),
                                    hospital_administration_code="SIM",
                                    investigator_technician_code="iomon",
                                    equipment_code="iomon.simulate"),
                starttime=datetime.time(8, 0, 0))


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

    Returns the path of the recording. Files are written under temporary names and renamed,
    so an interrupted run leaves no partial recording.
    """
    if fmt != "edf":
        raise InputError(f"unknown format {fmt!r} (available: edf)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = stem or sim.case.id
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
