"""The signal of a simulated case: a continuous multichannel recording, as a system records it.

Amplifier noise, mains hum with its third harmonic, electrode DC offsets and baseline wander
run through the whole recording; at every stimulus the stimulus-train artefact and each
muscle's response are added, and electrocautery bursts over some sweeps.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["SWEEP_WINDOW_S", "TRAIN_ISI_S", "TRAIN_PULSES", "record"]

#: The window around each stimulus that the simulator writes into (s).
SWEEP_WINDOW_S = (-0.010, 0.100)
#: The stimulus train: pulses and their interval (s).
TRAIN_PULSES = 5
TRAIN_ISI_S = 0.002
#: Each pulse's artefact decays with this time constant (s), a small tail of alternating sign
#: (share of the pulse, time constant) after it; peak per channel (V, uniform, random sign).
PULSE_DECAY_S = 0.0003
PULSE_TAIL = (0.02, 0.001)
ARTEFACT_V = (1e-3, 6e-3)
#: Mains hum per channel (V, uniform) and its harmonics (number, relative amplitude).
HUM_V = (5e-6, 25e-6)
HUM_HARMONICS = ((1, 1.0), (3, 0.2))
#: Electrode DC offset (V, uniform) and slow wander (V, Hz range).
DC_OFFSET_V = 2e-3
WANDER_V = 40e-6
WANDER_HZ = (0.05, 0.3)
#: Electrocautery bursts: length (s), starting this long before the sweep window (s), size
#: (V, uniform), band (Hz) and gain.
CAUTERY_S = 0.16
CAUTERY_LEAD_S = 0.03
CAUTERY_V = (0.3e-3, 1.5e-3)
CAUTERY_BAND_HZ = (100.0, 2000.0)
CAUTERY_GAIN = 3.0


def background(n_channels, duration_s, sfreq, mains_hz, noise_v, rng) -> np.ndarray:
    """Noise, hum, DC offsets and wander over the whole recording, V: (n_channels, n_samples)."""
    n_samples = int(round(duration_s * sfreq))
    t = np.arange(n_samples) / sfreq
    signals = rng.standard_normal((n_channels, n_samples)) * noise_v
    hum_amp = rng.uniform(*HUM_V, n_channels)
    hum_phase = rng.uniform(0, 2 * np.pi, n_channels)
    for harmonic, rel in HUM_HARMONICS:
        signals += (rel * hum_amp[:, None]
                    * np.sin(2 * np.pi * harmonic * mains_hz * t[None, :] + hum_phase[:, None]))
    signals += rng.uniform(-DC_OFFSET_V, DC_OFFSET_V, n_channels)[:, None]
    wander_hz = rng.uniform(*WANDER_HZ, n_channels)
    signals += WANDER_V * np.sin(2 * np.pi * wander_hz[:, None] * t[None, :]
                                 + rng.uniform(0, 2 * np.pi, n_channels)[:, None])
    return signals


def sweep_window(sfreq) -> np.ndarray:
    """Sample offsets of the sweep window from the stimulus sample."""
    return np.arange(int(round(SWEEP_WINDOW_S[0] * sfreq)),
                     int(round(SWEEP_WINDOW_S[1] * sfreq)) + 1)


def train_artefact(local_t) -> np.ndarray:
    """The shape of the stimulus-train artefact (peak 1) at times ``local_t`` (s)."""
    artefact = np.zeros_like(local_t)
    for k in range(TRAIN_PULSES):
        dt = local_t - k * TRAIN_ISI_S
        after = dt >= 0
        artefact[after] += (np.exp(-dt[after] / PULSE_DECAY_S)
                            + PULSE_TAIL[0] * np.exp(-dt[after] / PULSE_TAIL[1]) * (-1) ** k)
    return artefact


def add_sweeps(signals, sfreq, onsets_s, templates, amplitude, onset, contaminated, rng):
    """Add each stimulus's artefact, responses and any cautery burst to ``signals`` (in place).

    Parameters
    ----------
    signals : array of float, shape (n_channels, n_samples)
    sfreq : float
    onsets_s : array of float, shape (n_sweeps,)
        Stimulus times in the file, s.
    templates : list of (durations, amplitudes)
        Each channel's response shape (peak-to-peak 1).
    amplitude, onset : array of float, shape (n_sweeps, n_channels)
        Peak-to-peak (V, 0: no response) and onset latency (s) of each response.
    contaminated : array of bool, shape (n_sweeps,)
        Sweeps that get a cautery burst.
    rng : numpy.random.Generator

    Returns
    -------
    array of int, shape (n_sweeps, n_channels)
        Number of phases of each response's template.
    """
    from scipy.signal import butter, sosfilt

    from .physiology import response_waveform

    n_channels = signals.shape[0]
    art_amp = rng.uniform(*ARTEFACT_V, n_channels) * rng.choice([-1.0, 1.0], n_channels)
    window = sweep_window(sfreq)
    local_t = window / sfreq
    artefact = train_artefact(local_t)
    sos = butter(2, [CAUTERY_BAND_HZ[0], min(CAUTERY_BAND_HZ[1], 0.45 * sfreq)], "bandpass",
                 fs=sfreq, output="sos")
    n_phases = np.zeros(amplitude.shape, int)
    for i, stimulus_s in enumerate(onsets_s):
        start = int(round(stimulus_s * sfreq))
        idx = start + window
        signals[:, idx] += art_amp[:, None] * artefact[None, :]
        for c, (durations, rel) in enumerate(templates):
            n_phases[i, c] = durations.size
            if amplitude[i, c] > 0:
                signals[c, idx] += response_waveform(local_t, onset[i, c], durations,
                                                     rel * amplitude[i, c])
        if contaminated[i]:
            length = int(CAUTERY_S * sfreq)
            begin = start + int(SWEEP_WINDOW_S[0] * sfreq) - int(CAUTERY_LEAD_S * sfreq)
            burst = rng.standard_normal((n_channels, length)) * rng.uniform(*CAUTERY_V)
            signals[:, begin:begin + length] += sosfilt(sos, burst, axis=-1) * CAUTERY_GAIN
    return n_phases


def record(n_channels, onsets_s, sfreq, mains_hz, noise_v, templates, amplitude, onset,
           contaminated, rng):
    """The whole continuous recording: background, then every sweep's contents.

    Lasts whole seconds, to one second after the last stimulus. Returns ``(signals, n_phases)``
    as :func:`background` and :func:`add_sweeps` do.
    """
    duration = math.ceil(onsets_s[-1] + 1.0)
    signals = background(n_channels, duration, sfreq, mains_hz, noise_v, rng)
    n_phases = add_sweeps(signals, sfreq, onsets_s, templates, amplitude, onset, contaminated,
                          rng)
    return signals, n_phases
