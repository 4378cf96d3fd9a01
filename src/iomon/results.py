"""The result of analysing one case, with every finding the outputs state.

:class:`CaseResult` is frozen: what :func:`iomon.pipeline.analyze` decided, per sweep and
channel, and what the criteria found (alerts with where each change began, the thresholds
followed, the declines that raised no alert, notes with their codes), with the tables and
documents the output files hold (``measurements.csv``: :meth:`CaseResult.measurement_columns`,
a DataFrame of them :meth:`CaseResult.measurement_table`; ``summary.json``:
:meth:`CaseResult.summary`; ``alerts.json``:
:meth:`CaseResult.alerts_document`), each column and key documented once in
:mod:`iomon.schema`. The outputs and both report renderers draw on the documents built once
by :meth:`CaseResult.documents`; the report computes no finding of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import __version__
from .alerting.alerts import Alert, UnexplainedDrop
from .alerting.criteria import Criteria
from .alerting.events import Event, events_of
from .alerting.threshold import Thresholds
from .case.sidecar import SIMULATOR, Case, Simulation
from .io import Recording
from .model.annotations import Marker, Phase, assign_levels, numbered_markers
from .model.notes import Note
from .model.spill import SpilledSweeps
from .model.sweeps import Sweeps
from .processing.baseline import Baseline, BaselineSet
from .processing.conditioning import Train
from .processing.measures import Measurements
from .processing.settings import Resolved
from .schema import ALERT, MEASUREMENTS

__all__ = ["ALERT_COLUMNS", "MEASUREMENT_COLUMNS", "CaseDocuments", "CaseResult"]


#: Columns of measurements.csv, in order (DESIGN.md section 4, then iomon's additions); their
#: meaning and unit: :data:`iomon.schema.MEASUREMENTS`.
MEASUREMENT_COLUMNS = tuple(f.name for f in MEASUREMENTS)
#: Keys of an alert in alerts.json, the columns of :meth:`CaseResult.alerts_table`
#: (:data:`iomon.schema.ALERT`).
ALERT_COLUMNS = tuple(f.name for f in ALERT)

@dataclass(frozen=True)
class CaseDocuments:
    """The documents of one case, built once: what the output files and the report hold.

    Attributes
    ----------
    summary : dict
        The content of summary.json.
    alerts : dict
        The content of alerts.json.
    measurements : dict of str to array
        The columns of measurements.csv (:meth:`CaseResult.measurement_columns`).
    """

    summary: dict
    alerts: dict
    measurements: object


@dataclass(frozen=True, repr=False)
class CaseResult:
    """Everything the analysis of one case produced.

    Attributes
    ----------
    case : Case
    recording : Recording
    sweeps : Sweeps
        The recording's sweeps with the channel facts decided.
    phases : tuple of Phase
    sweep_phase : array of str, shape (n_sweeps,)
        The phase of each sweep.
    setup : array of bool, shape (n_sweeps,)
        Sweeps before the ``Baseline`` marker: measured, never alerted.
    criteria : Criteria
    settings : Resolved
        Every processing setting used.
    conditioned : array of float32, shape (n_sweeps, n_channels, n_samples), or SpilledSweeps
        The conditioned sweeps, V; a long recording's in a temporary file, indexed alike.
    artefact_s : array of float, shape (n_channels, 2)
        The blanked span per channel, s; NaN where nothing was blanked.
    train : Train or None
        The stimulus train found in the data.
    band_hz : tuple of float or None
        The band-pass used (None: none).
    mains_hz : float or None
        The mains frequency removed.
    windows : array of float, shape (n_channels, 2)
        Response window per channel, s.
    rejected : array of bool, shape (n_sweeps, n_channels)
    reject_reason : array of str, shape (n_sweeps, n_channels)
    measurements : Measurements
    baselines : BaselineSet
    percent : array of float, shape (n_sweeps, n_channels)
        Amplitude as % of each sweep's baseline.
    alerts : tuple of Alert
        In onset order, each with where its change began (``first_met_sweep``).
    notes : tuple of Note
        What the analysis has to say beside its numbers, each with a code
        (:data:`iomon.model.notes.NOTE_CODES`) and its words.
    input_sha256 : str or None
        Checksum of the input file (set by :func:`iomon.pipeline.analyze_file`).
    thresholds : Thresholds or None
        The stimulation thresholds the threshold criterion followed (brackets per sweep and
        channel, V) and what they say of each threshold alert (:meth:`Thresholds.rise_of`);
        None when the criterion did not run.
    declines : tuple of UnexplainedDrop
        Drops below the criterion on a channel's own baseline that raised no alert, each with
        why.
    """

    case: Case
    recording: Recording
    sweeps: Sweeps
    phases: tuple[Phase, ...]
    sweep_phase: np.ndarray
    setup: np.ndarray
    criteria: Criteria
    settings: Resolved
    conditioned: np.ndarray | SpilledSweeps = field(repr=False)
    artefact_s: np.ndarray
    train: Train | None
    band_hz: tuple[float, float] | None
    mains_hz: float | None
    windows: np.ndarray
    rejected: np.ndarray
    reject_reason: np.ndarray
    measurements: Measurements
    baselines: BaselineSet
    percent: np.ndarray
    alerts: tuple[Alert, ...]
    notes: tuple[Note, ...] = ()
    input_sha256: str | None = None
    thresholds: Thresholds | None = field(default=None, repr=False)
    declines: tuple[UnexplainedDrop, ...] = ()

    def __post_init__(self):
        names = ("artefact_s", "windows", "rejected", "reject_reason", "percent",
                 "sweep_phase", "setup")
        # Spilled conditioned sweeps (a long recording's) stay in their file.
        if not isinstance(self.conditioned, SpilledSweeps):
            names = ("conditioned",) + names
        for name in names:
            value = np.asarray(getattr(self, name))
            value.flags.writeable = False
            object.__setattr__(self, name, value)
        object.__setattr__(self, "alerts", tuple(self.alerts))
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "declines", tuple(self.declines))
        object.__setattr__(self, "phases", tuple(self.phases))

    def __repr__(self) -> str:
        """One line: the case, its input, its size, the criteria and what they found."""
        scopes = {}
        for alert in self.alerts:
            scopes[alert.scope] = scopes.get(alert.scope, 0) + 1
        found = ", ".join(f"{n} {scope}" for scope, n in scopes.items())
        criteria = None if self.criteria is None else self.criteria.name
        return (f"<CaseResult {self.case.id!r}: {self.recording.path.name} "
                f"({self.recording.format}), {self.sweeps.n_sweeps} sweeps x "
                f"{self.sweeps.n_channels} channels at {self.sweeps.sfreq:g} Hz; criteria "
                f"{criteria!r}: {len(self.alerts)} alert(s){f' ({found})' if found else ''}, "
                f"{len(self.declines)} decline(s) without an alert, {len(self.notes)} note(s)>")

    def alerts_table(self):
        """The alerts as a pandas DataFrame, one row per alert in onset order.

        Columns: :data:`ALERT_COLUMNS`, the keys of alerts.json, with their meaning and unit in
        :data:`iomon.schema.ALERT` (``channel``, ``criterion``, ``scope``, ``phase``,
        ``onset_sweep``, ``onset_s``, ``recovered``, ``recovery_sweep``, ``recovery_s``,
        ``nadir_percent``, ``controls_percent``, ``informational``, ``threshold_rise_v``,
        ``first_met_sweep``, ``first_met_s``); None where a value is unknown.
        """
        import pandas as pd

        return pd.DataFrame([a.as_dict() for a in self.alerts], columns=list(ALERT_COLUMNS))

    @property
    def simulation(self) -> Simulation | None:
        """What makes the case synthetic, or None for a real recording.

        The sidecar's ``[simulation]`` (with the time compression), else the recording's own
        header when it names the simulator as its equipment (``iomon.simulate``; the time
        compression is then unknown).
        """
        if self.case.simulation is not None:
            return self.case.simulation
        if SIMULATOR in (self.recording.recording_id or "").split():
            return Simulation(source="header")
        return None

    @property
    def events(self) -> list[Event]:
        """The events the alerts tell of, in the order they began.

        One change counted once, as every output counts it (:mod:`iomon.alerting.events`).
        """
        return events_of(self.alerts)

    @property
    def markers(self) -> tuple[Marker, ...]:
        """The recording's markers and the sidecar's theatre events, numbered in time order.

        As the report's table and figures number them (:func:`iomon.model.annotations.
        numbered_markers`): stimuli left out, each typed where its text or the sidecar says.
        """
        return numbered_markers(self.recording.annotations, self.case.events)

    @property
    def sweep_level(self) -> np.ndarray:
        """The root level being lesioned at each sweep (``""`` where none), shape (n_sweeps,)."""
        return assign_levels(self.sweeps.column("onset_s"), self.phases)

    @property
    def baseline(self) -> Baseline:
        """The case's main baseline (first epoch, most used montage and intensity)."""
        return self.baselines.main

    def sweep_table(self):
        """The sweep table with what the analysis decided per sweep.

        The reader's columns, then ``phase``, ``setup`` and ``rejected`` (on every channel).
        """
        table = self.sweeps.table
        table["phase"] = self.sweep_phase
        table["setup"] = self.setup
        table["rejected"] = self.rejected.all(axis=1)
        return table

    def documents(self) -> CaseDocuments:
        """summary.json, alerts.json and measurements.csv's rows, built once."""
        return CaseDocuments(self.summary(), self.alerts_document(),
                             self.measurement_columns())

    # ------------------------------------------------------------------ tables for outputs
    def measurement_table(self):
        """One row per sweep x channel, the columns of :data:`MEASUREMENT_COLUMNS`.

        A pandas DataFrame of :meth:`measurement_columns`.
        """
        import pandas as pd

        return pd.DataFrame(self.measurement_columns())

    def measurement_columns(self) -> dict:
        """measurements.csv's columns (:data:`MEASUREMENT_COLUMNS`, in order) as arrays.

        One row per sweep x channel; a number that is not finite is NaN (written empty, as a
        missing one, never "inf").
        """
        n_sweeps, n_channels = self.percent.shape
        sweeps = self.sweeps
        m = self.measurements
        sweep = np.repeat(np.arange(n_sweeps), n_channels)

        def flat(values, scale=1.0, digits=3):
            return np.round(np.asarray(values, float).ravel() * scale, digits)

        # Text as object arrays of str, as a DataFrame's text columns give them.
        phase = np.empty(n_sweeps, object)
        phase[:] = [str(p) for p in self.sweep_phase]
        columns = {
            "sweep": sweep,
            "time_s": np.round(sweeps.column("onset_s")[sweep], 4),
            "phase": phase[sweep],
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
            "stim_intensity": sweeps.column("stim_intensity")[sweep],
            "stim_unit": sweeps.column("stim_unit")[sweep],
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
        }
        for name, values in columns.items():
            if values.dtype.kind == "f":
                columns[name] = np.where(np.isfinite(values), values, np.nan)
        return {name: columns[name] for name in MEASUREMENT_COLUMNS}

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
        levels = self.sweep_level
        b = self.baseline

        def num(value, scale=1.0, digits=2):
            return None if not np.isfinite(value) else round(float(value) * scale, digits)

        return _finite_or_null({
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
            "procedure": self.case.procedure,
            "recording_start_time": (None if self.recording.start is None
                                     else self.recording.start.strftime("%H:%M:%S")),
            "clinical": dict(self.case.clinical),
            "simulation": (None if self.simulation is None else {
                "time_compression": self.simulation.time_compression,
                "scenario": self.simulation.scenario, "seed": self.simulation.seed,
                "source": self.simulation.source}),
            "review_edits": self.review_edits_record(),
            "n_sweeps": self.sweeps.n_sweeps,
            "n_setup_sweeps": int(self.setup.sum()),
            "n_rejected": int(self.rejected.all(axis=1).sum()),
            "n_rejected_channel_sweeps": int(self.rejected.sum()),
            "phases": [{"name": p.name, "level": p.level, "start_s": round(p.start_s, 3),
                        "end_s": round(p.end_s, 3),
                        "n_sweeps": int(((self.sweep_phase == p.name)
                                         & (levels == (p.level or ""))).sum())}
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
            "n_events": len(self.events),
            "notes": [note.words for note in self.notes],
        })

    def review_edits_record(self) -> dict:
        """The sidecar's review edits as applied (summary.json ``review_edits``)."""
        onsets, names = self.sweeps.column("onset_s"), self.sweeps.ch_names
        def by(edit) -> dict:  # who made an edit in review, and when (only when said)
            return {k: v for k in ("reviewer", "time")
                    if (v := getattr(edit, k, None)) is not None}

        return {
            "exclusions": [{"reason": e.reason, "channel": e.channel, "sweeps": list(e.sweeps),
                            "from_s": e.from_s, "to_s": e.to_s,
                            "n_channel_sweeps": int(e.mask(onsets, names).sum()), **by(e)}
                           for e in self.case.exclusions],
            "rebaselines": [{"at_s": r.at_s, "reason": r.reason, **by(r)}
                            for r in self.settings.rebaselines],
            "events": [{"at_s": e.at_s, "text": e.text,
                        **({"kind": e.kind} if e.kind else {}), **by(e)}
                       for e in self.case.events],
            "landmarks": [{"channel": m.channel, "sweep": m.sweep,
                           "onset_ms": None if m.onset_s is None else round(m.onset_s * 1e3, 3),
                           "peak_ms": None if m.peak_s is None else round(m.peak_s * 1e3, 3),
                           **by(m)} for m in self.case.landmarks],
            "signoffs": [{"reviewer": s.reviewer, "time": s.time} for s in self.case.signoffs],
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
            "noise_window_source": r.noise_window_source,
            "presence_uv": round(r.presence_v * 1e6, 3),
            "presence_noise_ratio": r.presence_noise_ratio,
            "baseline_sweeps": r.baseline_sweeps,
            "onset_method": r.onset_method,
            "mains_removed_hz": self.mains_hz,
            "sfreq_hz": self.sweeps.sfreq,
            "sweep_window_ms": [round(self.sweeps.times[0] * 1e3, 2),
                                round(self.sweeps.times[-1] * 1e3, 2)],
        }

    def alerts_document(self) -> dict:
        """The content of alerts.json."""
        return _finite_or_null({"case_id": self.case.id, "criteria": self.criteria.name,
                               "iomon_version": __version__,
                               "alerts": [a.as_dict() for a in self.alerts]})


def _finite_or_null(value):
    """A JSON document with every NaN or infinite number made None (``null``).

    The output schema allows null wherever a number can be unknown; a value that is not
    finite is unknown, and JSON has no other way to say so.
    """
    if isinstance(value, dict):
        return {key: _finite_or_null(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_finite_or_null(item) for item in value)
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return None
    return value


def _ms_span(span):
    """A span in s as [start, end] in ms, None when not finite."""
    if not np.all(np.isfinite(span)):
        return None
    return [round(float(v) * 1e3, 2) for v in span]


