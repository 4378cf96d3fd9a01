"""Sweep tables: CSV/TSV text exports and MATLAB .mat files.

Vendors' text exports differ, so iomon reads one documented layout, which any export can be
converted to, and lets the case sidecar's ``[tabular]`` table name the parts of others.

**CSV/TSV** (comma, semicolon or tab separated; one row per sweep x channel)::

    sweep,channel,onset_s,stim_intensity,stim_unit,-10.0,-9.8,...,100.0
    0,L TA,12.5,400,V,1.2,0.9,...

``sweep`` and ``channel`` are required; ``onset_s`` (s since the recording start),
``stim_intensity``, ``stim_unit`` and ``montage`` are optional. Every other column is a sample,
named by its time in ms relative to the stimulus; values are µV. Sidecar keys: ``sweep_column``,
``channel_column``, ``onset_column``, ``intensity_column``, ``unit`` (``uV``, ``mV``, ``V``),
and ``sfreq_hz`` with ``first_sample_ms`` when the sample columns are not named by time.

**MATLAB** (.mat, version 5 to 7.2): a numeric variable ``data`` of shape
(sweeps, channels, samples), or (sweeps, samples) for one channel, in µV; ``sfreq`` (Hz);
``first_sample_ms`` (time of the first sample relative to the stimulus); optional ``channels``
(names), ``onset_s`` and ``stim_intensity`` (one per sweep). Sidecar keys: ``data_variable``,
``layout`` (the axis order, e.g. ``"samples,sweeps"``), ``sfreq_hz``, ``first_sample_ms``,
``channels``, ``unit``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..annotations import Stimulus
from ..errors import InputError
from ..sweeps import Sweeps
from . import Recording, infer_channels, sweep_table, unit_scale

TABULAR_KEYS = {"sweep_column", "channel_column", "onset_column", "intensity_column", "unit",
                "sfreq_hz", "first_sample_ms", "data_variable", "layout", "channels"}


def _scale(mapping, path):
    unit = mapping.get("unit", "uV")
    scale = unit_scale(unit)
    if scale is None:
        raise InputError(f"tabular unit {unit!r} is not a voltage (uV, mV or V)", path)
    return scale


def _times(n_samples, mapping, headers, path):
    """Sample times (s) from the sample columns' names, or from sfreq_hz + first_sample_ms."""
    if "sfreq_hz" in mapping:
        sfreq = float(mapping["sfreq_hz"])
        first = float(mapping.get("first_sample_ms", 0.0)) / 1e3
        return first + np.arange(n_samples) / sfreq, sfreq
    try:
        times = np.array([float(h) for h in headers]) / 1e3
    except ValueError:
        raise InputError("sample columns must be named by their time in ms (e.g. -10.0), or "
                         "the sidecar's [tabular] must give sfreq_hz and first_sample_ms",
                         path) from None
    steps = np.diff(times)
    if times.size < 2 or np.any(steps <= 0) or not np.allclose(steps, steps[0], rtol=1e-3):
        raise InputError("the sample columns' times (ms) must increase in even steps", path)
    sfreq = float(np.round(1.0 / steps.mean(), 6))
    return times[0] + np.arange(times.size) / sfreq, sfreq


