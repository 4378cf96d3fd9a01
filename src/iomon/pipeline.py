"""The one composition point: recording + case + criteria -> CaseResult.

read -> Sweeps -> condition -> measure -> baseline -> alerts; the report and the output files
are made from the CaseResult by :mod:`iomon.outputs`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .alerts import Alert, detect_alerts, unexplained_drops
from .annotations import (
    Phase,
    assign_phases,
    complete_phases,
    find_baseline_start,
    phases_from_annotations,
)
from .baseline import (
    Baseline,
    BaselineSet,
    baseline_epochs,
    build_baselines,
    percent_of_reference,
)
from .case import Case, read_case, resolve_channels, sidecar_path
from .conditioning import (
    MIN_LATE_FIT_S,
    Train,
    artefact_windows,
    condition,
    reject_sweeps,
    typical_size,
)
from .criteria import Criteria, load_criteria
from .errors import InputError
from .io import Recording
from .measures import Measurements, measure, refine_windows, response_windows
from .muscles import MUSCLES, looks_like_emg
from .settings import Resolved, Settings, resolve
from .sweeps import Sweeps
from .threshold import intensity_varies, reference_sweeps, track_thresholds

__all__ = ["CaseResult", "Settings", "analyze", "analyze_file", "load_case", "prepare"]

#: Columns of measurements.csv, in order (DESIGN.md section 4, then iomon's additions).
MEASUREMENT_COLUMNS = (
    "sweep", "time_s", "phase", "channel", "amplitude_uv", "onset_latency_ms",
    "peak_latency_ms", "area_uv_ms", "duration_ms", "n_phases", "percent_of_baseline",
    "present", "rejected", "stim_intensity", "stim_unit", "reject_reason", "noise_uv",
    "onset_latency_tkeo_ms", "n_turns", "snr_db", "baseline_id", "baseline_sweep", "setup",
)

#: Below this sampling rate (Hz) a recording is refused: MEP phases last 1-5 ms.
MIN_SFREQ_HZ = 1000.0


@dataclass
class CaseResult:
    """Everything the analysis of one case produced.

    Arrays are (n_sweeps, n_channels) unless stated; see the attributes' types.
    ``artefact_s`` is the blanked span per channel, shape (n_channels, 2), NaN where nothing
    was blanked; ``setup`` marks the sweeps before the ``Baseline`` marker (shape (n_sweeps,)).
    """

    case: Case
    recording: Recording
    sweeps: Sweeps
    phases: list[Phase]
    criteria: Criteria
    settings: Resolved
    conditioned: np.ndarray = field(repr=False)
    artefact_s: np.ndarray
    train: Train | None
    band_hz: tuple[float, float] | None
    mains_hz: float | None
    windows: np.ndarray
    rejected: np.ndarray
    reject_reason: np.ndarray
    measurements: Measurements
    baseline: Baseline
    baselines: BaselineSet
    percent: np.ndarray
    alerts: list[Alert]
    input_sha256: str
    setup: np.ndarray
    notes: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ tables for outputs
    def measurement_table(self):
        """One row per sweep x channel, the columns of :data:`MEASUREMENT_COLUMNS`."""
        import pandas as pd

        n_sweeps, n_channels = self.percent.shape
        table = self.sweeps.table
        m = self.measurements
        sweep = np.repeat(np.arange(n_sweeps), n_channels)

        def flat(values, scale=1.0, digits=3):
            return np.round(np.asarray(values, float).ravel() * scale, digits)

        frame = pd.DataFrame({
            "sweep": sweep,
            "time_s": np.round(table["onset_s"].to_numpy()[sweep], 4),
            "phase": table["phase"].to_numpy()[sweep],
            "channel": np.tile(self.sweeps.ch_names, n_sweeps),
            "amplitude_uv": flat(np.where(self.rejected, np.nan, m.amplitude), 1e6, 2),
            "onset_latency_ms": flat(np.where(self.rejected, np.nan, m.onset_latency), 1e3),
            "peak_latency_ms": flat(np.where(self.rejected, np.nan, m.peak_latency), 1e3),
            "area_uv_ms": flat(np.where(self.rejected, np.nan, m.area), 1e9),
            "duration_ms": flat(np.where(self.rejected, np.nan, m.duration), 1e3),
            "n_phases": np.where(self.rejected, 0, m.n_phases).ravel(),
            "percent_of_baseline": flat(np.where(self.rejected, np.nan, self.percent), 1.0, 1),
            "present": (m.present & ~self.rejected).ravel(),
            "rejected": self.rejected.ravel(),
            "stim_intensity": table["stim_intensity"].to_numpy()[sweep],
            "stim_unit": table["stim_unit"].to_numpy()[sweep],
            "reject_reason": self.reject_reason.ravel(),
            "noise_uv": flat(m.noise, 1e6, 2),
            "onset_latency_tkeo_ms": flat(np.where(self.rejected, np.nan,
                                                   m.onset_latency_tkeo), 1e3),
            "n_turns": np.where(self.rejected, 0, m.n_turns).ravel(),
            "snr_db": flat(np.where(self.rejected | ~np.isfinite(m.snr_db), np.nan, m.snr_db),
                           1.0, 1),
            "baseline_id": np.repeat(self.baselines.assignment, n_channels),
            "baseline_sweep": np.any([e.baseline.sweeps for e in self.baselines.entries],
                                     axis=0).ravel(),
            "setup": np.repeat(self.setup, n_channels),
        })
        return frame[list(MEASUREMENT_COLUMNS)]

    def final_percent(self) -> np.ndarray:
        """Per channel: % of baseline of the median of the last 3 valid sweeps (NaN if none)."""
        out = np.full(self.percent.shape[1], np.nan)
        for c in range(out.size):
            values = self.percent[~self.rejected[:, c], c]
            values = values[np.isfinite(values)]
            if values.size:
                out[c] = float(np.median(values[-3:]))
        return out

    def summary(self) -> dict:
        """The content of summary.json."""
        final = self.final_percent()
        b = self.baseline

        def num(value, scale=1.0, digits=2):
            return None if not np.isfinite(value) else round(float(value) * scale, digits)

        return {
            "case_id": self.case.id,
            "iomon_version": __version__,
            "input": self.recording.path.name,
            "input_sha256": self.input_sha256,
            "format": self.recording.format,
            "reader": self.recording.reader,
            "criteria": self.criteria.name,
            "criteria_detail": self.criteria.as_dict(),
            "settings": self.settings_record(),
            "side": self.case.side,
            "levels": list(self.case.levels),
            "n_sweeps": self.sweeps.n_sweeps,
            "n_setup_sweeps": int(self.setup.sum()),
            "n_rejected": int(self.rejected.all(axis=1).sum()),
            "n_rejected_channel_sweeps": int(self.rejected.sum()),
            "phases": [{"name": p.name, "start_s": round(p.start_s, 3),
                        "end_s": round(p.end_s, 3),
                        "n_sweeps": int((self.sweeps.table["phase"] == p.name).sum())}
                       for p in self.phases],
            "channels": [
                {"name": ch.name, "muscle": ch.muscle, "side": ch.side, "limb": ch.limb,
                 "role": ch.role, "baseline_present": bool(b.present[c]),
                 "baseline_amplitude_uv": num(b.amplitude[c], 1e6) if b.present[c] else None,
                 "baseline_latency_ms": num(b.onset_latency[c], 1e3),
                 "baseline_n_sweeps": int(b.sweeps[:, c].sum()),
                 "final_percent_of_baseline": num(final[c], 1.0, 1),
                 "response_window_ms": [round(v * 1e3, 2) for v in self.windows[c]],
                 "artefact_blanked_ms": _ms_span(self.artefact_s[c])}
                for c, ch in enumerate(self.sweeps.channels)
            ],
            "baselines": [
                {"id": k, "start_s": round(e.start_s, 3), "reason": e.reason,
                 "montage": e.montage,
                 "intensity": None if np.isnan(e.intensity) else e.intensity,
                 "n_sweeps_compared": int((self.baselines.assignment == k).sum()),
                 "channels": {ch.name: {"present": bool(e.baseline.present[c]),
                                        "amplitude_uv": num(e.baseline.amplitude[c], 1e6),
                                        "n_sweeps": int(e.baseline.sweeps[:, c].sum())}
                              for c, ch in enumerate(self.sweeps.channels)}}
                for k, e in enumerate(self.baselines.entries)
            ],
            "n_alerts": len(self.alerts),
            "notes": list(self.notes),
        }

    def settings_record(self) -> dict:
        """Every processing value the analysis used (summary.json ``settings``)."""
        r = self.settings
        train = self.train
        blanked = self.artefact_s[np.isfinite(self.artefact_s[:, 0])]
        return {
            "band_hz": None if self.band_hz is None else [round(v, 1) for v in self.band_hz],
            "artefact": ("none" if r.artefact_s == "none" else "set" if r.artefact_s
                         else "found in the data" if train is not None
                         else "no artefact visible: default span"),
            "artefact_blanked_ms": (None if blanked.size == 0 else
                                    [round(float(blanked[:, 0].min()) * 1e3, 2),
                                     round(float(blanked[:, 1].max()) * 1e3, 2)]),
            "stimulus_pulses": None if train is None else train.n_pulses,
            "stimulus_isi_ms": (None if train is None or train.isi_s is None
                                else round(train.isi_s * 1e3, 2)),
            "noise_window_ms": [round(v * 1e3, 2) for v in r.noise_window_s],
            "presence_uv": round(r.presence_v * 1e6, 3),
            "presence_noise_ratio": r.presence_noise_ratio,
            "baseline_sweeps": r.baseline_sweeps,
            "mains_removed_hz": self.mains_hz,
            "sfreq_hz": self.sweeps.sfreq,
            "sweep_window_ms": [round(self.sweeps.times[0] * 1e3, 2),
                                round(self.sweeps.times[-1] * 1e3, 2)],
        }

    def alerts_document(self) -> dict:
        """The content of alerts.json."""
        return {"case_id": self.case.id, "criteria": self.criteria.name,
                "iomon_version": __version__, "alerts": [a.as_dict() for a in self.alerts]}


def _ms_span(span):
    """A span in s as [start, end] in ms, None when not finite."""
    if not np.all(np.isfinite(span)):
        return None
    return [round(float(v) * 1e3, 2) for v in span]


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_case(recording_path: str | Path, case_path: str | Path | None = None) -> Case:
    """The case sidecar of a recording.

    The one named, else ``<stem>.case.toml`` beside the recording, else an empty case named
    after the recording.
    """
    recording_path = Path(recording_path)
    stem = recording_path.stem
    if case_path is not None:
        return read_case(case_path, default_id=stem)
    automatic = sidecar_path(recording_path)
    if automatic.is_file():
        return read_case(automatic, default_id=stem)
    return Case(stem)


def prepare(recording: Recording, case: Case) -> tuple[Sweeps, list[Phase]]:
    """Apply the case to the recording's sweeps: channel facts and roles, and phases."""
    sweeps = recording.sweeps
    channels = resolve_channels(sweeps.ch_names, case)
    if case.phases:
        phases = complete_phases(list(case.phases), recording.duration_s)
    else:
        phases = phases_from_annotations(recording.annotations, recording.duration_s)
    sweeps = sweeps.with_channels(channels)
    sweeps.table["phase"] = assign_phases(sweeps.table["onset_s"], phases)
    return sweeps, phases


