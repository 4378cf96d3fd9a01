"""The reader contract, and the steps every reader shares.

A reader module parses its format's headers and reads the sweep windows; this module owns the
rest: the :class:`ReadOptions` every reader takes, the :class:`Recording` every reader
returns, cutting windows that fit the data (:func:`fit_windows`), finding stimuli and mains
hum, and assembling the result (:func:`assemble`). A format is added by one module that
declares a :class:`Reader` and one line in the registry (:data:`iomon.io.READERS`).
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from ..model.annotations import Annotation, find_stimuli
from ..model.errors import InputError
from ..model.sweeps import Channel, Sweeps

__all__ = ["DEFAULT_WINDOW_S", "MAX_COVERAGE", "MAX_SFREQ_HZ", "MAX_SWEEP_VALUES", "MAX_TIME_S",
           "NotARecording", "ReadOptions", "Reader", "Recording", "assemble", "check_rate",
           "check_sweep_size", "check_time", "check_times", "error_line", "fit_windows",
           "quiet_stretch", "read_options", "starts_on_artefact", "stimuli_or_error",
           "stimulus_sample_in_episodes", "trigger_onsets", "unique_names", "unit_scale"]

#: Sweep window (s, relative to the stimulus) cut from continuous recordings by default.
DEFAULT_WINDOW_S = (-0.010, 0.100)

# What a file may claim. A header field or a time beyond these is damage, not a recording:
# refused before it is used (an unchecked count or time becomes a huge allocation, an
# overflow or an endless loop further on).
#: Fastest sampling rate accepted, Hz (EMG amplifiers sample at 100 kHz at most).
MAX_SFREQ_HZ = 1e6
#: Largest time a file may state, s (about three years).
MAX_TIME_S = 1e8
#: Most sample values all sweeps together may hold (1.6 GB as float64).
MAX_SWEEP_VALUES = 200_000_000
#: Stimuli whose sweep windows would cover the recorded data more than this many times over
#: are not stimuli (a noise channel taken for a trigger gives thousands).
MAX_COVERAGE = 8.0



class NotARecording(InputError):
    """A file that is none of the formats iomon reads, though its name suggests one.

    ``read`` words it as for a file of an unknown format, with the formats listed; the
    message here says what was looked for.
    """


@dataclass(frozen=True)
class ReadOptions:
    """How to read a recording: the case sidecar's ``[recording]`` table and reader sections.

    Attributes
    ----------
    window_s : tuple of float
        Sweep window around each stimulus in continuous recordings, s.
    stimulus_channel : str or None
        Event or trigger channel whose events are the stimuli, when its name does not say so.
    stimulus_s : float or None
        Time of the stimulus inside each sweep of an episodic file, s from the sweep start.
    mains_hz : float or None
        Mains frequency to remove (50 or 60), 0 to leave hum in, None to use the one found in
        the recording.
    sections : mapping of str to dict
        Sidecar sections that belong to a reader (``[tabular]`` for sweep tables), by name,
        as that reader validated them.
    """

    window_s: tuple[float, float] = DEFAULT_WINDOW_S
    stimulus_channel: str | None = None
    stimulus_s: float | None = None
    mains_hz: float | None = None
    sections: Mapping[str, dict] = field(default_factory=dict)

    def __post_init__(self):
        frozen = {k: MappingProxyType(dict(v)) for k, v in dict(self.sections).items()}
        object.__setattr__(self, "sections", MappingProxyType(frozen))

    def section(self, name: str) -> Mapping:
        """A reader's sidecar section (empty when the sidecar has none)."""
        return self.sections.get(name, MappingProxyType({}))


@dataclass(frozen=True)
class Reader:
    """A format iomon reads: what it recognises and the function that reads it.

    Attributes
    ----------
    name : str
        Short name, e.g. ``"edf"``.
    title : str
        The format as users know it, e.g. ``"EDF/BDF (+C, +D)"`` (in help and error texts).
    extensions : tuple of str
        File extensions, lower case with the dot.
    read : callable (Path, ReadOptions) -> Recording
    sniff : callable (bytes, str) -> bool, optional
        Whether a file's first 64 bytes (and its extension) are this format's; content wins
        over extension when formats are told apart.
    section : str, optional
        The sidecar section this reader owns (``"tabular"``).
    check_section : callable (dict) -> dict, optional
        Validates that section (raising :class:`~iomon.model.errors.InputError` naming the key).
    folder : bool
        It reads a folder (a case exported as one file per sweep), not a file.
    claims : callable (Path) -> bool, optional
        Whether a file of one of its extensions is of this format, for a search through an
        archive (``iomon batch``) where the extension alone does not say (``.json``); default:
        every file of its extensions is.
    """

    name: str
    title: str
    extensions: tuple[str, ...]
    read: Callable
    sniff: Callable | None = None
    section: str | None = None
    check_section: Callable | None = None
    folder: bool = False
    claims: Callable | None = None

