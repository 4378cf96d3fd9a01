"""Writing a simulated case: the recording (EDF+C), its case sidecar and its ground truth."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..case import Case
from ..errors import InputError

__all__ = ["write_case_toml", "write_edf", "write_simulated_case"]


def _toml_value(value) -> str:
    """A TOML literal of a string, bool or number (JSON's string escapes are TOML's)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def write_case_toml(case: Case, path: Path) -> None:
    """Write a case sidecar (the format :func:`iomon.case.read_case` reads)."""
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
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_edf(sim, path: str | Path, *, patient_name: str = "Synthetic_Patient"):
    """Write the simulated recording as EDF+C (µV, 16 bit) with its annotations, via edfio."""
    import datetime

    from edfio import Edf, EdfAnnotation, EdfSignal, Patient, Recording

    signals_uv = sim.signals * 1e6
    seconds = signals_uv.shape[1] / sim.sfreq
    if abs(seconds - round(seconds)) > 1e-9:
        raise InputError("the simulated recording must last a whole number of seconds")
    edf_signals = []
    for ch, data in zip(sim.channels, signals_uv):
        low, high = float(np.floor(data.min())) - 1.0, float(np.ceil(data.max())) + 1.0
        edf_signals.append(EdfSignal(data, sim.sfreq, label=ch.name, transducer_type="AgAgCl",
                                     physical_dimension="uV", physical_range=(low, high),
                                     prefiltering="HP:0.1Hz LP:2500Hz"))
    edf = Edf(
        edf_signals,
        patient=Patient(code="SIM001", sex="X", name=patient_name),
        recording=Recording(startdate=datetime.date(2024, 1, 1), hospital_administration_code="SIM",
                            investigator_technician_code="iomon", equipment_code="iomon.simulate"),
        starttime=datetime.time(8, 0, 0),
        data_record_duration=1.0,
        annotations=[EdfAnnotation(a.onset_s, None, a.text) for a in sim.annotations],
    )
    edf.write(path)


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
