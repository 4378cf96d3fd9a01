"""CED Filing System files (.cfs), as written by CED's Signal, common in MEP laboratories.

A small parser of the documented layout (CED's CFS manual; the C structures of the MIT-licensed
CFS reimplementation by S. O'Sullivan agree). The maintained PyPI wrapper (pythonCFS 0.1.2)
reads the samples but not the sampling interval, time offset or frame variables, which an
analysis needs.

Layout (little-endian): a 178-byte general header; 48 bytes per channel; variable
descriptions of 36 bytes each (file variables, then data-section variables, each list ending
with a system entry); a table of data-section header offsets; per data section (frame) a
header of 30 bytes, 24 bytes per channel (data offset, points, y scale, y offset, x increment,
x offset) and the frame variables' values. Strings are Pascal strings (length byte first).

Each frame is a sweep. Its times are ``x_offset + k * x_increment`` (Signal puts the trigger at
0), converted to seconds from the channel's x units. Numeric frame variables become columns of
the sweep table (``cfs_<name>``).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from ..model.annotations import Stimulus
from ..model.errors import InputError
from .base import (
    MAX_SWEEP_VALUES,
    Reader,
    ReadOptions,
    Recording,
    assemble,
    check_rate,
    check_time,
    unit_scale,
)

__all__ = ["READER", "read_cfs"]

_MAGIC = b'CEDFILE"'
_GENERAL = struct.Struct("<8s14si8s8shhhhhiHH74si40s")
_CHANNEL = struct.Struct("<22s10s10sBBhh")
_VARIABLE = struct.Struct("<22sh10sh")
_DS_HEADER = struct.Struct("<iiiH16s")
_DS_CHANNEL = struct.Struct("<iiffff")
_DTYPES = {0: "<i1", 1: "<u1", 2: "<i2", 3: "<u2", 4: "<i4", 5: "<f4", 6: "<f8"}
_TIME_UNITS = {"s": 1.0, "sec": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6}


def _pascal(raw: bytes) -> str:
    """A CFS string: its first byte is the length."""
    length = raw[0] if raw else 0
    return raw[1:1 + length].decode("latin-1").strip()


def _variables(buffer, offset, count):
    """``count`` variable descriptions (name, type, units, offset) from ``offset``."""
    out = []
    for k in range(count):
        name, kind, units, position = _VARIABLE.unpack_from(buffer, offset + k * _VARIABLE.size)
        out.append((_pascal(name), kind, _pascal(units), position))
    return out


def _header(buffer: bytes, path: Path) -> dict:
    """The general header, the channel descriptions and the frame table, checked."""
    if not buffer.startswith(_MAGIC):
        raise InputError("not a CFS file (it does not start with CEDFILE\")", path)
    if len(buffer) < _GENERAL.size:
        raise InputError(f"truncated: {len(buffer)} bytes, the CFS header needs "
                         f"{_GENERAL.size}", path)
    (_, _, file_size, _, _, n_channels, n_file_vars, n_ds_vars, _, _, _, n_frames, _,
     comment, table_offset, _) = _GENERAL.unpack_from(buffer, 0)
    if file_size > len(buffer):
        raise InputError(f"truncated: the header promises {file_size} bytes, the file has "
                         f"{len(buffer)}", path)
    if n_channels <= 0 or n_file_vars < 0 or n_ds_vars < 0:
        raise InputError("corrupt CFS header (channel or variable counts)", path)
    if n_frames == 0:
        raise InputError("CFS file holds no frames (0 data sections): nothing to analyse", path)
    variables_at = _GENERAL.size + n_channels * _CHANNEL.size + (n_file_vars + 1) * _VARIABLE.size
    if variables_at + n_ds_vars * _VARIABLE.size > len(buffer):
        raise InputError("corrupt CFS header (channel or variable tables outside the file)",
                         path)
    channels = []
    for c in range(n_channels):
        name, y_units, x_units, kind, data_kind, spacing, _ = _CHANNEL.unpack_from(
            buffer, _GENERAL.size + c * _CHANNEL.size)
        channels.append((_pascal(name), _pascal(y_units), _pascal(x_units), kind, data_kind,
                         spacing))
    if not 0 < table_offset <= len(buffer) - 4 * n_frames:
        raise InputError("corrupt CFS header (frame table outside the file)", path)
    text = comment[1:1 + comment[0]].decode("latin-1").strip() if comment else ""
    return {"channels": channels, "n_frames": n_frames, "comment": text,
            "ds_variables": _variables(buffer, variables_at, n_ds_vars),
            "frames": np.frombuffer(buffer, "<i4", n_frames, table_offset)}


def _waveforms(channels, notes, path) -> list[int]:
    """Indices of the equally spaced voltage channels; notes on the others."""
    keep = []
    for c, (name, y_units, _, kind, data_kind, _) in enumerate(channels):
        if data_kind != 0 or kind not in _DTYPES:
            notes.append(f"channel {name!r} is not an equally spaced waveform and was left out")
        elif unit_scale(y_units) is None:
            notes.append(f"channel {name!r} ({y_units or 'no unit'}) is not a voltage and was "
                         "left out")
        else:
            keep.append(c)
    if not keep:
        raise InputError("no voltage waveform channel to analyse", path)
    return keep


def _frame(buffer, f, header, keep, layout, path):
    """One frame's traces (V), each channel's (x step, x offset) in s, and its variables."""
    channels = layout["channels"]
    tables_end = header + _DS_HEADER.size + len(channels) * _DS_CHANNEL.size
    if not 0 <= header or tables_end > len(buffer):
        raise InputError(f"corrupt CFS file (frame {f} header outside the file)", path)
    _, data_start, _, _, _ = _DS_HEADER.unpack_from(buffer, header)
    traces, axes = [], []
    for c in keep:
        name, y_units, x_units, kind, _, spacing = channels[c]
        start, points, y_scale, y_offset, x_step, x_offset = _DS_CHANNEL.unpack_from(
            buffer, header + _DS_HEADER.size + c * _DS_CHANNEL.size)
        dtype = np.dtype(_DTYPES[kind])
        first = data_start + start
        if (points < 2 or first < 0 or spacing < dtype.itemsize
                or first + (points - 1) * spacing + dtype.itemsize > len(buffer)):
            raise InputError(f"corrupt or truncated CFS file (frame {f}, channel {name!r})",
                             path)
        time_scale = _TIME_UNITS.get(x_units.lower())
        if time_scale is None:
            raise InputError(f"channel {name!r} has x units {x_units!r}, not a time", path)
        if not (np.isfinite(x_step) and x_step > 0 and np.isfinite(x_offset)
                and np.isfinite(y_scale) and np.isfinite(y_offset)):
            raise InputError(f"corrupt CFS file (frame {f}, channel {name!r}: sampling "
                             "interval or scale not a positive finite number)", path)
        raw = np.ndarray((points,), dtype, buffer, first, (spacing,))
        traces.append((raw * y_scale + y_offset) * unit_scale(y_units))
        axes.append((round(x_step * time_scale, 12), round(x_offset * time_scale, 9)))
    values = {}
    for name, kind, _, position in layout["ds_variables"]:
        size = np.dtype(_DTYPES[kind]).itemsize if kind in _DTYPES else 0
        if size and 0 <= tables_end + position <= len(buffer) - size:
            values[f"cfs_{name}"] = float(np.frombuffer(buffer, _DTYPES[kind], 1,
                                                        tables_end + position)[0])
    length = min(len(t) for t in traces)
    return np.stack([t[:length] for t in traces]), axes, values


def read_cfs(path: str | Path, options: ReadOptions | None = None) -> Recording:
    """Read a CFS file: every frame a sweep, voltage channels in volts."""
    path = Path(path)
    options = options or ReadOptions()
    buffer = path.read_bytes()
    try:
        layout = _header(buffer, path)
    except struct.error:
        raise InputError("corrupt CFS header (tables run past the end of the file)",
                         path) from None
    notes = []
    keep = _waveforms(layout["channels"], notes, path)
    frames, axes, columns, n_values = [], set(), {}, 0
    for f, header in enumerate(layout["frames"]):
        try:
            frame, frame_axes, values = _frame(buffer, f, int(header), keep, layout, path)
        except struct.error:
            raise InputError(f"corrupt CFS file (frame {f} runs past the end of the file)",
                             path) from None
        # Frames may point at the same bytes: the total, not the file's size, bounds memory.
        n_values += frame.size
        if n_values > MAX_SWEEP_VALUES:
            raise InputError(f"the first {f + 1} CFS frames already hold more than "
                             f"{MAX_SWEEP_VALUES} samples: a damaged frame table", path)
        frames.append(frame)
        axes.update(frame_axes)
        for name, value in values.items():
            columns.setdefault(name, []).append(value)
    steps, offsets = {a[0] for a in axes}, {a[1] for a in axes}
    if len(steps) != 1:
        raise InputError("channels or frames have different sampling intervals", path)
    sfreq = check_rate(1.0 / steps.pop(), "the CFS sampling interval", path)
    n_samples = min(frame.shape[1] for frame in frames)
    if any(frame.shape[1] != n_samples for frame in frames):
        notes.append(f"frames of different lengths were cut to the shortest ({n_samples} "
                     "samples)")
    first_time = check_time(-options.stimulus_s if options.stimulus_s is not None
                            else min(offsets), "the CFS frames' x offset", path)
    if options.stimulus_s is None and len(offsets) > 1:
        notes.append("channels start at different times; the earliest was used for all")
    duration = n_samples / sfreq
    notes.append("CFS frames carry no start time: sweeps are placed back to back")
    if layout["comment"]:
        notes.append(f"file comment: {layout['comment']}")
    n_frames = layout["n_frames"]
    stimuli = [Stimulus(f * duration - first_time, np.nan, "", "") for f in range(n_frames)]
    return assemble(path, f"CED CFS ({n_frames} frames)", "iomon CFS parser",
                    np.stack([frame[:, :n_samples] for frame in frames]),
                    first_time + np.arange(n_samples) / sfreq, sfreq,
                    [layout["channels"][c][0] or f"channel {c + 1}" for c in keep], stimuli,
                    n_frames * duration, notes=notes,
                    columns={k: v for k, v in columns.items() if len(v) == n_frames})


READER = Reader("cfs", "CED Signal CFS", (".cfs",), read_cfs,
                lambda head, suffix: head.startswith(_MAGIC))