# An optional EDF signal-type prefix ("DIG DTRIG", "Trigger Status") may precede the name.
TRIGGER_PATTERN = re.compile(r"^(\w+\s+)?(trigger|d?trig|sti\S*|status)$", re.IGNORECASE)


@dataclass(frozen=True)
class Recording:
    """What a reader found in a file.

    Attributes
    ----------
    path : Path
        The file read.
    format : str
        Human-readable format name, e.g. ``"EDF+C"``.
    reader : str
        The library or parser that read it, e.g. ``"edfio 0.4.18"``.
    sweeps : Sweeps
        The stimulus-locked sweeps, channels known by name only (their facts are decided with
        the case sidecar, see :func:`iomon.case.channels.decide_channels`).
    annotations : tuple of Annotation
        Every marker in the file, in time order.
    duration_s : float
        Length of the recording in seconds.
    start : datetime.datetime or None
        Start of the recording, from the header.
    patient : str or None
        Patient identification from the header; kept out of reports unless asked for.
    recording_id : str or None
        The header's recording identification (EDF: "Startdate ... admin technician
        equipment"); kept out of reports, read for the equipment that wrote the file
        (``iomon.simulate`` marks a simulated case).
    notes : tuple of str
        Things the reader decided that a user should know (dropped sweeps, assumed units).
    mains_hz : float or None
        Mains frequency found in a stretch of the continuous recording (50 or 60), None when
        the file holds sweeps only or no hum stands out.
    """

    path: Path
    format: str
    reader: str
    sweeps: Sweeps
    annotations: tuple[Annotation, ...]
    duration_s: float
    start: datetime.datetime | None = None
    patient: str | None = None
    notes: tuple[str, ...] = ()
    mains_hz: float | None = None
    recording_id: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "annotations", tuple(sorted(self.annotations,
                                                             key=lambda a: a.onset_s)))
        object.__setattr__(self, "notes", tuple(self.notes))


#: Seconds of continuous recording a reader scans for mains hum.
MAINS_SCAN_S = 10.0


def quiet_stretch(stimulus_onsets_s, duration_s, start_s=0.0, longest_s=MAINS_SCAN_S):
    """The longest stretch free of stimuli and their responses: (start_s, stop_s).

    Mains hum is looked for there: a stimulus artefact is broadband and would hide it. The
    data run from ``start_s`` to ``duration_s``.
    """
    edges = np.r_[start_s, np.sort(np.asarray(stimulus_onsets_s, float)), duration_s]
    starts = edges[:-1] + np.r_[0.0, np.full(edges.size - 2, 0.15)]
    stops = edges[1:] - np.r_[np.full(edges.size - 2, 0.02), 0.0]
    best = int(np.argmax(stops - starts))
    start = max(starts[best], start_s)
    return start, max(start, min(stops[best], start + longest_s))


def unique_names(names, notes) -> list[str]:
    """Channel labels made unique (a repeated label gets "-2", "-3"...), with a note if any."""
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}-{seen[name]}")
    if unique != list(names):
        notes.append("duplicate channel labels were numbered: "
                     + ", ".join(n for n in unique if n not in names))
    return unique


_UNIT_SCALE = {"v": 1.0, "volt": 1.0, "volts": 1.0, "mv": 1e-3, "millivolt": 1e-3,
               "uv": 1e-6, "µv": 1e-6, "μv": 1e-6, "microvolt": 1e-6, "nv": 1e-9}


def unit_scale(unit: str) -> float | None:
    """Factor that turns values in ``unit`` into volts; None for a non-voltage unit."""
    return _UNIT_SCALE.get(unit.strip().lower().replace(" ", ""))


