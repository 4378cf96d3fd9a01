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

from .alerting.criteria import Criteria, load_criteria
from .alerting.findings import find
from .alerting.kinds import compared_measures
from .case.channels import decide_channels
from .case.sidecar import Case, load_case
from .io import Recording
from .model.annotations import (
    Phase,
    assign_phases,
    complete_phases,
    find_baseline_start,
    lesioning_span,
    phases_from_annotations,
)
from .model.errors import InputError
from .model.notes import Note
from .model.spill import SpilledSweeps
from .model.sweeps import Sweeps
from .processing.baseline import baseline_sweeps, baseline_values, percent_of_reference
from .processing.conditioning import (
    ARTEFACT_SWEEPS,
    MIN_BOTH_ENDS_S,
    MIN_LATE_FIT_S,
    condition,
    plan_artefact,
    raw_faults,
    reject_sweeps,
    sizes_after,
    spread_sweeps,
)
from .processing.landmarks import apply_landmarks, marks_from_landmarks
from .processing.measures import measure, refine_windows, response_windows, sweep_chunks
from .processing.onsets import QuietFigures, onset_notes
from .processing.settings import Settings, resolve
from .results import CaseResult

__all__ = ["CaseResult", "Conditioned", "Settings", "analyze", "analyze_each", "analyze_file",
           "condition_case", "file_sha256", "load_case", "measure_conditioned", "noise_window",
           "plan_sweeps_artefact", "prepare", "refusals", "with_alerts"]

#: Below this sampling rate (Hz) a recording is refused: MEP phases last 1-5 ms.
MIN_SFREQ_HZ = 1000.0


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks.

    Of a folder of sweep files (a case exported as one file per sweep): the SHA-256 of the
    list of its files' names and SHA-256s, in name order, one ``name  sha256`` line each.
    """
    path = Path(path)
    if path.is_dir():
        from .io.sweepfiles import sweep_files

        lines = "".join(f"{p.name}  {file_sha256(p)}\n" for p in sweep_files(path))
        return hashlib.sha256(lines.encode("utf-8")).hexdigest()
    digest = hashlib.sha256()
    with path.open("rb") as f:
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
        The recording: a file, or a folder of sweep files.
    case_path : str or Path, optional
        The case sidecar; by default ``<stem>.case.toml`` beside the recording, if any (see
        :func:`iomon.case.sidecar.load_case`).
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
    return [with_alerts(measured, preset) for preset in presets]


def with_alerts(measured: CaseResult, criteria: Criteria) -> CaseResult:
    """A measured case (no criteria yet) with the findings of one criteria preset."""
    found = find(measured.sweeps, measured.sweep_phase, measured.measurements,
                 measured.baselines, measured.percent, ~measured.rejected, measured.setup,
                 criteria, measured.settings.rebaselines, measured.sweep_level,
                 lesioning_span(measured.phases))
    return dataclasses.replace(
        measured, criteria=criteria, alerts=found.alerts, thresholds=found.thresholds,
        declines=found.declines, notes=measured.notes + found.notes)


def _measure_case(recording: Recording, case: Case, settings: Settings | None) -> CaseResult:
    """Everything of a case that no criteria decide: a CaseResult with no criteria or alerts."""
    return measure_conditioned(recording, case, condition_case(recording, case, settings))


@dataclasses.dataclass(frozen=True)
class Conditioned:
    """A case's sweeps as conditioning left them, with their automatic rejections.

    What the review edits (exclusions, landmarks, re-baselines, events) never change: a review
    conditions once and reruns :func:`measure_conditioned` from here.
    """

    sweeps: Sweeps
    phases: list
    sweep_phase: np.ndarray
    settings: Settings | None
    artefact: np.ndarray
    train: object
    artefact_notes: list
    mains: float | None
    data: np.ndarray
    mains_hz: float | None
    quiet: QuietFigures
    noise: np.ndarray
    rejected: np.ndarray
    reason: np.ndarray
    windows: np.ndarray
    noise_window: tuple
    noise_notes: list


def _resolved(recording, case, sweeps, settings):
    # The sidecar's [[rebaseline]] entries join its [processing] settings.
    sidecar = dataclasses.replace(case.processing, rebaselines=tuple(case.rebaselines))
    return resolve(settings or Settings(), sidecar, sweeps.times, sweeps.sfreq,
                   recording.path, case.source)


def condition_case(recording: Recording, case: Case, settings: Settings | None = None
                   ) -> Conditioned:
    """Prepare, condition and reject a case's sweeps (the costly part of an analysis)."""
    sweeps, phases, sweep_phase = prepare(recording, case)
    _check_sweeps(sweeps, recording.path)
    resolved = _resolved(recording, case, sweeps, settings)
    artefact, train, artefact_notes = plan_sweeps_artefact(sweeps, resolved.artefact_s)
    mains = next((m for m in (resolved.mains_hz, case.read_options.mains_hz,
                              recording.mains_hz) if m is not None), None)
    try:
        conditioned, mains_hz, quiet, noise, rejected, reason, windows, resolved, \
            noise_notes = _condition_and_reject(sweeps, resolved, artefact, mains)
    except InputError as err:
        raise InputError(err.reason, recording.path) from None
    return Conditioned(sweeps, phases, sweep_phase, settings, artefact, train, artefact_notes,
                       mains, conditioned, mains_hz, quiet, noise, rejected, reason, windows,
                       (resolved.noise_window_s, resolved.noise_window_source), noise_notes)


