"""Baseline: the reference each later sweep is compared with.

The baseline of a channel is the median over its first ``n_sweeps`` valid sweeps that start at
or after the ``Baseline`` annotation (or the start of the case) and before lesioning. The median
is robust to the one odd sweep that TcMEP variability produces; the spread (median absolute
deviation) is reported beside it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .annotations import LESIONING, POST

DEFAULT_BASELINE_SWEEPS = 10


@dataclass(frozen=True)
class Baseline:
    """Per-channel reference values (arrays of shape (n_channels,)).

    Attributes
    ----------
    sweeps : array of bool, shape (n_sweeps, n_channels)
        Which sweeps formed each channel's baseline.
    amplitude : median peak-to-peak amplitude, V (NaN when no valid sweep).
    amplitude_mad : median absolute deviation of the amplitude, V.
    onset_latency : median onset latency of the present responses, s.
    present : True where most baseline sweeps hold a response.
    """

    sweeps: np.ndarray
    amplitude: np.ndarray
    amplitude_mad: np.ndarray
    onset_latency: np.ndarray
    present: np.ndarray


def select_baseline_sweeps(onsets_s, phases, valid, start_s=None,
                           n_sweeps=DEFAULT_BASELINE_SWEEPS):
    """Choose each channel's baseline sweeps.

    Parameters
    ----------
    onsets_s : array of float, shape (n_sweeps,)
    phases : array of str, shape (n_sweeps,)
    valid : array of bool, shape (n_sweeps, n_channels)
        Sweeps not rejected.
    start_s : float, optional
        Where the baseline starts (the ``Baseline`` annotation); default: the first sweep.
    n_sweeps : int
        How many valid sweeps form the baseline.

    Returns
    -------
    array of bool, shape (n_sweeps, n_channels)
    """
    onsets_s = np.asarray(onsets_s, float)
    eligible = ~np.isin(np.asarray(phases), [LESIONING, POST])
    if start_s is not None:
        eligible &= onsets_s >= start_s
    candidates = valid & eligible[:, None]
    rank = np.cumsum(candidates, axis=0)
    return candidates & (rank <= n_sweeps)


def compute_baseline(amplitude, onset_latency, present, chosen) -> Baseline:
    """Reference values over the chosen sweeps (all inputs shape (n_sweeps, n_channels))."""
    with warnings.catch_warnings():
        # All-NaN columns are channels without a valid baseline sweep: they get NaN, quietly.
        warnings.simplefilter("ignore", RuntimeWarning)
        amp = np.where(chosen, amplitude, np.nan)
        median = np.nanmedian(amp, axis=0)
        mad = np.nanmedian(np.abs(amp - median), axis=0)
        latency = np.nanmedian(np.where(chosen & present, onset_latency, np.nan), axis=0)
        n_chosen = chosen.sum(axis=0)
        n_present = (chosen & present).sum(axis=0)
    base_present = (n_chosen > 0) & (2 * n_present > n_chosen)
    return Baseline(chosen, median, mad, np.where(base_present, latency, np.nan), base_present)


def percent_of_baseline(amplitude, baseline: Baseline) -> np.ndarray:
    """Amplitude as % of the channel's baseline; NaN for channels absent at baseline."""
    with np.errstate(invalid="ignore", divide="ignore"):
        percent = 100.0 * amplitude / baseline.amplitude[None, :]
    return np.where(baseline.present[None, :], percent, np.nan)

