"""EDF and BDF recordings: plain, EDF+C/BDF+C (continuous) and EDF+D/BDF+D (discontinuous).

Sweeps are cut out of the file around each stimulus without loading the whole recording: for
each window, the bytes of the data records it covers are read once and every channel's window
is cut from them (:class:`Records`), with each signal's calibration as edfio computes it (EDF,
:class:`EdfSignal`) or as :class:`BdfSignal` does (BDF, 24 bit, which edfio can only load
whole). edfio reads the EDF header; trigger channels are read through its lazy slices. The
annotations and the start time of every data record are parsed here from the annotation
signal alone (:func:`read_tals`), so a long recording is never paged into memory.
"""

from __future__ import annotations

import datetime
import math
import os
import warnings
from pathlib import Path

import numpy as np

from ..model.annotations import Annotation, find_stimuli
from ..model.errors import InputError
from ..processing.conditioning import detect_mains
from .base import (
    MAX_TIME_S,
    TRIGGER_PATTERN,
    Reader,
    ReadOptions,
    Recording,
    assemble,
    check_rate,
    check_sweep_size,
    check_time,
    error_line,
    fit_windows,
    quiet_stretch,
    stimuli_or_error,
    stimulus_sample_in_episodes,
    trigger_onsets,
    unit_scale,
)

__all__ = ["MAX_EPISODE_S", "READER", "STREAM_BYTES", "BdfSignal", "EdfSignal", "HeaderSignal",
           "Records", "check_header", "header_signals", "read_edf", "read_tals", "read_windows",
           "record_tals", "sweep_windows", "voltage_channels"]


def check_header(path: Path) -> dict:
    """Refuse files whose header is not EDF/BDF, is damaged or contradicts the file's size.

    Every count, duration, rate and range is checked before use: a damaged field is named
    in the refusal. Returns the record layout: ``header_bytes``, ``n_records``, ``labels``,
    ``per_record`` (samples of each signal per record), ``bytes_per_sample``, ``reserved``
    (``EDF+C``...), ``start`` (datetime of the header's start date and time, None if
    unreadable), ``units``, ``physical``, ``digital``, ``record_s`` and ``patient``.
    """
    size = path.stat().st_size
    with path.open("rb") as f:
        header = f.read(256)
        layout = _main_fields(_version_checked(header, size, path), size, path)
        signal_header = f.read(layout["n_signals"] * 256)
    return _complete_layout(layout, header, signal_header, size, path)


def _version_checked(header: bytes, size: int, path) -> bytes:
    """The 256-byte fixed header, refused unless it starts as EDF or BDF does."""
    if len(header) < 256:
        raise InputError(f"not an EDF/BDF file (only {size} bytes, the header needs 256)", path)
    if not (header.startswith(b"0       ") or header[:8] == b"\xffBIOSEMI"):
        raise InputError("not an EDF/BDF file (the header does not start with the EDF or BDF "
                         "version field)", path)
    return header


def _complete_layout(layout: dict, header: bytes, signal_header: bytes, size: int, path
                     ) -> dict:
    """The layout with the signal fields, checked against the file's size."""
    layout.update(_signal_fields(signal_header, layout, path))
    record_bytes = sum(layout["per_record"]) * layout["bytes_per_sample"]
    expected = layout["header_bytes"] + layout["n_records"] * record_bytes
    if size < expected:
        raise InputError(f"truncated: the header promises {layout['n_records']} data records "
                         f"({expected} bytes), the file has {size} bytes", path)
    layout["start"] = _start_time(header)
    return layout


def _header_number(raw: bytes, name: str, path, kind=int):
    """One number of the fixed header; InputError naming the field when it is not one."""
    text = raw.decode("latin-1").strip()
    try:
        return kind(raw.decode("ascii"))  # edfio, too, reads the header's numbers as ASCII
    except ValueError:
        raise InputError(f"corrupt EDF header ({name} {text!r} is not a number)", path) from None