def analyze_file(path: str | Path, case_path: str | Path | None = None,
                 criteria: Criteria | str | None = None, settings: Settings | None = None
                 ) -> CaseResult:
    """Read a recording with its case sidecar (and the sidecar's reading options) and analyse it.

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
    return analyze(read(path, case.read_options), case, criteria, settings)


def scope_notes(channels, baseline_present) -> list[str]:
    """What the report must say when no control channel can decide focal against systemic."""
    responding = [ch for ch, present in zip(channels, baseline_present) if present]
    if any(ch.role == "control" for ch in responding):
        return []
    if len(responding) > 1:
        return ["no control channel responds at baseline (roles come from the sidecar's "
                "[case] side or a channel's role): each channel was judged against the median "
                "of all the others"]
    if responding:
        return ["only one channel responds at baseline: with nothing to compare it with, a "
                "drop cannot be told focal or systemic; its alerts are reported with scope "
                "undetermined"]
    return []


def setup_sweeps(onsets_s, baseline_start_s) -> np.ndarray:
    """Sweeps before the ``Baseline`` marker: the team setting up, not monitoring yet."""
    onsets_s = np.asarray(onsets_s, float)
    if baseline_start_s is None:
        return np.zeros(onsets_s.size, bool)
    return onsets_s < baseline_start_s


def artefact_deciders(channels) -> np.ndarray:
    """Channels whose stimulus artefact decides the blanked span: EMG channels.

    Channels of a known muscle; without any, every channel whose label does not name another
    signal (respiration, pressure, ECG, trigger...); without any such, all.
    """
    emg = [looks_like_emg(ch.name, ch.muscle) for ch in channels]
    known = np.array([e is True for e in emg])
    if known.any():
        return known
    unknown = np.array([e is None for e in emg])
    return unknown if unknown.any() else np.ones(len(channels), bool)


def plan_artefact(data, times, sfreq, channels, setting):
    """The span to blank per channel, the train found, and notes on responses it may hide.

    Parameters
    ----------
    data : array of float, shape (n_sweeps, n_channels, n_samples)
    times : array of float, shape (n_samples,)
    sfreq : float
    channels : sequence of Channel
    setting : tuple of float, "none" or None
        The resolved ``artefact_s`` setting (None: find it in the data).

    Returns
    -------
    windows : array of float, shape (n_channels, 2)
        NaN where nothing is blanked.
    train : Train or None
    notes : list of str
    """
    n = len(channels)
    if setting == "none":
        return np.full((n, 2), np.nan), None, []
    if setting is not None:
        return np.tile(np.asarray(setting, float), (n, 1)), None, []
    windows, train = artefact_windows(data, times, sfreq, artefact_deciders(channels))
    notes = []
    for ch, (_, end) in zip(channels, windows):
        if ch.muscle in MUSCLES and end > MUSCLES[ch.muscle].onset_s[0]:
            notes.append(f"the stimulus artefact was blanked to {end * 1e3:.1f} ms on {ch.name}, "
                         f"into its expected response (from {MUSCLES[ch.muscle].onset_s[0] * 1e3:g}"
                         " ms): an early response there is hidden (set [processing] artefact_ms "
                         "to change the span)")
    return windows, train, notes


def _condition_and_measure(sweeps, resolved, artefact, mains):
    """Condition the sweeps, reject the unusable ones and measure in refined windows.

    Returns (conditioned, mains_hz, noise, rejected, reason, windows, first measurements,
    quiet) where the windows come from the muscles' expected latencies, not yet refined.
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


