"""Synthetic DREZ cases with ground truth: for tests, the demo and ``recordings/``.

A case is simulated as a continuous multichannel EMG recording, the way a monitoring system
records it, with a stimulus annotation at every train. The rooms:

- :mod:`~iomon.sim.scenarios`: what each scenario injects (data, :data:`SCENARIOS`);
- :mod:`~iomon.sim.schedule`: the surgical schedule (a stimulus every 1-2 min, every 10-30 s
  while lesioning);
- :mod:`~iomon.sim.physiology`: the muscles' responses, variability, recruitment and fade;
- :mod:`~iomon.sim.signal`: the recording (noise, hum, artefact, responses, cautery);
- :mod:`~iomon.sim.truth`: what was injected, typed; :mod:`~iomon.sim.writing`: the files;
- :mod:`~iomon.sim.scoring`: alerts scored against the truth.

``time_compression`` shrinks the schedule in the file so that a 90-minute case fits in a few
MB; the physiology (fade) follows the uncompressed surgical clock, which the truth keeps.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field

import numpy as np

from ..case.sidecar import Case, ChannelSpec, Simulation
from ..io import ReadOptions
from ..model.annotations import Annotation
from ..model.errors import InputError
from ..model.muscles import MUSCLES
from ..model.sweeps import Channel
from . import physiology, signal
from .acquisition import FIXED, Acquisition, draw_acquisition
from .physiology import response_waveform
from .scenarios import SCENARIOS, Scenario, amplitude_factors
from .schedule import DEFAULT_SCHEDULE, SHORT_SCHEDULE, Schedule, schedule_onsets
from .truth import ChannelTruth, Event, SweepTruth, Truth, read_truth
from .writing import write_case_toml, write_edf, write_simulated_case

__all__ = ["DEFAULT_MUSCLES", "FIXED", "SCENARIOS", "SHIPPED_MUSCLES", "SHORT_SCHEDULE",
           "Acquisition", "Scenario", "Schedule", "SimulatedCase", "Truth", "draw_acquisition",
           "read_truth", "response_waveform", "simulate_case", "write_case_toml", "write_edf",
           "write_simulated_case"]

DEFAULT_MUSCLES = ("Deltoid", "Biceps", "APB", "ADM", "TA", "AH")
SHIPPED_MUSCLES = ("Deltoid", "APB", "TA", "AH")
#: Sweeps must lie this much further apart in the file than a sweep window lasts, s.
MIN_SWEEP_GAP_S = 0.05
#: The ``Baseline`` annotation is written this long before the first sweep after the ramp, s.
BASELINE_MARKER_LEAD_S = 5.0


@dataclass
class SimulatedCase:
    """A simulated recording and what was injected into it.

    Attributes
    ----------
    plan : SignalPlan
        The continuous recording, rendered block by block (:meth:`SignalPlan.blocks`) in
        bounded memory; :attr:`signals` renders it whole.
    sfreq : float
        Sampling rate in Hz.
    channels : list of Channel
        Channel facts (the truth, which the sidecar also states).
    annotations : list of Annotation
        Stimulus and phase markers as a monitoring system writes them.
    case : Case
        What the sidecar says.
    truth : Truth
        What was injected.
    """

    plan: signal.SignalPlan = field(repr=False)
    sfreq: float
    channels: list[Channel]
    annotations: list[Annotation]
    case: Case
    truth: Truth = field(repr=False)

    @functools.cached_property
    def signals(self) -> np.ndarray:
        """The whole continuous recording in volts, shape (n_channels, n_samples)."""
        return self.plan.render()


def _scenario(name, side, mains_hz, focal_level, focal_sweeps, cv, time_compression,
              focal_muscles=None):
    """The scenario asked for, with the brief/shallow focal drop options applied; checked."""
    if name not in SCENARIOS:
        raise InputError(f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})")
    if side not in ("left", "right"):
        raise InputError(f"side must be left or right, got {side!r}")
    if mains_hz not in (50.0, 60.0, 50, 60):
        raise InputError(f"mains_hz must be 50 or 60, got {mains_hz}")
    if focal_level is not None and not 0 <= focal_level < 1:
        raise InputError(f"focal_level must be in [0, 1), got {focal_level}")
    if focal_sweeps is not None and (focal_sweeps < 1 or name != "focal_recovering"):
        raise InputError(f"focal_sweeps must be >= 1 and needs scenario focal_recovering, got "
                         f"{focal_sweeps} with {name}")
    if focal_level is not None and name not in ("focal_recovering", "focal_persistent"):
        raise InputError(f"focal_level needs a focal scenario, got {name}")
    if focal_muscles is not None and (SCENARIOS[name].focal is None or not focal_muscles
                                      or not set(focal_muscles) <= set(MUSCLES)):
        raise InputError(f"focal_muscles needs a focal scenario and known muscles ("
                         f"{', '.join(MUSCLES)}), got {tuple(focal_muscles)} with {name}")
    if cv is not None and not 0 < cv < 2:
        raise InputError(f"cv must be in (0, 2), got {cv}")
    if time_compression < 1:
        raise InputError(f"time_compression must be >= 1, got {time_compression}")
    scenario = SCENARIOS[name]
    if focal_level is not None:
        scenario = dataclasses.replace(scenario, focal=dataclasses.replace(scenario.focal,
                                                                           level=focal_level))
    if focal_muscles is not None:
        scenario = dataclasses.replace(scenario, focal_muscles=tuple(focal_muscles))
    return scenario


def _file_onsets(nominal, time_compression, acquisition=FIXED):
    """Stimulus times in the file.

    Refused when the compression puts sweeps on top of each other.
    """
    onsets = nominal / time_compression
    gap = np.diff(onsets).min() if onsets.size > 1 else 1.0
    span = signal.render_window_s(acquisition)
    window = span[1] - span[0]
    if gap < window + MIN_SWEEP_GAP_S:
        raise InputError(
            f"time_compression {time_compression:g} puts sweeps {gap * 1e3:.0f} ms apart; "
            f"they need at least {(window + MIN_SWEEP_GAP_S) * 1e3:.0f} ms")
    return onsets


def _intensities(scenario: Scenario, nominal, lesioning, n_ramp):
    """Planned intensity per sweep (ramp-up, then constant) and the injected threshold rise."""
    intensity = np.full(nominal.size, scenario.intensity_v)
    intensity[:n_ramp] = (scenario.intensity_v
                          - physiology.THRESHOLD_STEP_V * np.arange(n_ramp, 0, -1))
    rise = np.zeros(nominal.size)
    if scenario.threshold_rise_v:
        les_start, les_end = lesioning
        rise = scenario.threshold_rise_v * np.clip((nominal - les_start) / (les_end - les_start),
                                                   0, 1)
    return intensity, rise


def _responses(scenario, traits, channels, nominal, intensity, threshold_rise, factor,
               case_end, n_ramp, cv, rng):
    """Amplitude (V) of every response and the intensities the team used (chased or not)."""
    legs = np.array([ch.role == "test" and ch.limb == "lower" for ch in channels])
    fade = physiology.fade_factor(nominal, scenario.fade_to, case_end)
    limb_threshold = np.array([physiology.THRESHOLD_V[ch.limb] for ch in channels])
    vth = limb_threshold[None, :] + threshold_rise[:, None] * legs[None, :]
    at_baseline = physiology.recruitment(scenario.intensity_v, limb_threshold)
    log_var = physiology.log_variability(nominal.size, cv, rng)
    # Amplitude at full recruitment; the intensity scales it along each muscle's sigmoid.
    drive = (traits.base_amplitude_v[None, :] * np.exp(log_var) * factor * fade[:, None]
             / at_baseline[None, :])
    drive[:, ~traits.present] = 0.0
    if scenario.threshold_rise_v:
        watched = legs & traits.present
        intensity = physiology.chase_threshold(intensity, n_ramp, drive[:, watched],
                                               vth[:, watched])
    return drive * physiology.recruitment(intensity[:, None], vth), intensity


def _cautery(phase_of_sweep, share, rng):
    """Sweeps of exposure and lesioning that an electrocautery burst contaminates."""
    eligible = np.flatnonzero(np.isin(phase_of_sweep, ["exposure", "lesioning"]))
    n_burst = int(round(share * eligible.size))
    contaminated = np.zeros(len(phase_of_sweep), bool)
    if n_burst:
        contaminated[rng.choice(eligible, n_burst, replace=False)] = True
    return contaminated


def _annotations(bounds, onsets, intensity, baseline_marker_s, time_compression, levels=(),
                 events=()):
    """The markers a monitoring system writes: phases, baseline and every stimulus.

    With the avulsed ``levels``, the lesioning is marked level by level (``Lesioning C5``...,
    in equal spans); with the truth's ``events``, what the team typed meanwhile
    (:func:`_theatre_markers`).
    """
    lesioning = bounds["lesioning"]
    marks = [Annotation(float(baseline_marker_s), 0.0, "Baseline"),
             Annotation(lesioning[0] / time_compression, 0.0, "DREZ lesioning start"),
             Annotation(lesioning[1] / time_compression, 0.0, "DREZ lesioning end"),
             Annotation(bounds["exposure"][0] / time_compression, 0.0, "Exposure start"),
             Annotation(bounds["closure"][0] / time_compression, 0.0, "Closure start")]
    step = (lesioning[1] - lesioning[0]) / max(len(levels), 1)
    marks += [Annotation((lesioning[0] + k * step) / time_compression, 0.0, f"Lesioning {level}")
              for k, level in enumerate(levels)]
    marks += [Annotation(at / time_compression, 0.0, text)
              for at, text in _theatre_markers(events, bounds["closure"][1])]
    marks += [Annotation(float(t), 0.0, f"TcMEP {v:.0f}V C3-C4")
              for t, v in zip(onsets, intensity)]
    return sorted(marks, key=lambda a: a.onset_s)


#: When the team types what it did about an injected change, s of the surgical clock from
#: its start: the anaesthetist notes the hypotension a minute before the responses fall,
#: treats it two minutes before they return; the surgeon is told of a focal drop two minutes
#: after it began (a sustained change), and irrigates a minute later.
THEATRE_MARKERS = {
    "systemic": ((-60.0, "start", "Blood pressure: MAP 50 mmHg"),
                 (-120.0, "end", "Anaesthesia: phenylephrine 100 µg")),
    "focal": ((120.0, "start", "Surgeon informed"),
              (180.0, "start", "Intervention: warm saline irrigation")),
}
THEATRE_MARKERS["loss"] = THEATRE_MARKERS["focal"]


def _theatre_markers(events, case_end_s) -> list[tuple[float, str]]:
    """Typed markers of the truth's events: (surgical clock s, text), within the case."""
    out = []
    for event in events:
        for offset, anchor, text in THEATRE_MARKERS.get(event.kind, ()):
            if anchor == "end" and not event.recovers:
                continue
            at = (event.start_nominal_s if anchor == "start" else event.end_nominal_s) + offset
            if 0.0 < at < case_end_s:
                out.append((at, text))
    return out


