"""Reading stimuli and surgical phases out of annotation text (DESIGN.md section 4).

These functions know nothing of file formats: every reader turns its markers into
:class:`Annotation` records and calls them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

__all__ = ["BASELINE_PATTERN", "EVENT_KINDS", "INTENSITY_PATTERN", "LESION_END_PATTERN",
           "LESION_LEVEL_PATTERN", "LESION_START_PATTERN", "MAX_MARKERS", "MONTAGE_PATTERN",
           "STIMULUS_PATTERN", "UNASSIGNED", "Annotation", "Marker", "assign_levels",
           "assign_phases", "complete_phases", "find_baseline_start", "find_stimuli",
           "is_stimulus", "lesioning_span", "marker_kind", "numbered_markers", "parse_stimulus",
           "Phase", "phases_from_annotations", "Stimulus"]

STIMULUS_PATTERN = re.compile(r"\b(tc-?mep|mep|stim(ulus)?)\b", re.IGNORECASE)
INTENSITY_PATTERN = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s?(v|ma)\b", re.IGNORECASE)
MONTAGE_PATTERN = re.compile(r"\b(C[1-6z]|Cz'?)\s?[-/]\s?(C[1-6z]|Cz'?)\b", re.IGNORECASE)
LESION_START_PATTERN = re.compile(r"^\s*(drez\s+lesioning|lesion(ing)?|drez)\s+start\s*$",
                                  re.IGNORECASE)
LESION_END_PATTERN = re.compile(r"^\s*(drez\s+lesioning|lesion(ing)?|drez)\s+end\s*$",
                                re.IGNORECASE)
BASELINE_PATTERN = re.compile(r"^\s*baseline\s*$", re.IGNORECASE)
#: A level's lesioning begins: "Lesioning C6", "DREZ C6", "DREZ lesioning C6", "lesion at C6".
LESION_LEVEL_PATTERN = re.compile(
    r"^\s*(?:drez(?:\s+lesioning)?|lesion(?:ing)?)\s+(?:at\s+|of\s+|level\s+)?"
    r"(C[1-8]|T1[0-2]|T[1-9]|L[1-5]|S[1-5])(?:\s+start)?\s*$", re.IGNORECASE)

#: The kinds of a theatre event, as a review station types them: in a sidecar's
#: ``[[events]] kind``, or as the first words of a marker in the recording ("blood pressure:
#: MAP 55 mmHg").
EVENT_KINDS = ("intervention", "surgeon informed", "blood pressure", "anaesthesia", "position",
               "other")
#: Other spellings of a kind at the start of a marker.
_KIND_SPELLINGS = {"bp": "blood pressure", "anesthesia": "anaesthesia",
                   "anaesthetic": "anaesthesia", "anesthetic": "anaesthesia",
                   "surgeon notified": "surgeon informed", "positioning": "position"}
_KIND_PATTERN = re.compile(
    r"^\s*(" + "|".join(re.escape(k) for k in sorted((*EVENT_KINDS, *_KIND_SPELLINGS),
                                                      key=len, reverse=True))
    + r")\s*(?:(?::|\s[-–]\s?)\s*(.*?))?\s*$", re.IGNORECASE)

PRE, LESIONING, POST = "pre-lesioning", "lesioning", "post-lesioning"
UNASSIGNED = "unassigned"


@dataclass(frozen=True)
class Annotation:
    """A text marker in a recording.

    Attributes
    ----------
    onset_s : float
        Seconds since the start of the recording.
    duration_s : float
        Seconds (0 for a point event).
    text : str
        The marker's text.
    """

    onset_s: float
    duration_s: float
    text: str


@dataclass(frozen=True)
class Phase:
    """A named span of the surgery, in seconds since the start of the recording.

    ``level``: the root level being lesioned (``"C6"``) in a lesioning sub-phase, else None.
    """

    name: str
    start_s: float
    end_s: float
    level: str | None = None

    @property
    def label(self) -> str:
        """The phase in words: "lesioning C6", "pre-lesioning"."""
        return f"{self.name} {self.level}" if self.level else self.name


@dataclass(frozen=True)
class Marker:
    """A marker of the recording or a theatre event of the sidecar, as the report lists it.

    Attributes
    ----------
    at_s : float
        Seconds since the start of the recording.
    text : str
        Its words, without a kind written before them ("MAP 55 mmHg").
    kind : str or None
        One of :data:`EVENT_KINDS` when typed, else None.
    source : str
        ``"recording"`` or ``"sidecar"``.
    number : int or None
        Its number on the figures and in the report's table (from 1, in time order); None
        for recording markers beyond the first :data:`MAX_MARKERS`.
    """

    at_s: float
    text: str
    kind: str | None
    source: str
    number: int | None = None


def marker_kind(text: str) -> tuple[str | None, str]:
    """The kind a marker's text starts with, and its words after it.

    ``"Blood pressure: MAP 55 mmHg"`` -> ``("blood pressure", "MAP 55 mmHg")``; ``"BP - 80/40"``
    -> ``("blood pressure", "80/40")``; ``"Surgeon informed"`` -> ``("surgeon informed", "")``;
    any other text -> ``(None, text)``.
    """
    match = _KIND_PATTERN.match(text)
    if match is None:
        return None, text.strip()
    word = match.group(1).lower()
    return _KIND_SPELLINGS.get(word, word), (match.group(2) or "").strip()


#: At most this many markers of a recording are numbered and listed (a file may hold hundreds).
MAX_MARKERS = 40


def numbered_markers(annotations, events=(), limit: int = MAX_MARKERS) -> tuple[Marker, ...]:
    """The recording's markers (stimuli left out) and the sidecar's events, numbered.

    In time order (recording markers first at equal times), numbered from 1 as the figures and
    the report number them; recording markers beyond the first ``limit`` stay unnumbered.
    ``events``: records with ``at_s``, ``text`` and ``kind`` (the sidecar's theatre events).
    """
    marks = [Marker(a.onset_s, *reversed(marker_kind(a.text)), "recording")
             for a in annotations if a.text.strip() and not is_stimulus(a.text)]
    kept = {id(m) for m in marks[:limit]}
    for e in events:  # a sidecar event untyped may say its kind in its text, as a marker
        kind, words = (e.kind, e.text) if e.kind else marker_kind(e.text)
        marks.append(Marker(e.at_s, words if kind else e.text, kind, "sidecar"))
    kept |= {id(m) for m in marks if m.source == "sidecar"}
    order = sorted(marks, key=lambda m: (m.at_s, m.source != "recording"))
    out, number = [], 0
    for m in order:
        if id(m) in kept:
            number += 1
            out.append(Marker(m.at_s, m.text, m.kind, m.source, number))
        else:
            out.append(m)
    return tuple(out)


@dataclass(frozen=True)
class Stimulus:
    """A stimulus read from an annotation: its time, intensity and montage when stated."""

    onset_s: float
    intensity: float
    unit: str
    montage: str


def is_stimulus(text: str) -> bool:
    """Tell whether an annotation text marks a stimulus (``TcMEP``, ``MEP``, ``stim``...)."""
    return STIMULUS_PATTERN.search(text) is not None


def parse_stimulus(annotation: Annotation) -> Stimulus:
    """Read intensity (``400V``, ``120 mA``) and montage (``C3-C4``) from a stimulus text."""
    intensity, unit = np.nan, ""
    match = INTENSITY_PATTERN.search(annotation.text)
    if match:
        intensity = float(match.group(1))
        unit = "V" if match.group(2).lower() == "v" else "mA"
    montage = ""
    match = MONTAGE_PATTERN.search(annotation.text)
    if match:
        montage = f"{match.group(1).capitalize()}-{match.group(2).capitalize()}"
        montage = montage.replace("CZ", "Cz")
    return Stimulus(annotation.onset_s, intensity, unit, montage)


def find_stimuli(annotations) -> list[Stimulus]:
    """Return the stimuli among ``annotations``, in time order."""
    stimuli = [parse_stimulus(a) for a in annotations if is_stimulus(a.text)]
    return sorted(stimuli, key=lambda s: s.onset_s)


def find_baseline_start(annotations) -> float | None:
    """Return the onset of the first ``Baseline`` annotation, or None."""
    onsets = [a.onset_s for a in annotations if BASELINE_PATTERN.match(a.text)]
    return min(onsets) if onsets else None


def phases_from_annotations(annotations, duration_s: float) -> list[Phase]:
    """Derive pre-lesioning, lesioning and post-lesioning from lesioning start/end markers.

    Without a start marker the phase of the whole recording is unknown (``unassigned``); a start
    without an end runs to the end of the recording. Level markers (``Lesioning C6``) split the
    lesioning into one sub-phase per level, each to the next level's marker or the end of
    lesioning; the first of them starts the lesioning when no start marker does.
    """
    starts = sorted(a.onset_s for a in annotations if LESION_START_PATTERN.match(a.text))
    levels = sorted((a.onset_s, LESION_LEVEL_PATTERN.match(a.text).group(1).upper())
                    for a in annotations if LESION_LEVEL_PATTERN.match(a.text))
    if not starts and levels:
        starts = [levels[0][0]]
    if not starts:
        return [Phase(UNASSIGNED, 0.0, duration_s)]
    start = starts[0]
    ends = sorted(a.onset_s for a in annotations
                  if LESION_END_PATTERN.match(a.text) and a.onset_s > start)
    end = ends[-1] if ends else duration_s
    phases = [Phase(PRE, 0.0, start)] + _level_phases(start, end, levels)
    if end < duration_s:
        phases.append(Phase(POST, end, duration_s))
    return phases


def _level_phases(start: float, end: float, levels) -> list[Phase]:
    """The lesioning from ``start`` to ``end``, split at its level markers (onset, level)."""
    inside = [(t, level) for t, level in levels if start <= t < end]
    bounds = [start] + [t for t, _ in inside] + [end]
    names = [None] + [level for _, level in inside]
    return [Phase(LESIONING, a, b, level) for a, b, level in zip(bounds, bounds[1:], names)
            if b > a]


def lesioning_span(phases) -> tuple[float, float] | None:
    """From the start of the first lesioning (sub-)phase to the end of the last, s."""
    spans = [(p.start_s, p.end_s) for p in phases if p.name == LESIONING]
    return (min(s for s, _ in spans), max(e for _, e in spans)) if spans else None


def complete_phases(explicit: list[Phase], duration_s: float) -> list[Phase]:
    """Fill the time a list of named phases leaves uncovered.

    Time before an explicit ``lesioning`` phase becomes ``pre-lesioning`` and time after it
    ``post-lesioning``; other gaps become ``unassigned``.
    """
    explicit = sorted(explicit, key=lambda p: p.start_s)
    lesioning = [p for p in explicit if p.name == LESIONING]
    filled: list[Phase] = []
    cursor = 0.0
    for phase in explicit + [Phase("", duration_s, duration_s)]:
        if phase.start_s > cursor:
            if lesioning and phase.start_s <= lesioning[0].start_s:
                name = PRE
            elif lesioning and cursor >= lesioning[-1].end_s:
                name = POST
            elif lesioning and phase.name == LESIONING:
                name = LESIONING  # between two levels' sub-phases
            else:
                name = UNASSIGNED
            filled.append(Phase(name, cursor, phase.start_s))
        if phase.name:
            filled.append(phase)
        cursor = max(cursor, phase.end_s)
    return filled


def assign_levels(onsets_s, phases: list[Phase]) -> np.ndarray:
    """The level being lesioned at each sweep onset (array of str, ``""`` where none)."""
    onsets_s = np.asarray(onsets_s, dtype=float)
    levels = np.full(onsets_s.shape, "", dtype=object)
    for phase in phases:
        if phase.level:
            levels[(onsets_s >= phase.start_s) & (onsets_s < phase.end_s)] = phase.level
    return levels.astype(str)


def assign_phases(onsets_s, phases: list[Phase]) -> np.ndarray:
    """Name the phase of each sweep onset (array of str, ``"unassigned"`` outside all)."""
    onsets_s = np.asarray(onsets_s, dtype=float)
    names = np.full(onsets_s.shape, UNASSIGNED, dtype=object)
    for phase in phases:
        inside = (onsets_s >= phase.start_s) & (onsets_s < phase.end_s)
        names[inside & (names == UNASSIGNED)] = phase.name
    # A sweep exactly at the end of the recording belongs to the last phase.
    if phases:
        last = max(phases, key=lambda p: p.end_s)
        names[(onsets_s >= last.end_s) & (names == UNASSIGNED)] = last.name
    return names.astype(str)
