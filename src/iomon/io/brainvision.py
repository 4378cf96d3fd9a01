"""BrainVision recordings (.vhdr + .vmrk + .eeg), read with MNE.

MNE applies each channel's resolution for every binary format (neo 0.14 ignores it for
IEEE_FLOAT_32 data) and places markers at their 1-based data point correctly. ``Stimulus``
markers are stimuli; ``Comment`` markers are free text, where the phase markers live. Only the
sweep windows are read from the data file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..annotations import Annotation, find_stimuli
from ..errors import InputError
from ..sweeps import Sweeps
from . import (
    ReadOptions,
    Recording,
    fit_windows,
    infer_channels,
    quiet_stretch,
    sweep_table,
    unit_scale,
)


def _annotation_text(description: str) -> str:
    """``"Stimulus/S  1"`` -> ``"Stimulus S  1"``; ``"Comment/DREZ start"`` -> ``"DREZ start"``."""
    kind, _, text = description.partition("/")
    if not text:
        return kind.strip()
    return text.strip() if kind.strip().lower() == "comment" else f"{kind.strip()} {text.strip()}"


def read_brainvision(path: str | Path, options: ReadOptions | None = None) -> Recording:
    """Read a BrainVision recording into sweeps around its ``Stimulus`` markers."""
    import mne

    path = Path(path)
    options = options or ReadOptions()
    try:
        raw = mne.io.read_raw_brainvision(path, preload=False, verbose="error")
    except Exception as err:  # MNE raises OSError, ValueError, RuntimeError... on bad files
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(f"cannot be read as BrainVision: {text}", path) from None
    sfreq = float(raw.info["sfreq"])
    orig_units = getattr(raw, "_orig_units", {}) or {}
    notes, picks = [], []
    for index, name in enumerate(raw.ch_names):
        unit = orig_units.get(name, "µV")
        if unit_scale(unit) is None:
            notes.append(f"channel {name!r} ({unit}) is not a voltage and was left out")
        else:
            picks.append(index)
    if not picks:
        raise InputError("no voltage channel to analyse", path)

    annotations = [Annotation(float(onset), float(duration), _annotation_text(description))
                   for onset, duration, description in zip(
                       raw.annotations.onset - raw.first_time, raw.annotations.duration,
                       raw.annotations.description)]
    annotations.sort(key=lambda a: a.onset_s)
    if options.stimulus_channel:
        wanted = options.stimulus_channel.lower()
        stimuli = find_stimuli([Annotation(a.onset_s, a.duration_s, f"stimulus {a.text}")
                                for a in annotations if a.text.lower().startswith(wanted)])
    else:
        stimuli = find_stimuli(annotations)
    if not stimuli:
        raise InputError("no stimuli found: no Stimulus marker and no marker text reading as "
                         "TcMEP/MEP/stim(ulus)", path)

    def start_of(stimulus, first, n_samples):
        start = int(round(stimulus.onset_s * sfreq)) + first
        return start if 0 <= start and start + n_samples <= raw.n_times else None

    stimuli, starts, times = fit_windows(stimuli, options.window_s, sfreq, start_of, notes,
                                         path)
    data = np.stack([raw.get_data(picks=picks, start=start, stop=start + times.size)
                     for start in starts])
    from importlib.metadata import version

    import pandas as pd

    names = [raw.ch_names[i] for i in picks]
    sweeps = Sweeps(data, times, sfreq, infer_channels(names), pd.DataFrame(sweep_table(stimuli)))
    from ..conditioning import detect_mains

    quiet = quiet_stretch([s.onset_s for s in stimuli], raw.n_times / sfreq)
    scan = raw.get_data(picks=picks, start=int(quiet[0] * sfreq), stop=int(quiet[1] * sfreq))
    start = raw.info.get("meas_date")
    return Recording(path, "BrainVision", f"mne {version('mne')}", sweeps, annotations,
                     float(raw.n_times / sfreq), start, None, notes, detect_mains(scan, sfreq))
