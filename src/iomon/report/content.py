"""The content of a case report: one model that the HTML and the PDF renderers both print.

Everything a reader sees is decided here, in words and formatted numbers: the header, the
conclusion (:mod:`.wording`), the alert table (one row per systemic event, one per focal
alert), the channel, phase and marker tables, the review edits, the figures with their
captions, the methods, the notes and the sign-off. The renderers only lay it out. The facts
the words rest on are worked out once per report (:mod:`.facts`).
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import numpy as np

from .clock import TimeAxis
from .facts import (
    AlertEvent,
    CaseFacts,
    alert_events,
    began_level,
    case_facts,
    controls_rise,
    first_sweep,
    fixed_text,
    kind_of,
    marker_words,
    names_text,
    on_control,
    percent_text,
    rise_words,
    span_text,
    sweeps_words,
)
from .figures import FigureFile
from .wording import conclusion, decline_notes, final_text, outcome_words, when_text

__all__ = ["ReportContent", "Table", "alert_counts", "alert_events", "alert_table",
           "alerts_heading",
           "build_content", "case_facts", "channel_table", "conclusion", "events_table",
           "header", "landmark_words", "parse_edf_patient", "percent_text", "review_edits",
           "rise_words", "synthetic_mark", "synthetic_words"]


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
    signoff : tuple of str
        What the report was generated from and when, then the labels of the sign-off fields
        a neurophysiologist fills in.
    alerts_heading : str
        "Alerts: 7 episodes (1 systemic event on 7 channels)", counted as alerts.json does.
    alerts : Table
    alerts_note : str
        What the alert table's times and sweep numbers mean.
    channels : Table
    channels_note : str
    phases : Table
    events : Table or None
        Markers in the recording and theatre events from the sidecar (numbered as on the
        figures), in time order.
    review_edits : tuple of str
    figures : tuple of FigureFile
    methods : tuple of str
    notes : tuple of str
    footer : str
    synthetic : str
        The mark every page of a synthetic case carries ("" for a real recording).
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
    alerts_heading: str = "Alerts"
    alerts_note: str = ""
    channels_note: str = ""
    signoff: tuple[str, ...] = ()
    synthetic: str = ""


# ------------------------------------------------------------------------------- tables
def _scope_cell(result, event: AlertEvent) -> str:
    scope = event.scope
    if len(event.channels) > 1:
        scope += f" ({len(event.channels)} channels)"
    elif on_control(result, event):
        scope += ", control channel"
    return scope + (", informational" if event.informational else "")


def _extreme(result, event: AlertEvent, facts: CaseFacts) -> str:
    """The most abnormal value of an event, as the alert table states it."""
    kind = kind_of(result, event.criterion)
    if kind.style == "rise_v":
        brackets = {str(facts.rises.get(id(a))) for a in event.alerts}
        bracket = facts.rises.get(id(event.alerts[0]))
        if bracket is not None and len(brackets) == 1:
            return bracket.words()
    rise = event.threshold_rise_v
    return kind.extreme.format(span=span_text([a.nadir_percent for a in event.alerts]),
                               rise_v="" if rise is None else f"{rise:g}",
                               sweeps=sweeps_words(event))


def _controls_cell(result, event: AlertEvent, facts: CaseFacts) -> str:
    kind = kind_of(result, event.criterion)
    if event.scope == "systemic":
        # The controls' median over the sweeps that called it, as for a focal alert (their
        # lowest values are in the "Most abnormal" cell with every channel's).
        if kind.style == "rise_v":
            return "in the event"
        if event.controls_percent is None:
            return "no valid control"
        return f"{percent_text(event.controls_percent)} (down too)"
    if kind.style == "rise_v":
        rise = controls_rise(result, event.alerts[0])
        return "–" if rise is None else f"{kind.noun} {rise:+g} V"
    if event.controls_percent is None:
        return "no valid control"
    value = percent_text(event.controls_percent)
    if kind.style == "amplitude":
        held = event.controls_percent > result.criteria.threshold_percent
        return f"{value} ({'held' if held else 'down too'})"
    return f"{event.criterion} {value}"


def _recovery_cell(result, event: AlertEvent, facts: CaseFacts) -> str:
    return outcome_words(result, event.alerts, facts, cell=True)


def _first_cell(result, event: AlertEvent, facts: CaseFacts) -> str:
    first = first_sweep(event)
    if first is None:
        return "–"
    onset = float(result.sweeps.column("onset_s")[first])
    return f"{facts.clock.text(onset, True)}, sweep {first}"


def alert_table(result, events, facts: CaseFacts) -> Table:
    """One row per focal (or undetermined) alert and per systemic event, with its event."""
    rows, styles = [], []
    for e in events:
        called = f"{when_text(e.onset_s, facts.clock)}, {_phase_words(result, e)}, sweep " \
                 f"{e.onset_sweep}"
        rows.append((_scope_cell(result, e), "" if e.number is None else str(e.number),
                     ", ".join(e.channels), kind_of(result, e.criterion).words,
                     _first_cell(result, e, facts), called, _extreme(result, e, facts),
                     _controls_cell(result, e, facts), _recovery_cell(result, e, facts)))
        styles.append(e.scope + (" informational" if e.informational else ""))
    return Table(("Scope", "Event", "Channel(s)", "Criterion", "First met", "Alert called",
                  "Most abnormal", "Controls", "Recovery"), tuple(rows), tuple(styles),
                 (0.09, 0.06, 0.12, 0.09, 0.10, 0.14, 0.15, 0.11, 0.14))


def _phase_words(result, event: AlertEvent) -> str:
    """The phase of the sweep that called a row, and the level lesioned where it began."""
    level = began_level(event)
    return event.phase + (f" (began during {level} lesioning)" if level else "")


def alerts_heading(result, events=None) -> str:
    """The events and the alert episodes telling of them, counted as alerts.json counts them.

    "Alerts: 3 events (1 systemic on 8 channels; 2 focal on 2 channels), 11 alert episodes".
    """
    return f"Alerts: {alert_counts(result)}"


def alert_counts(result) -> str:
    """The alerts counted by event, in the words of every output ("none" without one).

    "3 events (1 systemic on 8 channels; 2 focal on 2 channels), 11 alert episodes": the
    events (:attr:`iomon.results.CaseResult.events`) by scope with the channels that alerted,
    the informational ones, and the alert episodes (records of alerts.json).
    """
    n = len(result.alerts)
    if not n:
        return "none"
    found = result.events
    parts = []
    for scope in ("systemic", "focal", "undetermined"):
        mine = [e for e in found if e.scope == scope]
        if mine:
            channels = {c for e in mine for c in e.channels}
            parts.append(f"{len(mine)} {scope} on {len(channels)} channel"
                         f"{'s' if len(channels) != 1 else ''}")
    informational = sum(e.informational for e in found)
    if informational:
        parts.append(f"{informational} of them informational")
    return (f"{len(found)} event{'s' if len(found) != 1 else ''} ({'; '.join(parts)}), "
            f"{n} alert episode{'s' if n != 1 else ''}")


_ROLE_WORDS = {"test": "at risk", "control": "control", None: "unknown"}


def channel_table(result, facts: CaseFacts) -> Table:
    """Each channel's facts, baseline, final level and rejected sweeps."""
    counts = {}
    for a in result.alerts:
        counts[a.channel] = counts.get(a.channel, 0) + 1
    b = result.baseline
    rows = []
    for c, ch in enumerate(result.sweeps.channels):
        baseline = (f"present ({int(b.sweeps[:, c].sum())} sweeps)" if b.present[c]
                    else "absent: not alerted")
        rows.append((ch.name, ch.muscle or "unknown", ch.side or "unknown",
                     _ROLE_WORDS.get(ch.role, ch.role),
                     baseline, fixed_text(b.amplitude[c] * 1e6) if b.present[c] else "–",
                     fixed_text(b.onset_latency[c] * 1e3, 1), final_text(result, c, facts),
                     str(int(result.rejected[:, c].sum())), str(counts.get(ch.name, 0))))
    return Table(("Channel", "Muscle", "Side", "Role", "Baseline", "Amplitude (µV)",
                  "Onset (ms)", "Final*", "Rejected", "Alerts"), tuple(rows), (),
                 (0.11, 0.09, 0.07, 0.08, 0.16, 0.10, 0.08, 0.15, 0.09, 0.07))