def measure_conditioned(recording: Recording, case: Case, stage: Conditioned,
                        measure_fn=measure) -> CaseResult:
    """The case's exclusions, landmarks, measures and baselines on conditioned sweeps.

    ``measure_fn``: :func:`iomon.processing.measures.measure` or a stand-in with its
    signature that returns the same (a review's cache of it).
    """
    sweeps = stage.sweeps
    window, source = stage.noise_window
    resolved = dataclasses.replace(_resolved(recording, case, sweeps, stage.settings),
                                   noise_window_s=window, noise_window_source=source)
    rejected, reason = apply_exclusions(case, sweeps, stage.rejected, stage.reason)
    baseline_start = find_baseline_start(recording.annotations)
    setup = setup_sweeps(sweeps.column("onset_s"), baseline_start)
    marks = marks_from_landmarks(case.landmarks, sweeps.ch_names, sweeps.n_sweeps,
                                 sweeps.times, case.source)
    measurements, baselines, windows = _measure_against_baseline(
        stage.data, sweeps, stage.sweep_phase, stage.windows, stage.noise, stage.quiet,
        ~rejected, resolved, baseline_start, stage.artefact[:, 1], marks, measure_fn)
    percent = percent_of_reference(measurements.amplitude, baselines)
    notes = ([Note("reading", n) for n in recording.notes]
             + [Note("case", n) for n in case.notes]
             + [Note("settings", n) for n in resolved.notes]
             + [Note("artefact", n) for n in stage.artefact_notes] + list(stage.noise_notes)
             + _mains_notes(stage.mains, stage.mains_hz)
             + [Note("onset", n) for n in onset_notes(
                 measurements.onset_early & ~rejected, sweeps.ch_names,
                 [ch.muscle for ch in sweeps.channels])])
    return CaseResult(
        case=case, recording=recording, sweeps=sweeps, phases=tuple(stage.phases),
        sweep_phase=stage.sweep_phase, setup=setup, criteria=None, settings=resolved,
        conditioned=stage.data, artefact_s=stage.artefact, train=stage.train,
        band_hz=resolved.band_hz, mains_hz=stage.mains_hz, windows=windows, rejected=rejected,
        reject_reason=reason, measurements=measurements, baselines=baselines, percent=percent,
        alerts=(), notes=tuple(notes))


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
    """Why sweeps cannot be measured, if they cannot: sampled too slowly."""
    sfreq, problems = sweeps.sfreq, []
    if sfreq < 0.999 * MIN_SFREQ_HZ:  # a nominal 1 kHz may be stored as 999.99995 Hz
        problems.append(f"sampled at {sfreq:g} Hz: too slow to measure motor evoked potentials "
                        f"(iomon needs at least {MIN_SFREQ_HZ:g} Hz)")
    return problems


def _check_sweeps(sweeps, path) -> None:
    """Refuse sweeps that cannot be measured (the first reason)."""
    problems = _sweep_problems(sweeps)
    if problems:
        raise InputError(problems[0], path)