def _main_fields(header: bytes, size: int, path) -> dict:
    """The fixed header's counts and record duration, checked against each other and the size."""
    header_bytes = _header_number(header[184:192], "header size", path)
    n_records = _header_number(header[236:244], "data record count", path)
    n_signals = _header_number(header[252:256], "signal count", path)
    record_s = _header_number(header[244:252], "data record duration", path, float)
    if n_signals <= 0 or header_bytes != 256 * (n_signals + 1):
        raise InputError(f"corrupt EDF header ({n_signals} signals but a {header_bytes}-byte "
                         "header)", path)
    if size < header_bytes:
        raise InputError(f"truncated: the header alone needs {header_bytes} bytes, the file has "
                         f"{size}", path)
    if n_records == -1:
        raise InputError("the header's data record count is -1 (a recording that was never "
                         "closed): the file cannot be read reliably", path)
    if n_records <= 0:
        raise InputError(f"the header's data record count is {n_records}: the file holds no "
                         "data to analyse", path)
    if not (math.isfinite(record_s) and 0 < record_s
            and n_records * record_s <= MAX_TIME_S):
        raise InputError(f"corrupt EDF header (data record duration {record_s!r} s: expected a "
                         f"positive number, at most {MAX_TIME_S:g} s over the "
                         f"{n_records} records)", path)
    return {"header_bytes": header_bytes, "n_records": n_records, "n_signals": n_signals,
            "record_s": record_s,
            "bytes_per_sample": 3 if header[:8] == b"\xffBIOSEMI" else 2,
            "reserved": header[192:236].decode("latin-1").strip(),
            "patient": header[8:88].decode("latin-1").strip(),
            "recording_id": header[88:168].decode("latin-1").strip() or None}


def _signal_fields(signal_header: bytes, layout: dict, path) -> dict:
    """Labels, units, ranges and samples per record of every signal, each checked."""
    n_signals = layout["n_signals"]

    def field(offset, width):
        """One column of the signal headers, offset in units of n_signals bytes."""
        start = offset * n_signals
        return [signal_header[start + i * width:start + (i + 1) * width].decode("latin-1").strip()
                for i in range(n_signals)]

    def numbers(offset, kind):
        """A numeric column: ASCII, as the format (and edfio) require; ValueError if not."""
        start = offset * n_signals
        return [kind(signal_header[start + i * 8:start + (i + 1) * 8].decode("ascii"))
                for i in range(n_signals)]

    labels = field(0, 16)
    try:  # UnicodeDecodeError is a ValueError: a byte beyond ASCII in a number is damage
        per_record = numbers(216, int)
        physical = list(zip(numbers(104, float), numbers(112, float)))
        digital = list(zip(numbers(120, int), numbers(128, int)))
    except ValueError:
        raise InputError("corrupt EDF header (a signal's samples per record or range is not a "
                         "number)", path) from None
    for label, count, (p_lo, p_hi), (d_lo, d_hi) in zip(labels, per_record, physical, digital):
        name = f"signal {label!r}"
        if count < 1:
            raise InputError(f"corrupt EDF header ({name}: {count} samples per data record)",
                             path)
        if label.endswith("Annotations"):
            continue  # an annotation signal's range is not used
        check_rate(count / layout["record_s"], f"the EDF header of {name}", path)
        if not (math.isfinite(p_lo) and math.isfinite(p_hi)) or p_lo == p_hi:
            raise InputError(f"corrupt EDF header ({name}: physical range {p_lo!r} to "
                             f"{p_hi!r} is {'empty' if p_lo == p_hi else 'not finite'})",
                             path)
        if d_lo >= d_hi:
            raise InputError(f"corrupt EDF header ({name}: digital minimum {d_lo} is not below "
                             f"the maximum {d_hi})", path)
    # Labels as edfio reads them (ASCII, right-stripped), to find its signals in the records.
    edfio_labels = [signal_header[i * 16:(i + 1) * 16].decode("ascii", "replace").rstrip()
                    for i in range(n_signals)]
    return {"labels": labels, "per_record": per_record, "physical": physical,
            "digital": digital, "units": field(96, 8), "edfio_labels": edfio_labels}


def _start_time(header: bytes):
    """The header's start date and time, None when anonymised or malformed."""
    try:
        day, month, year = (int(v) for v in header[168:176].decode("ascii").split("."))
        hour, minute, second = (int(v) for v in header[176:184].decode("ascii").split("."))
        return datetime.datetime(2000 + year if year < 85 else 1900 + year, month, day, hour,
                                 minute, second)
    except (ValueError, UnicodeDecodeError, OverflowError):
        return None  # not needed for the analysis


