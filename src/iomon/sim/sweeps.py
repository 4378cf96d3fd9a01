"""Sweeps simulated directly, as arrays: the artefact and responses of one acquisition setting.

A whole case (:func:`iomon.sim.simulate_case`) is a continuous recording of hours; properties
that must hold for every acquisition setting (no artefact ever measured as a response, whatever
the train, the rate or the amplifier) are tested over grids of settings, each on a few sweeps.
:func:`simulate_sweeps` renders those sweeps with the case simulator's own parts (the train of
:mod:`~iomon.sim.acquisition`, the responses of :mod:`~iomon.sim.physiology`) and returns them
with the truth of every response.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model.muscles import MUSCLES
from . import physiology
from .acquisition import Acquisition, pulse_sizes, pulse_times, recovery_tail, train_artefact

__all__ = ["SimulatedSweeps", "simulate_sweeps"]


@dataclass(frozen=True)
class SimulatedSweeps:
    """Sweeps of one acquisition setting and what they hold.

    Attributes
    ----------
    data : array of float, shape (n_sweeps, n_channels, n_samples)
        Volts, as the amplifier recorded them (electrode offsets included).
    times : array of float, shape (n_samples,)
        s from the stimulus (the sample the marker points to).
    sfreq : float
    names : list of str
    amplitude : array of float, shape (n_sweeps, n_channels)
        Injected peak-to-peak, V (0: no response).
    onset : array of float, shape (n_sweeps, n_channels)
        Injected onset, s (NaN without a response).
    pulse_times : array of float, shape (n_sweeps, n_pulses)
        Where each pulse landed, s.
    saturated : array of bool, shape (n_channels,)
        Channels whose artefact exceeds the amplifier's range.
    """

    data: np.ndarray
    times: np.ndarray
    sfreq: float
    names: list
    amplitude: np.ndarray
    onset: np.ndarray
    pulse_times: np.ndarray
    saturated: np.ndarray


def _channel_artefact(times, acquisition, art_amp, at, sizes) -> np.ndarray:
    """Every channel's artefact in one sweep, V: shape (n_channels, n_samples)."""
    shape = train_artefact(times, acquisition, at, sizes)
    artefact = art_amp[:, None] * shape[None, :]
    limit = acquisition.input_range_v
    if limit is not None:
        saturated = np.abs(art_amp) > limit
        tail = recovery_tail(times, acquisition, at[-1] + acquisition.train.width_s)
        sign = np.sign(art_amp[saturated] * sizes[-1])
        artefact[saturated] += (0.8 * limit * sign)[:, None] * tail[None, :]
    return artefact


def simulate_sweeps(acquisition: Acquisition, muscles, responds, n_sweeps: int = 12,
                    noise_v: float = 5e-6, amplitude_v=None, onset_s=None, seed: int = 0,
                    artefact_v=None, names=None) -> SimulatedSweeps:
    """Sweeps of one acquisition setting, each channel with or without a response.

    Parameters
    ----------
    acquisition : Acquisition
        Rate, train, amplifier range and sweep window (``window_s``).
    muscles : sequence of str
        Each channel's muscle (keys of :data:`~iomon.model.muscles.MUSCLES`).
    responds : sequence of bool
        Whether each channel gives a response.
    n_sweeps : int
    noise_v : float
        Amplifier noise, V rms.
    amplitude_v : sequence of float, optional
        Each responding channel's median peak-to-peak (default: the simulator's baseline size
        of its muscle); each sweep varies by the muscle's CV.
    onset_s : sequence of float, optional
        Each channel's mean onset, s (default: inside its muscle's expected range, later by
        the train's summation delay, :func:`iomon.sim.summation_delay_s`).
    seed : int
    artefact_v : sequence of float, optional
        Each channel's artefact size, V, signed (default drawn from ``acquisition.artefact_v``).
    names : sequence of str, optional
        Channel labels (default "L <muscle>" with a running number for repeats).
    """
    rng = np.random.default_rng(seed)
    sfreq = acquisition.sfreq
    first = int(round(acquisition.window_s[0] * sfreq))
    times = (np.arange(first, int(round(acquisition.window_s[1] * sfreq)) + 1)) / sfreq
    n_channels = len(muscles)
    responds = np.asarray(responds, bool)
    size = np.array([physiology.BASE_AMPLITUDE_V.get(m, 300e-6) for m in muscles]
                    if amplitude_v is None else amplitude_v, float)
    from . import summation_delay_s

    mean_onset = np.array([rng.uniform(*MUSCLES[m].onset_s) + summation_delay_s(acquisition)
                           if onset_s is None else onset_s[c] for c, m in enumerate(muscles)],
                          float)
    cv = np.array([MUSCLES[m].cv for m in muscles])
    sd = np.sqrt(np.log1p(cv ** 2))
    amplitude = size * np.exp(rng.normal(-sd ** 2 / 2, sd, (n_sweeps, n_channels))) * responds
    onset = np.where(responds, mean_onset + rng.normal(0, physiology.ONSET_JITTER_S,
                                                       (n_sweeps, n_channels)), np.nan)
    templates = [physiology.lobes(rng) for _ in muscles]
    if artefact_v is None:
        low, high = np.log(acquisition.artefact_v)
        art_amp = np.exp(rng.uniform(low, high, n_channels)) * rng.choice([-1.0, 1.0],
                                                                        n_channels)
    else:
        art_amp = np.asarray(artefact_v, float)
    at = pulse_times(acquisition, n_sweeps, rng)
    sizes = pulse_sizes(acquisition.train, rng)
    offset = rng.uniform(-2e-3, 2e-3, n_channels)
    hum = rng.uniform(5e-6, 20e-6, n_channels)
    phase = rng.uniform(0, 2 * np.pi, (n_sweeps, n_channels))
    data = np.empty((n_sweeps, n_channels, times.size))
    for i in range(n_sweeps):
        data[i] = _channel_artefact(times, acquisition, art_amp, at[i], sizes)
        for c, (durations, rel) in enumerate(templates):
            if amplitude[i, c] > 0:
                scale = amplitude[i, c] / physiology.peak_to_peak(rel)
                data[i, c] += physiology.response_waveform(times, onset[i, c], durations,
                                                           rel * scale)
    data += noise_v * rng.standard_normal(data.shape)
    data += hum[None, :, None] * np.sin(2 * np.pi * 50.0 * times[None, None, :] + phase[..., None])
    data += offset[None, :, None]
    limit = acquisition.input_range_v
    if limit is not None:
        np.clip(data, (offset - limit)[None, :, None], (offset + limit)[None, :, None], out=data)
    if names is None:
        names = [f"L {m}" if muscles[:c].count(m) == 0 else f"L {m} {muscles[:c].count(m) + 1}"
                 for c, m in enumerate(muscles)]
    return SimulatedSweeps(data, times, float(sfreq), list(names), amplitude, onset, at,
                           np.abs(art_amp) > limit if limit is not None
                           else np.zeros(n_channels, bool))