def refusals(recording: Recording, case: Case, settings: Settings | None = None) -> list[str]:
    """What would stop :func:`analyze` on this recording and case, one line each (none: it runs).

    The checks an analysis makes before it measures: the sampling rate, the processing settings
    against the sweeps, room for the noise window (before the stimulus or after the responses).
    ``iomon info`` lists them as notes.
    """
    from .processing.conditioning import DEFAULT_ARTEFACT_S

    sweeps, _, _ = prepare(recording, case)
    problems = _sweep_problems(sweeps)
    try:
        resolved = resolve(settings or Settings(), case.processing, sweeps.times, sweeps.sfreq,
                           recording.path, case.source)
        if resolved.noise_window_s is None:  # to be measured after the responses: is there room?
            windows = response_windows([ch.muscle for ch in sweeps.channels], sweeps.times,
                                       DEFAULT_ARTEFACT_S[1])
            measurable = windows[:, 1] > windows[:, 0]
            noise_window(windows[measurable], sweeps.times,
                         [ch for ch, m in zip(sweeps.channels, measurable) if m])
    except InputError as err:
        problems.append(err.reason)
    return problems


#: The noise window after the responses starts this long after the latest response window
#: ends (s) and lasts at least this long (s).
NOISE_AFTER_RESPONSES_S = (0.002, 0.005)


def noise_window(windows, times, channels):
    """Where to measure the noise of sweeps that hold too little before the stimulus.

    Sweeps exported from the first pulse on have no pre-stimulus samples; the noise a response
    must stand out from is then measured at their end, after the latest response window of the
    channels whose muscle is known (unknown muscles' windows run to the sweep's end and are not
    waited for, with a note).

    Parameters
    ----------
    windows : array of float, shape (n_channels, 2)
        Response windows, s (:func:`iomon.processing.measures.response_windows`).
    times : array of float, shape (n_samples,)
    channels : sequence of Channel

    Returns
    -------
    window : (float, float)
        s.
    notes : list of Note

    Raises
    ------
    InputError
        No such span is long enough (the caller names the file).
    """
    from .model.muscles import MUSCLES

    gap, shortest = NOISE_AFTER_RESPONSES_S
    known = np.array([ch.muscle in MUSCLES for ch in channels])
    notes = []
    if known.any():
        start = float(windows[known, 1].max()) + gap
    else:
        start = float(times[-1] - 0.3 * (times[-1] - max(times[0], 0.0)))
        notes.append(Note("noise", "no channel names a muscle iomon knows: the noise was "
                          "measured over the sweeps' last 30 %, assumed to hold no response"))
    if times[-1] - start < shortest or ((times >= start).sum() < 5):
        raise InputError(
            f"the sweeps ({times[0] * 1e3:g} to {times[-1] * 1e3:g} ms) leave no span to measure "
            "the noise in: less than 2 ms before the stimulus and less than "
            f"{shortest * 1e3:g} ms after the latest response window ({(start - gap) * 1e3:g} "
            "ms); set [processing] noise_window_ms to a span without stimulus or response, or "
            "export longer sweeps")
    notes.append(Note("noise", f"the sweeps start {times[0] * 1e3:g} ms from the stimulus: the "
                      f"noise was measured after the responses, {start * 1e3:g} to "
                      f"{times[-1] * 1e3:g} ms"))
    return (start, float(times[-1])), notes


def plan_sweeps_artefact(sweeps: Sweeps, setting):
    """:func:`~iomon.processing.conditioning.plan_artefact` of a case's sweeps.

    The artefact's statistics come from at most ``ARTEFACT_SWEEPS`` spread over the case: only
    these are read for it (a long recording's from its file).
    """
    return plan_artefact(sweeps.rows(spread_sweeps(sweeps.n_sweeps, ARTEFACT_SWEEPS)),
                         sweeps.times, sweeps.sfreq, sweeps.channels, setting)


