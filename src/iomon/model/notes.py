"""Notes: what an analysis has to tell beside its numbers, each with a code and its words.

A note is said in words (summary.json ``notes``, the report's notes) and has a code that says
what it is about, so that a program (the report, a cohort table) picks notes by code and never
by their wording. :data:`NOTE_CODES` lists every code and what it means.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NOTE_CODES", "Note"]

#: Every code a note may carry, and what the notes of that code are about.
NOTE_CODES = {
    "reading": "what the reader noticed in the file (trimmed sweeps, units, markers...)",
    "settings": "how a processing setting was decided from the data",
    "artefact": "a response the blanked stimulus artefact may hide",
    "mains": "mains hum that could not be removed, and why",
    "threshold": "the threshold criterion not applied, or its intensities assumed in volts",
    "scope": "no control channel to tell focal from systemic",
    "decline": "a channel below the criterion on its own baseline that raised no alert "
               "(a decline its controls shared in part)",
    "phases": "the phases the criterion watches are missing from the case",
    "case": "what the case sidecar says that iomon could not use as such (a muscle it does not "
            "know)",
    "noise": "where the noise was measured when the sweeps hold too little before the stimulus",
    "onset": "onsets earlier than the muscle can respond, kept with a flag (no better one found)",
    "unmeasured": "a channel not measured: the stimulus artefact covers its whole response "
                  "window, or the sweeps end before it",
}


@dataclass(frozen=True)
class Note:
    """One note of an analysis.

    Attributes
    ----------
    code : str
        What it is about: a key of :data:`NOTE_CODES`.
    words : str
        The note as written into summary.json and the report.
    channel : str or None
        The channel it is about, when one.
    """

    code: str
    words: str
    channel: str | None = None

    def __post_init__(self):
        if self.code not in NOTE_CODES:
            raise ValueError(f"unknown note code {self.code!r} (codes: {', '.join(NOTE_CODES)})")

    def __str__(self) -> str:
        return self.words