def _events(scenario, applied, channels, bounds, time_compression):
    """The truth's events: the drops applied, then a threshold rise or fade."""
    names = tuple(ch.name for ch in channels)
    legs = tuple(ch.name for ch in channels if ch.role == "test" and ch.limb == "lower")
    targets = tuple(n for n, hit in zip(names, scenario.focal_targets(channels)) if hit)
    case_end = bounds["closure"][1]
    plain = [(kind, targets if on_legs else names, start, end, drop.recovers, level, None)
             for kind, drop, start, end, level, on_legs in applied]
    if scenario.threshold_rise_v:
        plain.append(("threshold", legs, bounds["lesioning"][0], case_end, False, None,
                      scenario.threshold_rise_v))
    if scenario.fade_to is not None:
        plain.append(("fade", names, 0.0, case_end, False, scenario.fade_to, None))
    return tuple(Event(kind, chans, start, end, start / time_compression,
                       end / time_compression, recovers, level, rise)
                 for kind, chans, start, end, recovers, level, rise in plain)


def _train_truth(acquisition: Acquisition) -> dict:
    """The truth's ``train``: pulses and interval; a drawn acquisition whole beside them."""
    train = {"pulses": acquisition.train.n_pulses, "isi_ms": acquisition.train.isi_s * 1e3}
    if not acquisition.fixed:
        train["acquisition"] = acquisition.to_dict()
    return train