def phase_table(summary, clock: TimeAxis) -> Table:
    """The phases of the case with their clock times and sweep counts."""
    return Table(("Phase", "Start", "End", "Sweeps"), tuple(
        (p["name"] + (f" {p['level']}" if p.get("level") else ""),
         clock.text(p["start_s"], True), clock.text(p["end_s"], True), str(p["n_sweeps"]))
        for p in summary["phases"]), (), (0.4, 0.2, 0.2, 0.2))


def recording_markers(result) -> list[tuple[float, str]]:
    """The recording's markers that are not stimuli (Baseline, Exposure start...)."""
    return [(m.at_s, marker_words(m)) for m in result.markers if m.source == "recording"]


_SOURCE_WORDS = {"recording": "recording marker", "sidecar": "theatre event (sidecar)"}


def events_table(result, facts: CaseFacts) -> Table | None:
    """The recording's markers and the sidecar's theatre events, numbered as on the figures.

    In time order; recording markers beyond the first 40 are counted, not listed.
    """
    markers = result.markers
    rows = [(str(m.number), facts.clock.text(m.at_s, True), marker_words(m),
             _SOURCE_WORDS[m.source]) for m in markers if m.number is not None]
    if not rows:
        return None
    unnumbered = sum(m.number is None for m in markers)
    if unnumbered:
        rows.append(("", "", f"and {unnumbered} more markers", ""))
    return Table(("#", "Time", "Event", "Source"), tuple(rows), (), (0.06, 0.14, 0.56, 0.24))