def _condition_and_reject(sweeps, resolved, artefact, mains):
    """Condition the sweeps and reject the unusable ones.

    Returns (conditioned, mains_hz, quiet, noise, rejected, reason, windows, resolved, notes)
    where the windows come from the muscles' expected latencies, not yet refined, and
    ``resolved`` holds the noise window used (placed after the responses, with ``notes``
    saying so, for sweeps that hold too little before the stimulus).
    """
    times = sweeps.times
    not_before = np.where(np.isfinite(artefact[:, 1]), artefact[:, 1], 0.0)
    windows = response_windows([ch.muscle for ch in sweeps.channels], times, not_before)
    windows, unmeasurable, notes = _measurable(windows, times, not_before, sweeps.channels)
    if resolved.noise_window_s is None:
        span, more = noise_window(windows[~unmeasurable], times,
                                   [ch for ch, u in zip(sweeps.channels, unmeasurable) if not u])
        resolved = dataclasses.replace(resolved, noise_window_s=span)
        notes += more
    # Hum is fitted where no channel can hold a response: before the train and after the
    # latest response window.
    blank = None if np.isnan(artefact).all() else np.nan_to_num(artefact, nan=0.0)
    conditioned, mains_hz, quiet, noise, sizes, faults = _condition_stream(
        sweeps, resolved.band_hz, blank, mains, windows[~unmeasurable, 1].max() + 0.002,
        resolved.noise_window_s, artefact, not_before)
    # Each channel's typical size: the median over sweeps of their size after the artefact.
    rejected, reason = reject_sweeps(None, noise, typical=np.median(sizes, axis=0),
                                     quiet=quiet, faults=faults)
    rejected[:, unmeasurable] = True
    reason = reason.astype(object)
    reason[:, unmeasurable] = "no response window"
    reason = reason.astype(str)
    return conditioned, mains_hz, quiet, noise, rejected, reason, windows, resolved, notes


#: The conditioned sweeps are held as float32 (7 significant digits, a 1e-7 relative step
#: far below any noise): an hour of 16 channels at 10 kHz is 126 MB, not 253.
CONDITIONED_DTYPE = np.float32


def _condition_stream(sweeps, band_hz, blank, mains, quiet_after_s, noise_window_s,
                      artefact, not_before):
    """Condition the sweeps a chunk at a time, as read, and judge what the raw ones show.

    Only the chunk's raw sweeps and noise windows are in memory at once (streamed sweeps are
    read from their file here), so what is held is the conditioned sweeps (float32; in a
    temporary file for streamed sweeps) and per-sweep figures.

    Returns
    -------
    conditioned : array of float32, shape (n_sweeps, n_channels, n_samples), or SpilledSweeps
    mains_hz : float or None
    quiet : QuietFigures
        What each sweep's filtered noise window tells (its robust SD, its TKEO threshold).
    noise : array of float, shape (n_sweeps, n_channels)
    sizes : array of float, shape (n_sweeps, n_channels)
        Peak-to-peak after the artefact (:func:`~iomon.processing.conditioning.sizes_after`).
    faults : array of str, shape (n_sweeps, n_channels)
        :func:`~iomon.processing.conditioning.raw_faults`.
    """
    times, sfreq = sweeps.times, sweeps.sfreq
    # Sweeps streamed from their file are long recordings: their conditioned sweeps go to a
    # temporary file too, so memory does not grow with the recording's length.
    conditioned = (SpilledSweeps(sweeps.shape, CONDITIONED_DTYPE) if sweeps.streamed
                   else np.empty(sweeps.shape, CONDITIONED_DTYPE))
    mains_hz, quiet, noise, sizes, faults = None, [], [], [], []
    for part in sweep_chunks(sweeps.shape):
        raw = sweeps.rows(part)
        clean, mains_hz, quiet_part, noise_part = condition(
            raw, times, sfreq, band_hz, blank, mains, quiet_after_s, noise_window_s)
        conditioned[part] = clean
        quiet.append(QuietFigures.of(quiet_part))  # the windows themselves are let go
        noise.append(noise_part)
        sizes.append(sizes_after(clean, times, not_before))
        faults.append(raw_faults(raw, sfreq, times, artefact))
    return (conditioned, mains_hz, QuietFigures.concatenate(quiet), np.concatenate(noise),
            np.concatenate(sizes), np.concatenate(faults))