def _check_sweeps(sweeps, path) -> None:
    """Refuse sweeps that cannot be measured: too slow, or too little before the stimulus."""
    times, sfreq = sweeps.times, sweeps.sfreq
    if sfreq < 0.999 * MIN_SFREQ_HZ:  # a nominal 1 kHz may be stored as 999.99995 Hz
        raise InputError(f"sampled at {sfreq:g} Hz: too slow to measure motor evoked potentials "
                         f"(iomon needs at least {MIN_SFREQ_HZ:g} Hz)", path)
    if (times < -0.002).sum() < 5:
        raise InputError(f"the sweeps start at {times[0] * 1e3:.1f} ms: at least 2 ms before the "
                         "stimulus are needed to measure the noise a response must stand out "
                         "from (for episodic files, set [recording] stimulus_s)", path)


def follow_thresholds(table, present, valid, baselines, rebaselines):
    """Threshold brackets for the threshold criterion, and a note for the report.

    The criterion is in volts: it needs intensities, in volts, that vary (a threshold shows
    only where some sweeps fail and others respond). Returns ``(thresholds, note)``:
    thresholds is None when the criterion cannot run, note None when there is nothing to say.
    """
    intensity = table["stim_intensity"].to_numpy(dtype=float)
    known = np.isfinite(intensity)
    units = set(table["stim_unit"].to_numpy().astype(str)[known])
    skipped = "the threshold-elevation criterion was not applied"
    if not known.any():
        return None, f"{skipped}: the recording gives no stimulus intensities"
    if units - {"V", ""}:
        return None, (f"{skipped}: the stimulus intensities are in "
                      f"{', '.join(sorted(units))}, the criterion is in volts")
    if not intensity_varies(intensity):
        return None, (f"{skipped}: the stimulus intensity never changed, so no threshold "
                      "can be told")
    note = ("the stimulus intensities give no unit: the threshold criterion took them as "
            "volts") if "" in units else None
    onsets = table["onset_s"].to_numpy(dtype=float)
    epoch = baseline_epochs(onsets, rebaselines)
    chosen = np.any([e.baseline.sweeps.any(axis=1) for e in baselines.entries], axis=0)
    groups = np.array([f"{m}|{k}" for m, k in zip(table["montage"].to_numpy(), epoch)])
    return track_thresholds(intensity, present, valid, groups,
                            reference_sweeps(epoch, chosen)), note