def review_edits(result, summary, clock: TimeAxis) -> list[str]:
    """The review edits applied, in words and clock time."""
    edits = summary["review_edits"]
    out = []
    for e, applied in zip(result.case.exclusions, edits["exclusions"]):
        where = [f"channel {e.channel}" if e.channel else "every channel"]
        if e.sweeps:
            where.append(f"sweep{'s' if len(e.sweeps) > 1 else ''} "
                         f"{names_text([str(s) for s in e.sweeps])} (numbered from 0)")
        if e.from_s is not None or e.to_s is not None:
            start = "the start" if e.from_s is None else clock.text(e.from_s, True)
            end = "the end" if e.to_s is None else clock.text(e.to_s, True)
            where.append(f"from {start} to {end}")
        out.append(f"excluded {', '.join(where)}: {e.reason} ({applied['n_channel_sweeps']} "
                   f"channel-sweeps){_by(applied)}")
    out += [f"re-baselined at {clock.text(r['at_s'], True)}: {r['reason'] or 'no reason given'}"
            f"{_by(r)}" for r in edits["rebaselines"]]
    if edits["events"]:
        n = len(edits["events"])
        out.append(f"{n} theatre event{'s' if n != 1 else ''} noted (numbered in the table of "
                   "markers and theatre events and on the trends)")
    out += [landmark_words(m, clock, result) for m in edits.get("landmarks", ())]
    return out or ["none: the analysis used the recording as it is"]


def _by(edit: dict) -> str:
    """Who made a review edit and when, as " (by AB, 2024-05-01 14:03)"; "" when not said."""
    if not edit.get("reviewer"):
        return ""
    when = f", {edit['time'][:16].replace('T', ' ')}" if edit.get("time") else ""
    return f" (by {edit['reviewer']}{when})"


def landmark_words(mark: dict, clock: TimeAxis, result) -> str:
    """A hand-placed marker in words: "onset placed by hand at 31.2 ms on L TA, sweep 41"."""
    placed = [f"{what} at {mark[key]:.1f} ms" for what, key in (("onset", "onset_ms"),
                                                                 ("peak", "peak_ms"))
              if mark.get(key) is not None]
    at = clock.text(float(result.sweeps.column("onset_s")[mark["sweep"]]), True)
    return (f"{' and '.join(placed)} placed by hand on {mark['channel']}, sweep "
            f"{mark['sweep']} ({at}); used in the measures{_by(mark)}")