def trigger_onsets(values, sfreq: float, is_status: bool = False, n_samples=None,
                   chunk=1_000_000) -> np.ndarray:
    """Sample times (s) of the rising edges of a trigger channel.

    The resting level is the channel's median; a pulse is a departure from it of more than half
    of the largest departure. BioSemi ``Status`` channels keep triggers in the low 16 bits.

    Parameters
    ----------
    values : array, or callable (start, stop) -> array
        The channel, or a function reading a slice of it, so that a long channel is scanned in
        chunks and never held whole.
    sfreq : float
    is_status : bool
    n_samples : int, optional
        Length of the channel; needed when ``values`` is a callable.
    chunk : int
        Samples per chunk.
    """
    if callable(values):
        read_slice = values
    else:
        array = np.asarray(values)
        n_samples = array.size
        def read_slice(start, stop):
            return array[start:stop]

    def level(start, stop):
        part = np.asarray(read_slice(start, stop))
        return (part.astype(np.int64) & 0xFFFF if is_status else part).astype(float)

    bounds = [(s, min(s + chunk, n_samples)) for s in range(0, n_samples, chunk)]
    # Pass 1: the resting level (median of a regular subsample) and the extremes.
    subsample, low, high = [], np.inf, -np.inf
    for start, stop in bounds:
        part = level(start, stop)
        subsample.append(part[::37])
        low, high = min(low, part.min()), max(high, part.max())
    if not bounds:
        return np.array([])
    rest = float(np.median(np.concatenate(subsample)))
    peak = max(abs(high - rest), abs(low - rest))
    if peak == 0:
        return np.array([])
    # Pass 2: rising edges, carrying the state across chunk boundaries.
    edges, previous = [], False
    for start, stop in bounds:
        active = np.abs(level(start, stop) - rest) > 0.5 * peak
        before = np.r_[previous, active[:-1]]
        edges.append(np.flatnonzero(active & ~before) + start)
        previous = bool(active[-1])
    return np.concatenate(edges) / sfreq


def sweep_table(stimuli) -> dict:
    """Columns of the sweep table from a list of :class:`~iomon.model.annotations.Stimulus`."""
    return {
        "onset_s": [s.onset_s for s in stimuli],
        "stim_intensity": [s.intensity for s in stimuli],
        "stim_unit": [s.unit for s in stimuli],
        "montage": [s.montage for s in stimuli],
    }


#: Sweeps looked at to place the stimulus in episodic sweeps (spread over the case).
MAX_SWEEPS_TO_PLACE = 100
#: A pulse's steep part lasts at most this long, s: the first step found within it of a sweep
#: that starts on the artefact belongs to the pulse the sweep starts on.
MAX_PULSE_S = 0.002
#: How far (in median absolute deviations of the sweep) the first sample of a sweep that starts
#: on the stimulus artefact lies from the sweep's median: an artefact of 1 mV over 5 µV of
#: noise lies about 300 away; noise, hum and electrode drift at the first sample of a sweep
#: with a pre-stimulus part lie within about 10.
ARTEFACT_START_RATIO = 30.0


def starts_on_artefact(data, ratio: float = ARTEFACT_START_RATIO) -> bool:
    """Whether episodic sweeps begin on the stimulus artefact (no pre-stimulus sample).

    Some systems export sweeps that start at the first pulse of the train: their first
    sample lies on the pulse, far from the sweep's level, on most channels. Judged per channel
    by the median over sweeps of the first sample's distance from the sweep's median in
    median absolute deviations, then by the median over channels.

    Parameters
    ----------
    data : array of float, shape (n_sweeps, n_channels, n_samples)
    ratio : float
    """
    data = np.where(np.isfinite(data), data, 0.0)
    level = np.median(data, axis=-1)
    spread = np.median(np.abs(data - level[..., None]), axis=-1)
    spread = np.where(spread > 0, spread, np.finfo(float).tiny)
    distance = np.abs(data[..., 0] - level) / spread
    return bool(np.median(np.median(distance, axis=0)) > ratio)


