"""The content of a case report: one model that the HTML and the PDF renderers both print.

Everything a reader sees is decided here, in words and formatted numbers: the header, the
conclusion, the alert table (one row per systemic event, one per focal alert), the channel
and phase tables, the review edits and theatre events, the figures with their captions, the
methods and the notes. The renderers only lay it out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .figures import FigureFile, TimeAxis

__all__ = ["AlertEvent", "ReportContent", "Table", "alert_events", "build_content"]


@dataclass(frozen=True)
class Table:
    """A table as text: column headings, rows of cells, and a style class per row."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    styles: tuple[str, ...] = ()
    widths: tuple[float, ...] = ()


@dataclass(frozen=True)
class ReportContent:
    """Everything one case's report says, in reading order.

    Attributes
    ----------
    case_id, title : str
    header : tuple of (label, value)
    conclusion : tuple of str
        Paragraphs.
    alerts : Table
    channels : Table
    phases : Table
    events : Table or None
        Theatre events from the sidecar.
    review_edits : tuple of str
    figures : tuple of FigureFile
    methods : tuple of str
    notes : tuple of str
    footer : str
    """

    case_id: str
    title: str
    header: tuple
    conclusion: tuple[str, ...]
    alerts: Table
    channels: Table
    phases: Table
    events: Table | None
    review_edits: tuple[str, ...]
    figures: tuple[FigureFile, ...]
    methods: tuple[str, ...]
    notes: tuple[str, ...]
    footer: str


@dataclass(frozen=True)
class AlertEvent:
    """One row of the alert table: a focal alert, or a systemic event across channels.

    ``channels`` are in the recording's order; times in s since the recording's start.
    """

    scope: str
    criterion: str
    channels: tuple[str, ...]
    phase: str
    onset_s: float
    onset_sweep: int
    nadir: tuple[float, float]
    controls_percent: float | None
    recovered: bool
    recovery_s: float | None
    informational: bool
    unrecovered: tuple[str, ...] = ()
    threshold_rise_v: float | None = None
    alerts: tuple = field(default=(), repr=False)


def alert_events(alerts, end_s: float) -> list[AlertEvent]:
    """Alerts as a clinician reads them, in onset order.

    Systemic alerts of one criterion that overlap in time are one event; every other alert is
    its own row.
    """
    events, systemic = [], []
    for alert in sorted(alerts, key=lambda a: (a.onset_s, a.channel)):
        if alert.scope == "systemic":
            systemic.append(alert)
        else:
            events.append(_event([alert]))
    groups: list[list] = []
    for alert in systemic:
        for group in groups:
            if group[0].criterion == alert.criterion and alert.onset_s <= max(
                    (a.recovery_s if a.recovered else end_s) for a in group):
                group.append(alert)
                break
        else:
            groups.append([alert])
    events += [_event(group) for group in groups]
    return sorted(events, key=lambda e: (e.onset_s, e.channels))


def _event(alerts) -> AlertEvent:
    first = min(alerts, key=lambda a: a.onset_s)
    nadirs = [a.nadir_percent for a in alerts]
    controls = [a.controls_percent for a in alerts if a.controls_percent is not None]
    unrecovered = tuple(a.channel for a in alerts if not a.recovered)
    recoveries = [a.recovery_s for a in alerts if a.recovered]
    rises = [a.threshold_rise_v for a in alerts if a.threshold_rise_v is not None]
    return AlertEvent(
        scope=first.scope, criterion=first.criterion,
        channels=tuple(a.channel for a in alerts), phase=first.phase, onset_s=first.onset_s,
        onset_sweep=first.onset_sweep, nadir=(min(nadirs), max(nadirs)),
        controls_percent=float(np.median(controls)) if controls else None,
        recovered=not unrecovered, recovery_s=max(recoveries) if recoveries else None,
        informational=all(a.informational for a in alerts), unrecovered=unrecovered,
        threshold_rise_v=max(rises) if rises else None, alerts=tuple(alerts))


# ------------------------------------------------------------------------------ wording
_CRITERION_WORDS = {"amplitude": "amplitude", "loss": "loss of response",
                    "threshold": "threshold rise", "latency": "latency increase",
                    "morphology": "loss of phases"}


def _names(names) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _percent(value) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.0f} %"


def _extreme(event: AlertEvent) -> str:
    """The most abnormal value of an event, as the alert table and conclusion state it."""
    low, high = event.nadir
    span = f"{low:.0f} %" if round(low) == round(high) else f"{low:.0f}–{high:.0f} %"
    if event.criterion == "threshold":
        return f"+{event.threshold_rise_v:g} V (threshold {span} of baseline)"
    if event.criterion == "latency":
        return f"latency {span} of baseline"
    if event.criterion == "morphology":
        return f"phases {span} of baseline"
    return f"{span} of baseline"


