"""Synthetic DREZ cases with ground truth: for tests, the demo and ``recordings/``.

A case is simulated as a continuous multichannel EMG recording, the way a monitoring system
records it, with a stimulus annotation at every train. The physiology follows DESIGN.md section 2:

- onset latencies and per-muscle sweep-to-sweep variability from :mod:`iomon.muscles`
  (log-normal amplitudes; part of the variance is shared by all channels of a sweep, as
  anaesthetic depth and cortical excitability are);
- polyphasic responses (2-4 alternating lobes), whose onset, peak-to-peak amplitude and number
  of phases are known exactly;
- a recruitment curve per muscle, so that the stimulus intensity matters and a threshold rise
  can be simulated;
- muscles whose roots are all avulsed give no response; partially avulsed ones are smaller;
- the stimulus-train artefact (5 pulses, 2 ms apart), mains hum, amplifier noise, DC offsets,
  baseline wander and electrocautery bursts;
- anaesthetic fade (Ugawa 2018: about 8 % from 2 to 4 h, faster after) on every channel.

The surgical schedule is realistic (a stimulus every 1-2 min, every 10-30 s while lesioning);
``time_compression`` shrinks it in the file so that a 90-minute case fits in a few MB. The
physiology (fade) follows the uncompressed surgical clock, which the ground truth keeps.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .annotations import Annotation
from .case import Case, ChannelSpec
from .errors import InputError
from .muscles import MUSCLES
from .sweeps import Channel

#: Scenario name -> what it injects (shown by ``iomon simulate --help``).
SCENARIOS = {
    "stable": "no change beyond variability and mild fade",
    "focal_recovering": "ipsilateral leg muscles drop to ~20 % during lesioning, then recover",
    "focal_persistent": "ipsilateral leg muscles drop to ~20 % during lesioning, to the end",
    "loss": "ipsilateral leg responses disappear during lesioning, to the end",
    "systemic": "every channel drops to ~30 % during lesioning (blood pressure), then recovers",
    "systemic_focal": "as systemic, and the ipsilateral leg muscles lose a further 80 % over "
                      "the same sweeps (an injury during a blood-pressure drop)",
    "fade": "every channel declines steadily to ~60 % by the end (anaesthetic fade)",
    "cautery": "electrocautery bursts contaminate about 15 % of the sweeps",
    "threshold": "threshold-level monitoring: the ipsilateral leg threshold rises 200 V during "
                 "lesioning and the team chases it in 50 V steps",
}

DEFAULT_MUSCLES = ("Deltoid", "Biceps", "APB", "ADM", "TA", "AH")
SHIPPED_MUSCLES = ("Deltoid", "APB", "TA", "AH")

# Median baseline peak-to-peak amplitude (V) of a fully innervated muscle at supramaximal drive.
_BASE_AMPLITUDE_V = {
    "Deltoid": 300e-6, "Biceps": 350e-6, "Triceps": 300e-6, "ECR": 400e-6, "APB": 900e-6,
    "ADM": 700e-6, "FDI": 800e-6, "Quad": 250e-6, "TA": 500e-6, "Gastroc": 300e-6,
    "AH": 400e-6,
}
# Recruitment threshold (V, constant-voltage stimulation) and slope of the sigmoid.
_THRESHOLD_V = {"upper": 200.0, "lower": 280.0}
_RECRUITMENT_SLOPE_V = 25.0
# The threshold scenario monitors at threshold level (Calancie 1998): at 300 V, one or two
# 50 V steps above the intensity that first evokes the leg muscles in the ramp-up, with a 200 V
# rise of the leg threshold over lesioning.
_THRESHOLD_LEVEL_V = 300.0
_THRESHOLD_RISE_V = 200.0
_THRESHOLD_STEP_V = 50.0
_THRESHOLD_MAX_V = 600.0
# What the team sees as "no response" when chasing the threshold.
_TEAM_ABSENT_V = 30e-6
# Part of the log-amplitude variance shared by all channels of one sweep.
_SHARED_LOG_SD = 0.15
_TRAIN_PULSES = 5
_TRAIN_ISI_S = 0.002
_SWEEP_WINDOW_S = (-0.010, 0.100)


@dataclass(frozen=True)
class Schedule:
    """Durations (minutes) and stimulus intervals (seconds) of the surgical phases.

    The positioning phase ends with the ``Baseline`` annotation after ``pre_baseline_sweeps``
    sweeps of intensity ramp-up.
    """

    positioning_min: float = 12.0
    exposure_min: float = 30.0
    lesioning_min: float = 30.0
    closure_min: float = 15.0
    routine_interval_s: tuple[float, float] = (60.0, 120.0)
    lesioning_interval_s: tuple[float, float] = (10.0, 30.0)
    pre_baseline_sweeps: int = 3


SHORT_SCHEDULE = Schedule(positioning_min=8.0, exposure_min=10.0, lesioning_min=16.0,
                          closure_min=8.0, lesioning_interval_s=(15.0, 30.0))


@dataclass
class SimulatedCase:
    """A simulated recording and what was injected into it.

    Attributes
    ----------
    signals : array of float, shape (n_channels, n_samples)
        The continuous recording in volts.
    sfreq : float
        Sampling rate in Hz.
    channels : list of Channel
        Channel facts (the truth, which the sidecar also states).
    annotations : list of Annotation
        Stimulus and phase markers as a monitoring system writes them.
    case : Case
        What the sidecar says.
    truth : dict
        Ground truth (JSON-serialisable); see :func:`simulate_case`.
    """

    signals: np.ndarray
    sfreq: float
    channels: list[Channel]
    annotations: list[Annotation]
    case: Case
    truth: dict = field(repr=False)


def _channel_set(muscles, avulsion_side):
    channels = []
    for side in ("left", "right"):
        for code in muscles:
            if code not in MUSCLES:
                raise InputError(f"unknown muscle {code!r} (known: {', '.join(MUSCLES)})")
            role = "test" if side == avulsion_side else "control"
            prefix = "L" if side == "left" else "R"
            channels.append(Channel(f"{prefix} {code}", code, side, MUSCLES[code].limb, role))
    return channels


def _schedule_onsets(schedule: Schedule, rng):
    """Nominal stimulus times (s) and their phase, plus phase boundaries."""
    bounds = {}
    t = 0.0
    for name, minutes in (("positioning", schedule.positioning_min),
                          ("exposure", schedule.exposure_min),
                          ("lesioning", schedule.lesioning_min),
                          ("closure", schedule.closure_min)):
        bounds[name] = (t, t + minutes * 60.0)
        t += minutes * 60.0
    onsets, phases = [], []
    t = 30.0
    while t < bounds["closure"][1] - 5.0:
        phase = next(n for n, (a, b) in bounds.items() if a <= t < b)
        onsets.append(t)
        phases.append(phase)
        low, high = (schedule.lesioning_interval_s if phase == "lesioning"
                     else schedule.routine_interval_s)
        step = rng.uniform(low, high)
        nxt = t + step
        # Stimulate right at the start of lesioning, as a team does.
        les_start = bounds["lesioning"][0]
        if t < les_start < nxt and les_start + 1.0 - t >= schedule.lesioning_interval_s[0]:
            nxt = les_start + 1.0
        t = nxt
    return np.array(onsets), phases, bounds


def _lobes(rng):
    """A polyphasic template: lobe durations (s) and signed relative amplitudes."""
    n = int(rng.integers(2, 5))
    durations = rng.uniform(0.0015, 0.004, n)
    amplitudes = np.cumprod(np.r_[1.0, rng.uniform(0.55, 0.95, n - 1)])
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


def _peak_to_peak(amplitudes):
    positive = amplitudes[amplitudes > 0]
    negative = amplitudes[amplitudes < 0]
    return (positive.max() if positive.size else 0.0) - (negative.min() if negative.size else 0.0)


def _recruitment(intensity_v, threshold_v):
    """Share of the maximal response evoked at an intensity (sigmoid around the threshold)."""
    return 1.0 / (1.0 + np.exp(-(np.asarray(intensity_v) - threshold_v) / _RECRUITMENT_SLOPE_V))


def _chase_threshold(intensity, start, drive, vth):
    """Intensities a team monitoring at threshold level would use (Calancie 1998).

    From sweep ``start`` on, when any watched muscle gives no response the next sweep is
    50 V stronger; after five sweeps at one intensity the team tries 50 V less (never below
    the starting level), to follow the threshold down as well as up.

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
        responses = drive[i] * _recruitment(current, vth[i])
        since_change += 1
        if drive.shape[1] and np.any(responses < _TEAM_ABSENT_V):
            step = _THRESHOLD_STEP_V
        elif since_change >= 5 and current > floor:
            step = -_THRESHOLD_STEP_V
        else:
            continue
        current = min(max(current + step, floor), _THRESHOLD_MAX_V)
        since_change = 0
    return intensity


