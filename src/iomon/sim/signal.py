"""The signal of a simulated case: a continuous multichannel recording, as a system records it.

Amplifier noise, mains hum with its third harmonic, electrode DC offsets and baseline wander
run through the whole recording; at every stimulus the stimulus-train artefact and each
muscle's response are added, and electrocautery bursts over some sweeps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .acquisition import (
    FIXED,
    Acquisition,
    pulse_sizes,
    pulse_times,
    recovery_tail,
    train_artefact,
)

__all__ = ["BLOCK_S", "SWEEP_WINDOW_S", "SignalPlan", "plan_recording", "record"]

#: The window around each stimulus that the simulator writes into (s); a drawn acquisition
#: whose export window reaches further widens it (see :func:`render_window_s`).
SWEEP_WINDOW_S = (-0.010, 0.100)
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


def render_window_s(acquisition: Acquisition) -> tuple[float, float]:
    """The span around each stimulus the simulator writes into, s.

    :data:`SWEEP_WINDOW_S`, widened to the export window of a drawn acquisition so that the
    files of any export hold the recording's noise, responses and artefact throughout.
    """
    return (min(SWEEP_WINDOW_S[0], acquisition.window_s[0]),
            max(SWEEP_WINDOW_S[1], acquisition.window_s[1]))


def sweep_window(sfreq, window_s=SWEEP_WINDOW_S) -> np.ndarray:
    """Sample offsets of the sweep window from the stimulus sample."""
    return np.arange(int(round(window_s[0] * sfreq)), int(round(window_s[1] * sfreq)) + 1)


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
    acquisition: Acquisition = FIXED
    pulse_times: np.ndarray | None = None
    pulse_sizes: np.ndarray | None = None

    def blocks(self):
        """Yield ``(first_sample, signals)`` block by block, signals in V (n_channels, n)."""
        sweeps = _SweepContents(self)
        limit = self.acquisition.input_range_v
        for k, first in enumerate(range(0, self.n_samples, self.block)):
            stop = min(first + self.block, self.n_samples)
            signals = self._background(k, first, stop)
            sweeps.add(signals, first, stop)
            if limit is not None:  # the amplifier's input range, around each electrode offset
                np.clip(signals, (self.offset_v - limit)[:, None],
                        (self.offset_v + limit)[:, None], out=signals)
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
        self.window = sweep_window(sfreq, render_window_s(plan.acquisition))
        self.local_t = self.window / sfreq
        self.artefact = (train_artefact(self.local_t, plan.acquisition)
                         if plan.acquisition.fixed else None)
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
        parts = [(first, self._artefact(i), None)]
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

    def _artefact(self, i) -> np.ndarray:
        """Sweep ``i``'s stimulus artefact on every channel, V: (n_channels, n_window).

        A drawn acquisition's pulses land where :func:`~iomon.sim.acquisition.pulse_times`
        put them in this sweep; a channel whose artefact exceeds the amplifier's range
        saturates (the clipping is applied to the whole block) and recovers after the train.
        """
        plan = self.plan
        if self.artefact is not None:
            return plan.art_amp[:, None] * self.artefact[None, :]
        acquisition = plan.acquisition
        shape = train_artefact(self.local_t, acquisition, plan.pulse_times[i], plan.pulse_sizes)
        artefact = plan.art_amp[:, None] * shape[None, :]
        limit = acquisition.input_range_v
        saturated = np.flatnonzero(np.abs(plan.art_amp) > limit) if limit is not None else []
        if len(saturated):
            end = plan.pulse_times[i][-1] + acquisition.train.width_s
            # The amplifier comes back from the rail it was driven to by the last pulse.
            tail = recovery_tail(self.local_t, acquisition, end)
            sign = np.sign(plan.art_amp[saturated] * plan.pulse_sizes[-1])
            artefact[saturated] += (0.8 * limit * sign)[:, None] * tail[None, :]
        return artefact

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
                   onset, contaminated, rng, block_s=BLOCK_S, acquisition=FIXED,
                   train_rng=None) -> SignalPlan:
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
    acquisition : Acquisition
        How the case is sampled and stimulated (:data:`~iomon.sim.acquisition.FIXED`: as every
        case was before acquisitions were drawn).
    train_rng : numpy.random.Generator, optional
        The stream the pulses' timing and sizes are drawn from (a drawn acquisition only), so
        that drawing them moves none of the case's other draws.
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
    if acquisition.fixed:
        art_amp = rng.uniform(*acquisition.artefact_v, n_channels) * rng.choice([-1.0, 1.0],
                                                                              n_channels)
        times = sizes = None
    else:
        low, high = np.log(acquisition.artefact_v)
        art_amp = (np.exp(train_rng.uniform(low, high, n_channels))
                   * train_rng.choice([-1.0, 1.0], n_channels))
        times = pulse_times(acquisition, len(onsets_s), train_rng)
        sizes = pulse_sizes(acquisition.train, train_rng)
    burst_states = {}
    for i in np.flatnonzero(contaminated):
        burst_states[int(i)] = rng.bit_generator.state
        rng.standard_normal((n_channels, int(CAUTERY_S * sfreq)))
        rng.uniform(*CAUTERY_V)
    return SignalPlan(n_channels, n_samples, float(sfreq), float(mains_hz), float(noise_v),
                      block, tuple(noise_states), hum_amp, hum_phase, offset_v, wander_hz,
                      wander_phase, art_amp, np.asarray(onsets_s, float), list(templates),
                      np.asarray(amplitude, float), np.asarray(onset, float), burst_states,
                      acquisition, times, sizes)


def record(n_channels, onsets_s, sfreq, mains_hz, noise_v, templates, amplitude, onset,
           contaminated, rng, acquisition=FIXED, train_rng=None):
    """The continuous recording's plan, and the number of phases of every response.

    Returns ``(plan, n_phases)``: a :class:`SignalPlan` (render it whole with
    :meth:`~SignalPlan.render` or block by block with :meth:`~SignalPlan.blocks`) and an
    array of int, shape (n_sweeps, n_channels).
    """
    plan = plan_recording(n_channels, onsets_s, sfreq, mains_hz, noise_v, templates,
                          amplitude, onset, contaminated, rng, acquisition=acquisition,
                          train_rng=train_rng)
    n_phases = np.tile([durations.size for durations, _ in templates], (len(onsets_s), 1))
    return plan, n_phases
