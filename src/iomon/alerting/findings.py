"""Everything a preset finds in a measured case: alerts, thresholds, declines, notes.

:func:`find` applies one criteria preset to a case's measures and baselines and returns its
:class:`Findings`: the alerts (each with where its change began), the stimulation thresholds
the threshold criterion followed with what they say of its alerts, the declines below the
criterion that raised no alert and why, and the notes (each with a code). The result carries
them; the outputs and the report only present them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model.notes import Note
from ..model.sweeps import TABLE_COLUMNS
from .alerts import (
    Alert,
    UnexplainedDrop,
    called_window,
    detect_alerts,
    reference_channels,
    scope_notes,
    unexplained_drops,
)
from .criteria import Criteria
from .events import number_events
from .kinds import Compared
from .threshold import ThresholdRise, Thresholds, controls_rise, rise_bracket, thresholds_for

__all__ = ["Findings", "decline_note", "find", "placed"]


@dataclass(frozen=True)
class Findings:
    """What one preset found in one case.

    Attributes
    ----------
    alerts : tuple of Alert
        In onset order.
    thresholds : Thresholds or None
        The thresholds followed, and the rise of each ``threshold`` alert; None when the
        preset has no threshold criterion or the case cannot give thresholds.
    declines : tuple of UnexplainedDrop
        Sustained drops below the criterion on a channel's own baseline that raised no alert,
        each with why.
    notes : tuple of Note
    """

    alerts: tuple[Alert, ...]
    thresholds: Thresholds | None
    declines: tuple[UnexplainedDrop, ...]
    notes: tuple[Note, ...]


def decline_note(drop: UnexplainedDrop) -> Note:
    """A decline that raised no alert, as a note (sweep numbers and seconds)."""
    return Note("decline", f"{drop.channel} fell to {drop.nadir_percent:g} % of baseline from "
                           f"sweep {drop.onset_sweep} ({drop.onset_s:.1f} s) while its controls "
                           f"fell to {drop.controls_percent:g} %: {drop.why}; no alert",
                drop.channel)


def find(sweeps, phases, measurements, baselines, percent, valid, setup, criteria: Criteria,
         rebaselines=(), levels=None, lesioning=None) -> Findings:
    """Apply one preset to a measured case.

    Parameters
    ----------
    sweeps : Sweeps
        With the channel facts decided.
    phases : array of str, shape (n_sweeps,)
    measurements : Measurements
    baselines : BaselineSet
    percent : array of float, shape (n_sweeps, n_channels)
        Amplitude as % of each sweep's baseline.
    valid : array of bool, shape (n_sweeps, n_channels)
    setup : array of bool, shape (n_sweeps,)
    criteria : Criteria
    rebaselines : sequence of Rebaseline
    levels : array of str, shape (n_sweeps,), optional
        The root level being lesioned at each sweep ("" where none).
    lesioning : (float, float), optional
        The lesioning's start and end, s (None: no lesioning phase).

    Returns
    -------
    Findings
    """
    notes = []
    thresholds = None
    if criteria.threshold_rise_v is not None:
        columns = {name: sweeps.column(name) for name in TABLE_COLUMNS}
        thresholds, note = thresholds_for(columns, measurements.present, valid, baselines,
                                          rebaselines)
        notes += [note] if note else []
    onsets = sweeps.column("onset_s")
    present = baselines.main.present
    compared = Compared.of(measurements, baselines, percent, thresholds,
                           [ch.muscle for ch in sweeps.channels])
    alerts = detect_alerts(compared, valid, sweeps.channels, present, onsets, phases, criteria,
                           setup=setup)
    alerts = placed(alerts, onsets, valid, sweeps.ch_names, levels, lesioning)
    notes += scope_notes(sweeps.channels, present)
    declines = unexplained_drops(percent, valid, sweeps.channels, present, onsets, criteria,
                                 setup)
    notes += [decline_note(drop) for drop in declines]
    if criteria.focal_phases and not np.isin(phases, criteria.focal_phases).any():
        notes.append(Note("phases", f"no sweep falls in {' or '.join(criteria.focal_phases)} "
                                    "(no lesioning markers or sidecar phases): focal alerts "
                                    "count in every phase"))
    if thresholds is not None:
        thresholds = _with_rises(thresholds, compared, criteria, alerts, sweeps.channels,
                                 present, valid, setup)
    return Findings(tuple(alerts), thresholds, tuple(declines), tuple(notes))


def placed(alerts, onsets, valid, names, levels=None, lesioning=None) -> list[Alert]:
    """Alerts with their event, the level being lesioned and the lead to lesioning's end.

    See :class:`~iomon.alerting.alerts.Alert` (``event``, ``lesioning_level``,
    ``lesioning_end_lead_s``) and :mod:`iomon.alerting.events`.
    """
    import dataclasses

    onsets = np.asarray(onsets, float)
    ends = {}
    for c, name in enumerate(names):
        rows = np.flatnonzero(valid[:, c])
        ends[name] = float(onsets[rows[-1]] if rows.size else onsets[-1])
    out = []
    for alert, number in zip(alerts, number_events(alerts, ends, names)):
        began = alert.first_met_sweep if alert.first_met_sweep is not None else alert.onset_sweep
        level = None if levels is None else (str(levels[began]) or None)
        lead = None if lesioning is None else round(float(lesioning[1] - onsets[began]), 3)
        out.append(dataclasses.replace(alert, event=number, lesioning_level=level,
                                       lesioning_end_lead_s=lead))
    return out


def _with_rises(thresholds, compared, criteria, alerts, channels, present, valid, setup):
    """The thresholds with what they say of each threshold alert (bracket, controls' rise)."""
    import dataclasses

    met = criteria.kind("threshold").test(compared, criteria).met
    names = [ch.name for ch in channels]
    rises = []
    for alert in (a for a in alerts if a.criterion == "threshold"):
        c = names.index(alert.channel)
        bracket = (None if alert.threshold_rise_v is None else
                   rise_bracket(thresholds, met, c, alert, criteria.sustained_m, met.shape[0]))
        window = called_window(valid, setup, c, alert.onset_sweep, criteria.sustained_m)
        refs = reference_channels(channels, present, c)
        rises.append(ThresholdRise(alert.channel, alert.onset_sweep, bracket,
                                   controls_rise(thresholds, window, refs, valid)))
    return dataclasses.replace(thresholds, rises=tuple(rises))