def _sentence(event: AlertEvent, clock: TimeAxis, last_valid=None) -> str:
    """One event in a clinician's words.

    ``last_valid`` maps a channel to the time of its last valid sweep: an alert still open
    because the channel had no valid sweep after it is said so, not "not recovered".
    """
    when = f"from {clock.text(event.onset_s, True)} ({event.phase})"
    if event.recovered:
        after = f"recovered by {clock.text(event.recovery_s, True)}"
    elif event.recovery_s is not None:
        after = (f"the others recovered by {clock.text(event.recovery_s, True)}; "
                 + _unrecovered(event, clock, last_valid or {}))
    else:
        after = _unrecovered(event, clock, last_valid or {})
    who = _names(event.channels)
    if event.criterion == "loss":
        what = f"{who} lost {'its' if len(event.channels) == 1 else 'their'} response"
    elif event.criterion == "threshold":
        what = f"{who}: stimulation threshold up by {event.threshold_rise_v:g} V"
    elif event.criterion in ("latency", "morphology"):
        what = f"{who}: {_CRITERION_WORDS[event.criterion]} ({_extreme(event)})"
    else:
        what = f"{who} fell to {_extreme(event)}"
    controls = ("" if event.controls_percent is None
                else f", the controls at {event.controls_percent:.0f} %")
    if event.scope == "systemic":
        return (f"Systemic: {what} {when}{controls}, consistent with a blood-pressure or "
                f"anaesthetic change; {after}.")
    if event.scope == "undetermined":
        return (f"Scope undetermined (no responding control to compare with): {what} "
                f"{when}; {after}.")
    return f"Focal: {what} {when}{controls}; {after}."


def _unrecovered(event, clock, last_valid) -> str:
    parts = []
    for name in event.unrecovered:
        ended = last_valid.get(name)
        parts.append(f"{name} (no valid sweep after {clock.text(ended, True)})"
                     if ended is not None else name)
    if len(event.unrecovered) < len(event.channels) or any(last_valid.get(n) is not None
                                                            for n in event.unrecovered):
        return f"not recovered by the end: {_names(parts)}"
    return "not recovered by the end of the recording"


def last_valid_times(result) -> dict:
    """Channels whose valid sweeps end before the recording's last sweep: their last one."""
    onsets = result.sweeps.column("onset_s")
    out = {}
    for c, name in enumerate(result.sweeps.ch_names):
        rows = np.flatnonzero(~result.rejected[:, c])
        if rows.size and rows[-1] < onsets.size - 1:
            out[name] = float(onsets[rows[-1]])
    return out


def _together(events) -> list[AlertEvent]:
    """Focal events of one onset, criterion and outcome told in one sentence."""
    merged: dict = {}
    for e in events:
        if e.scope == "systemic":
            merged[id(e)] = e
            continue
        key = (e.scope, e.criterion, e.onset_sweep, e.recovered, e.recovery_s,
               e.informational)
        if key in merged:
            merged[key] = _event(merged[key].alerts + e.alerts)
        else:
            merged[key] = e
    return list(merged.values())


def conclusion(result, events, clock: TimeAxis) -> list[str]:
    """The report's conclusion: what happened, when, and whether it recovered."""
    criteria = result.criteria
    last = last_valid_times(result)
    counted = [e for e in events if not e.informational]
    paragraphs = []
    if not counted:
        paragraphs.append(
            f"No significant change: no channel met the {criteria.name} criterion "
            f"({criteria.drop_words()} sustained in {criteria.sustained_n} of "
            f"{criteria.sustained_m} valid sweeps) while it counted.")
    else:
        paragraphs.append(" ".join(_sentence(e, clock, last) for e in _together(counted)))
    early = [e for e in events if e.informational]
    if early:
        paragraphs.append("Outside the phases the preset watches (informational only): "
                          + " ".join(_sentence(e, clock, last) for e in _together(early)))
    paragraphs += _absent_and_final(result)
    return paragraphs


