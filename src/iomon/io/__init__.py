"""Readers: every supported file format into one :class:`Recording`.

``read(path)`` recognises the format by the file's content (its magic bytes) as well as its
extension and hands it to the reader module of that format family. Objects of the libraries
used inside the readers (edfio, MNE, neo) never leave this package.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..annotations import Annotation, find_stimuli
from ..errors import InputError
from ..muscles import MUSCLES, parse_channel_name
from ..sweeps import Channel, Sweeps

#: Sweep window (s, relative to the stimulus) cut from continuous recordings by default.
DEFAULT_WINDOW_S = (-0.010, 0.100)


@dataclass(frozen=True)
class ReadOptions:
    """How to read a recording, from the ``[recording]`` table of the case sidecar.

    Attributes
    ----------
    window_s : tuple of float
        Sweep window around each stimulus in continuous recordings, s.
    stimulus_channel : str or None
        Event or trigger channel whose events are the stimuli, when its name does not say so.
    stimulus_s : float or None
        Time of the stimulus inside each sweep of an episodic file, s from the sweep start.
    tabular : dict
        Where the parts of a CSV or MATLAB sweep table are (the ``[tabular]`` table; see
        :mod:`iomon.io.tabular`).
    mains_hz : float or None
        Mains frequency to remove (50 or 60), 0 to leave hum in, None to use the one found in
        the recording.
    """

    window_s: tuple[float, float] = DEFAULT_WINDOW_S
    stimulus_channel: str | None = None
    stimulus_s: float | None = None
    tabular: dict = field(default_factory=dict)
    mains_hz: float | None = None

# An optional EDF signal-type prefix ("DIG DTRIG", "Trigger Status") may precede the name.
TRIGGER_PATTERN = re.compile(r"^(\w+\s+)?(trigger|d?trig|sti\S*|status)$", re.IGNORECASE)


@dataclass
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
        The stimulus-locked sweeps; channel facts inferred from names, phases not yet set.
    annotations : list of Annotation
        Every marker in the file, in time order.
    duration_s : float
        Length of the recording in seconds.
    start : datetime.datetime or None
        Start of the recording, from the header.
    patient : str or None
        Patient identification from the header; kept out of reports unless asked for.
    notes : list of str
        Things the reader decided that a user should know (dropped sweeps, assumed units).
    mains_hz : float or None
        Mains frequency found in a stretch of the continuous recording (50 or 60), None when
        the file holds sweeps only or no hum stands out.
    """

    path: Path
    format: str
    reader: str
    sweeps: Sweeps
    annotations: list[Annotation]
    duration_s: float
    start: datetime.datetime | None = None
    patient: str | None = None
    notes: list[str] = field(default_factory=list)
    mains_hz: float | None = None


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


def infer_channels(names) -> list[Channel]:
    """Channel facts read from the labels alone (muscle, side, limb; role left unknown)."""
    channels = []
    for name in names:
        side, muscle = parse_channel_name(name)
        limb = MUSCLES[muscle].limb if muscle else None
        channels.append(Channel(name, muscle, side, limb))
    return channels


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
    """Columns of the sweep table from a list of :class:`~iomon.annotations.Stimulus`."""
    return {
        "onset_s": [s.onset_s for s in stimuli],
        "stim_intensity": [s.intensity for s in stimuli],
        "stim_unit": [s.unit for s in stimuli],
        "montage": [s.montage for s in stimuli],
    }