class BdfSignal:
    """One signal of a BDF file, read lazily (edfio's BDF reader loads the whole file).

    Offers what :func:`read_edf` uses of an edfio signal: ``label``, ``physical_dimension``,
    ``sampling_frequency``, ``get_data_slice`` and ``get_digital_slice`` (seconds). Each read
    seeks to the records it needs and decodes their 24-bit samples.
    """

    def __init__(self, path: Path, layout: dict, index: int):
        self.path = path
        self.index = index
        self.label = layout["labels"][index]
        self.physical_dimension = layout["units"][index]
        self._per_record = layout["per_record"][index]
        self.sampling_frequency = self._per_record / layout["record_s"]
        self._record_bytes = sum(layout["per_record"]) * 3
        self._offset = layout["header_bytes"] + sum(layout["per_record"][:index]) * 3
        self._n_records = layout["n_records"]
        (p_lo, p_hi), (d_lo, d_hi) = layout["physical"][index], layout["digital"][index]
        self._gain = (p_hi - p_lo) / (d_hi - d_lo) if d_hi != d_lo else 1.0
        self._shift = p_lo - d_lo * self._gain

    def get_digital_slice(self, start_second: float, stop_second: float) -> np.ndarray:
        """Digital values of [start, stop) s."""
        first = int(round(start_second * self.sampling_frequency))
        stop = int(round(stop_second * self.sampling_frequency))
        if first < 0 or stop > self._n_records * self._per_record or stop < first:
            raise ValueError("slice outside the recording")
        r0, r1 = first // self._per_record, max(stop - 1, first) // self._per_record
        chunks = []
        with self.path.open("rb") as f:
            for record in range(r0, r1 + 1):
                f.seek(self._offset + record * self._record_bytes)
                chunks.append(f.read(self._per_record * 3))
        raw = np.frombuffer(b"".join(chunks), np.uint8).reshape(-1, 3).astype(np.int32)
        values = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
        values = np.where(values >= 1 << 23, values - (1 << 24), values)  # two's complement
        return values[first - r0 * self._per_record:stop - r0 * self._per_record]

    def get_data_slice(self, start_second: float, stop_second: float) -> np.ndarray:
        """Physical values of [start, stop) s, in the signal's unit."""
        return self.calibrate(self.get_digital_slice(start_second, stop_second))

    def calibrate(self, digital: np.ndarray) -> np.ndarray:
        """Physical values (the signal's unit) of digital ones."""
        return digital * self._gain + self._shift


class EdfSignal:
    """One signal of an EDF file as edfio reads it, with its place in the data records.

    Offers what :func:`read_edf` uses: edfio's ``label``, ``physical_dimension``,
    ``sampling_frequency``, ``get_data_slice`` and ``get_digital_slice``, and ``calibrate``,
    which computes physical values from digital ones exactly as edfio does (bit for bit), so
    that windows read in bulk (:class:`Records`) equal edfio's.
    """

    def __init__(self, signal, index: int):
        self.index = index
        self.label = signal.label
        self.physical_dimension = signal.physical_dimension
        self.sampling_frequency = signal.sampling_frequency
        self.get_data_slice = signal.get_data_slice
        self.get_digital_slice = signal.get_digital_slice
        try:  # edfio's _calculate_gain_and_offset, and its fallback for an empty range
            gain = ((signal.physical_max - signal.physical_min)
                    / (signal.digital_max - signal.digital_min))
            self._calibration = (gain, signal.physical_max / gain - signal.digital_max)
        except ZeroDivisionError:
            self._calibration = None

    def calibrate(self, digital: np.ndarray) -> np.ndarray:
        """Physical values (the signal's unit) of digital ones, as edfio computes them."""
        if self._calibration is None:
            return digital.astype(np.float64)
        gain, offset = self._calibration
        return (digital + offset) * gain


class HeaderSignal:
    """One signal of an EDF file, calibrated from its header alone exactly as edfio does.

    For files too small and too many to open with edfio one by one (a case exported as one
    file per sweep); offers what :class:`Records` and :func:`read_windows` use.
    """

    def __init__(self, layout: dict, index: int):
        self.index = index
        self.label = layout["labels"][index]
        self.physical_dimension = layout["units"][index]
        self.sampling_frequency = layout["per_record"][index] / layout["record_s"]
        (p_lo, p_hi), (d_lo, d_hi) = layout["physical"][index], layout["digital"][index]
        gain = (p_hi - p_lo) / (d_hi - d_lo)  # edfio's _calculate_gain_and_offset
        self._calibration = (gain, p_hi / gain - d_hi)

    def calibrate(self, digital: np.ndarray) -> np.ndarray:
        """Physical values (the signal's unit) of digital ones, as edfio computes them."""
        gain, offset = self._calibration
        return (digital + offset) * gain


def _identity(stat) -> tuple:
    """Device, inode, size and modification time of a file: a change to any is a new file."""
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


def header_signals(path: Path, layout: dict) -> list:
    """The data signals of an EDF or BDF file from its header (no edfio), read lazily."""
    if layout["bytes_per_sample"] == 3:
        return [BdfSignal(path, layout, i) for i, label in enumerate(layout["labels"])
                if label != "BDF Annotations"]
    return [HeaderSignal(layout, i) for i, label in enumerate(layout["edfio_labels"])
            if label != "EDF Annotations"]


