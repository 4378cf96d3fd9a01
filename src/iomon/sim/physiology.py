"""The physiology of a simulated case: what each muscle answers to each stimulus.

After DESIGN.md section 2: onset latencies and per-muscle sweep-to-sweep variability from
:mod:`iomon.model.muscles` (log-normal amplitudes, part of the variance shared by all channels of a
sweep, as anaesthetic depth and cortical excitability are); polyphasic responses of 2-4
alternating lobes whose onset, peak-to-peak amplitude and number of phases are known exactly;
a recruitment curve per muscle so that the stimulus intensity matters; muscles whose roots are
all avulsed give no response, partially avulsed ones are smaller; anaesthetic fade.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model.errors import InputError
from ..model.muscles import MUSCLES
from ..model.sweeps import Channel

__all__ = ["ChannelTraits", "channel_set", "channel_traits", "chase_threshold", "fade_factor",
           "recruitment", "response_waveform"]

#: Median baseline peak-to-peak amplitude (V) of a fully innervated muscle at supramaximal
#: drive.
BASE_AMPLITUDE_V = {
    "Deltoid": 300e-6, "Biceps": 350e-6, "Triceps": 300e-6, "ECR": 400e-6, "APB": 900e-6,
    "ADM": 700e-6, "FDI": 800e-6, "Quad": 250e-6, "TA": 500e-6, "Gastroc": 300e-6,
    "Soleus": 300e-6, "AH": 400e-6,
}
#: Each case's muscle is this much larger or smaller than the median (uniform factor).
AMPLITUDE_SPREAD = (0.7, 1.3)
#: Recruitment threshold (V, constant-voltage stimulation) by limb, and the sigmoid's slope.
THRESHOLD_V = {"upper": 200.0, "lower": 280.0}
RECRUITMENT_SLOPE_V = 25.0
#: Lobes of a response: how many (from, to exclusive), how long each (s), and how much each is
#: smaller than the one before.
LOBE_COUNT = (2, 5)
LOBE_DURATION_S = (0.0015, 0.004)
LOBE_DECAY = (0.55, 0.95)
#: Part of the log-amplitude variance shared by all channels of one sweep.
SHARED_LOG_SD = 0.15
#: Sweep-to-sweep jitter of the onset latency, s (SD).
ONSET_JITTER_S = 0.0003
#: Threshold-level monitoring (Calancie 1998): the team steps the intensity by this much, V,
#: never above the maximum, and calls a response smaller than ``TEAM_ABSENT_V`` absent.
THRESHOLD_STEP_V = 50.0
THRESHOLD_MAX_V = 600.0
TEAM_ABSENT_V = 30e-6
#: ... and tries one step down after this many sweeps at one intensity.
THRESHOLD_PROBE_SWEEPS = 5
#: Anaesthetic fade (Ugawa 2018): none for the first 2 h, then 0.92 of the 2-hour level at 4 h.
FADE_ONSET_H = 2.0
FADE_AT_4H = 0.92


def channel_set(muscles, avulsion_side) -> list[Channel]:
    """Left and right channels of each muscle; the avulsion side's are at risk (``test``)."""
    channels = []
    for side in ("left", "right"):
        for code in muscles:
            if code not in MUSCLES:
                raise InputError(f"unknown muscle {code!r} (known: {', '.join(MUSCLES)})")
            role = "test" if side == avulsion_side else "control"
            prefix = "L" if side == "left" else "R"
            channels.append(Channel(f"{prefix} {code}", code, side, MUSCLES[code].limb, role))
    return channels


def lobes(rng):
    """A polyphasic template: lobe durations (s) and signed relative amplitudes."""
    n = int(rng.integers(*LOBE_COUNT))
    durations = rng.uniform(*LOBE_DURATION_S, n)
    amplitudes = np.cumprod(np.r_[1.0, rng.uniform(*LOBE_DECAY, n - 1)])
    signs = np.where(np.arange(n) % 2 == 0, 1.0, -1.0) * rng.choice([-1.0, 1.0])
    return durations, amplitudes * signs


def response_waveform(t, onset_s, durations, amplitudes):
    """Sum of consecutive half-sine lobes starting at ``onset_s``.

    Parameters
    ----------
    t : array of float, shape (n_samples,)
        Times in s.
    onset_s : float
        Onset of the first lobe.
    durations, amplitudes : array of float, shape (n_lobes,)
        Duration (s) and signed amplitude (V) of each lobe.

    Returns
    -------
    array of float, shape (n_samples,)
    """
    out = np.zeros_like(t)
    start = onset_s
    for duration, amplitude in zip(durations, amplitudes):
        inside = (t >= start) & (t < start + duration)
        out[inside] += amplitude * np.sin(np.pi * (t[inside] - start) / duration)
        start += duration
    return out