def stimulus_sample_in_episodes(data, sfreq, options: ReadOptions, notes, path) -> int:
    """Sample index of the stimulus inside episodic sweeps that do not record it.

    The sidecar's ``[recording] stimulus_s`` when given, else the first pulse of the stimulus
    artefact found in the data, else the sweep start; the choice is noted.

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
    from ..conditioning import first_pulse

    offset = np.arange(data.shape[-1]) / sfreq
    if options.stimulus_s is not None:
        if not 0 <= options.stimulus_s < offset[-1]:
            raise InputError(f"the sidecar's stimulus_s ({options.stimulus_s} s) is outside "
                             f"the {offset[-1]:.3f} s sweeps", path)
        return int(round(options.stimulus_s * sfreq))
    first = first_pulse(data, sfreq)
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


def fit_windows(stimuli, window_s, sfreq, start_of, notes, path):
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

    Returns
    -------
    stimuli : list of Stimulus
    starts : list
    times : array of float, shape (n_samples,)
        The window's sample times, s relative to the stimulus.
    """
    first = int(round(window_s[0] * sfreq))
    n_samples = int(round(window_s[1] * sfreq)) - first + 1
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
    from ..annotations import Stimulus

    stimuli = find_stimuli(annotations)
    if stimuli:
        return stimuli
    if trigger_times is not None and len(trigger_times):
        return [Stimulus(float(t), np.nan, "", "") for t in trigger_times]
    raise InputError(
        "no stimuli found: no annotation matches TcMEP/MEP/stim(ulus) and no trigger channel "
        "(Trigger, TRIG, STI*, Status) has pulses", path,
    )


def detect_format(path: Path) -> str:
    """Name of the reader for ``path``, from its first bytes and then its extension."""
    with path.open("rb") as f:
        head = f.read(64)
    suffix = path.suffix.lower()
    if head.startswith(b"0       ") or head[:8] == b"\xffBIOSEMI":
        return "edf"
    if head.lstrip(b"\xef\xbb\xbf").startswith(b"Brain Vision Data Exchange Header"):
        return "brainvision"
    if head[:4] in (b"ABF ", b"ABF2") or head.startswith(b"VER="):
        return "neo"
    if head.startswith(b'CEDFILE"') or suffix == ".cfs":
        return "cfs"
    if head.startswith(b"MATLAB 5.0 MAT-file"):
        return "mat"
    if suffix == ".mat":
        return "mat"
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv"
    if head.startswith(b"\x89HDF\r\n\x1a\n") and suffix == ".nix":
        return "neo"
    if suffix in (".edf", ".bdf"):
        return "edf"  # the EDF reader explains what is wrong with the header
    if suffix == ".vhdr":
        return "brainvision"
    from .neo_adapter import FORMATS

    if suffix in FORMATS:
        return "neo"
    return ""


def read(path: str | Path, options: ReadOptions | None = None) -> Recording:
    """Read a recording, choosing the reader from the file's content and extension.

    Parameters
    ----------
    path : str or Path
        The recording.
    options : ReadOptions, optional
        Sweep window and stimulus source (the case sidecar's ``[recording]`` table).

    Raises
    ------
    InputError
        The file is missing, of an unknown format, or unreadable; the message names it.
    """
    path = Path(path)
    options = options or ReadOptions()
    if not path.exists():
        raise InputError("file not found", path)
    if path.is_dir():
        raise InputError("is a folder, not a recording", path)
    reader = detect_format(path)
    if reader == "edf":
        from .edf import read_edf

        return read_edf(path, options)
    if reader == "cfs":
        from .cfs import read_cfs

        return read_cfs(path, options)
    if reader in ("csv", "mat"):
        from .tabular import read_csv, read_mat

        return (read_csv if reader == "csv" else read_mat)(path, dict(options.tabular))
    if reader == "brainvision":
        from .brainvision import read_brainvision

        return read_brainvision(path, options)
    if reader == "neo":
        from .neo_adapter import FORMATS, read_neo

        if path.suffix.lower() not in FORMATS:
            raise InputError(f"its content looks like a format neo reads, but its extension "
                             f"{path.suffix!r} is not one of {', '.join(FORMATS)}", path)
        return read_neo(path, options)
    raise InputError(
        f"unknown recording format (extension {path.suffix or 'none'!r}); iomon reads EDF+/BDF, "
        "BrainVision (.vhdr), WinWCP (.wcp), Axon (.abf), Spike2 (.smr), NIX (.nix), CED CFS "
        "(.cfs) and sweep tables (.csv, .tsv, .mat)", path
    )