class Records:
    """The data records of an EDF or BDF file, from which sweep windows are cut in bulk.

    For each window either the bytes of the data records it covers are read once and every
    channel's window is cut from them, or, where the window is a small part of those records
    (long records: an hour's file of 1 s records holds 110 ms windows), each channel's part of
    each record is read on its own; memory holds a chunk of windows and their records, never
    the file.
    """

    #: Windows (x channels x samples) decoded at once: bounds the temporaries.
    CHUNK_VALUES = 1 << 20
    #: Most bytes read at once for one window: beyond, its channels are read one by one.
    MAX_READ_BYTES = 16 << 20
    #: A read's fixed cost (the call, the system call) in bytes copied: a window's channels are
    #: read piece by piece when its records hold more than this many bytes per piece. Measured
    #: on the hour's file (16 channels of 1 s records, 1,783 windows of 110 ms): 0.29 CPU s
    #: piece by piece, 0.69 s reading the records whole.
    PIECE_COST_BYTES = 4096

    def __init__(self, path: Path, layout: dict):
        self.path = path
        self.width = layout["bytes_per_sample"]
        self.header_bytes = layout["header_bytes"]
        self.per_record = layout["per_record"]
        self.first = np.cumsum([0] + list(self.per_record[:-1]))  # a signal's first sample
        self.record_samples = sum(self.per_record)
        self.record_bytes = self.record_samples * self.width
        # What the file was when its header was read: long recordings' windows are read
        # later, during the analysis, and must come from that same file.
        self.identity = _identity(path.stat())

    def windows(self, signals, starts, n_samples: int, scales) -> np.ndarray:
        """Windows of signals sharing a sampling rate: (n_windows, n_signals, n_samples).

        Each signal's physical values (its ``calibrate``) times its entry of ``scales``;
        ``starts`` are sample indices of the concatenated records at the signals' rate.
        """
        per = {self.per_record[s.index] for s in signals}
        if len(per) != 1:
            raise ValueError("windows are cut from signals of one sampling rate")
        per = per.pop()
        first = self.first[[s.index for s in signals]]
        out = np.empty((len(starts), len(signals), n_samples))
        step = max(1, self.CHUNK_VALUES // max(1, len(signals) * n_samples))
        with self._open() as f:
            for k in range(0, len(starts), step):
                digital = np.stack([self._window(f, int(start), n_samples, per, first)
                                    for start in starts[k:k + step]])
                for c, (signal, scale) in enumerate(zip(signals, scales)):
                    values = signal.calibrate(digital[:, c])
                    values *= scale
                    out[k:k + step, c] = values
        return out

    def _open(self):
        """The file, opened for reading, refused if it is no longer the one read."""
        try:
            f = self.path.open("rb")
        except OSError as err:
            raise InputError(f"can no longer be read ({err.strerror or err})",
                             self.path) from None
        if _identity(os.fstat(f.fileno())) != self.identity:
            f.close()
            raise InputError("changed since it was read (replaced or written to during the "
                             "analysis): analyse it again", self.path)
        return f

    def _window(self, f, start: int, n_samples: int, per: int, first) -> np.ndarray:
        """Digital values (n_signals, n_samples) of one window from ``start``."""
        r0, r1 = start // per, (start + n_samples - 1) // per
        covered, pieces = (r1 - r0 + 1) * self.record_bytes, (r1 - r0 + 1) * len(first)
        if covered > min(self.MAX_READ_BYTES, pieces * self.PIECE_COST_BYTES):
            return self._decode(self._piecewise(f, start, n_samples, per, first)).reshape(
                len(first), n_samples)
        records = self._decode(self._read(f, r0 * self.record_bytes,
                                          (r1 - r0 + 1) * self.record_bytes))
        record, within = np.divmod(start - r0 * per + np.arange(n_samples), per)
        # One flat index per value: np.take is several times faster than two index arrays.
        return np.take(records, first[:, None] + (record * self.record_samples + within))

    def _piecewise(self, f, start: int, n_samples: int, per: int, first) -> bytes:
        """The bytes of ``n_samples`` of each signal from ``start``, signal after signal.

        Each signal's part of each record the window covers is one read.
        """
        pieces = []  # (offset within the data records less the signal's, bytes) per record
        while n_samples > 0:
            record, within = divmod(start, per)
            count = min(per - within, n_samples)
            pieces.append((record * self.record_bytes + within * self.width, count * self.width))
            start, n_samples = start + count, n_samples - count
        signals = [int(at) * self.width for at in first]
        if not hasattr(os, "pread"):
            return b"".join(self._read(f, at + offset, size)
                            for at in signals for offset, size in pieces)
        fd, header = f.fileno(), self.header_bytes
        raw = b"".join([os.pread(fd, size, header + at + offset)
                        for at in signals for offset, size in pieces])
        if len(raw) != len(signals) * sum(size for _, size in pieces):
            # A read may return less than asked (network and FUSE file systems): read again,
            # each piece until it is whole or the file ends.
            raw = b"".join(self._read(f, at + offset, size)
                           for at in signals for offset, size in pieces)
        return raw

    def _read(self, f, offset: int, size: int) -> bytes:
        """``size`` bytes from ``offset`` in the data records (of the open file ``f``)."""
        if hasattr(os, "pread"):  # no seek (absent on Windows); again after a short read
            raw = os.pread(f.fileno(), size, self.header_bytes + offset)
            while 0 < len(raw) < size:
                more = os.pread(f.fileno(), size - len(raw), self.header_bytes + offset
                                + len(raw))
                if not more:
                    break
                raw += more
        else:
            f.seek(self.header_bytes + offset)
            raw = f.read(size)
        if len(raw) != size:  # the header's size check passed: the file changed since
            raise self._shorter()
        return raw

    def _shorter(self) -> InputError:
        return InputError("the file is shorter than its header says (changed while being "
                          "read?)", self.path)

    def _decode(self, raw: bytes) -> np.ndarray:
        """Samples as integers: little-endian int16 (EDF) or 24-bit (BDF)."""
        if self.width == 2:
            return np.frombuffer(raw, "<i2")
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        values = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        return np.where(values >= 1 << 23, values - (1 << 24), values)  # two's complement


def read_tals(path: Path, layout: dict):
    """Record start times and annotations from the EDF+/BDF+ annotation signals.

    Only the annotation bytes of each data record are read (seek and read, no memory map), so
    a long recording is not paged in. Times count from the file's start time (the header's
    start date and time), as the EDF+ time-keeping annotations do: the first record may start
    a fraction of a second (EDF+C) or minutes (EDF+D) after it. Every record must hold its
    time-keeping annotation, every time must be finite, and records must be in time order.

    Returns
    -------
    onsets : array of float, shape (n_records,)
        Start of every data record, s (None for a plain EDF/BDF without annotations).
    annotations : list of Annotation
    """
    suffix = "BDF Annotations" if layout["bytes_per_sample"] == 3 else "EDF Annotations"
    signals = [i for i, label in enumerate(layout["labels"]) if label == suffix]
    if not signals:
        return None, []
    width = layout["bytes_per_sample"]
    record_bytes = sum(layout["per_record"]) * width
    spans = [(sum(layout["per_record"][:i]) * width, layout["per_record"][i] * width)
             for i in signals]
    onsets = np.full(layout["n_records"], np.nan)
    raw_annotations = []
    with path.open("rb") as f:
        for r in range(layout["n_records"]):
            for k, (start, length) in enumerate(spans):
                f.seek(layout["header_bytes"] + r * record_bytes + start)
                for n, (onset_s, duration_s, texts, keeps_time) in enumerate(
                        record_tals(f.read(length), r, path)):
                    if k == 0 and n == 0 and keeps_time:
                        onsets[r] = onset_s  # the record's time-keeping annotation
                    raw_annotations += [(onset_s, duration_s, text) for text in texts]
    missing = np.flatnonzero(np.isnan(onsets))
    if missing.size:
        raise InputError(f"EDF+ data record {missing[0]} has no time-keeping annotation (its "
                         "start time)", path)
    if np.any(np.diff(onsets) <= 0):
        raise InputError("EDF+ data records are not in time order", path)
    annotations = sorted((Annotation(round(o, 9), d, t) for o, d, t in raw_annotations),
                         key=lambda a: a.onset_s)
    return onsets, annotations


def record_tals(raw: bytes, record: int, path):
    """The time-stamped annotation lists of one record.

    Each as (onset s, duration s, texts, keeps_time): ``keeps_time`` when its first text is
    empty, as a record's time-keeping annotation (its first) is.
    """
    out = []
    for tal in (t for t in raw.split(b"\x00") if t):
        timing, *texts = tal.split(b"\x14")
        onset, _, duration = timing.partition(b"\x15")
        try:
            onset_s = float(onset)
            duration_s = float(duration) if duration else 0.0
        except ValueError:
            raise InputError(f"data record {record} holds a malformed annotation "
                             f"({tal[:40]!r})", path) from None
        where = f"an annotation in data record {record}"
        check_time(onset_s, f"the onset of {where}", path)
        check_time(duration_s, f"the duration of {where}", path)
        out.append((onset_s, duration_s, [t.decode("utf-8", "replace").strip()
                                          for t in texts if t.strip()],
                    not texts or not texts[0]))
    return out


class _Timeline:
    """Maps times (s from the file's start) to sample indices of the concatenated records.

    For a continuous file the records abut from ``first_s`` (the first record's start) and the
    map is ``round((t - first_s) * sfreq)``; for EDF+D each record starts at its own time and a
    window may not straddle a gap.
    """

    def __init__(self, sfreq, n_total, onsets=None, record_s=None, first_s=0.0):
        self.sfreq = sfreq
        self.n_total = n_total
        self.onsets = onsets
        self.first_s = float(first_s)
        self.per_record = None if onsets is None else int(round(record_s * sfreq))

    def window_start(self, t_s, n_samples):
        """First sample of an ``n_samples`` window starting at ``t_s``, or None if impossible."""
        if self.onsets is None:
            start = int(round((t_s - self.first_s) * self.sfreq))
            return start if 0 <= start and start + n_samples <= self.n_total else None
        record = int(np.searchsorted(self.onsets, t_s + 0.5 / self.sfreq, side="right")) - 1
        if record < 0:
            return None
        offset = int(round((t_s - self.onsets[record]) * self.sfreq))
        if offset >= self.per_record:
            return None  # in a gap
        start = record * self.per_record + offset
        last = (start + n_samples - 1) // self.per_record
        if last >= len(self.onsets):
            return None
        # Every record the window spans must follow the previous one without a gap.
        span = self.onsets[record:last + 1]
        if np.any(np.abs(np.diff(span) - self.per_record / self.sfreq) > 0.5 / self.sfreq):
            return None
        return start

    def time_of(self, sample):
        """Time (s) of a sample index of the concatenated records."""
        if self.onsets is None:
            return self.first_s + sample / self.sfreq
        record, offset = divmod(int(sample), self.per_record)
        return float(self.onsets[record] + offset / self.sfreq)


def voltage_channels(signals, path):
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


def read_windows(records, signals, starts, n_samples, path=None):
    """Windows of ``n_samples`` from each signal, in volts: (n_windows, n_signals, n_samples).

    ``starts`` are sample indices of the concatenated records at the signals' rate.
    """
    check_sweep_size(len(starts), len(signals), n_samples, path)
    return records.windows(signals, starts, n_samples, _scales(signals))


def _scales(signals) -> list:
    # No unit: µV, as noted.
    return [unit_scale(signal.physical_dimension) or 1e-6 for signal in signals]


#: Sweeps taking more than this many bytes (float64) are not read with the recording but when
#: the analysis asks for them, a chunk at a time (a SweepSource): an hour of 16 channels at
#: 10 kHz is 250 MB of sweeps, and the conditioned sweeps are held beside them otherwise.
STREAM_BYTES = 64 << 20


def sweep_windows(records, signals, starts, n_samples, path):
    """The sweeps' windows: read now (an array) or, beyond :data:`STREAM_BYTES`, when asked for.

    Returns an array of float, shape (n_windows, n_signals, n_samples), V, or a
    :class:`~iomon.model.sweeps.SweepSource` of that shape reading them from the file.
    """
    if len(starts) * len(signals) * n_samples * 8 <= STREAM_BYTES:
        return read_windows(records, signals, starts, n_samples, path)
    from ..model.sweeps import SweepSource

    check_sweep_size(len(starts), len(signals), n_samples, path, bytes_per_value=4)
    starts, scales = np.asarray(starts, dtype=np.int64), _scales(signals)
    return SweepSource((len(starts), len(signals), n_samples),
                       lambda index: records.windows(signals, starts[index], n_samples, scales))


#: Longest run of contiguous records taken for one sweep of an EDF+D file without stimulus
#: markers, s: a longer run is a stretch of continuous recording, not a sweep.
MAX_EPISODE_S = 60.0


def _longest_run_s(onsets, record_s: float, sfreq: float) -> float:
    """Duration of the longest run of contiguous records, s."""
    breaks = np.flatnonzero(np.abs(np.diff(onsets) - record_s) > 0.5 / sfreq) + 1
    lengths = np.diff(np.r_[0, breaks, len(onsets)])
    return float(lengths.max() * record_s)


def _episodic_edf(path, emg, kind, timing, annotations, notes, options, header):
    """EDF+D without stimulus markers: every run of contiguous records is one sweep."""
    from ..model.annotations import Stimulus

    onsets, record_s, duration = timing
    sfreq = float(emg[0].sampling_frequency)
    per_record = int(round(record_s * sfreq))
    breaks = np.flatnonzero(np.abs(np.diff(onsets) - record_s) > 0.5 / sfreq) + 1
    first_records = np.r_[0, breaks]
    lengths = np.diff(np.r_[first_records, len(onsets)]) * per_record
    n_samples = int(lengths.min())
    if np.any(lengths != n_samples):
        notes.append(f"sweeps of different lengths were cut to the shortest ({n_samples} "
                     "samples)")
    data = read_windows(header["records"], emg, [int(r) * per_record for r in first_records],
                         n_samples, path)
    zero = stimulus_sample_in_episodes(data, sfreq, options, notes, path)
    times = (np.arange(n_samples) - zero) / sfreq
    stimuli = [Stimulus(float(onsets[r] + zero / sfreq), np.nan, "", "")
               for r in first_records]
    return assemble(path, f"{kind} (one sweep per record run)", header["reader"], data, times,
                    sfreq, [s.label.strip() for s in emg], stimuli, duration,
                    annotations=annotations, notes=notes, start=header["start"],
                    patient=header["patient"], recording_id=header["recording_id"])


def _open_signals(path: Path, layout: dict):
    """The data signals of an EDF or BDF file, read lazily, and the header facts iomon keeps."""
    from importlib.metadata import version

    import edfio

    if layout["bytes_per_sample"] == 3:
        # edfio's BDF reader loads the whole file; BDF signals are read lazily here instead.
        signals = [BdfSignal(path, layout, i) for i, label in enumerate(layout["labels"])
                   if label != "BDF Annotations"]
        facts = {"record_s": layout["record_s"], "n_records": layout["n_records"],
                 "patient": layout["patient"] or None, "reader": "iomon BDF reader"}
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                # edfio maps the data lazily: it reads the header, Records the windows.
                edf = edfio.read_edf(path, lazy_load_data=True)
                # edfio decodes header fields when they are first used: all of them here.
                signals = [EdfSignal(s, i) for s, i in zip(edf.signals,
                                                           _edfio_indices(edf, layout, path))]
                facts = {"record_s": float(edf.data_record_duration),
                         "n_records": edf.num_data_records,
                         "patient": edf.local_patient_identification.strip() or None,
                         "reader": f"edfio {version('edfio')}"}
            except InputError:
                raise
            except Warning as warning:
                raise InputError(f"inconsistent EDF file: {warning}", path) from None
            except Exception as err:  # edfio raises plain ValueErrors for malformed headers
                raise InputError(f"cannot be read as EDF/BDF: {error_line(err)}",
                                 path) from None
    facts["start"] = layout["start"]
    facts["recording_id"] = layout["recording_id"]
    facts["records"] = Records(path, layout)
    return signals, facts


def _edfio_indices(edf, layout: dict, path: Path) -> list[int]:
    """The place in the data records of each of edfio's signals.

    edfio leaves the annotation signals out by their label (``EDF Annotations``, read as ASCII
    and right-stripped); the same rule finds where its signals are.
    """
    labels = layout["edfio_labels"]
    indices = [i for i, label in enumerate(labels) if label != "EDF Annotations"]
    if len(indices) != len(edf.signals) or any(
            signal.label != labels[i] for signal, i in zip(edf.signals, indices)):
        raise InputError("inconsistent EDF header (edfio finds other signals than the header "
                         "lists)", path)
    return indices


def _stimulus_source(signals, annotations, options, path):
    """The trigger channels and the annotations that may mark stimuli."""
    if not options.stimulus_channel:
        return [s for s in signals if TRIGGER_PATTERN.match(s.label.strip())], annotations
    # A trigger channel by its label, or else the annotations whose text starts so.
    trigger = [s for s in signals if s.label.strip() == options.stimulus_channel]
    if trigger:
        return trigger, annotations
    wanted = options.stimulus_channel.lower()
    marked = [Annotation(a.onset_s, a.duration_s, f"stimulus {a.text}")
              for a in annotations if a.text.lower().startswith(wanted)]
    if not marked:
        raise InputError(f"the sidecar's stimulus_channel {options.stimulus_channel!r} is "
                         "neither a channel nor an annotation of this recording", path)
    return [], marked


def _trigger_times(source, total_s, onsets, record_s, first_record_s, discontinuous):
    """Rising edges of a trigger channel, in s from the file's start."""
    is_status = source.label.strip().lower().endswith("status")
    rate = float(source.sampling_frequency)
    n_trigger = int(round(total_s * rate))

    def trigger_slice(start, stop):
        read = source.get_digital_slice if is_status else source.get_data_slice
        return read(start / rate, stop / rate)

    times = trigger_onsets(trigger_slice, rate, is_status, n_trigger)
    line = (_Timeline(rate, n_trigger, onsets, record_s) if discontinuous
            else _Timeline(rate, n_trigger, first_s=first_record_s))
    return np.array([line.time_of(round(t * rate)) for t in times])


def _mains(records, emg, timeline, starts, duration, first_record_s, sfreq):
    """Mains frequency from the longest stimulus-free stretch, or None."""
    quiet = quiet_stretch([timeline.time_of(s) for s in starts], duration, first_record_s)
    length = int((quiet[1] - quiet[0]) * sfreq)
    quiet_start = timeline.window_start(quiet[0], length)
    if quiet_start is None or quiet[1] <= quiet[0]:
        return None
    return detect_mains(read_windows(records, emg, [quiet_start], length)[0], sfreq)


def read_edf(path: str | Path, options: ReadOptions | None = None, *, stimuli=None,
             markers=None) -> Recording:
    """Read an EDF/BDF recording (plain, +C or +D) into sweeps around its stimuli.

    Stimuli come from annotations (see :mod:`iomon.model.annotations`), else from a trigger channel
    (the one ``options.stimulus_channel`` names, or one named like a trigger). A sweep whose
    window runs past either end of the recording is dropped, with a note. Voltage channels at
    the sampling rate most of them share are read; others are left out with a note. An EDF+D
    file without stimulus markers gives one sweep per run of contiguous records.

    Parameters
    ----------
    path : str or Path
        An ``.edf`` or ``.bdf`` file.
    options : ReadOptions
        Sweep window and stimulus source.
    stimuli : list of Stimulus, optional
        The stimuli, when another file states them (a BIDS recording's events.tsv): they
        replace the ones the file's annotations or trigger channel would give.
    markers : sequence of Annotation, optional
        The markers, when another file states them: they replace the file's annotations
        (its record times are still read from it).
    """
    path = Path(path)
    options = options or ReadOptions()
    layout = check_header(path)
    signals, header = _open_signals(path, layout)
    record_s, n_records = header["record_s"], header["n_records"]
    total_s = n_records * record_s
    # Annotations and record times are parsed here rather than by edfio, whose parsing pages
    # the whole file in (a long recording would then occupy its size in memory).
    is_plus = layout["reserved"].startswith(("EDF+", "BDF+"))
    onsets, annotations = read_tals(path, layout) if is_plus else (None, [])
    if markers is not None:
        annotations = list(markers)
    # EDF+D as the header says, or records with gaps: a one-record EDF+D file (a sweep exported
    # on its own) has no gap to show it, and is one sweep from its record's onset.
    discontinuous = onsets is not None and (layout["reserved"].startswith(("EDF+D", "BDF+D"))
                                            or bool(np.any(np.abs(np.diff(onsets) - record_s)
                                                           > 1e-6)))
    kind = (("BDF" if layout["bytes_per_sample"] == 3 else "EDF")
            + (("+D" if discontinuous else "+C") if is_plus else ""))
    trigger, stimulus_source = _stimulus_source(signals, annotations, options, path)
    emg, notes = voltage_channels([s for s in signals if s not in trigger], path)
    sfreq = float(emg[0].sampling_frequency)
    n_total = int(round(total_s * sfreq))
    # Times count from the file's start time; the first record may start after it.
    first_record_s = 0.0 if onsets is None else float(onsets[0])
    if discontinuous:
        timeline = _Timeline(sfreq, n_total, onsets, record_s)
        duration = float(onsets[-1] + record_s)
    else:
        timeline = _Timeline(sfreq, n_total, first_s=first_record_s)
        duration = first_record_s + float(total_s)
    trigger_times = (_trigger_times(trigger[0], total_s, onsets, record_s, first_record_s,
                                    discontinuous) if trigger and stimuli is None else None)
    if (stimuli is None and discontinuous and not find_stimuli(stimulus_source)
            and trigger_times is None
            and _longest_run_s(onsets, record_s, sfreq) <= MAX_EPISODE_S):
        return _episodic_edf(path, emg, kind, (onsets, record_s, duration), annotations, notes,
                             options, header)
    if stimuli is None:
        stimuli = stimuli_or_error(stimulus_source, trigger_times, path)
    elif not stimuli:
        raise InputError("no stimuli: the file stating them lists none", path)
    stimuli, starts, times = fit_windows(
        stimuli, options.window_s, sfreq,
        lambda stimulus, first, n: timeline.window_start(stimulus.onset_s + first / sfreq, n),
        notes, path, span_samples=n_total)
    data = sweep_windows(header["records"], emg, starts, times.size, path)
    mains = _mains(header["records"], emg, timeline, starts, duration, first_record_s, sfreq)
    return assemble(path, kind, header["reader"], data, times, sfreq,
                    [s.label.strip() for s in emg], stimuli, duration, annotations=annotations,
                    notes=notes, start=header["start"], patient=header["patient"],
                    mains_hz=mains, recording_id=header["recording_id"])


def _sniff(head: bytes, suffix: str) -> bool:
    return head.startswith(b"0       ") or head[:8] == b"\xffBIOSEMI"


READER = Reader("edf", "EDF/BDF (+C, +D)", (".edf", ".bdf"), read_edf, _sniff)
