"""The one composition point: recording + case + criteria -> CaseResult.

read -> Sweeps -> condition -> measure -> baseline -> alerts. :func:`analyze` works on what
it is given and touches no disk; :func:`analyze_file` finds the sidecar, reads the recording
and checksums it. The output files and the report are made from the
:class:`~iomon.results.CaseResult` by :mod:`iomon.report.outputs`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .alerting.alerts import detect_alerts, scope_notes, unexplained_drops
from .alerting.criteria import Criteria, load_criteria
from .alerting.threshold import thresholds_for
from .case.channels import decide_channels
from .case.sidecar import Case, load_case
from .io import Recording
from .model.annotations import (
    Phase,
    assign_phases,
    complete_phases,
    find_baseline_start,
    phases_from_annotations,
)
from .model.errors import InputError
from .model.sweeps import Sweeps
from .processing.baseline import build_baselines, percent_of_reference
from .processing.conditioning import (
    MIN_LATE_FIT_S,
    condition,
    plan_artefact,
    reject_sweeps,
    typical_size,
)
from .processing.measures import measure, refine_windows, response_windows
from .processing.settings import Settings, resolve
from .results import CaseResult

__all__ = ["CaseResult", "Settings", "analyze", "analyze_each", "analyze_file", "file_sha256",
           "load_case", "prepare", "refusals"]

#: Below this sampling rate (Hz) a recording is refused: MEP phases last 1-5 ms.
MIN_SFREQ_HZ = 1000.0


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def prepare(recording: Recording, case: Case) -> tuple[Sweeps, list[Phase], np.ndarray]:
    """Apply the case to the recording: channel facts and roles, phases, each sweep's phase."""
    sweeps = recording.sweeps.with_channels(decide_channels(recording.sweeps.ch_names, case))
    if case.phases:
        phases = complete_phases(list(case.phases), recording.duration_s)
    else:
        phases = phases_from_annotations(recording.annotations, recording.duration_s)
    return sweeps, phases, assign_phases(sweeps.column("onset_s"), phases)


def analyze_file(path: str | Path, case_path: str | Path | None = None,
                 criteria: Criteria | str | None = None, settings: Settings | None = None
                 ) -> CaseResult:
    """Read a recording with its case sidecar (and the sidecar's reading options) and analyse it.

    The input's checksum is computed in a second thread while the recording is read and
    analysed.

    Parameters
    ----------
    path : str or Path
        The recording.
    case_path : str or Path, optional
        The case sidecar; by default ``<stem>.case.toml`` beside the recording, if any.
    criteria, settings
        As for :func:`analyze`.
    """
    from .io import read

    case = load_case(path, case_path)
    with ThreadPoolExecutor(max_workers=1) as pool:
        checksum = pool.submit(file_sha256, path)
        result = analyze(read(path, case.read_options), case, criteria, settings)
        return dataclasses.replace(result, input_sha256=checksum.result())


def analyze(recording: Recording, case: Case | None = None,
            criteria: Criteria | str | None = None, settings: Settings | None = None
            ) -> CaseResult:
    """Analyse one case.

    Parameters
    ----------
    recording : Recording
        From :func:`iomon.io.read`.
    case : Case, optional
        From :func:`iomon.case.sidecar.load_case`; by default an empty case named after the
        recording.
    criteria : Criteria or str, optional
        A preset name, a TOML file or a Criteria; default ``drez``.
    settings : Settings, optional
        Processing settings; unset values come from the sidecar's ``[processing]``, then the
        defaults.

    Returns
    -------
    CaseResult
        Its ``input_sha256`` is None (:func:`analyze_file` sets it).
    """
    return analyze_each(recording, case, [criteria], settings)[0]