def _truth(scenario, seed, settings, case, channels, traits, cv, bounds, marker_s, events,
           sweeps, amplitude, onset, n_phases, acquisition=FIXED) -> Truth:
    """The typed truth of a simulated case."""
    sfreq, time_compression, mains_hz, noise_uv = settings
    present = traits.present
    focal = sorted({name for e in events if e.kind in ("focal", "loss", "threshold")
                    for name in e.channels
                    if present[[ch.name for ch in channels].index(name)]})
    return Truth(
        scenario=scenario.name, description=scenario.description, seed=int(seed),
        sfreq=sfreq, time_compression=time_compression, mains_hz=float(mains_hz),
        noise_uv_rms=noise_uv, case={"id": case.id, "side": case.side,
                                     "levels": list(case.levels)},
        train=_train_truth(acquisition),
        phases_nominal_s={k: tuple(v) for k, v in bounds.items()}, baseline_marker_s=marker_s,
        channels=tuple(
            ChannelTruth(ch.name, ch.muscle, ch.side, ch.limb, ch.role, bool(present[c]),
                         float(traits.base_amplitude_v[c] * 1e6) if present[c] else None,
                         float(traits.onset_s[c] * 1e3), float(cv[c]))
            for c, ch in enumerate(channels)),
        events=events, sweeps=sweeps,
        amplitude_uv=np.where(present[None, :], amplitude * 1e6, np.nan),
        onset_latency_ms=onset * 1e3, n_phases=n_phases, focal_channels=tuple(focal),
        systemic_expected=scenario.systemic is not None)


