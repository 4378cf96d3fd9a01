"""The signal of a simulated case: a continuous multichannel recording, as a system records it.

Amplifier noise, mains hum with its third harmonic, electrode DC offsets and baseline wander
run through the whole recording; at every stimulus the stimulus-train artefact and each
muscle's response are added, and electrocautery bursts over some sweeps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["BLOCK_S", "SWEEP_WINDOW_S", "SignalPlan", "TRAIN_ISI_S", "TRAIN_PULSES",
           "plan_recording", "record"]

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
#: A recording is rendered in blocks this long (s): its memory is a few blocks, whatever its
#: length.
BLOCK_S = 10.0


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


@dataclass(frozen=True)
class SignalPlan:
    """A continuous recording as a recipe, rendered block by block in bounded memory.

    Every random number is drawn when the plan is made, in the order a whole-array render
    would draw it; the generator's state is kept where each block of each channel's noise and
    each cautery burst begins, so any block renders exactly (bit for bit) as the whole
    recording does, and a recording of any length is made in the memory of a few blocks.

    Attributes
    ----------
    n_channels, n_samples : int
    sfreq, mains_hz, noise_v : float
    block : int
        Samples per block.
    noise_states : tuple of tuple of dict
        Per channel, per block: the bit generator's state where that block's noise begins.
    hum_amp, hum_phase, offset_v, wander_hz, wander_phase, art_amp : array, shape (n_channels,)
    onsets_s : array of float, shape (n_sweeps,)
    templates : list of (durations, amplitudes)
    amplitude, onset : array of float, shape (n_sweeps, n_channels)
    burst_states : dict of int to dict
        Per contaminated sweep, the generator's state where its cautery burst is drawn.
    """

    n_channels: int
    n_samples: int
    sfreq: float
    mains_hz: float
    noise_v: float
    block: int
    noise_states: tuple
    hum_amp: np.ndarray
    hum_phase: np.ndarray
    offset_v: np.ndarray
    wander_hz: np.ndarray
    wander_phase: np.ndarray
    art_amp: np.ndarray
    onsets_s: np.ndarray
    templates: list
    amplitude: np.ndarray
    onset: np.ndarray
    burst_states: dict

    def blocks(self):
        """Yield ``(first_sample, signals)`` block by block, signals in V (n_channels, n)."""
        sweeps = _SweepContents(self)
        for k, first in enumerate(range(0, self.n_samples, self.block)):
            stop = min(first + self.block, self.n_samples)
            signals = self._background(k, first, stop)
            sweeps.add(signals, first, stop)
            yield first, signals

    def render(self) -> np.ndarray:
        """The whole recording at once, V: shape (n_channels, n_samples)."""
        out = np.empty((self.n_channels, self.n_samples))
        for first, signals in self.blocks():
            out[:, first:first + signals.shape[1]] = signals
        return out

    def _background(self, k, first, stop) -> np.ndarray:
        """Noise, hum, DC offsets and wander of one block (the order of the whole render)."""
        # Channel by channel, in place: the temporaries are one row, not one block.
        generator = np.random.Generator(_bit_generator(self.noise_states[0][k]))
        signals = np.empty((self.n_channels, stop - first))
        t = np.arange(first, stop) / self.sfreq
        for c, row in enumerate(signals):
            generator.bit_generator.state = self.noise_states[c][k]
            generator.standard_normal(stop - first, out=row)
            row *= self.noise_v
            for harmonic, rel in HUM_HARMONICS:
                row += (rel * self.hum_amp[c]
                        * np.sin(2 * np.pi * harmonic * self.mains_hz * t + self.hum_phase[c]))
            row += self.offset_v[c]
            row += WANDER_V * np.sin(2 * np.pi * self.wander_hz[c] * t + self.wander_phase[c])
        return signals


def _bit_generator(state):
    """A bit generator of the kind ``state`` describes, set to it."""
    bit_generator = getattr(np.random, state["bit_generator"])()
    bit_generator.state = state
    return bit_generator


class _SweepContents:
    """Adds each stimulus's artefact, responses and cautery burst to the blocks it overlaps.

    A sweep's contents are computed once, when the first block reaches them, and added to
    every block they overlap, in sweep order, so each sample sees the additions of the whole
    render in the same order.
    """

    def __init__(self, plan: SignalPlan):
        from scipy.signal import butter

        self.plan = plan
        sfreq = plan.sfreq
        self.window = sweep_window(sfreq)
        self.local_t = self.window / sfreq
        self.artefact = train_artefact(self.local_t)
        self.sos = butter(2, [CAUTERY_BAND_HZ[0], min(CAUTERY_BAND_HZ[1], 0.45 * sfreq)],
                          "bandpass", fs=sfreq, output="sos")
        self.length = int(CAUTERY_S * sfreq)
        self.lead = int(SWEEP_WINDOW_S[0] * sfreq) - int(CAUTERY_LEAD_S * sfreq)
        self.starts = np.round(plan.onsets_s * sfreq).astype(int)
        self.next = 0
        self.pending = []  # (sweep, [(first sample, values (n_channels or 1, n), channel)])

    def _contents(self, i):
        """The additions of sweep ``i``: (first sample, values, channel or None) in order."""
        from scipy.signal import sosfilt

        from .physiology import response_waveform

        plan, start = self.plan, self.starts[i]
        first = start + self.window[0]
        parts = [(first, plan.art_amp[:, None] * self.artefact[None, :], None)]
        for c, (durations, rel) in enumerate(plan.templates):
            if plan.amplitude[i, c] > 0:
                parts.append((first, response_waveform(self.local_t, plan.onset[i, c], durations,
                                                       rel * plan.amplitude[i, c])[None], c))
        if i in plan.burst_states:
            generator = np.random.Generator(_bit_generator(plan.burst_states[i]))
            burst = (generator.standard_normal((plan.n_channels, self.length))
                     * generator.uniform(*CAUTERY_V))
            parts.append((start + self.lead, sosfilt(self.sos, burst, axis=-1) * CAUTERY_GAIN,
                          None))
        return parts

    def add(self, signals, first, stop) -> None:
        """Add the contents of every sweep overlapping samples [first, stop) to ``signals``."""
        reach = max(self.lead + self.length, self.window[-1] + 1)  # past a sweep's start
        while self.next < self.starts.size and self.starts[self.next] + self.window[0] \
                + min(0, self.lead - self.window[0]) < stop:
            self.pending.append((self.starts[self.next], self._contents(self.next)))
            self.next += 1
        for _, parts in self.pending:
            for begin, values, channel in parts:
                lo, hi = max(begin, first), min(begin + values.shape[1], stop)
                if lo >= hi:
                    continue
                rows = slice(None) if channel is None else slice(channel, channel + 1)
                signals[rows, lo - first:hi - first] += values[:, lo - begin:hi - begin]
        self.pending = [(s, parts) for s, parts in self.pending if s + reach > stop]


def plan_recording(n_channels, onsets_s, sfreq, mains_hz, noise_v, templates, amplitude,
                   onset, contaminated, rng, block_s=BLOCK_S) -> SignalPlan:
    """Draw everything random of the recording and return its :class:`SignalPlan`.

    Lasts whole seconds, to one second after the last stimulus.

    Parameters
    ----------
    n_channels : int
    onsets_s : array of float, shape (n_sweeps,)
        Stimulus times in the file, s.
    sfreq, mains_hz, noise_v : float
    templates : list of (durations, amplitudes)
        Each channel's response shape (peak-to-peak 1).
    amplitude, onset : array of float, shape (n_sweeps, n_channels)
        Peak-to-peak (V, 0: no response) and onset latency (s) of each response.
    contaminated : array of bool, shape (n_sweeps,)
        Sweeps that get a cautery burst.
    rng : numpy.random.Generator
    block_s : float
        Length of a render block, s.
    """
    n_samples = int(round(math.ceil(onsets_s[-1] + 1.0) * sfreq))
    block = max(int(round(block_s * sfreq)), 1)
    noise_states = []
    for _ in range(n_channels):  # the noise is drawn channel after channel, block by block
        row = []
        for first in range(0, n_samples, block):
            row.append(rng.bit_generator.state)
            rng.standard_normal(min(block, n_samples - first))
        noise_states.append(tuple(row))
    hum_amp = rng.uniform(*HUM_V, n_channels)
    hum_phase = rng.uniform(0, 2 * np.pi, n_channels)
    offset_v = rng.uniform(-DC_OFFSET_V, DC_OFFSET_V, n_channels)
    wander_hz = rng.uniform(*WANDER_HZ, n_channels)
    wander_phase = rng.uniform(0, 2 * np.pi, n_channels)
    art_amp = rng.uniform(*ARTEFACT_V, n_channels) * rng.choice([-1.0, 1.0], n_channels)
    burst_states = {}
    for i in np.flatnonzero(contaminated):
        burst_states[int(i)] = rng.bit_generator.state
        rng.standard_normal((n_channels, int(CAUTERY_S * sfreq)))
        rng.uniform(*CAUTERY_V)
    return SignalPlan(n_channels, n_samples, float(sfreq), float(mains_hz), float(noise_v),
                      block, tuple(noise_states), hum_amp, hum_phase, offset_v, wander_hz,
                      wander_phase, art_amp, np.asarray(onsets_s, float), list(templates),
                      np.asarray(amplitude, float), np.asarray(onset, float), burst_states)


def record(n_channels, onsets_s, sfreq, mains_hz, noise_v, templates, amplitude, onset,
           contaminated, rng):
    """The continuous recording's plan, and the number of phases of every response.

    Returns ``(plan, n_phases)``: a :class:`SignalPlan` (render it whole with
    :meth:`~SignalPlan.render` or block by block with :meth:`~SignalPlan.blocks`) and an
    array of int, shape (n_sweeps, n_channels).
    """
    plan = plan_recording(n_channels, onsets_s, sfreq, mains_hz, noise_v, templates,
                          amplitude, onset, contaminated, rng)
    n_phases = np.tile([durations.size for durations, _ in templates], (len(onsets_s), 1))
    return plan, n_phases