def analyze_each(recording: Recording, case: Case | None = None, criteria=(None,),
                 settings: Settings | None = None) -> list[CaseResult]:
    """Measure one case once and apply each of several criteria presets to it.

    What the criteria do not touch (conditioning, measures, baselines) is computed once, so
    comparing presets on an archive costs one analysis per case, not one per preset.

    Parameters
    ----------
    recording, case, settings
        As for :func:`analyze`.
    criteria : sequence of Criteria, str or None
        Each a preset name, a TOML file, a Criteria, or None for ``drez``.

    Returns
    -------
    list of CaseResult
        One per criteria, in their order.
    """
    case = case if case is not None else Case(recording.path.stem)
    presets = [c if isinstance(c, Criteria) else load_criteria(c) for c in criteria]
    try:
        measured = _measure_case(recording, case, settings)
    except InputError as err:
        if err.path is not None:
            raise
        raise InputError(err.reason, recording.path) from None  # every refusal names its file
    results = []
    for preset in presets:
        alerts, alert_notes = _alerts(measured.sweeps, measured.sweep_phase,
                                      measured.measurements, measured.baselines,
                                      measured.percent, ~measured.rejected, measured.setup,
                                      preset, measured.settings.rebaselines)
        results.append(dataclasses.replace(measured, criteria=preset, alerts=tuple(alerts),
                                           notes=measured.notes + tuple(alert_notes)))
    return results


def _measure_case(recording: Recording, case: Case, settings: Settings | None) -> CaseResult:
    """Everything of a case that no criteria decide: a CaseResult with no criteria or alerts."""
    sweeps, phases, sweep_phase = prepare(recording, case)
    _check_sweeps(sweeps, recording.path)
    # The sidecar's [[rebaseline]] entries join its [processing] settings.
    sidecar = dataclasses.replace(case.processing, rebaselines=tuple(case.rebaselines))
    resolved = resolve(settings or Settings(), sidecar, sweeps.times, sweeps.sfreq,
                       recording.path, case.source)
    artefact, train, artefact_notes = plan_artefact(sweeps.data, sweeps.times, sweeps.sfreq,
                                                    sweeps.channels, resolved.artefact_s)
    mains = next((m for m in (resolved.mains_hz, case.read_options.mains_hz,
                              recording.mains_hz) if m is not None), None)
    try:
        conditioned, mains_hz, quiet, noise, rejected, reason, windows = \
            _condition_and_reject(sweeps, resolved, artefact, mains)
    except InputError as err:
        raise InputError(err.reason, recording.path) from None
    rejected, reason = apply_exclusions(case, sweeps, rejected, reason)
    baseline_start = find_baseline_start(recording.annotations)
    setup = setup_sweeps(sweeps.column("onset_s"), baseline_start)
    measurements, baselines, windows = _measure_against_baseline(
        conditioned, sweeps, sweep_phase, windows, noise, quiet, ~rejected, resolved,
        baseline_start)
    percent = percent_of_reference(measurements.amplitude, baselines)
    notes = (list(recording.notes) + list(resolved.notes) + artefact_notes
             + _mains_notes(mains, mains_hz))
    return CaseResult(
        case=case, recording=recording, sweeps=sweeps, phases=tuple(phases),
        sweep_phase=sweep_phase, setup=setup, criteria=None, settings=resolved,
        conditioned=conditioned, artefact_s=artefact, train=train, band_hz=resolved.band_hz,
        mains_hz=mains_hz, windows=windows, rejected=rejected, reject_reason=reason,
        measurements=measurements, baselines=baselines, percent=percent, alerts=(),
        notes=tuple(notes))


def apply_exclusions(case: Case, sweeps: Sweeps, rejected, reason):
    """The review edits' exclusions, added to the rejections with their reason.

    An excluded sweep x channel is treated as rejected (reason ``"excluded: <why>"``), which
    the reviewer's decision takes over any other reason.
    """
    rejected, reason = rejected.copy(), reason.astype(object)
    onsets = sweeps.column("onset_s")
    for exclusion in case.exclusions:
        if exclusion.channel is not None and exclusion.channel not in sweeps.ch_names:
            raise InputError(f"[[exclude]] names channel {exclusion.channel!r}, which the "
                             f"recording lacks (channels: {', '.join(sweeps.ch_names)})",
                             case.source)
        beyond = [s for s in exclusion.sweeps if s >= sweeps.n_sweeps]
        if beyond:
            raise InputError(f"[[exclude]] names sweep {beyond[0]}, but the recording has "
                             f"{sweeps.n_sweeps} (0 to {sweeps.n_sweeps - 1})", case.source)
        mask = exclusion.mask(onsets, sweeps.ch_names)
        rejected |= mask
        reason[mask] = f"excluded: {exclusion.reason}"
    return rejected, reason.astype(str)