#: The motoneurons fire after temporal summation of the train's descending volleys: about the
#: fourth pulse. The muscles' latencies (:data:`~iomon.model.muscles.MUSCLES`, from the first
#: pulse) hold for the fixed train (5 pulses 2 ms apart); a train whose fourth pulse comes later
#: delays every response by as much.
SUMMATION_PULSE = 4


def summation_delay_s(acquisition: Acquisition) -> float:
    """How much later than with the fixed train the responses to this train start, s."""
    def fires(train):
        return (min(train.n_pulses, SUMMATION_PULSE) - 1) * train.isi_s

    if acquisition.fixed or acquisition.train.magnetic:
        return 0.0
    return max(0.0, fires(acquisition.train) - fires(FIXED.train))


def _acquisition(acquisition, sfreq, seed):
    """The acquisition asked for: FIXED at ``sfreq`` (None), drawn from the seed, or given."""
    if acquisition is None:
        return FIXED if sfreq == FIXED.sfreq else dataclasses.replace(FIXED, sfreq=float(sfreq))
    if isinstance(acquisition, str):
        if acquisition != "drawn":
            raise InputError(f"acquisition must be an Acquisition, 'drawn' or None, got "
                             f"{acquisition!r}")
        # Its own stream: the case's other draws are those of the fixed setting's case.
        return draw_acquisition(np.random.default_rng([int(seed), 0xAC0]))
    return acquisition


def _channel_cvs(channels, cv, cv_scale):
    """Each channel's coefficient of variation: its muscle's (or one for all), scaled."""
    cvs = (np.array([MUSCLES[ch.muscle].cv for ch in channels]) if cv is None
           else np.full(len(channels), float(cv)))
    return cvs * cv_scale


def _sweep_responses(spec, traits, channels, nominal, bounds, intensity, threshold_rise, n_ramp,
                     cvs, focal_sweeps, acquisition, rng):
    """Every sweep's response on every channel, the scenario's drops and fades in.

    Returns (amplitude V, the intensity used, onset s, the focal changes applied).
    """
    factor, applied = amplitude_factors(spec, nominal, bounds["lesioning"],
                                        bounds["closure"][1], spec.focal_targets(channels),
                                        focal_sweeps)
    amplitude, intensity = _responses(spec, traits, channels, nominal, intensity,
                                      threshold_rise, factor, bounds["closure"][1], n_ramp,
                                      cvs, rng)
    onset = (traits.onset_s[None, :] + summation_delay_s(acquisition)
             + rng.normal(0.0, physiology.ONSET_JITTER_S, amplitude.shape))
    return amplitude, intensity, onset, applied


def _baseline_marker_s(nominal, n_ramp, time_compression) -> float:
    """When the Baseline marker is placed in the file: just before the first baseline sweep."""
    marker_nominal = ((nominal[n_ramp] - BASELINE_MARKER_LEAD_S) if nominal.size > n_ramp
                      else 0.0)
    return float(marker_nominal / time_compression)


def _sidecar(case_id, side, levels, channels, acquisition, simulation) -> Case:
    """The case sidecar the simulator writes beside the recording."""
    return Case(case_id, side, levels,
                tuple(ChannelSpec(ch.name, ch.muscle, ch.side, ch.limb, ch.role)
                      for ch in channels),
                read_options=ReadOptions(window_s=tuple(acquisition.window_s)),
                simulation=simulation)