def peak_to_peak(amplitudes) -> float:
    """Peak-to-peak of a template whose lobes have these signed amplitudes."""
    positive = amplitudes[amplitudes > 0]
    negative = amplitudes[amplitudes < 0]
    return (positive.max() if positive.size else 0.0) - (negative.min() if negative.size else 0.0)


@dataclass(frozen=True)
class ChannelTraits:
    """What each channel of a case is like (arrays of shape (n_channels,) unless stated).

    Attributes
    ----------
    templates : list of (durations, amplitudes)
        Each channel's response shape, normalised to a peak-to-peak of 1.
    base_amplitude_v : array of float
        Median baseline peak-to-peak, V (0 where avulsed).
    onset_s : array of float
        Mean onset latency, s.
    present : array of bool
        Whether the channel responds (some root spared).
    """

    templates: list
    base_amplitude_v: np.ndarray
    onset_s: np.ndarray
    present: np.ndarray


def channel_traits(channels, side, levels, rng) -> ChannelTraits:
    """Draw each channel's template, size and latency; avulsed roots reduce or remove it."""
    templates = []
    n = len(channels)
    base_amp, onset_mean, present = np.zeros(n), np.zeros(n), np.zeros(n, bool)
    for c, ch in enumerate(channels):
        muscle = MUSCLES[ch.muscle]
        spared = 1.0
        if ch.side == side:
            spared = sum(r not in levels for r in muscle.roots) / len(muscle.roots)
        present[c] = spared > 0
        durations, amplitudes = lobes(rng)
        base_amp[c] = BASE_AMPLITUDE_V[ch.muscle] * spared * rng.uniform(*AMPLITUDE_SPREAD)
        templates.append((durations, amplitudes / peak_to_peak(amplitudes)))
        onset_mean[c] = rng.uniform(*muscle.onset_s)
    return ChannelTraits(templates, base_amp, onset_mean, present)


def recruitment(intensity_v, threshold_v):
    """Share of the maximal response evoked at an intensity (sigmoid around the threshold)."""
    return 1.0 / (1.0 + np.exp(-(np.asarray(intensity_v) - threshold_v) / RECRUITMENT_SLOPE_V))


def log_variability(n_sweeps, cv, rng) -> np.ndarray:
    """Log-amplitude deviation of each sweep x channel: log-normal with the channels' CVs.

    Part of the variance (:data:`SHARED_LOG_SD`) is shared by all channels of a sweep.
    """
    total_sd = np.sqrt(np.log1p(cv ** 2))
    shared_sd = np.minimum(SHARED_LOG_SD, 0.9 * total_sd)
    own_sd = np.sqrt(total_sd ** 2 - shared_sd ** 2)
    return (rng.standard_normal((n_sweeps, 1)) * shared_sd[None, :]
            + rng.standard_normal((n_sweeps, cv.size)) * own_sd[None, :])


def chase_threshold(intensity, start, drive, vth):
    """Intensities a team monitoring at threshold level would use (Calancie 1998).

    From sweep ``start`` on, when any watched muscle gives no response the next sweep is
    :data:`THRESHOLD_STEP_V` stronger; after :data:`THRESHOLD_PROBE_SWEEPS` sweeps at one
    intensity the team tries a step less (never below the starting level), to follow the
    threshold down as well as up.

    Parameters
    ----------
    intensity : array of float, shape (n_sweeps,)
        Planned intensities; those before ``start`` (the ramp-up) are kept.
    drive, vth : array of float, shape (n_sweeps, n_watched)
        Amplitude at full recruitment (V) and recruitment threshold (V) of the watched muscles.
    """
    intensity = np.asarray(intensity, float).copy()
    if start >= intensity.size:
        return intensity
    floor = current = intensity[start]
    since_change = 0
    for i in range(start, intensity.size):
        intensity[i] = current
        responses = drive[i] * recruitment(current, vth[i])
        since_change += 1
        if drive.shape[1] and np.any(responses < TEAM_ABSENT_V):
            step = THRESHOLD_STEP_V
        elif since_change >= THRESHOLD_PROBE_SWEEPS and current > floor:
            step = -THRESHOLD_STEP_V
        else:
            continue
        current = min(max(current + step, floor), THRESHOLD_MAX_V)
        since_change = 0
    return intensity


def fade_factor(nominal_s, extra_fade_to=None, case_end_s=None):
    """Anaesthetic fade on the surgical clock.

    Mild by default: 1.0 up to :data:`FADE_ONSET_H`, then falling so that 4 h gives
    :data:`FADE_AT_4H` (Ugawa 2018). With ``extra_fade_to`` the amplitude declines linearly
    to that fraction at ``case_end_s``.
    """
    hours = np.asarray(nominal_s) / 3600.0
    factor = np.where(hours <= FADE_ONSET_H, 1.0,
                      np.exp(np.log(FADE_AT_4H) * (hours - FADE_ONSET_H) / 2.0))
    if extra_fade_to is not None:
        factor = factor * (1.0 - (1.0 - extra_fade_to) * np.clip(nominal_s / case_end_s, 0, 1))
    return factor