def setup_sweeps(onsets_s, baseline_start_s) -> np.ndarray:
    """Sweeps before the ``Baseline`` marker: the team setting up, not monitoring yet."""
    onsets_s = np.asarray(onsets_s, float)
    if baseline_start_s is None:
        return np.zeros(onsets_s.size, bool)
    return onsets_s < baseline_start_s


def _sweep_problems(sweeps) -> list[str]:
    """Why sweeps cannot be measured, if they cannot: too slow, too little before the stimulus."""
    times, sfreq, problems = sweeps.times, sweeps.sfreq, []
    if sfreq < 0.999 * MIN_SFREQ_HZ:  # a nominal 1 kHz may be stored as 999.99995 Hz
        problems.append(f"sampled at {sfreq:g} Hz: too slow to measure motor evoked potentials "
                        f"(iomon needs at least {MIN_SFREQ_HZ:g} Hz)")
    if (times < -0.002).sum() < 5:
        problems.append(f"the sweeps start at {times[0] * 1e3:.1f} ms: at least 2 ms before the "
                        "stimulus are needed to measure the noise a response must stand out "
                        "from (for episodic files, set [recording] stimulus_s)")
    return problems


def _check_sweeps(sweeps, path) -> None:
    """Refuse sweeps that cannot be measured (the first reason)."""
    problems = _sweep_problems(sweeps)
    if problems:
        raise InputError(problems[0], path)


def refusals(recording: Recording, case: Case, settings: Settings | None = None) -> list[str]:
    """What would stop :func:`analyze` on this recording and case, one line each (none: it runs).

    The checks an analysis makes before it measures: the sampling rate, the time before the
    stimulus, the processing settings against the sweeps. ``iomon info`` lists them as notes.
    """
    sweeps, _, _ = prepare(recording, case)
    problems = _sweep_problems(sweeps)
    try:
        resolve(settings or Settings(), case.processing, sweeps.times, sweeps.sfreq,
                recording.path, case.source)
    except InputError as err:
        problems.append(err.reason)
    return problems


def _condition_and_reject(sweeps, resolved, artefact, mains):
    """Condition the sweeps and reject the unusable ones.

    Returns (conditioned, mains_hz, quiet, noise, rejected, reason, windows) where the windows
    come from the muscles' expected latencies, not yet refined.
    """
    data, times, sfreq = sweeps.data, sweeps.times, sweeps.sfreq
    not_before = np.where(np.isfinite(artefact[:, 1]), artefact[:, 1], 0.0)
    windows = response_windows([ch.muscle for ch in sweeps.channels], times, not_before)
    if np.any(windows[:, 1] <= windows[:, 0]):
        short = [ch.name for ch, w in zip(sweeps.channels, windows) if w[1] <= w[0]]
        raise InputError(f"the sweeps ({times[-1] * 1e3:.0f} ms) end before the response "
                         f"window of {', '.join(short)}")
    # Hum is fitted where no channel can hold a response: before the train and after the
    # latest response window.
    blank = None if np.isnan(artefact).all() else np.nan_to_num(artefact, nan=0.0)
    conditioned, mains_hz, quiet, noise = condition(
        data, times, sfreq, resolved.band_hz, blank, mains, windows[:, 1].max() + 0.002,
        resolved.noise_window_s)
    rejected, reason = reject_sweeps(data, noise, sfreq=sfreq,
                                     typical=typical_size(conditioned, times, not_before))
    return conditioned, mains_hz, quiet, noise, rejected, reason, windows


