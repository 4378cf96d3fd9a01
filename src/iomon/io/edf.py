"""Continuous EDF+/BDF recordings (EDF+C, BDF+C and plain EDF/BDF), read with edfio.

Sweeps are cut out of the file around each stimulus without loading the whole recording:
edfio maps the data records lazily and only the windows are read.
"""

from __future__ import annotations

import datetime
import warnings
from pathlib import Path

import numpy as np

from ..annotations import Annotation
from ..errors import InputError
from ..sweeps import Sweeps
from . import (
    TRIGGER_PATTERN,
    ReadOptions,
    Recording,
    infer_channels,
    stimuli_or_error,
    sweep_table,
    trigger_onsets,
    unit_scale,
)


def _check_header(path: Path) -> None:
    """Refuse files whose fixed header is not EDF/BDF or whose size contradicts it."""
    size = path.stat().st_size
    with path.open("rb") as f:
        header = f.read(256)
    if len(header) < 256:
        raise InputError(f"not an EDF/BDF file (only {size} bytes, the header needs 256)", path)
    if not (header.startswith(b"0       ") or header[:8] == b"\xffBIOSEMI"):
        raise InputError("not an EDF/BDF file (the header does not start with the EDF or BDF "
                         "version field)", path)
    try:
        header_bytes = int(header[184:192].decode("ascii").strip())
        n_records = int(header[236:244].decode("ascii").strip())
        n_signals = int(header[252:256].decode("ascii").strip())
    except ValueError:
        raise InputError("corrupt EDF header (header size, record count or signal count is not "
                         "a number)", path) from None
    if n_signals <= 0 or header_bytes != 256 * (n_signals + 1):
        raise InputError(f"corrupt EDF header ({n_signals} signals but a {header_bytes}-byte "
                         "header)", path)
    if size < header_bytes:
        raise InputError(f"truncated: the header alone needs {header_bytes} bytes, the file has "
                         f"{size}", path)
    with path.open("rb") as f:
        f.seek(256 + n_signals * 216)
        raw = f.read(n_signals * 8)
    try:
        per_record = [int(raw[i * 8:(i + 1) * 8].decode("ascii").strip())
                      for i in range(n_signals)]
    except ValueError:
        raise InputError("corrupt EDF header (samples per record is not a number)", path) from None
    bytes_per_sample = 3 if header[:8] == b"\xffBIOSEMI" else 2
    record_bytes = sum(per_record) * bytes_per_sample
    if n_records > 0 and record_bytes > 0:
        expected = header_bytes + n_records * record_bytes
        if size < expected:
            raise InputError(f"truncated: the header promises {n_records} data records "
                             f"({expected} bytes), the file has {size} bytes", path)


def _voltage_channels(signals, path):
    """The voltage channels at the sampling rate most of them share, and notes on the rest."""
    from collections import Counter

    notes, voltage = [], []
    for signal in signals:
        unit = signal.physical_dimension.strip()
        if not unit:
            notes.append(f"channel {signal.label.strip()!r} has no unit; taken as µV")
        elif unit_scale(unit) is None:
            notes.append(f"channel {signal.label.strip()!r} ({unit}) is not a voltage and was "
                         "left out")
            continue
        voltage.append(signal)
    if not voltage:
        raise InputError("the recording has no voltage channel to analyse", path)
    rates = Counter(float(s.sampling_frequency) for s in voltage)
    best = max(rates, key=lambda r: (rates[r], r))
    dropped = [s.label.strip() for s in voltage if float(s.sampling_frequency) != best]
    if dropped:
        notes.append(f"channels at other sampling rates than {best:g} Hz were left out: "
                     + ", ".join(dropped))
    return [s for s in voltage if float(s.sampling_frequency) == best], notes