def read_csv(path: str | Path, mapping: dict | None = None) -> Recording:
    """Read a sweep table in the layout of the module docstring."""
    import pandas as pd

    path = Path(path)
    mapping = mapping or {}
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    if not text.strip():
        raise InputError("the file is empty", path)
    # The header names every column, so the separator is the one it uses most.
    header = text.splitlines()[0]
    delimiter = max(("\t", ";", ","), key=header.count)
    try:
        frame = pd.read_csv(path, sep=delimiter, dtype=str, keep_default_na=False,
                            encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        first = str(err).strip().splitlines()[0]
        raise InputError(f"not a readable table ({first})", path) from None
    columns = {
        "sweep": mapping.get("sweep_column", "sweep"),
        "channel": mapping.get("channel_column", "channel"),
        "onset_s": mapping.get("onset_column", "onset_s"),
        "stim_intensity": mapping.get("intensity_column", "stim_intensity"),
        "stim_unit": "stim_unit",
        "montage": "montage",
    }
    for role in ("sweep", "channel"):
        if columns[role] not in frame:
            raise InputError(f"no {columns[role]!r} column (columns: "
                             f"{', '.join(frame.columns[:8])}...)", path)
    known = {c for c in columns.values() if c in frame}
    sample_columns = [c for c in frame.columns if c not in known]
    if len(sample_columns) < 2:
        raise InputError("fewer than 2 sample columns", path)
    values = frame[sample_columns]
    numeric = values.apply(pd.to_numeric, errors="coerce")
    bad = numeric.isna() & (values != "")
    if bad.any().any():
        row, column = np.argwhere(bad.to_numpy())[0]
        raise InputError(f"non-numeric cell {values.iat[row, column]!r} in row {row + 2}, "
                         f"column {sample_columns[column]!r}", path)
    if numeric.isna().any().any():
        row = int(np.flatnonzero(numeric.isna().any(axis=1).to_numpy())[0])
        raise InputError(f"row {row + 2} has fewer samples than the header (mismatched sample "
                         "counts)", path)
    times, sfreq = _times(len(sample_columns), mapping, sample_columns, path)

    sweep_ids = frame[columns["sweep"]]
    channel_names = list(dict.fromkeys(frame[columns["channel"]].str.strip()))
    order = list(dict.fromkeys(sweep_ids))
    n_sweeps, n_channels = len(order), len(channel_names)
    if len(frame) != n_sweeps * n_channels or frame.duplicated(
            [columns["sweep"], columns["channel"]]).any():
        raise InputError(f"every sweep needs exactly one row per channel ({n_sweeps} sweeps x "
                         f"{n_channels} channels, {len(frame)} rows)", path)
    data = np.empty((n_sweeps, n_channels, len(sample_columns)))
    sweep_index = sweep_ids.map({s: i for i, s in enumerate(order)}).to_numpy()
    channel_index = frame[columns["channel"]].str.strip().map(
        {c: i for i, c in enumerate(channel_names)}).to_numpy()
    data[sweep_index, channel_index] = numeric.to_numpy(float)
    data *= _scale(mapping, path)

    per_sweep = frame.groupby(sweep_index).first()

    def column(role, convert=float, default=np.nan):
        name = columns[role]
        if name not in frame:
            return [default] * n_sweeps
        try:
            return [convert(v) if v != "" else default for v in per_sweep[name]]
        except ValueError:
            raise InputError(f"column {name!r} must be numeric", path) from None

    onsets = column("onset_s")
    notes = []
    if np.isnan(onsets).any():
        onsets = list(np.arange(n_sweeps, dtype=float))
        notes.append("no onset_s column: sweeps are placed 1 s apart in file order")
    stimuli = [Stimulus(o, i, u, m) for o, i, u, m in zip(
        onsets, column("stim_intensity"), column("stim_unit", str, ""),
        column("montage", str, ""))]
    order_by_time = np.argsort(onsets, kind="stable")
    stimuli = [stimuli[i] for i in order_by_time]
    sweeps = Sweeps(data[order_by_time], times, sfreq, infer_channels(channel_names),
                    pd.DataFrame(sweep_table(stimuli)))
    duration = max(onsets) + times[-1]
    return Recording(path, "sweep table (CSV)", "pandas", sweeps, [], float(duration), None,
                     None, notes)


def _mat_value(variables, name):
    value = variables.get(name)
    if value is None:
        return None
    return np.squeeze(np.asarray(value))


def read_mat(path: str | Path, mapping: dict | None = None) -> Recording:
    """Read sweeps from a MATLAB file in the layout of the module docstring."""
    import pandas as pd
    import scipy.io

    path = Path(path)
    mapping = mapping or {}
    try:
        variables = scipy.io.loadmat(path, squeeze_me=False)
    except NotImplementedError:
        raise InputError("MATLAB v7.3 (HDF5) files are not read; save with -v7", path) from None
    except Exception as err:
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(f"cannot be read as a MATLAB file: {text}", path) from None
    name = mapping.get("data_variable", "data")
    if name not in variables:
        found = [k for k in variables if not k.startswith("__")]
        raise InputError(f"no variable {name!r} (variables: {', '.join(found)}); name it with "
                         "[tabular] data_variable in the sidecar", path)
    data = np.asarray(variables[name])
    if not np.issubdtype(data.dtype, np.number):
        raise InputError(f"variable {name!r} is not numeric", path)
    layout = [a.strip() for a in mapping.get(
        "layout", "sweeps,channels,samples" if data.ndim == 3 else "sweeps,samples").split(",")]
    if sorted(layout) not in (["channels", "samples", "sweeps"], ["samples", "sweeps"]) or \
            len(layout) != data.ndim:
        raise InputError(f"layout {','.join(layout)!r} does not fit {name!r} of shape "
                         f"{data.shape}", path)
    if "channels" not in layout:
        data = data[..., None]
        layout = layout + ["channels"]
    data = np.transpose(data, [layout.index(a) for a in ("sweeps", "channels", "samples")])
    data = data.astype(float) * _scale(mapping, path)
    if not np.isfinite(data).all():
        raise InputError(f"variable {name!r} holds NaN or infinite values", path)

    sfreq = mapping.get("sfreq_hz", _mat_value(variables, "sfreq"))
    first_ms = mapping.get("first_sample_ms", _mat_value(variables, "first_sample_ms"))
    if sfreq is None or first_ms is None:
        raise InputError("the sampling rate and the first sample's time are needed: variables "
                         "sfreq and first_sample_ms, or [tabular] sfreq_hz and first_sample_ms",
                         path)
    sfreq = float(sfreq)
    times = float(first_ms) / 1e3 + np.arange(data.shape[2]) / sfreq
    names = mapping.get("channels")
    if names is None and "channels" in variables:
        names = [str(np.squeeze(n)) for n in np.ravel(variables["channels"])]
    names = names or [f"channel {k + 1}" for k in range(data.shape[1])]
    if len(names) != data.shape[1]:
        raise InputError(f"{len(names)} channel names for {data.shape[1]} channels", path)
    n_sweeps = data.shape[0]
    onsets = _mat_value(variables, "onset_s")
    notes = []
    if onsets is None or np.size(onsets) != n_sweeps:
        onsets = np.arange(n_sweeps, dtype=float)
        notes.append("no onset_s variable: sweeps are placed 1 s apart in file order")
    intensity = _mat_value(variables, "stim_intensity")
    if intensity is None or np.size(intensity) != n_sweeps:
        intensity = np.full(n_sweeps, np.nan)
    stimuli = [Stimulus(float(o), float(i), "", "") for o, i in
               zip(np.ravel(onsets), np.ravel(intensity))]
    sweeps = Sweeps(data, times, sfreq, infer_channels(names), pd.DataFrame(sweep_table(stimuli)))
    return Recording(path, "sweep table (MATLAB)", "scipy.io.loadmat", sweeps, [],
                     float(np.max(onsets) + times[-1]), None, None, notes)