def _fade_factor(nominal_s, extra_fade_to=None, case_end_s=None):
    """Anaesthetic fade on the surgical clock.

    Mild by default: 1.0 up to 2 h, then falling so that 4 h gives 0.92 (Ugawa 2018). With
    ``extra_fade_to`` the amplitude declines linearly to that fraction at ``case_end_s``.
    """
    hours = np.asarray(nominal_s) / 3600.0
    factor = np.where(hours <= 2.0, 1.0, np.exp(np.log(0.92) * (hours - 2.0) / 2.0))
    if extra_fade_to is not None:
        factor = factor * (1.0 - (1.0 - extra_fade_to) * np.clip(nominal_s / case_end_s, 0, 1))
    return factor


def simulate_case(
    scenario: str = "stable",
    seed: int = 0,
    *,
    sfreq: float = 5000.0,
    muscles=DEFAULT_MUSCLES,
    side: str = "left",
    levels=("C5", "C6", "C7", "C8"),
    schedule: Schedule = Schedule(),
    time_compression: float = 20.0,
    mains_hz: float = 50.0,
    noise_uv: float = 5.0,
    cv_scale: float = 1.0,
    cv: float | None = None,
    focal_level: float | None = None,
    focal_sweeps: int | None = None,
    case_id: str | None = None,
) -> SimulatedCase:
    """Simulate a DREZ case.

    Parameters
    ----------
    scenario : str
        A key of :data:`SCENARIOS`.
    seed : int
        Seed of the random generator; the same seed gives the same case.
    sfreq : float
        Sampling rate in Hz.
    muscles : sequence of str
        Muscles recorded on each side (keys of :data:`iomon.muscles.MUSCLES`).
    side : str
        Side of the avulsion and of the lesioning.
    levels : sequence of str
        Avulsed root levels.
    schedule : Schedule
        Phase durations and stimulus intervals on the surgical clock.
    time_compression : float
        The surgical clock is divided by this to place events in the file (1 = real time).
    mains_hz : float
        Mains frequency, 50 or 60.
    noise_uv : float
        Amplifier noise, µV rms.
    cv_scale : float
        Multiplies every muscle's coefficient of variation (1 = the literature's values).
    cv : float, optional
        One coefficient of variation for every muscle, instead of the literature's values.
    focal_level : float, optional
        Focal scenarios: the share of the baseline amplitude left during the drop (default
        0.2, a drop of 80 %).
    focal_sweeps : int, optional
        ``focal_recovering``: the drop lasts this many sweeps (default: a third of lesioning).
    case_id : str, optional
        Defaults to ``"SIM-<scenario>-<seed>"``.

    Returns
    -------
    SimulatedCase
        ``truth`` holds: the scenario, seed and settings; per channel whether it responds, its
        expected (median) baseline amplitude and onset latency; the injected events with the
        channels they affect and their start and end in file seconds; per sweep its file and
        surgical time, intensity, the injected rise of the ipsilateral leg threshold (V) and
        whether cautery contaminated it; per sweep x channel the
        injected peak-to-peak amplitude (µV, NaN where there is no response), onset latency (ms)
        and number of phases; and ``expected``: which channels should raise a focal alert and
        whether a systemic one is expected.
    """
    if scenario not in SCENARIOS:
        raise InputError(f"unknown scenario {scenario!r} (known: {', '.join(SCENARIOS)})")
    if side not in ("left", "right"):
        raise InputError(f"side must be left or right, got {side!r}")
    if mains_hz not in (50.0, 60.0, 50, 60):
        raise InputError(f"mains_hz must be 50 or 60, got {mains_hz}")
    if focal_level is not None and not 0 <= focal_level < 1:
        raise InputError(f"focal_level must be in [0, 1), got {focal_level}")
    if focal_sweeps is not None and (focal_sweeps < 1 or scenario != "focal_recovering"):
        raise InputError(f"focal_sweeps must be >= 1 and needs scenario focal_recovering, got "
                         f"{focal_sweeps} with {scenario}")
    if focal_level is not None and scenario not in ("focal_recovering", "focal_persistent"):
        raise InputError(f"focal_level needs a focal scenario, got {scenario}")
    if cv is not None and not 0 < cv < 2:
        raise InputError(f"cv must be in (0, 2), got {cv}")
    if time_compression < 1:
        raise InputError(f"time_compression must be >= 1, got {time_compression}")
    rng = np.random.default_rng(seed)
    levels = tuple(v.upper() for v in levels)
    channels = _channel_set(muscles, side)
    n_ch = len(channels)

    nominal, phase_of_sweep, bounds = _schedule_onsets(schedule, rng)
    n_sweeps = nominal.size
    case_end_nominal = bounds["closure"][1]
    onsets = nominal / time_compression
    gap = np.diff(onsets).min() if n_sweeps > 1 else 1.0
    if gap < (_SWEEP_WINDOW_S[1] - _SWEEP_WINDOW_S[0]) + 0.05:
        raise InputError(
            f"time_compression {time_compression:g} puts sweeps {gap * 1e3:.0f} ms apart; "
            "they need at least 160 ms"
        )
    les_start, les_end = bounds["lesioning"]

    # --- intensity: ramp-up before the Baseline marker, then constant (threshold: chased)
    baseline_intensity = _THRESHOLD_LEVEL_V if scenario == "threshold" else 400.0
    intensity = np.full(n_sweeps, baseline_intensity)
    n_ramp = min(schedule.pre_baseline_sweeps, n_sweeps - 1)
    intensity[:n_ramp] = baseline_intensity - _THRESHOLD_STEP_V * np.arange(n_ramp, 0, -1)
    threshold_rise = np.zeros(n_sweeps)
    if scenario == "threshold":
        ramp = np.clip((nominal - les_start) / (les_end - les_start), 0, 1)
        threshold_rise = _THRESHOLD_RISE_V * ramp
    baseline_marker_nominal = (nominal[n_ramp] - 5.0) if n_sweeps > n_ramp else 0.0

    # --- per channel: presence, template, expected amplitude
    templates = []
    base_amp, onset_mean = np.zeros(n_ch), np.zeros(n_ch)
    present = np.zeros(n_ch, bool)
    for c, ch in enumerate(channels):
        muscle = MUSCLES[ch.muscle]
        spared = 1.0
        if ch.side == side:
            roots = muscle.roots
            spared = sum(r not in levels for r in roots) / len(roots)
        present[c] = spared > 0
        templates.append(_lobes(rng))
        pp = _peak_to_peak(templates[-1][1])
        base_amp[c] = _BASE_AMPLITUDE_V[ch.muscle] * spared * rng.uniform(0.7, 1.3)
        templates[-1] = (templates[-1][0], templates[-1][1] / pp)  # unit peak-to-peak
        onset_mean[c] = rng.uniform(*muscle.onset_s)

    # --- per sweep x channel amplitude factors
    test_leg = np.array([ch.role == "test" and ch.limb == "lower" for ch in channels])
    factor = np.ones((n_sweeps, n_ch))
    events = []
    mid = les_start + 0.35 * (les_end - les_start)
    if scenario in ("focal_recovering", "focal_persistent", "loss"):
        end = les_start + 0.65 * (les_end - les_start) if scenario == "focal_recovering" \
            else case_end_nominal
        if focal_sweeps is not None:
            # A brief drop: the first focal_sweeps sweeps from the event's start.
            after = np.flatnonzero(nominal >= mid)[focal_sweeps:]
            end = nominal[after[0]] if after.size else case_end_nominal
        level = 0.0 if scenario == "loss" else (0.2 if focal_level is None else focal_level)
        hit = (nominal >= mid) & (nominal < end)
        factor[np.ix_(hit, test_leg)] = level
        if scenario == "focal_recovering":
            factor[np.ix_(nominal >= end, test_leg)] = 0.9
        events.append({"kind": "loss" if scenario == "loss" else "focal",
                       "channels": [ch.name for ch, t in zip(channels, test_leg) if t],
                       "start_nominal_s": mid, "end_nominal_s": min(end, case_end_nominal),
                       "level": level, "recovers": scenario == "focal_recovering"})
    elif scenario in ("systemic", "systemic_focal"):
        end = les_start + 0.7 * (les_end - les_start)
        hit = (nominal >= mid) & (nominal < end)
        factor[hit] = 0.3
        events.append({"kind": "systemic", "channels": [ch.name for ch in channels],
                       "start_nominal_s": mid, "end_nominal_s": end, "level": 0.3,
                       "recovers": True})
        if scenario == "systemic_focal":
            factor[np.ix_(hit, test_leg)] *= 0.2
            events.append({"kind": "focal",
                           "channels": [ch.name for ch, t in zip(channels, test_leg) if t],
                           "start_nominal_s": mid, "end_nominal_s": end, "level": 0.3 * 0.2,
                           "recovers": True})
    elif scenario == "threshold":
        events.append({"kind": "threshold",
                       "channels": [ch.name for ch, t in zip(channels, test_leg) if t],
                       "start_nominal_s": les_start, "end_nominal_s": case_end_nominal,
                       "rise_v": _THRESHOLD_RISE_V, "recovers": False})

    fade = _fade_factor(nominal, 0.6 if scenario == "fade" else None, case_end_nominal)
    if scenario == "fade":
        events.append({"kind": "fade", "channels": [ch.name for ch in channels],
                       "start_nominal_s": 0.0, "end_nominal_s": case_end_nominal, "level": 0.6,
                       "recovers": False})
    limb_threshold = np.array([_THRESHOLD_V[ch.limb] for ch in channels])
    vth = limb_threshold[None, :] + threshold_rise[:, None] * test_leg[None, :]
    recruitment_at_baseline = _recruitment(baseline_intensity, limb_threshold)

    literature_cv = np.array([MUSCLES[ch.muscle].cv for ch in channels])
    cv = (literature_cv if cv is None else np.full(n_ch, float(cv))) * cv_scale
    total_sd = np.sqrt(np.log1p(cv ** 2))
    shared_sd = np.minimum(_SHARED_LOG_SD, 0.9 * total_sd)
    own_sd = np.sqrt(total_sd ** 2 - shared_sd ** 2)
    log_var = (rng.standard_normal((n_sweeps, 1)) * shared_sd[None, :]
               + rng.standard_normal((n_sweeps, n_ch)) * own_sd[None, :])
    # Amplitude at full recruitment; the intensity scales it along each muscle's sigmoid.
    drive = (base_amp[None, :] * np.exp(log_var) * factor * fade[:, None]
             / recruitment_at_baseline[None, :])
    drive[:, ~present] = 0.0
    if scenario == "threshold":
        intensity = _chase_threshold(intensity, n_ramp, drive[:, test_leg & present],
                                     vth[:, test_leg & present])
    amplitude = drive * _recruitment(intensity[:, None], vth)
    onset = onset_mean[None, :] + rng.normal(0.0, 0.0003, (n_sweeps, n_ch))

    # --- cautery: bursts over some sweeps (exposure and lesioning), in every scenario
    eligible = np.flatnonzero(np.isin(phase_of_sweep, ["exposure", "lesioning"]))
    share = 0.15 if scenario == "cautery" else 0.03
    n_burst = int(round(share * eligible.size))
    contaminated = np.zeros(n_sweeps, bool)
    if n_burst:
        contaminated[rng.choice(eligible, n_burst, replace=False)] = True

    # --- the continuous recording
    duration = math.ceil(onsets[-1] + 1.0)
    n_samples = int(round(duration * sfreq))
    t = np.arange(n_samples) / sfreq
    signals = rng.standard_normal((n_ch, n_samples)) * (noise_uv * 1e-6)
    hum_amp = rng.uniform(5e-6, 25e-6, n_ch)
    hum_phase = rng.uniform(0, 2 * np.pi, n_ch)
    for harmonic, rel in ((1, 1.0), (3, 0.2)):
        signals += (rel * hum_amp[:, None]
                    * np.sin(2 * np.pi * harmonic * mains_hz * t[None, :] + hum_phase[:, None]))
    signals += rng.uniform(-2e-3, 2e-3, n_ch)[:, None]  # electrode DC offsets
    wander_hz = rng.uniform(0.05, 0.3, n_ch)
    signals += 40e-6 * np.sin(2 * np.pi * wander_hz[:, None] * t[None, :]
                              + rng.uniform(0, 2 * np.pi, n_ch)[:, None])

    art_amp = rng.uniform(1e-3, 6e-3, n_ch) * rng.choice([-1.0, 1.0], n_ch)
    window = np.arange(int(round(_SWEEP_WINDOW_S[0] * sfreq)),
                       int(round(_SWEEP_WINDOW_S[1] * sfreq)) + 1)
    local_t = window / sfreq
    artefact = np.zeros_like(local_t)
    for k in range(_TRAIN_PULSES):
        dt = local_t - k * _TRAIN_ISI_S
        after = dt >= 0
        artefact[after] += (np.exp(-dt[after] / 0.0003)
                            + 0.02 * np.exp(-dt[after] / 0.001) * (-1) ** k)
    from scipy.signal import butter, sosfilt

    n_phases = np.zeros((n_sweeps, n_ch), int)
    for i in range(n_sweeps):
        start = int(round(onsets[i] * sfreq))
        idx = start + window
        signals[:, idx] += art_amp[:, None] * artefact[None, :]
        for c in range(n_ch):
            durations, rel = templates[c]
            n_phases[i, c] = durations.size
            if amplitude[i, c] > 0:
                signals[c, idx] += response_waveform(local_t, onset[i, c], durations,
                                                     rel * amplitude[i, c])
        if contaminated[i]:
            length = int(0.16 * sfreq)
            begin = start + int(_SWEEP_WINDOW_S[0] * sfreq) - int(0.03 * sfreq)
            burst = rng.standard_normal((n_ch, length)) * rng.uniform(0.3e-3, 1.5e-3)
            sos = butter(2, [100.0, min(2000.0, 0.45 * sfreq)], "bandpass", fs=sfreq,
                         output="sos")
            signals[:, begin:begin + length] += sosfilt(sos, burst, axis=-1) * 3.0

    # --- annotations as a monitoring system writes them
    annotations = [Annotation(float(baseline_marker_nominal / time_compression), 0.0,
                              "Baseline")]
    annotations.append(Annotation(les_start / time_compression, 0.0, "DREZ lesioning start"))
    annotations.append(Annotation(les_end / time_compression, 0.0, "DREZ lesioning end"))
    annotations.append(Annotation(bounds["exposure"][0] / time_compression, 0.0,
                                  "Exposure start"))
    annotations.append(Annotation(bounds["closure"][0] / time_compression, 0.0,
                                  "Closure start"))
    for i in range(n_sweeps):
        annotations.append(Annotation(float(onsets[i]), 0.0,
                                      f"TcMEP {intensity[i]:.0f}V C3-C4"))
    annotations.sort(key=lambda a: a.onset_s)

    case_id = case_id or f"SIM-{scenario}-{seed}"
    case = Case(case_id, side, levels,
                tuple(ChannelSpec(ch.name, ch.muscle, ch.side, ch.limb, ch.role)
                      for ch in channels))

    amplitude_uv = np.where(present[None, :], amplitude * 1e6, np.nan)
    for event in events:
        event["start_s"] = event["start_nominal_s"] / time_compression
        event["end_s"] = event["end_nominal_s"] / time_compression
    focal_expected = sorted({name for e in events if e["kind"] in ("focal", "loss", "threshold")
                             for name in e["channels"]
                             if present[[ch.name for ch in channels].index(name)]})
    truth = {
        "scenario": scenario,
        "description": SCENARIOS[scenario],
        "seed": int(seed),
        "sfreq": sfreq,
        "time_compression": time_compression,
        "mains_hz": float(mains_hz),
        "noise_uv_rms": noise_uv,
        "case": {"id": case_id, "side": side, "levels": list(levels)},
        "train": {"pulses": _TRAIN_PULSES, "isi_ms": _TRAIN_ISI_S * 1e3},
        "phases_nominal_s": {k: list(v) for k, v in bounds.items()},
        "baseline_marker_s": float(baseline_marker_nominal / time_compression),
        "channels": [
            {"name": ch.name, "muscle": ch.muscle, "side": ch.side, "limb": ch.limb,
             "role": ch.role, "present": bool(present[c]),
             "baseline_amplitude_uv": float(base_amp[c] * 1e6) if present[c] else None,
             "onset_latency_ms": float(onset_mean[c] * 1e3), "cv": float(cv[c])}
            for c, ch in enumerate(channels)
        ],
        "events": events,
        "sweeps": {
            "onset_s": onsets.tolist(),
            "nominal_s": nominal.tolist(),
            "intensity_v": intensity.tolist(),
            "threshold_rise_v": threshold_rise.tolist(),
            "surgical_phase": list(phase_of_sweep),
            "contaminated": contaminated.tolist(),
        },
        "amplitude_uv": [[None if np.isnan(v) else float(v) for v in row]
                         for row in amplitude_uv],
        "onset_latency_ms": (onset * 1e3).tolist(),
        "n_phases": n_phases.tolist(),
        "expected": {"focal_channels": focal_expected,
                     "systemic": scenario in ("systemic", "systemic_focal")},
    }
    return SimulatedCase(signals, float(sfreq), channels, annotations, case, truth)