def read_edf(path: str | Path, options: ReadOptions | None = None) -> Recording:
    """Read a continuous EDF+/BDF recording into sweeps around its stimuli.

    Stimuli come from annotations (see :mod:`iomon.annotations`), else from a trigger channel
    (the one ``options.stimulus_channel`` names, or one named like a trigger). A sweep whose
    window runs past either end of the recording is dropped, with a note. Voltage channels at
    the sampling rate most of them share are read; others are left out with a note.

    Parameters
    ----------
    path : str or Path
        An ``.edf`` or ``.bdf`` file.
    options : ReadOptions
        Sweep window and stimulus source.
    """
    import edfio

    path = Path(path)
    options = options or ReadOptions()
    _check_header(path)
    with path.open("rb") as f:
        is_bdf = f.read(8) == b"\xffBIOSEMI"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            # edfio maps EDF data lazily; its BDF reader has no such option yet.
            edf = edfio.read_bdf(path) if is_bdf else edfio.read_edf(path, lazy_load_data=True)
        except Warning as warning:
            raise InputError(f"inconsistent EDF file: {warning}", path) from None
        except Exception as err:  # edfio raises plain ValueErrors for malformed headers
            raise InputError(f"cannot be read as EDF/BDF: {err}", path) from None
        try:
            is_plus = edf.reserved.startswith(("EDF+", "BDF+"))
            if is_plus and not edf.is_continuous:
                raise InputError("EDF+D (discontinuous) recordings are not supported yet", path)
            annotations = [Annotation(float(a.onset), float(a.duration or 0.0), a.text)
                           for a in edf.annotations]
        except InputError:
            raise
        except Exception as err:
            raise InputError(f"cannot read the EDF+ annotations: {err}", path) from None

    kind = ("BDF" if is_bdf else "EDF") + (("+C") if is_plus else "")
    signals = list(edf.signals)
    if options.stimulus_channel:
        trigger = [s for s in signals if s.label.strip() == options.stimulus_channel]
        if not trigger:
            raise InputError(f"the sidecar's stimulus_channel {options.stimulus_channel!r} is "
                             "not a channel of this recording", path)
    else:
        trigger = [s for s in signals if TRIGGER_PATTERN.match(s.label.strip())]
    emg, notes = _voltage_channels([s for s in signals if s not in trigger], path)
    sfreq = float(emg[0].sampling_frequency)
    duration = float(edf.duration)

    trigger_times = None
    if trigger:
        source = trigger[0]
        is_status = source.label.strip().lower().endswith("status")
        values = source.digital if is_status else source.data
        trigger_times = trigger_onsets(values, float(source.sampling_frequency), is_status)
    stimuli = stimuli_or_error(annotations, trigger_times, path)

    first = int(round(options.window_s[0] * sfreq))
    n_samples = int(round(options.window_s[1] * sfreq)) - first + 1
    n_total = int(round(duration * sfreq))
    starts = np.array([int(round(s.onset_s * sfreq)) + first for s in stimuli])
    inside = (starts >= 0) & (starts + n_samples <= n_total)
    if not inside.all():
        notes.append(f"{int((~inside).sum())} stimulus/stimuli too close to the recording's "
                     "start or end for a full sweep window were skipped")
    stimuli = [s for s, keep in zip(stimuli, inside) if keep]
    starts = starts[inside]
    if not stimuli:
        raise InputError("no stimulus leaves room for a full sweep window inside the recording",
                         path)

    names = [s.label.strip() for s in emg]
    if len(set(names)) != len(names):
        seen: dict[str, int] = {}
        unique = []
        for name in names:
            seen[name] = seen.get(name, 0) + 1
            unique.append(name if seen[name] == 1 else f"{name}-{seen[name]}")
        notes.append("duplicate channel labels were numbered: " + ", ".join(
            n for n in unique if n not in names))
        names = unique

    data = np.empty((len(stimuli), len(emg), n_samples))
    for c, signal in enumerate(emg):
        scale = unit_scale(signal.physical_dimension) or 1e-6  # no unit: µV, noted above
        for i, start in enumerate(starts):
            data[i, c] = signal.get_data_slice(start / sfreq, (start + n_samples) / sfreq)
        data[:, c] *= scale

    times = (np.arange(n_samples) + first) / sfreq
    import pandas as pd

    sweeps = Sweeps(data, times, sfreq, infer_channels(names), pd.DataFrame(sweep_table(stimuli)))
    try:
        start = edf.startdatetime
    except Exception:
        start = None
    try:
        patient = edf.local_patient_identification.strip() or None
    except Exception:
        patient = None
    from importlib.metadata import version

    return Recording(path, kind, f"edfio {version('edfio')}", sweeps,
                     sorted(annotations, key=lambda a: a.onset_s), duration,
                     start if isinstance(start, datetime.datetime) else None, patient, notes)