# ------------------------------------------------------------------------------ header
def parse_edf_patient(text: str) -> str:
    """An EDF+ patient field ("code sex birthdate name [more]") in words.

    EDF+ writes unknown subfields as ``X`` and spaces within one as ``_``. Text in another
    form is returned as it is.
    """
    parts = text.split()
    known_birth = len(parts) > 2 and (parts[2] == "X" or (len(parts[2]) == 11
                                                          and parts[2][2] == "-"))
    if len(parts) < 4 or parts[1] not in ("M", "F", "X") or not known_birth:
        return text
    code, sex, birth, name = parts[:4]
    words = [name.replace("_", " ")] if name != "X" else []
    words += [f"code {code}"] if code != "X" else []
    words += [{"M": "male", "F": "female"}[sex]] if sex != "X" else []
    words += [f"born {birth}"] if birth != "X" else []
    words += [" ".join(parts[4:]).replace("_", " ")] if parts[4:] else []
    return ", ".join(words) or "not stated in the file"


def _patient(result, identify: bool) -> str:
    """The patient as the report may name them.

    Sex, age and etiology from the sidecar's [clinical]; the file's patient field only when
    identifiers are let in (parsed, with the field as written for checking).
    """
    clinical = result.case.clinical
    sex = {"f": "female", "m": "male"}.get(str(clinical.get("sex", "")).lower(),
                                           clinical.get("sex"))
    words = [str(sex)] if sex else []
    if clinical.get("age") is not None:
        words.append(f"{clinical['age']:g} years")
    if clinical.get("etiology"):
        words.append(f"etiology: {clinical['etiology']}")
    text = ", ".join(words)
    field_text = result.recording.patient
    if identify and field_text:
        named = parse_edf_patient(field_text)
        who = named if named == field_text else f"{named} (file header: “{field_text}”)"
        text = f"{who}; {text}" if text else who
    return text or "not stated"


def _dates(result, clock: TimeAxis, identify: bool) -> list[tuple[str, str]]:
    """The surgery date and the recording's start.

    The file's date is withheld unless identifiers are let in or it is the surgery date.
    """
    surgery = result.case.clinical.get("surgery_date")
    rows = [("Surgery date", str(surgery) if surgery else "not stated")]
    start = clock.start
    if start is None:
        return rows + [("Recording start", "not in the file: times are given since its start")]
    day, time = start.date().isoformat(), start.strftime("%H:%M:%S")
    if identify or (surgery is not None and str(surgery) == day):
        started = f"{day} {time}"
    elif surgery is not None:
        started = (f"{time} (the file's date differs from the surgery date and is withheld as "
                   "a patient identifier)")
    else:
        started = f"{time} (the file's date is withheld as a patient identifier)"
    return rows + [("Recording start", started)]


_REASON_WORDS = {"noisy baseline": "pre-stimulus noise", "nan": "missing values",
                 "flat": "flat line", "clipped": "amplifier clipping", "": "other"}


def rejection_words(result) -> str:
    """Rejected sweeps in words: on every channel, channel-sweeps in all, by reason."""
    whole = int(result.rejected.all(axis=1).sum())
    total = int(result.rejected.sum())
    if not total:
        return "none rejected"
    counts: dict[str, int] = {}
    for reason in result.reject_reason[result.rejected].astype(str):
        words = ("excluded by review edit" if reason.startswith("excluded")
                 else _REASON_WORDS.get(reason, reason))
        counts[words] = counts.get(words, 0) + 1
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
    return (f"{whole} rejected on every channel; {total} of {result.rejected.size} "
            f"channel-sweeps rejected in all ({reasons})")


def _stimulation(result) -> str:
    """The stimulation as found: montages, intensities (the baseline's), the train."""
    sweeps = result.sweeps
    montages = sorted(set(sweeps.column("montage")) - {""})
    parts = [f"montage {', '.join(montages)}" if montages else "montage not stated"]
    intensity = sweeps.column("stim_intensity").astype(float)
    known = intensity[np.isfinite(intensity)]
    units = sorted(set(sweeps.column("stim_unit")) - {""})
    unit = f" {units[0]}" if len(units) == 1 else ""
    if known.size:
        text = (f"{known.min():g}{unit}" if known.min() == known.max()
                else f"{known.min():g}-{known.max():g}{unit}")
        bases = sorted({e.intensity for e in result.baselines.entries
                        if np.isfinite(e.intensity)})
        if bases and known.min() != known.max():
            text += f" (baseline sweeps at {names_text([f'{b:g}{unit}' for b in bases])})"
        parts.append(text)
    else:
        parts.append("intensity not stated")
    train = result.train
    if train is not None:
        parts.append(f"train of {train.n_pulses} pulse{'s' if train.n_pulses != 1 else ''}"
                     + (f" {train.isi_s * 1e3:.1f} ms apart" if train.isi_s else "")
                     + " (seen in the data)")
    return "; ".join(parts)