def simulate_case(scenario: str = "stable", seed: int = 0, *, sfreq: float = 5000.0,
                  muscles=DEFAULT_MUSCLES, side: str = "left", levels=("C5", "C6", "C7", "C8"),
                  schedule: Schedule = DEFAULT_SCHEDULE, time_compression: float = 20.0,
                  mains_hz: float = 50.0, noise_uv: float = 5.0, cv_scale: float = 1.0,
                  cv: float | None = None, focal_level: float | None = None,
                  focal_sweeps: int | None = None, focal_muscles=None,
                  case_id: str | None = None,
                  acquisition: Acquisition | str | None = None) -> SimulatedCase:
    """Simulate a DREZ case.

    Parameters
    ----------
    scenario : str
        A key of :data:`SCENARIOS`.
    seed : int
        Seed of the random generator; the same seed gives the same case.
    sfreq : float
    muscles, side, levels
        Muscles recorded on each side (keys of :data:`iomon.model.muscles.MUSCLES`), the side of the
        avulsion and of the lesioning, and the avulsed root levels.
    schedule : Schedule
        Phase durations and stimulus intervals on the surgical clock.
    time_compression : float
        The surgical clock is divided by this to place events in the file (1 = real time).
    mains_hz, noise_uv : float
        Mains frequency (50 or 60) and amplifier noise (µV rms).
    cv_scale, cv : float
        A factor on every muscle's coefficient of variation (1: the literature's values), or
        one CV for every muscle instead.
    focal_level : float, optional
        Focal scenarios: the share of the baseline amplitude left during the drop (default
        0.2, a drop of 80 %).
    focal_sweeps : int, optional
        ``focal_recovering``: the drop lasts this many sweeps (default: a third of lesioning).
    focal_muscles : sequence of str, optional
        Focal scenarios: the muscles whose lesioning-side channels drop (default: the legs').
    case_id : str, optional
        Defaults to ``"SIM-<scenario>-<seed>"``.
    acquisition : Acquisition or "drawn", optional
        How the theatre samples, stimulates and exports the case
        (:mod:`~iomon.sim.acquisition`): ``"drawn"`` draws one from the seed as theatres
        differ; by default :data:`~iomon.sim.acquisition.FIXED` at ``sfreq``. A given or drawn
        acquisition's own rate replaces ``sfreq``.

    Returns
    -------
    SimulatedCase
        Its ``truth`` (:class:`~iomon.sim.truth.Truth`) holds what was injected.
    """
    spec = _scenario(scenario, side, mains_hz, focal_level, focal_sweeps, cv, time_compression,
                     focal_muscles)
    acquisition = _acquisition(acquisition, sfreq, seed)
    sfreq = acquisition.sfreq
    rng = np.random.default_rng(seed)
    levels = tuple(v.upper() for v in levels)
    channels = physiology.channel_set(muscles, side)
    nominal, phase_of_sweep, bounds = schedule_onsets(schedule, rng)
    onsets = _file_onsets(nominal, time_compression, acquisition)
    n_ramp = min(schedule.pre_baseline_sweeps, nominal.size - 1)
    intensity, threshold_rise = _intensities(spec, nominal, bounds["lesioning"], n_ramp)
    traits = physiology.channel_traits(channels, side, levels, rng)
    cvs = _channel_cvs(channels, cv, cv_scale)
    amplitude, intensity, onset, applied = _sweep_responses(
        spec, traits, channels, nominal, bounds, intensity, threshold_rise, n_ramp, cvs,
        focal_sweeps, acquisition, rng)
    contaminated = _cautery(phase_of_sweep, spec.cautery_share, rng)
    plan, n_phases = signal.record(len(channels), onsets, sfreq, mains_hz, noise_uv * 1e-6,
                                   traits.templates, amplitude, onset, contaminated, rng,
                                   acquisition, np.random.default_rng([int(seed), 0x7A1]))
    case = _sidecar(case_id or f"SIM-{scenario}-{seed}", side, levels, channels, acquisition,
                    Simulation(float(time_compression), scenario, int(seed)))
    marker_s = _baseline_marker_s(nominal, n_ramp, time_compression)
    events = _events(spec, applied, channels, bounds, time_compression)
    truth = _truth(spec, seed, (sfreq, time_compression, mains_hz, noise_uv), case, channels,
                   traits, cvs, bounds, marker_s, events,
                   SweepTruth(onsets, nominal, intensity, threshold_rise, tuple(phase_of_sweep),
                              contaminated), amplitude, onset, n_phases, acquisition)
    annotations = _annotations(bounds, onsets, intensity, marker_s, time_compression, levels,
                               events)
    return SimulatedCase(plan, float(sfreq), channels, annotations, case, truth)