def _absent_and_final(result) -> list[str]:
    from ..muscles import MUSCLES

    channels = result.sweeps.channels
    absent = [ch for ch, p in zip(channels, result.baseline.present) if not p]
    out = []
    if absent:
        levels = set(result.case.levels)
        avulsed = [ch.name for ch in absent if ch.muscle in MUSCLES
                   and ch.side == result.case.side and set(MUSCLES[ch.muscle].roots) <= levels]
        text = (f"{_names([ch.name for ch in absent])} had no response at baseline and "
                f"{'was' if len(absent) == 1 else 'were'} not monitored for change")
        if avulsed:
            text += f" ({_names(avulsed)}: all roots among the avulsed levels)"
        out.append(text + ".")
    final = result.final_percent()
    watched = [c for c, ch in enumerate(channels) if result.baseline.present[c]
               and (ch.role == "test" or not any(x.role for x in channels))]
    if watched:
        values = ", ".join(f"{channels[c].name} {_percent(final[c])}" for c in watched)
        who = " the at-risk channels" if any(ch.role for ch in channels) else ""
        out.append(f"At the end of the recording{who} stood at {values} of baseline (each "
                   "the median of its last 3 valid sweeps).")
    return out


# ------------------------------------------------------------------------------- tables
def _when(seconds: float, clock: TimeAxis) -> str:
    """Clock time with the time elapsed since the recording's start beside it."""
    elapsed = TimeAxis().text(seconds, True)
    return elapsed if clock.start is None else f"{clock.text(seconds, True)} (+{elapsed})"


def alert_table(events, clock: TimeAxis, last_valid=None) -> Table:
    """One row per focal (or undetermined) alert and per systemic event."""
    rows, styles = [], []
    last_valid = last_valid or {}
    for e in events:
        scope = e.scope + (f" ({len(e.channels)} channels)" if len(e.channels) > 1 else "")
        if e.informational:
            scope += ", informational"
        onset = f"{_when(e.onset_s, clock)}, {e.phase} (sweep {e.onset_sweep})"
        if e.recovered:
            recovery = _when(e.recovery_s, clock)
        elif e.unrecovered and (len(e.unrecovered) < len(e.channels)
                                or any(n in last_valid for n in e.unrecovered)):
            recovery = "not recovered: " + ", ".join(
                n + (f" (no valid sweep after {clock.text(last_valid[n], True)})"
                     if n in last_valid else "") for n in e.unrecovered)
        else:
            recovery = "not recovered"
        rows.append((scope, ", ".join(e.channels), _CRITERION_WORDS.get(e.criterion, e.criterion),
                     onset, _extreme(e), _percent(e.controls_percent), recovery))
        styles.append(e.scope + (" informational" if e.informational else ""))
    return Table(("Scope", "Channel(s)", "Criterion", "Onset (+elapsed)", "Most abnormal",
                  "Controls", "Recovery"), tuple(rows), tuple(styles),
                 (0.12, 0.16, 0.10, 0.21, 0.15, 0.10, 0.16))


def channel_table(result, summary) -> Table:
    """Each channel's facts, baseline and final level."""
    counts = {}
    for a in result.alerts:
        counts[a.channel] = counts.get(a.channel, 0) + 1
    rows = []
    for c in summary["channels"]:
        baseline = (f"present ({c['baseline_n_sweeps']} sweeps)" if c["baseline_present"]
                    else "absent: not alerted")
        rows.append((c["name"], c["muscle"] or "unknown", c["side"] or "unknown",
                     c["role"] or "unknown", baseline,
                     "–" if c["baseline_amplitude_uv"] is None
                     else f"{c['baseline_amplitude_uv']:.0f}",
                     "–" if c["baseline_latency_ms"] is None
                     else f"{c['baseline_latency_ms']:.1f}",
                     _percent(c["final_percent_of_baseline"]),
                     str(counts.get(c["name"], 0))))
    return Table(("Channel", "Muscle", "Side", "Role", "Baseline", "Amplitude (µV)",
                  "Onset (ms)", "Final*", "Alerts"), tuple(rows), (),
                 (0.13, 0.10, 0.08, 0.09, 0.19, 0.12, 0.10, 0.10, 0.09))


def phase_table(summary, clock: TimeAxis) -> Table:
    """The phases of the case with their clock times and sweep counts."""
    return Table(("Phase", "Start", "End", "Sweeps"), tuple(
        (p["name"], clock.text(p["start_s"], True), clock.text(p["end_s"], True),
         str(p["n_sweeps"])) for p in summary["phases"]), (), (0.4, 0.2, 0.2, 0.2))


def events_table(result, clock: TimeAxis) -> Table | None:
    """The theatre events of the sidecar, None without any."""
    if not result.case.events:
        return None
    return Table(("Time", "Event"), tuple((clock.text(e.at_s, True), e.text)
                                          for e in result.case.events), (), (0.2, 0.8))