def header(result, summary, clock: TimeAxis, identify: bool) -> list[tuple[str, str]]:
    """The report's header lines.

    Case, patient, procedure, dates, recording, sweeps, stimulation, criterion, provenance.
    """
    case, recording = result.case, result.recording
    rows = [("Case", case.id), ("Patient", _patient(result, identify))]
    surgery = case.procedure or "not stated"
    if case.side or case.levels:
        surgery += (f"; {case.side or 'side not stated'} "
                    f"{'–'.join([case.levels[0], case.levels[-1]]) if case.levels else ''}"
                    " avulsion").replace("  ", " ")
    rows.append(("Procedure", surgery))
    rows += _dates(result, clock, identify)
    length = f"{TimeAxis().text(recording.duration_s, True)} (h:mm:ss)"
    if clock.compressed:
        length += (f" in the file, standing for {clock.elapsed(recording.duration_s)} of "
                   f"surgery (synthetic, time-compressed ×{clock.scale:g})")
    rows.append(("Recording", f"{recording.path.name}: {recording.format}, {length}, "
                              f"{summary['settings']['sfreq_hz']:g} Hz; read with "
                              f"{recording.reader}"))
    if result.simulation is not None:
        rows.insert(1, ("Synthetic case", synthetic_words(result, clock)))
    setup = int(result.setup.sum())
    rows.append(("Sweeps", f"{summary['n_sweeps']}"
                           + (f" ({setup} setup, before the Baseline marker)" if setup else "")
                           + f"; {rejection_words(result)}"))
    rows.append(("Stimulation", _stimulation(result)))
    rows.append(("Criterion", f"{result.criteria.name}: {result.criteria.citation}"))
    sha = summary["input_sha256"]
    rows.append(("Analysis", f"iomon {summary['iomon_version']}; input SHA-256 "
                             f"{sha[:16] + '…' if sha else 'not computed'}"))
    return rows


def synthetic_words(result, clock: TimeAxis) -> str:
    """What makes a case synthetic and how its times are shown ("" for a real recording)."""
    simulation = result.simulation
    if simulation is None:
        return ""
    what = ", ".join(w for w in (
        f"scenario {simulation.scenario}" if simulation.scenario else "",
        f"seed {simulation.seed}" if simulation.seed is not None else "") if w)
    made = f"simulated by iomon simulate{f' ({what})' if what else ''}, not a patient's recording"
    if simulation.time_compression is None:
        return (f"{made.capitalize()}: the recording names iomon simulate as its equipment. "
                "Its time compression is not stated (no [simulation] in a case sidecar): the "
                "times are the file's, which may run faster than the surgery it stands for.")
    if not clock.compressed:
        return f"{made.capitalize()}, in real time."
    return (f"{made.capitalize()}. Time-compressed ×{clock.scale:g}: the file's "
            f"{TimeAxis().text(result.recording.duration_s, True)} stand for "
            f"{clock.elapsed(result.recording.duration_s)} of surgery, and every time in this "
            "report is on the surgical clock it stands for (alerts.json and measurements.csv "
            "hold the file's seconds).")


def synthetic_mark(result, clock: TimeAxis) -> str:
    """The short mark every page of a synthetic case's report carries ("" when real)."""
    if result.simulation is None:
        return ""
    return "SYNTHETIC CASE" + (f", time-compressed ×{clock.scale:g}" if clock.compressed
                               else "") + ": not a patient's recording"


