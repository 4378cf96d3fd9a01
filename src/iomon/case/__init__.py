"""The case: its sidecar, and the channel facts decided where the sidecar and the labels meet.

A case sidecar (``<recording>.case.toml``) says what the recording cannot: the side and levels
of the avulsion, each channel's muscle and role, the surgical phases, review edits, clinical
facts, and how to read and process the recording (:mod:`~iomon.case.sidecar`). What each
channel is and does is decided once (:mod:`~iomon.case.channels`).
"""

from .sidecar import Case, load_case

__all__ = ["Case", "load_case"]