def stimulus_sample_in_episodes(data, sfreq, options: ReadOptions, notes, path) -> int:
    """Sample index of the stimulus inside episodic sweeps that do not record it.

    The sidecar's ``[recording] stimulus_s`` when given; else the sweep start when the sweeps
    start on the stimulus artefact (:func:`starts_on_artefact`); else the first pulse of the
    artefact found in the data; else the sweep start. The choice is noted.

    Parameters
    ----------
    data : array of float, shape (n_sweeps, n_channels, n_samples)
    sfreq : float
    options : ReadOptions
    notes : list of str
        Appended to.
    path : Path
        For error messages.
    """
    from ..processing.conditioning import first_pulse

    offset = np.arange(data.shape[-1]) / sfreq
    if options.stimulus_s is not None:
        if not 0 <= options.stimulus_s < offset[-1]:
            raise InputError(f"the sidecar's stimulus_s ({options.stimulus_s} s) is outside "
                             f"the {offset[-1]:.3f} s sweeps", path)
        return int(round(options.stimulus_s * sfreq))
    # Both are medians over sweeps: a hundred sweeps spread over the case tell as well as
    # 2,000 do, in a twentieth of the time.
    sample = data[np.unique(np.linspace(0, len(data) - 1, MAX_SWEEPS_TO_PLACE).astype(int))]
    first = first_pulse(sample, sfreq)
    if starts_on_artefact(sample) and (first is None or first <= MAX_PULSE_S):
        notes.append("the sweeps start on the stimulus artefact (an export that begins at the "
                     "first pulse): the stimulus is each sweep's first sample (set [recording] "
                     "stimulus_s to override)")
        return 0
    if first is None:
        notes.append("no stimulus artefact found and no [recording] stimulus_s in the sidecar: "
                     "the stimulus is taken at the start of each sweep")
        return 0
    notes.append(f"the stimulus was placed at the artefact found {first * 1e3:.2f} ms into "
                 "each sweep (set [recording] stimulus_s to override)")
    return int(round(first * sfreq))


def keep_full_windows(stimuli, starts, notes, path):
    """Drop the stimuli whose sweep window does not fit in the recorded data.

    Parameters
    ----------
    stimuli : list of Stimulus
    starts : list
        Each stimulus's window start (whatever the reader needs to read it), or None where the
        window would run past the data.
    notes : list of str
        A note is appended when stimuli are dropped.
    path : Path

    Returns
    -------
    stimuli, starts : lists without the dropped ones
    """
    kept = [(s, w) for s, w in zip(stimuli, starts) if w is not None]
    if len(kept) < len(stimuli):
        notes.append(f"{len(stimuli) - len(kept)} stimulus/stimuli without a full sweep window "
                     "inside the recorded data were skipped")
    if not kept:
        raise InputError("no stimulus leaves room for a full sweep window inside the recording",
                         path)
    return [s for s, _ in kept], [w for _, w in kept]


#: Trims tried when a sweep window overhangs the data: samples dropped at its start and end.
_TRIMS = ((0, 0), (0, 1), (1, 0), (1, 1))


def fit_windows(stimuli, window_s, sfreq, start_of, notes, path, span_samples=None):
    """Sweep windows around the stimuli that fit the data, one sample trimmed if need be.

    A window of ``window_s`` (both ends included) that overhangs a record or the recording by
    one sample (an export whose records hold exactly -10 to +100 ms, half-open) is trimmed by
    that sample for every sweep rather than refused; stimuli whose window still does not fit
    are skipped with a note (see :func:`keep_full_windows`).

    Parameters
    ----------
    stimuli : list of Stimulus
    window_s : tuple of float
    sfreq : float
    start_of : callable (stimulus, first, n_samples) -> start or None
        Where a window of ``n_samples`` whose first sample lies ``first`` samples from the
        stimulus starts in the data (whatever the reader needs), None if it does not fit.
    notes : list of str
    path : Path
    span_samples : int, optional
        Samples of recorded data the stimuli lie in: stimuli so dense that their windows
        would cover it more than MAX_COVERAGE times over are refused, not cut.

    Returns
    -------
    stimuli : list of Stimulus
    starts : list
    times : array of float, shape (n_samples,)
        The window's sample times, s relative to the stimulus.
    """
    first = int(round(window_s[0] * sfreq))
    n_samples = int(round(window_s[1] * sfreq)) - first + 1
    if span_samples is not None and len(stimuli) * n_samples > MAX_COVERAGE * max(
            span_samples, n_samples):
        raise InputError(f"{len(stimuli)} stimuli in {span_samples / sfreq:g} s of recording: "
                         f"their {n_samples}-sample sweeps would cover it "
                         f"{len(stimuli) * n_samples / max(span_samples, 1):.0f} times over; "
                         "markers or trigger pulses this dense are not stimuli (is the trigger "
                         "channel noise?)", path)
    best = None
    for drop_start, drop_end in _TRIMS:
        trimmed = (first + drop_start, n_samples - drop_start - drop_end)
        starts = [start_of(s, *trimmed) for s in stimuli]
        fits = sum(start is not None for start in starts)
        if best is None or fits > best[0]:
            best = (fits, trimmed, starts, (drop_start, drop_end))
    _, (first, n_samples), starts, trim = best
    if trim != (0, 0):
        ends = " and ".join(end for end, dropped in zip(("start", "end"), trim) if dropped)
        notes.append(f"the sweep window was trimmed by one sample at its {ends} to fit the "
                     f"recorded data: {first / sfreq * 1e3:g} to "
                     f"{(first + n_samples - 1) / sfreq * 1e3:g} ms")
    stimuli, starts = keep_full_windows(stimuli, starts, notes, path)
    return stimuli, starts, (np.arange(n_samples) + first) / sfreq