def review_edits(result, summary, clock: TimeAxis) -> list[str]:
    """The review edits applied, in words."""
    edits = summary["review_edits"]
    out = [f"{e.describe()} ({x['n_channel_sweeps']} channel-sweeps)"
           for e, x in zip(result.case.exclusions, edits["exclusions"])]
    out += [f"re-baselined at {clock.text(r['at_s'], True)}: {r['reason'] or 'no reason given'}"
            for r in edits["rebaselines"]]
    if edits["events"]:
        out.append(f"{len(edits['events'])} theatre event(s) noted (table above, dotted lines "
                   "on the trends)")
    return out or ["none: the analysis used the recording as it is"]


# ------------------------------------------------------------------------------ header
def _stimulation(result) -> str:
    """The stimulation as found: montages, intensities, the train seen in the data."""
    table = result.sweeps.table
    parts = []
    montages = sorted(set(table["montage"]) - {""})
    parts.append(f"montage {', '.join(montages)}" if montages else "montage not stated")
    intensity = table["stim_intensity"].to_numpy(dtype=float)
    known = intensity[np.isfinite(intensity)]
    units = sorted(set(table["stim_unit"]) - {""})
    if known.size:
        unit = f" {units[0]}" if len(units) == 1 else ""
        parts.append(f"{known.min():g}{unit}" if known.min() == known.max()
                     else f"{known.min():g}-{known.max():g}{unit}")
    else:
        parts.append("intensity not stated")
    train = result.train
    if train is not None:
        parts.append(f"train of {train.n_pulses} pulse{'s' if train.n_pulses != 1 else ''}"
                     + (f" {train.isi_s * 1e3:.1f} ms apart" if train.isi_s else "")
                     + " (seen in the data)")
    return "; ".join(parts)


def header(result, summary, clock: TimeAxis, identify: bool) -> list[tuple[str, str]]:
    """The report's header lines: case, surgery, recording, stimulation, criterion, provenance."""
    case, recording = result.case, result.recording
    rows = [("Case", case.id)]
    if identify and recording.patient:
        rows.append(("Patient (file header)", recording.patient))
    surgery = case.procedure or "not stated"
    if case.side or case.levels:
        surgery += (f"; {case.side or 'side not stated'} "
                    f"{'–'.join([case.levels[0], case.levels[-1]]) if case.levels else ''}"
                    " avulsion").replace("  ", " ")
    rows.append(("Procedure", surgery))
    rows.append(("Surgery date", str(case.clinical.get("surgery_date", "not stated"))))
    start = recording.start
    if start is None:
        started = "not in the file: times are given since its start"
    elif identify:
        started = start.strftime("%Y-%m-%d %H:%M:%S")
    else:
        started = start.strftime("%H:%M:%S") + " (date left out; --identify shows it)"
    rows.append(("Recording start", started))
    rows.append(("Recording", f"{recording.path.name}: {recording.format}, "
                              f"{summary['n_sweeps']} sweeps over "
                              f"{TimeAxis().text(recording.duration_s, True)} (h:mm:ss), "
                              f"{summary['settings']['sfreq_hz']:g} Hz; read with "
                              f"{recording.reader}"))
    rows.append(("Stimulation", _stimulation(result)))
    rows.append(("Criterion", f"{result.criteria.name}: {result.criteria.citation}"))
    sha = summary["input_sha256"]
    rows.append(("Analysis", f"iomon {summary['iomon_version']}; input SHA-256 "
                             f"{sha[:16] + '…' if sha else 'not computed'}"))
    return rows


def build_content(result, documents, figures, identify: bool = False) -> ReportContent:
    """The report of one case, from its result, its documents (built once) and its figures."""
    from .. import __version__
    from ..methods import methods_paragraphs

    summary = documents.summary
    clock = TimeAxis(result.recording.start, result.recording.duration_s)
    clock.seconds = True
    events = alert_events(result.alerts, float(result.sweeps.column("onset_s").max()))
    return ReportContent(
        case_id=result.case.id,
        title=f"TcMEP monitoring report: {result.case.id}",
        header=tuple(header(result, summary, clock, identify)),
        conclusion=tuple(conclusion(result, events, clock)),
        alerts=alert_table(events, clock, last_valid_times(result)),
        channels=channel_table(result, summary),
        phases=phase_table(summary, clock),
        events=events_table(result, clock),
        review_edits=tuple(review_edits(result, summary, clock)),
        figures=tuple(figures),
        methods=tuple(methods_paragraphs(summary, result.criteria)),
        notes=tuple(result.notes),
        footer=f"iomon {__version__} · {result.case.id} · research software, not a medical "
               "device",
    )