def report_date() -> str:
    """Today's date, or the date of ``SOURCE_DATE_EPOCH`` (reproducible builds) when set."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        moment = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
        return moment.date().isoformat()
    return datetime.date.today().isoformat()


def signoff(result, version: str) -> tuple[str, ...]:
    """When and from what the report was generated, then the fields a reviewer signs.

    A sign-off in ``iomon review`` (the sidecar's last ``[[signoff]]``) is named, with the
    review edits made after it, if any.
    """
    generated = (f"Generated on {report_date()} by iomon {version} from "
                 f"{result.recording.path.name}: an analysis to be reviewed, interpreted and "
                 "signed by the responsible neurophysiologist.")
    signoffs = getattr(result.case, "signoffs", ())
    if signoffs:
        last = signoffs[-1]
        later = sum(1 for kind in ("exclusions", "events", "landmarks")
                    for e in getattr(result.case, kind) if (e.time or "") > last.time)
        later += sum(1 for r in result.settings.rebaselines if (r.time or "") > last.time)
        generated += (f" Reviewed in iomon review and signed off by {last.reviewer} on "
                      f"{last.time[:16].replace('T', ' ')}"
                      + (f"; {later} review edit{'s' if later != 1 else ''} made since."
                         if later else "."))
    return (generated, "Reviewed and interpreted by", "Signature", "Date")


def report_notes(result, drops, facts: CaseFacts) -> list[str]:
    """The analysis's notes, for the report.

    Declines without an alert (notes of code ``decline``, with sweep numbers and seconds) are
    retold from the result's declines once per channel in clock time: the at-risk channels'
    in the conclusion, the controls' here.
    """
    return ([n.words for n in result.notes if n.code != "decline"]
            + decline_notes(result, drops, facts))


_CHANNELS_NOTE = ("* Final: the median of the channel's last 3 valid sweeps, as % of its "
                  "baseline; the intensity is given where it differs from the baseline sweeps' "
                  "and, "
                  "where the channel's valid sweeps end early, the time of the sweep of median "
                  "% among them. Rejected: channel-sweeps rejected or excluded.")


def _alerts_note(criteria, compressed: bool = False) -> str:
    return ("Event: the alerts that tell of one change share its number (a channel's "
            "overlapping alerts, whatever their criterion; the overlapping systemic alerts of "
            "every channel), as alerts.json's event; the heading counts events. First met: the "
            "first of the sweeps that called the alert to meet the criterion on the channel's "
            "own baseline; the level named is the one being lesioned then. Alert called: when "
            f"the criterion had held in {criteria.sustained_n} of the last "
            f"{criteria.sustained_m} valid sweeps. Controls: their median over the sweeps that "
            "called the alert. Times are clock times with the time since the recording's "
            "start" + (" (a synthetic case's on the surgical clock it stands for)"
                       if compressed else "")
            + "; sweeps are numbered from 0, as in measurements.csv and alerts.json.")


def build_content(result, documents, figures, identify: bool = False,
                  facts: CaseFacts | None = None) -> ReportContent:
    """The report of one case, from its result, its documents (built once) and its figures.

    ``facts``: from :func:`case_facts`, when the caller computed them already.
    """
    from .. import __version__
    from .methods import methods_paragraphs

    summary = documents.summary
    facts = facts or case_facts(result)
    events = alert_events(result.alerts, float(result.sweeps.column("onset_s").max()),
                          result.sweeps.ch_names)
    drops = result.declines
    mark = synthetic_mark(result, facts.clock)
    return ReportContent(
        case_id=result.case.id,
        title=f"TcMEP monitoring report: {result.case.id}" + (f" ({mark})" if mark else ""),
        synthetic=mark,
        header=tuple(header(result, summary, facts.clock, identify)),
        conclusion=tuple(conclusion(result, events, facts, drops)),
        signoff=signoff(result, __version__),
        alerts_heading=alerts_heading(result, events),
        alerts=alert_table(result, events, facts),
        alerts_note=_alerts_note(result.criteria, facts.clock.compressed),
        channels=channel_table(result, facts),
        channels_note=_CHANNELS_NOTE,
        phases=phase_table(summary, facts.clock),
        events=events_table(result, facts),
        review_edits=tuple(review_edits(result, summary, facts.clock)),
        figures=tuple(figures),
        methods=tuple(methods_paragraphs(summary, result.criteria)),
        notes=tuple(report_notes(result, drops, facts)),
        footer=f"iomon {__version__} · {result.case.id} · "
               + ("synthetic case · " if mark else "")
               + "research software, not a medical device",
    )