# ---------------------------------------------------------------------------------- writing
def write_case_toml(case: Case, path: Path) -> None:
    """Write a case sidecar (the format :func:`iomon.case.read_case` reads)."""
    lines = ["[case]", f'id = "{case.id}"']
    if case.side:
        lines.append(f'side = "{case.side}"')
    lines.append("levels = [" + ", ".join(f'"{v}"' for v in case.levels) + "]")
    for spec in case.channels:
        lines += ["", "[[channels]]", f'name = "{spec.name}"']
        for key in ("muscle", "side", "limb", "role"):
            value = getattr(spec, key)
            if value is not None:
                lines.append(f'{key} = "{value}"')
    for phase in case.phases:
        lines += ["", "[[phases]]", f'name = "{phase.name}"', f"start_s = {phase.start_s}",
                  f"end_s = {phase.end_s}"]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_edf(sim: SimulatedCase, path: str | Path, *, patient_name: str = "Synthetic_Patient"):
    """Write the simulated recording as EDF+C (µV, 16 bit) with its annotations, via edfio."""
    import datetime

    from edfio import Edf, EdfAnnotation, EdfSignal, Patient, Recording

    signals_uv = sim.signals * 1e6
    seconds = signals_uv.shape[1] / sim.sfreq
    if abs(seconds - round(seconds)) > 1e-9:
        raise InputError("the simulated recording must last a whole number of seconds")
    edf_signals = []
    for ch, data in zip(sim.channels, signals_uv):
        low, high = float(np.floor(data.min())) - 1.0, float(np.ceil(data.max())) + 1.0
        edf_signals.append(EdfSignal(data, sim.sfreq, label=ch.name, transducer_type="AgAgCl",
                                     physical_dimension="uV", physical_range=(low, high),
                                     prefiltering="HP:0.1Hz LP:2500Hz"))
    edf = Edf(
        edf_signals,
        patient=Patient(code="SIM001", sex="X", name=patient_name),
        recording=Recording(startdate=datetime.date(2024, 1, 1), hospital_administration_code="SIM",
                            investigator_technician_code="iomon", equipment_code="iomon.simulate"),
        starttime=datetime.time(8, 0, 0),
        data_record_duration=1.0,
        annotations=[EdfAnnotation(a.onset_s, None, a.text) for a in sim.annotations],
    )
    edf.write(path)


def write_simulated_case(sim: SimulatedCase, out_dir: str | Path, stem: str | None = None,
                         fmt: str = "edf") -> Path:
    """Write recording, ``.case.toml`` sidecar and ``.truth.json`` into ``out_dir``.

    Returns the path of the recording. Files are written under temporary names and renamed,
    so an interrupted run leaves no partial recording.
    """
    if fmt != "edf":
        raise InputError(f"unknown format {fmt!r} (available: edf)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = stem or sim.case.id
    recording = out_dir / f"{stem}.edf"
    targets = [(recording, lambda p: write_edf(sim, p)),
               (out_dir / f"{stem}.case.toml", lambda p: write_case_toml(sim.case, p)),
               (out_dir / f"{stem}.truth.json",
                lambda p: p.write_text(json.dumps(sim.truth, indent=1), encoding="utf-8"))]
    for target, write in targets:
        tmp = target.with_name(f".{target.name}.partial")
        try:
            write(tmp)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()
    return recording
