"""Reading stimuli and surgical phases out of annotation text (DESIGN.md section 4).

These functions know nothing of file formats: every reader turns its markers into
:class:`Annotation` records and calls them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

__all__ = ["BASELINE_PATTERN", "INTENSITY_PATTERN", "LESION_END_PATTERN", "LESION_START_PATTERN",
           "MONTAGE_PATTERN", "STIMULUS_PATTERN", "UNASSIGNED", "Annotation", "assign_phases",
           "complete_phases", "find_baseline_start", "find_stimuli", "is_stimulus",
           "parse_stimulus", "Phase", "phases_from_annotations", "Stimulus"]

STIMULUS_PATTERN = re.compile(r"\b(tc-?mep|mep|stim(ulus)?)\b", re.IGNORECASE)
INTENSITY_PATTERN = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s?(v|ma)\b", re.IGNORECASE)
MONTAGE_PATTERN = re.compile(r"\b(C[1-6z]|Cz'?)\s?[-/]\s?(C[1-6z]|Cz'?)\b", re.IGNORECASE)
LESION_START_PATTERN = re.compile(r"^\s*(drez\s+lesioning|lesion(ing)?|drez)\s+start\s*$",
                                  re.IGNORECASE)
LESION_END_PATTERN = re.compile(r"^\s*(drez\s+lesioning|lesion(ing)?|drez)\s+end\s*$",
                                re.IGNORECASE)
BASELINE_PATTERN = re.compile(r"^\s*baseline\s*$", re.IGNORECASE)

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
    """A named span of the surgery, in seconds since the start of the recording."""

    name: str
    start_s: float
    end_s: float


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
    without an end runs to the end of the recording.
    """
    starts = sorted(a.onset_s for a in annotations if LESION_START_PATTERN.match(a.text))
    if not starts:
        return [Phase(UNASSIGNED, 0.0, duration_s)]
    start = starts[0]
    ends = sorted(a.onset_s for a in annotations
                  if LESION_END_PATTERN.match(a.text) and a.onset_s > start)
    end = ends[-1] if ends else duration_s
    phases = [Phase(PRE, 0.0, start), Phase(LESIONING, start, end)]
    if end < duration_s:
        phases.append(Phase(POST, end, duration_s))
    return phases


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
            else:
                name = UNASSIGNED
            filled.append(Phase(name, cursor, phase.start_s))
        if phase.name:
            filled.append(phase)
        cursor = max(cursor, phase.end_s)
    return filled


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
