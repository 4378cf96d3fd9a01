"""Single-channel sweeps with known onsets, and what disturbs an onset, for onset tests.

(:mod:`iomon.sim.sweeps` renders sweeps of whole montages for one acquisition setting.)

Built from the simulator's own parts (its polyphasic response lobes, its stimulus train
artefact) so that the true onset, the blank and every disturbance are known exactly. Used by
``tests/test_onsets.py`` and ``benchmarks/onset_robustness.py``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .acquisition import FIXED, _fixed_artefact
from .physiology import lobes, response_waveform

__all__ = ["DISTURBANCES", "disturbed", "responses", "square_waves", "train_artefact_before"]

#: What :func:`disturbed` adds before the responses.
DISTURBANCES = ("step", "drift", "squares", "squares before the stimulus")


def responses(n, sfreq, onset_s, seed, amp_v=(50e-6, 2000e-6), noise_v=(1e-6, 10e-6),
              t0=-0.02):
    """``n`` sweeps of one channel: polyphasic responses in white noise.

    Parameters
    ----------
    n : int
    sfreq : float
    onset_s : tuple of float
        Range of the onsets (uniform), s.
    seed : int
    amp_v, noise_v : tuple of float
        Ranges (log-uniform) of the peak-to-peak amplitude and of the noise rms, V.
    t0 : float
        First sample, s (the sweeps run to 100 ms).

    Returns
    -------
    data : array of float, shape (n, 1, n_samples), V
    times : array of float, shape (n_samples,), s
    onset, amplitude, noise : array of float, shape (n,)
    """
    rng = np.random.default_rng(seed)
    times = np.arange(int(round(t0 * sfreq)), int(round(0.1 * sfreq)) + 1) / sfreq
    onset = rng.uniform(*onset_s, n)
    amplitude = np.exp(rng.uniform(*np.log(amp_v), n))
    noise = np.exp(rng.uniform(*np.log(noise_v), n))
    data = np.zeros((n, 1, times.size))
    for i in range(n):
        wave = response_waveform(times, onset[i], *lobes(rng))
        data[i, 0] = (wave * amplitude[i] / np.ptp(wave)
                      + rng.standard_normal(times.size) * noise[i])
    return data, times, onset, amplitude, noise


def train_artefact_before(times, last_pulse_s, rng):
    """The simulator's stimulus-train artefact ending with a pulse at ``last_pulse_s``.

    Pulses 2 ms apart, at most 5: after a blank, what is left is decaying pulse and tail.
    """
    n_pulses = max(1, min(5, int(last_pulse_s // 0.002) + 1))
    train = dataclasses.replace(FIXED.train, n_pulses=n_pulses)
    artefact = _fixed_artefact(times - (last_pulse_s - (n_pulses - 1) * 0.002), train)
    return artefact * rng.uniform(*FIXED.artefact_v) * rng.choice([-1.0, 1.0])


def square_waves(times, start, width, count):
    """``count`` square waves of ``width`` (s), one every ``2 * width`` from ``start``."""
    phase = (times - start) / width
    return ((phase >= 0) & (phase < 2 * count) & (np.floor(phase) % 2 == 0)).astype(float)


def disturbed(data, times, onset, noise, kind, rng, amplitude=None):
    """``data`` with a disturbance before each response.

    ``kind`` is one of :data:`DISTURBANCES`: a baseline step 4-12 ms before the response, slow
    drift (1-4 Hz, 20-100 µV), a burst of 1-4 square waves (0.5-2 ms each) after the stimulus
    ending 2 ms or more before the response, or a brief one (1-2 waves of 0.5-1 ms) in the
    noise window of a third of the sweeps. Sizes are 3-15 times the noise rms and, with
    ``amplitude`` given, at most half the response's peak-to-peak: "small", "brief"
    (issue 20's words); interference as large as the response cannot be told from it by
    size, only by a shape no MEP has.
    """
    if kind not in DISTURBANCES:
        raise ValueError(f"kind must be one of {DISTURBANCES}, got {kind!r}")
    out = data.copy()
    for i in range(data.shape[0]):
        size = rng.uniform(3, 15) * noise[i] * rng.choice([-1.0, 1.0])
        if amplitude is not None:
            size = float(np.clip(size, -amplitude[i] / 2, amplitude[i] / 2))
        if kind == "step":
            out[i, 0] += size * (times >= onset[i] - rng.uniform(0.004, 0.012))
        elif kind == "drift":
            out[i, 0] += rng.uniform(20e-6, 100e-6) * np.sin(
                2 * np.pi * rng.uniform(1.0, 4.0) * times + rng.uniform(0, 2 * np.pi))
        elif kind == "squares":
            width, count = rng.uniform(0.0005, 0.002), int(rng.integers(1, 5))
            start = rng.uniform(0.003, max(0.0031, onset[i] - 0.002 - 2 * count * width))
            out[i, 0] += size * square_waves(times, start, width, count)
        elif rng.random() < 1 / 3:
            width, count = rng.uniform(0.0005, 0.001), int(rng.integers(1, 3))
            start = rng.uniform(-0.010, -0.001 - 2 * count * width)
            out[i, 0] += size * square_waves(times, start, width, count)
    return out