def _measurable(windows, times, not_before, channels):
    """Response windows with something to measure; channels without one are left out.

    A channel whose whole response window the stimulus artefact covers (a long train) or the
    sweep does not reach cannot be measured: it is rejected with a note (and a window of its
    last sample kept for the arrays' sake), never called absent. When no channel can be
    measured, the case is refused.

    Returns
    -------
    windows : array of float, shape (n_channels, 2)
    unmeasurable : array of bool, shape (n_channels,)
    notes : list of Note
    """
    unmeasurable = windows[:, 1] <= windows[:, 0]
    notes = []
    for c in np.flatnonzero(unmeasurable):
        why = (f"the stimulus artefact (blanked to {not_before[c] * 1e3:.1f} ms) covers"
               if not_before[c] < times[-1] else f"the sweeps ({times[-1] * 1e3:.0f} ms) end "
               "before")
        notes.append(Note("unmeasured", f"{channels[c].name} was not measured: {why} its whole "
                          "response window", channel=channels[c].name))
    if unmeasurable.all():
        raise InputError("no channel can be measured: "
                         + "; ".join(n.words.split(": ", 1)[1] + f" ({n.channel})"
                                     for n in notes))
    windows = windows.copy()
    windows[unmeasurable] = times[-1]
    return windows, unmeasurable, notes


def _mains_notes(asked, removed) -> list[Note]:
    if asked is None:
        return [Note("mains", "mains hum was not removed: its frequency is unknown (no "
                              "continuous stretch to find it in); set [recording] mains_hz = 50 "
                              "or 60")]
    if asked and removed is None:
        return [Note("mains", "mains hum was not removed: the sweeps end less than "
                              f"{MIN_LATE_FIT_S * 1e3:.0f} ms after the response windows (or "
                              f"{MIN_BOTH_ENDS_S[1] * 1e3:g} ms, with "
                              f"{MIN_BOTH_ENDS_S[0] * 1e3:g} ms before the stimulus)")]
    return []


def _baseline_sum(conditioned, main) -> np.ndarray:
    """The sum over each channel's baseline sweeps (``main``, bool (n_sweeps, n_channels)).

    Over the rows that hold a baseline sweep only, in float64 a chunk at a time: the whole
    conditioned array is never copied.
    """
    total = np.zeros(conditioned.shape[1:])
    rows = np.flatnonzero(main.any(axis=1))
    for part in sweep_chunks((rows.size,) + conditioned.shape[1:]):
        chosen = rows[part]
        total += np.einsum("sc,sct->ct", main[chosen].astype(float),
                           np.asarray(conditioned[chosen], float))
    return total


def _measure_against_baseline(conditioned, sweeps, phases, windows, noise, quiet, valid,
                              resolved, baseline_start, not_before, marks=(), measure_fn=measure):
    """Measures in windows refined from the baseline average, and the baselines.

    Which sweeps form each baseline is chosen first, from validity, phase, montage and
    intensity (:func:`baseline_sweeps`); the average of the main baseline's sweeps narrows each
    channel's expected-latency window to where its response really is; every sweep is then
    measured once, in those windows, and the baselines' values computed from the measures.
    """
    times, sfreq = sweeps.times, sweeps.sfreq
    choice = baseline_sweeps(valid, sweeps.column("onset_s"), phases, sweeps.column("montage"),
                             sweeps.column("stim_intensity"), baseline_start,
                             resolved.baseline_sweeps, resolved.rebaselines)
    counts = choice.main.sum(axis=0)
    average = _baseline_sum(conditioned, choice.main) / np.maximum(counts, 1)[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a channel without any noise figure
        noise_sd = np.nanmedian(np.where(valid, noise, np.nan), axis=0)
    windows = refine_windows(average, times, sfreq, windows, noise_sd, counts)
    measurements = measure_fn(conditioned, times, sfreq, windows, noise, noise_sd=noise_sd,
                              quiet=quiet, onset_method=resolved.onset_method,
                              not_before=not_before,
                              muscles=[ch.muscle for ch in sweeps.channels],
                              presence_v=resolved.presence_v,
                              presence_ratio=resolved.presence_noise_ratio)
    # Onsets and peaks a reviewer placed by hand replace the detected ones (one place).
    measurements = apply_landmarks(measurements, conditioned, times, sfreq, windows, noise_sd,
                                   marks)
    compared = {name: getattr(measurements, name) for name in compared_measures()}
    return measurements, baseline_values(choice, compared, measurements.present), windows