def stimuli_or_error(annotations, trigger_times, path) -> list:
    """Stimuli from annotations, else from a trigger channel, else a clear error."""
    from ..model.annotations import Stimulus

    stimuli = find_stimuli(annotations)
    if stimuli:
        return stimuli
    if trigger_times is not None and len(trigger_times):
        return [Stimulus(float(t), np.nan, "", "") for t in trigger_times]
    raise InputError(
        "no stimuli found: no annotation matches TcMEP/MEP/stim(ulus) and no trigger channel "
        "(Trigger, TRIG, STI*, Status) has pulses", path,
    )


def check_rate(sfreq, what: str, path) -> float:
    """A sampling rate read from a file, checked: finite, > 0 and at most MAX_SFREQ_HZ.

    Raises InputError naming the file and ``what`` the rate came from.
    """
    try:
        value = float(sfreq)
    except (TypeError, ValueError, OverflowError):
        value = float("nan")
    if not (math.isfinite(value) and 0 < value <= MAX_SFREQ_HZ):
        raise InputError(f"{what} gives a sampling rate of {sfreq!r} Hz (expected a positive "
                         f"number up to {MAX_SFREQ_HZ:g} Hz)", path)
    return value


def check_time(value, what: str, path, low: float = -MAX_TIME_S) -> float:
    """A time (s) read from a file, checked: finite, from ``low`` to MAX_TIME_S."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = float("nan")
    if not (math.isfinite(number) and low <= number <= MAX_TIME_S):
        raise InputError(f"{what} is {value!r} s: not a time a recording can hold", path)
    return number


def check_times(values, what: str, path) -> np.ndarray:
    """Times (s) read from a file, every one finite and within +-MAX_TIME_S."""
    values = np.asarray(values, dtype=float)
    bad = ~np.isfinite(values) | (np.abs(values) > MAX_TIME_S)
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        raise InputError(f"{what} {index} is {values.flat[index]!r} s: not a time a recording "
                         "can hold", path)
    return values


def check_sweep_size(n_sweeps: int, n_channels: int, n_samples: int, path,
                     bytes_per_value: int = 8) -> None:
    """Refuse sweeps too large to hold (MAX_SWEEP_VALUES): a damaged count or rate.

    ``bytes_per_value``: 8 for sweeps held as read (float64), 4 for sweeps streamed from
    their file, of which only the conditioned sweeps are kept (float32, in a temporary file),
    so twice as many are taken.
    """
    values = int(n_sweeps) * int(n_channels) * int(n_samples)
    limit_bytes = MAX_SWEEP_VALUES * 8
    if values * bytes_per_value > limit_bytes:
        raise InputError(f"{n_sweeps} sweeps x {n_channels} channels x {n_samples} samples "
                         f"would need {values * bytes_per_value / 1e9:.1f} GB: more than iomon "
                         f"holds ({limit_bytes / 1e9:.1f} GB); the file's counts or rates "
                         "look damaged", path)


def error_line(err: BaseException) -> str:
    """The first line of an exception's text, or its type's name when it has none."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def assemble(path, format_name, reader, data, times, sfreq, names, stimuli, duration_s, *,
             annotations=(), notes=(), start=None, patient=None, mains_hz=None,
             columns=None, recording_id=None) -> Recording:
    """The :class:`Recording` of sweeps a reader cut: the tail every reader shares.

    Parameters
    ----------
    path : Path
    format_name, reader : str
        As in :class:`Recording`.
    data : array of float, shape (n_sweeps, n_channels, n_samples)
        Volts.
    times : array of float, shape (n_samples,)
        s relative to the stimulus.
    sfreq : float
    names : sequence of str
        Channel labels as in the file; repeated ones are numbered (with a note).
    stimuli : sequence of Stimulus
        One per sweep, in the sweeps' order.
    duration_s : float
    annotations, notes : sequence
    start, patient, mains_hz, recording_id
        As in :class:`Recording`.
    columns : mapping of str to sequence, optional
        Further per-sweep facts the file holds (CFS frame variables), for the sweep table.
    """
    notes = list(notes)
    names = unique_names(list(names), notes)
    check_times([s.onset_s for s in stimuli], "the onset of sweep", path)
    intensity = np.array([s.intensity for s in stimuli], dtype=float)
    if np.isinf(intensity).any():
        raise InputError(f"the stimulus intensity of sweep {int(np.argmax(np.isinf(intensity)))}"
                         " is not a finite number", path)
    check_times([a.onset_s for a in annotations], "the onset of annotation", path)
    check_time(duration_s, "the recording's duration", path, low=0.0)
    table = sweep_table(stimuli)  # columns: the DataFrame is made only if asked for
    for name, values in (columns or {}).items():
        table[name] = list(values)
    try:
        sweeps = Sweeps(data, times, sfreq, [Channel(name) for name in names], table)
    except InputError as err:
        raise InputError(err.reason, path) from None
    return Recording(Path(path), format_name, reader, sweeps, tuple(annotations),
                     float(duration_s), start, patient, tuple(notes), mains_hz,
                     recording_id)