def analyze(recording: Recording, case: Case | None = None,
            criteria: Criteria | str | None = None, settings: Settings | None = None
            ) -> CaseResult:
    """Analyse one case.

    Parameters
    ----------
    recording : Recording
        From :func:`iomon.io.read`.
    case : Case, optional
        From :func:`load_case`; by default the sidecar beside the recording, if any.
    criteria : Criteria or str, optional
        A preset name, a TOML file or a Criteria; default ``drez``.
    settings : Settings
        Processing settings; unset values come from the sidecar's ``[processing]``, then the
        defaults.

    Returns
    -------
    CaseResult
    """
    if case is None:
        case = load_case(recording.path)
    settings = settings or Settings()
    if not isinstance(criteria, Criteria):
        criteria = load_criteria(criteria)
    sweeps, phases = prepare(recording, case)
    _check_sweeps(sweeps, recording.path)
    # The sidecar's [[rebaseline]] entries join its [processing] settings.
    sidecar = dataclasses.replace(case.processing, rebaselines=tuple(case.rebaselines))
    resolved = resolve(settings, sidecar, sweeps.times, sweeps.sfreq, recording.path,
                       case.source)
    notes = list(recording.notes) + list(resolved.notes)
    artefact, train, artefact_notes = plan_artefact(sweeps.data, sweeps.times, sweeps.sfreq,
                                                    sweeps.channels, resolved.artefact_s)
    notes += artefact_notes
    mains = next((m for m in (resolved.mains_hz, case.read_options.mains_hz,
                              recording.mains_hz) if m is not None), None)
    try:
        conditioned, mains_hz, quiet, noise, rejected, reason, windows = \
            _condition_and_measure(sweeps, resolved, artefact, mains)
    except InputError as err:
        raise InputError(err.reason, recording.path) from None
    notes += _mains_notes(mains, mains_hz)
    table = sweeps.table
    baseline_start = find_baseline_start(recording.annotations)
    setup = setup_sweeps(table["onset_s"].to_numpy(), baseline_start)
    measurements, baselines, windows = _measure_against_baseline(
        conditioned, sweeps, windows, noise, quiet, ~rejected, resolved, baseline_start)
    percent = percent_of_reference(measurements.amplitude, baselines)
    alerts, alert_notes = _alerts(sweeps, measurements, baselines, percent, ~rejected, setup,
                                  criteria, resolved.rebaselines)
    table["rejected"] = rejected.all(axis=1)
    return CaseResult(
        case=case, recording=recording, sweeps=sweeps, phases=phases, criteria=criteria,
        settings=resolved, conditioned=conditioned, artefact_s=artefact, train=train,
        band_hz=resolved.band_hz, mains_hz=mains_hz, windows=windows,
        rejected=rejected, reject_reason=reason, measurements=measurements,
        baseline=baselines.main, baselines=baselines, percent=percent, alerts=alerts,
        input_sha256=file_sha256(recording.path), setup=setup, notes=notes + alert_notes,
    )


