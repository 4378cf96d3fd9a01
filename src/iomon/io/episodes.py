"""Sweeps that arrive one at a time: one file per sweep, or one trial per sweep of a case file.

A case exported as one file per sweep (inomed ISIS) or as a list of trials (Cadwell Surgical
Studio) gives each sweep with its own start time, sampling rate, channels and length. This
module makes them one :class:`~iomon.model.sweeps.Sweeps`, deciding what a monitoring team
would expect:

- **one sampling rate**: sweeps at different rates are refused, naming how many are at each
  and the first at the rarer one (resampling would change the waveforms a clinician reads);
- **the channels every sweep holds**: a channel missing from some sweeps (added or removed
  during the case) is left out, with a note naming it and how many sweeps hold it;
- **one time axis**: sweeps are aligned on their stimulus and cut to the span all of them
  hold, with a note when that cuts any; where no sweep says where its stimulus is, the
  stimulus is placed once for all (:func:`~iomon.io.base.stimulus_sample_in_episodes`).

Readers describe each sweep with :class:`Episode` (no samples) and hand a function that reads
one sweep's samples; the sweeps are read straight into the one array the analysis uses.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ..model.annotations import Stimulus
from ..model.errors import InputError
from .base import ReadOptions, check_sweep_size, stimulus_sample_in_episodes

__all__ = ["Episode", "Stacked", "stack_episodes"]


@dataclass(frozen=True)
class Episode:
    """One sweep as a file or a trial describes it, before its samples are read.

    Attributes
    ----------
    source : str
        Where it comes from, as messages name it (a file name, "mode 'MEP' trial 12").
    start_s : float
        Time of its first sample, s from the recording's start.
    sfreq : float
        Hz.
    names : tuple of str
        Its voltage channels, in its order.
    n_samples : int
    stimulus_index : int or None
        The sample of the stimulus, when the file says where it is.
    intensity : float
        Stimulus intensity (NaN when unknown), in ``unit``.
    unit, montage : str
    columns : dict
        Further per-sweep facts for the sweep table (name -> value).
    """

    source: str
    start_s: float
    sfreq: float
    names: tuple[str, ...]
    n_samples: int
    stimulus_index: int | None = None
    intensity: float = math.nan
    unit: str = ""
    montage: str = ""
    columns: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Stacked:
    """The sweeps made one: what :func:`~iomon.io.base.assemble` takes.

    Attributes
    ----------
    data : array of float, shape (n_sweeps, n_channels, n_samples)
        Volts.
    times : array of float, shape (n_samples,)
        s from the stimulus.
    sfreq : float
    names : list of str
    stimuli : list of Stimulus
    columns : dict of str to list
    end_s : float
        Time of the last sample of the last sweep, s.
    """

    data: np.ndarray
    times: np.ndarray
    sfreq: float
    names: list
    stimuli: list
    columns: dict
    end_s: float


def _one_rate(episodes, what: str, path) -> float:
    """The sampling rate every sweep shares; refused, with counts, when they differ."""
    rates = Counter(round(e.sfreq, 6) for e in episodes)
    if len(rates) == 1:
        return float(episodes[0].sfreq)
    common, rare = (r for r, _ in rates.most_common(2))
    first = next(e.source for e in episodes if round(e.sfreq, 6) == rare)
    raise InputError(
        f"{what} at different sampling rates: {common:g} Hz ({rates[common]} sweeps) and "
        f"{rare:g} Hz ({rates[rare]}, the first {first})"
        + (f" and {len(rates) - 2} more" if len(rates) > 2 else "")
        + "; iomon analyses one rate per case: put each rate's sweeps in a case of its own",
        path)


def _common_channels(episodes, what: str, path, notes) -> list[str]:
    """The channels every sweep holds, in the order they first appear; the rest noted."""
    counts = Counter(name for e in episodes for name in set(e.names))
    order = list(dict.fromkeys(name for e in episodes for name in e.names))
    common = [name for name in order if counts[name] == len(episodes)]
    partial = [name for name in order if counts[name] < len(episodes)]
    if not common:
        raise InputError(f"{what}: no channel is in every sweep (channels: "
                         f"{', '.join(order[:12])}{' ...' if len(order) > 12 else ''})", path)
    if partial:
        notes.append("channels not in every sweep were left out: " + ", ".join(
            f"{name} (in {counts[name]} of {len(episodes)})" for name in partial))
    return common


def _spans(episodes, sfreq: float, path, notes):
    """Each sweep's first sample and the shared length, and the stimulus sample if known.

    Where every sweep says where its stimulus is, they are aligned on it; otherwise they are
    cut to the shortest from their start. Returns ``(firsts, n_samples, zero)``: ``zero`` is
    the stimulus's sample in the shared span, None when it is still to be placed (from the
    sidecar's ``stimulus_s`` or the data).
    """
    lengths = np.array([e.n_samples for e in episodes])
    known = [e.stimulus_index for e in episodes]
    if any(k is None for k in known):
        n_samples = int(lengths.min())
        if np.any(lengths != n_samples):
            notes.append(f"sweeps of different lengths were cut to the shortest ({n_samples} "
                         f"samples, {n_samples / sfreq * 1e3:g} ms)")
        return np.zeros(len(episodes), int), n_samples, None
    known = np.array(known)
    outside = np.flatnonzero((known < 0) | (known >= lengths))
    if outside.size:
        raise InputError(f"{episodes[outside[0]].source}: its stimulus lies outside the sweep",
                         path)
    before, after = int(known.min()), int((lengths - known).min())
    if np.any(known != before) or np.any(lengths - known != after):
        notes.append(f"sweeps were aligned on their stimulus and cut to the span all of them "
                     f"hold: {-before / sfreq * 1e3:g} to {(after - 1) / sfreq * 1e3:g} ms")
    return known - before, before + after, before


def stack_episodes(episodes, read_one, options: ReadOptions, path, what: str,
                   notes: list) -> Stacked:
    """The sweeps of ``episodes`` (in time order) as one array around their stimuli.

    Parameters
    ----------
    episodes : sequence of Episode
        In time order (strictly increasing ``start_s``).
    read_one : callable (index, names, first, n_samples) -> array, shape (n_names, n_samples)
        Reads one sweep's samples of the channels named, volts, from its sample ``first``.
    options : ReadOptions
        Where no sweep says where its stimulus is, ``stimulus_s`` places it in every sweep.
    path : Path
        The recording (a file or a folder), named in refusals.
    what : str
        The sweeps as messages name them ("sweep files").
    notes : list of str
        Appended to.
    """
    if not episodes:
        raise InputError(f"holds no {what}", path)
    sfreq = _one_rate(episodes, what, path)
    names = _common_channels(episodes, what, path, notes)
    firsts, n_samples, zero = _spans(episodes, sfreq, path, notes)
    check_sweep_size(len(episodes), len(names), n_samples, path)
    data = np.empty((len(episodes), len(names), n_samples))
    for i, first in enumerate(firsts):
        data[i] = read_one(i, names, int(first), n_samples)
    if zero is None:
        zero = stimulus_sample_in_episodes(data, sfreq, options, notes, path)
    times = (np.arange(n_samples) - zero) / sfreq
    stimuli = [Stimulus(e.start_s + (first + zero) / sfreq, e.intensity, e.unit, e.montage)
               for e, first in zip(episodes, firsts)]
    columns = {key: [e.columns.get(key) for e in episodes]
               for key in dict.fromkeys(k for e in episodes for k in e.columns)}
    end_s = max(e.start_s + (e.n_samples - 1) / e.sfreq for e in episodes)
    return Stacked(data, times, sfreq, names, stimuli, columns, end_s)