def _mains_notes(asked, removed) -> list[str]:
    if asked is None:
        return ["mains hum was not removed: its frequency is unknown (no continuous stretch "
                "to find it in); set [recording] mains_hz = 50 or 60"]
    if asked and removed is None:
        return ["mains hum was not removed: the sweeps end less than "
                f"{MIN_LATE_FIT_S * 1e3:.0f} ms after the response windows"]
    return []


def _measure_against_baseline(conditioned, sweeps, phases, windows, noise, quiet, valid,
                              resolved, baseline_start):
    """Measures in windows refined from the baseline average, and the baselines.

    The average of the baseline sweeps narrows each channel's expected-latency window to where
    its response really is; every sweep is then measured once, in those windows.
    """
    times, sfreq, table = sweeps.times, sweeps.sfreq, sweeps.table
    presence = {"presence_v": resolved.presence_v,
                "presence_ratio": resolved.presence_noise_ratio}

    def baselines_for(amplitude, onset_latency, present, n_phases):
        return build_baselines(
            amplitude, onset_latency, present, valid, table["onset_s"].to_numpy(),
            phases, table["montage"].to_numpy(),
            table["stim_intensity"].to_numpy(), baseline_start, resolved.baseline_sweeps,
            resolved.rebaselines, n_phases)

    # Which sweeps make the main baseline follows from validity, phase, montage and intensity
    # alone, not from any measure: they are chosen before anything is measured (placeholder
    # measures, never read), so each sweep is measured once.
    unmeasured = np.zeros(valid.shape)
    main = baselines_for(unmeasured, unmeasured, unmeasured.astype(bool), None).main
    counts = main.sweeps.sum(axis=0)
    average = np.einsum("sc,sct->ct", main.sweeps.astype(float), conditioned) / np.maximum(
        counts, 1)[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a channel without any noise figure
        noise_sd = np.nanmedian(np.where(valid, noise, np.nan), axis=0)
    windows = refine_windows(average, times, sfreq, windows, noise_sd, counts)
    measurements = measure(conditioned, times, sfreq, windows, noise, noise_sd=noise_sd,
                           quiet=quiet, **presence)
    return measurements, baselines_for(measurements.amplitude, measurements.onset_latency,
                                       measurements.present, measurements.n_phases), windows


def _alerts(sweeps, phases, measurements, baselines, percent, valid, setup, criteria,
            rebaselines):
    """The alerts of a case and the notes they need (thresholds, scope, unalerted drops)."""
    table = sweeps.table
    notes = []
    thresholds = None
    if criteria.threshold_rise_v is not None:
        thresholds, note = thresholds_for(table, measurements.present, valid, baselines,
                                          rebaselines)
        notes += [note] if note else []
    onsets = table["onset_s"].to_numpy()
    alerts = detect_alerts(percent, measurements.present, valid, sweeps.channels,
                           baselines.main.present, onsets, phases, criteria,
                           onset_latency=measurements.onset_latency,
                           baseline_latency=baselines.reference("onset_latency"),
                           n_phases=measurements.n_phases,
                           baseline_phases=baselines.reference("n_phases"),
                           thresholds=thresholds, setup=setup)
    notes += scope_notes(sweeps.channels, baselines.main.present)
    for drop in unexplained_drops(percent, valid, sweeps.channels, baselines.main.present,
                                  onsets, criteria, setup):
        notes.append(f"{drop.channel} fell to {drop.nadir_percent:g} % of baseline from sweep "
                     f"{drop.onset_sweep} ({drop.onset_s:.1f} s) while its controls fell to "
                     f"{drop.controls_percent:g} %: a decline shared in part, within the "
                     "channel's variability against its controls; no alert")
    if criteria.focal_phases and not np.isin(phases, criteria.focal_phases).any():
        notes.append(f"no sweep falls in {' or '.join(criteria.focal_phases)} (no lesioning "
                     "markers or sidecar phases): focal alerts count in every phase")
    return alerts, notes