def _number(value) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def read_options(table: dict, sections: Mapping[str, dict] | None = None) -> ReadOptions:
    """Reading options from a sidecar's ``[recording]`` table and its reader sections.

    ``[recording]`` holds what every reader takes: the sweep window, the stimulus channel,
    the stimulus time in an episodic sweep and the mains frequency. ``sections`` holds the
    sections that readers own, already checked by them.

    Raises
    ------
    InputError
        A key that is unknown or a value of the wrong type or range; the message names it
        (the caller adds the file).
    """
    if not isinstance(table, dict):
        raise InputError("[recording] must be a table")
    allowed = {"window_ms", "stimulus_channel", "stimulus_s", "mains_hz"}
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise InputError(f"unknown key {unknown[0]!r} in [recording] (expected: "
                         f"{', '.join(sorted(allowed))})")
    options = {}
    if "window_ms" in table:
        window = table["window_ms"]
        if (not isinstance(window, list) or len(window) != 2
                or not all(_number(v) and abs(v) <= 60_000 for v in window)
                or not window[0] <= 0 < window[1]):
            raise InputError("recording.window_ms must be [start, end] in ms with start <= 0 < "
                             f"end, got {window!r}")
        options["window_s"] = (window[0] / 1e3, window[1] / 1e3)
    if "stimulus_channel" in table:
        if not isinstance(table["stimulus_channel"], str) or not table["stimulus_channel"]:
            raise InputError("recording.stimulus_channel must be a channel name")
        options["stimulus_channel"] = table["stimulus_channel"]
    if "stimulus_s" in table:
        value = table["stimulus_s"]
        if not _number(value) or not 0 <= value <= 3600:
            raise InputError(f"recording.stimulus_s must be seconds from 0 to 3600, got "
                             f"{value!r}")
        options["stimulus_s"] = float(value)
    if "mains_hz" in table:
        if table["mains_hz"] not in (0, 50, 60) or isinstance(table["mains_hz"], bool):
            raise InputError(f"recording.mains_hz must be 50, 60 or 0 (no hum removal), got "
                             f"{table['mains_hz']!r}")
        options["mains_hz"] = float(table["mains_hz"])
    return ReadOptions(**options, sections=dict(sections or {}))