def _mains_notes(asked, removed) -> list[str]:
    if asked is None:
        return ["mains hum was not removed: its frequency is unknown (no continuous stretch "
                "to find it in); set [recording] mains_hz = 50 or 60"]
    if asked and removed is None:
        return ["mains hum was not removed: the sweeps end less than "
                f"{MIN_LATE_FIT_S * 1e3:.0f} ms after the response windows"]
    return []


def _measure_against_baseline(conditioned, sweeps, windows, noise, quiet, valid, resolved,
                              baseline_start):
    """Measures in windows refined from the baseline average, and the baselines.

    Two passes: the expected-latency windows find the baseline responses; their average then
    narrows each channel's window to where its response really is.
    """
    times, sfreq, table = sweeps.times, sweeps.sfreq, sweeps.table
    presence = {"presence_v": resolved.presence_v,
                "presence_ratio": resolved.presence_noise_ratio}

    def baselines_for(m):
        return build_baselines(
            m.amplitude, m.onset_latency, m.present, valid, table["onset_s"].to_numpy(),
            table["phase"].to_numpy(), table["montage"].to_numpy(),
            table["stim_intensity"].to_numpy(), baseline_start, resolved.baseline_sweeps,
            resolved.rebaselines, m.n_phases)

    first = measure(conditioned, times, sfreq, windows, noise, quiet=quiet, **presence)
    main = baselines_for(first).main
    counts = main.sweeps.sum(axis=0)
    average = np.einsum("sc,sct->ct", main.sweeps.astype(float), conditioned) / np.maximum(
        counts, 1)[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a channel without any noise figure
        noise_sd = np.nanmedian(np.where(valid, noise, np.nan), axis=0)
    windows = refine_windows(average, times, sfreq, windows, noise_sd, counts)
    measurements = measure(conditioned, times, sfreq, windows, noise, noise_sd=noise_sd,
                           quiet=quiet, **presence)
    return measurements, baselines_for(measurements), windows


def _alerts(sweeps, measurements, baselines, percent, valid, setup, criteria, rebaselines):
    """The alerts of a case and the notes they need (thresholds, scope, unalerted drops)."""
    table = sweeps.table
    notes = []
    thresholds = None
    if criteria.threshold_rise_v is not None:
        thresholds, note = follow_thresholds(table, measurements.present, valid, baselines,
                                             rebaselines)
        notes += [note] if note else []
    onsets, phases = table["onset_s"].to_numpy(), table["phase"].to_numpy()
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
