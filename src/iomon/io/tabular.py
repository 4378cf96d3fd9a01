"""Sweep tables, CSV/TSV text exports and MATLAB .mat files: the shared ``[tabular]`` section.

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

The readers are :mod:`iomon.io.csvtable` and :mod:`iomon.io.matlab`.
"""

from __future__ import annotations

import math

import numpy as np

from ..model.errors import InputError
from .base import MAX_SFREQ_HZ, check_rate, unit_scale

__all__ = ["TABULAR_KEYS", "check_tabular"]

TABULAR_KEYS = {"sweep_column", "channel_column", "onset_column", "intensity_column", "unit",
                "sfreq_hz", "first_sample_ms", "data_variable", "layout", "channels"}
#: Keys whose value is a number (the others are text, ``channels`` a list of names).
_NUMBERS = ("sfreq_hz", "first_sample_ms")
#: Their ranges: (lower bound test, upper bound, the range in words).
_RANGES = {"sfreq_hz": (lambda v: v > 0, MAX_SFREQ_HZ, f"a number > 0, at most {MAX_SFREQ_HZ:g}"),
           "first_sample_ms": (lambda v: v >= -1e9, 1e9, "a number from -1e9 to 1e9")}


def check_tabular(table: dict) -> dict:
    """Validate the sidecar's ``[tabular]`` table; returns it (InputError naming the key)."""
    unknown = sorted(set(table) - TABULAR_KEYS)
    if unknown:
        raise InputError(f"unknown key {unknown[0]!r} in [tabular] (expected: "
                         f"{', '.join(sorted(TABULAR_KEYS))})")
    for key, (low, high, text) in _RANGES.items():
        value = table.get(key)
        if value is not None and not (_is_number(value) and low(value) and value <= high):
            raise InputError(f"tabular.{key} must be {text}, got {value!r}")
    for key in TABULAR_KEYS - set(_NUMBERS) - {"channels"}:
        if key in table and not isinstance(table[key], str):
            raise InputError(f"tabular.{key} must be text, got {table[key]!r}")
    if "channels" in table and (not isinstance(table["channels"], list) or not all(
            isinstance(v, str) for v in table["channels"])):
        raise InputError("tabular.channels must be a list of channel names")
    return dict(table)


def _is_number(value) -> bool:
    """A finite int or float (not a bool); an int too large for a float is not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def scale_of(mapping, path):
    """Volts per unit of the table's values (``unit``, default µV)."""
    unit = mapping.get("unit", "uV")
    scale = unit_scale(unit)
    if scale is None:
        raise InputError(f"tabular unit {unit!r} is not a voltage (uV, mV or V)", path)
    return scale


def sample_times(n_samples, mapping, headers, path):
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
    if (times.size < 2 or not np.isfinite(times).all() or np.any(steps <= 0)
            or not np.allclose(steps, steps[0], rtol=1e-3)):
        raise InputError("the sample columns' times (ms) must increase in even steps", path)
    sfreq = check_rate(np.round(1.0 / steps.mean(), 6), "the sample columns' times", path)
    return times[0] + np.arange(times.size) / sfreq, sfreq
