"""BrainVision recordings (.vhdr + .vmrk + .eeg), read with MNE.

MNE applies each channel's resolution for every binary format (neo 0.14 ignores it for
IEEE_FLOAT_32 data) and places markers at their 1-based data point correctly. ``Stimulus``
markers are stimuli; ``Comment`` markers are free text, where the phase markers live. Only the
sweep windows are read from the data file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..model.annotations import Annotation, find_stimuli
from ..model.errors import InputError
from .base import (
    Reader,
    ReadOptions,
    Recording,
    assemble,
    check_rate,
    check_sweep_size,
    check_times,
    error_line,
    fit_windows,
    quiet_stretch,
    unit_scale,
)

__all__ = ["READER", "read_brainvision"]


def _annotation_text(description: str) -> str:
    """``"Stimulus/S  1"`` -> ``"Stimulus S  1"``; ``"Comment/DREZ start"`` -> ``"DREZ start"``."""
    kind, _, text = description.partition("/")
    if not text:
        return kind.strip()
    return text.strip() if kind.strip().lower() == "comment" else f"{kind.strip()} {text.strip()}"


def _voltage_picks(raw):
    """Indices of the voltage channels, and notes on the others."""
    orig_units = getattr(raw, "_orig_units", {}) or {}
    notes, picks = [], []
    for index, name in enumerate(raw.ch_names):
        unit = orig_units.get(name, "µV")
        if unit_scale(unit) is None:
            notes.append(f"channel {name!r} ({unit}) is not a voltage and was left out")
        else:
            picks.append(index)
    return picks, notes


#: Most channels a BrainVision header may declare (MNE allocates per declared channel).
MAX_CHANNELS = 4096


def _check_header(path: Path) -> None:
    """The header's channel count and sampling interval, checked before MNE reads it."""
    import re

    text = path.read_bytes()[:1 << 20].decode("latin-1")

    def value(key):
        match = re.search(rf"^\s*{key}\s*=\s*(.*?)\s*$", text, re.MULTILINE)
        return None if match is None else match.group(1)

    channels, interval = value("NumberOfChannels"), value("SamplingInterval")
    try:
        n_channels = int(channels)
    except (TypeError, ValueError):
        n_channels = 0
    if not 1 <= n_channels <= MAX_CHANNELS:
        raise InputError(f"corrupt BrainVision header (NumberOfChannels={channels!r}: expected "
                         f"1 to {MAX_CHANNELS})", path)
    try:
        rate = 1e6 / float(interval)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        rate = float("nan")
    check_rate(rate, f"the header's SamplingInterval={interval!r} µs", path)


def read_brainvision(path: str | Path, options: ReadOptions | None = None) -> Recording:
    """Read a BrainVision recording into sweeps around its ``Stimulus`` markers."""
    import mne

    path = Path(path)
    options = options or ReadOptions()
    _check_header(path)
    try:
        raw = mne.io.read_raw_brainvision(path, preload=False, verbose="error")
    except Exception as err:  # MNE raises OSError, ValueError, RuntimeError... on bad files
        raise InputError(f"cannot be read as BrainVision: {error_line(err)}", path) from None
    try:
        return _sweeps(raw, path, options)
    except InputError:
        raise
    except Exception as err:  # MNE reads the data lazily: a damaged file fails where read
        raise InputError(f"cannot be read as BrainVision: {error_line(err)}", path) from None


def _sweeps(raw, path: Path, options: ReadOptions) -> Recording:
    """The sweeps around the recording's stimuli, and its mains frequency."""
    from importlib.metadata import version

    from ..processing.conditioning import detect_mains

    sfreq = check_rate(raw.info["sfreq"], "the header", path)
    picks, notes = _voltage_picks(raw)
    if not picks:
        raise InputError("no voltage channel to analyse", path)
    annotations = [Annotation(float(onset), float(duration), _annotation_text(description))
                   for onset, duration, description in zip(
                       raw.annotations.onset - raw.first_time, raw.annotations.duration,
                       raw.annotations.description)]
    if options.stimulus_channel:
        wanted = options.stimulus_channel.lower()
        stimuli = find_stimuli([Annotation(a.onset_s, a.duration_s, f"stimulus {a.text}")
                                for a in annotations if a.text.lower().startswith(wanted)])
    else:
        stimuli = find_stimuli(annotations)
    if not stimuli:
        raise InputError("no stimuli found: no Stimulus marker and no marker text reading as "
                         "TcMEP/MEP/stim(ulus)", path)
    check_times([s.onset_s for s in stimuli], "the onset of stimulus", path)

    def start_of(stimulus, first, n_samples):
        start = int(round(stimulus.onset_s * sfreq)) + first
        return start if 0 <= start and start + n_samples <= raw.n_times else None

    stimuli, starts, times = fit_windows(stimuli, options.window_s, sfreq, start_of, notes,
                                         path, span_samples=raw.n_times)
    check_sweep_size(len(starts), len(picks), times.size, path)
    data = np.stack([raw.get_data(picks=picks, start=start, stop=start + times.size)
                     for start in starts])
    quiet = quiet_stretch([s.onset_s for s in stimuli], raw.n_times / sfreq)
    first, last = int(quiet[0] * sfreq), int(quiet[1] * sfreq)
    mains = (detect_mains(raw.get_data(picks=picks, start=first, stop=last), sfreq)
             if last > first else None)
    return assemble(path, "BrainVision", f"mne {version('mne')}", data, times, sfreq,
                    [raw.ch_names[i] for i in picks], stimuli, raw.n_times / sfreq,
                    annotations=annotations, notes=notes, start=raw.info.get("meas_date"),
                    mains_hz=mains)


def _sniff(head: bytes, suffix: str) -> bool:
    return head.lstrip(b"\xef\xbb\xbf").startswith(b"Brain Vision Data Exchange Header")


READER = Reader("brainvision", "BrainVision", (".vhdr",), read_brainvision, _sniff)
