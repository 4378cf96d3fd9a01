"""The case sidecar (``<recording stem>.case.toml``).

It says who the patient is surgically, what each channel is, and when the phases were.

See DESIGN.md section 4 for the format. Every value is checked here; a wrong one is an
:class:`~iomon.model.errors.InputError` naming the sidecar and the key.
"""

from __future__ import annotations

import datetime
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io import ReadOptions, read_options_from_sidecar, sidecar_sections
from ..io.bidsemg import case_document as bids_case_document
from ..io.bidsemg import is_bids_recording
from ..model.annotations import EVENT_KINDS, Phase
from ..model.errors import InputError
from ..model.muscles import MUSCLES, muscle_code
from ..model.sweeps import LIMBS, ROLES, SIDES
from ..model.tomlsafe import load_toml
from ..processing.baseline import Rebaseline
from ..processing.settings import Settings, settings_from_sidecar

__all__ = ["DEFICIT_LIMBS", "EVENT_KINDS", "FOLDER_SIDECAR", "SIMULATOR", "Case", "ChannelSpec",
           "Exclusion", "Landmark", "SignOff", "Simulation", "TheatreEvent", "case_from_document",
           "load_case", "read_case", "sidecar_path", "sidecars_of"]

_LEVEL = re.compile(r"^(C[1-8]|T(1[0-2]|[1-9])|L[1-5]|S[1-5])$")
_CLINICAL_TYPES = {
    "sex": str, "age": (int, float), "etiology": str, "surgery_date": (str, datetime.date),
    "vas_pre": (int, float), "vas_post": (int, float), "analgesics_post": bool,
    "complications": str, "new_deficit": bool, "deficit_limbs": list,
}
#: The limbs a new deficit may be in (``[clinical] deficit_limbs``), as the audit scores them.
DEFICIT_LIMBS = ("left upper", "left lower", "right upper", "right lower")
#: Keys every review edit may carry: who made it and when (written by ``iomon review``).
_PROVENANCE = {"reviewer", "time"}


@dataclass(frozen=True)
class ChannelSpec:
    """What the sidecar says about one channel; None means "infer it"."""

    name: str
    muscle: str | None = None
    side: str | None = None
    limb: str | None = None
    role: str | None = None


@dataclass(frozen=True)
class Exclusion:
    """A review edit: sweeps or a channel left out of the analysis, and why.

    Selected are the sweeps listed (0-based, as in measurements.csv) and/or those from
    ``from_s`` to ``to_s`` (s since the start of the recording; either end open), on the channel
    named or on every channel. Excluded sweeps are treated as rejected: neither a drop nor a
    response, never part of a baseline.
    """

    reason: str
    channel: str | None = None
    sweeps: tuple[int, ...] = ()
    from_s: float | None = None
    to_s: float | None = None
    reviewer: str | None = None
    time: str | None = None

    def mask(self, onsets_s, ch_names) -> np.ndarray:
        """Which sweep x channel pairs it excludes: shape (n_sweeps, n_channels)."""
        onsets_s = np.asarray(onsets_s, float)
        rows = np.ones(onsets_s.size, bool)
        if self.sweeps:
            rows &= np.isin(np.arange(onsets_s.size), self.sweeps)
        if self.from_s is not None:
            rows &= onsets_s >= self.from_s
        if self.to_s is not None:
            rows &= onsets_s <= self.to_s
        columns = np.array([self.channel is None or name == self.channel for name in ch_names])
        return rows[:, None] & columns[None, :]

    def describe(self) -> str:
        """The edit in words, for the report."""
        where = [f"channel {self.channel}" if self.channel else "every channel"]
        if self.sweeps:
            where.append("sweep" + ("s " if len(self.sweeps) > 1 else " ")
                         + ", ".join(str(s) for s in self.sweeps))
        if self.from_s is not None or self.to_s is not None:
            start = "the start" if self.from_s is None else f"{self.from_s:g} s"
            end = "the end" if self.to_s is None else f"{self.to_s:g} s"
            where.append(f"from {start} to {end}")
        return f"excluded {', '.join(where)}: {self.reason}"


@dataclass(frozen=True)
class TheatreEvent:
    """Something that happened in theatre, noted by the team: drawn on the trends, listed.

    ``kind`` is one of :data:`EVENT_KINDS` (None when the sidecar does not say).
    """

    at_s: float
    text: str
    kind: str | None = None
    reviewer: str | None = None
    time: str | None = None


@dataclass(frozen=True)
class Landmark:
    """An onset and/or peak placed by hand in review, used in the measures.

    Attributes
    ----------
    channel : str
        The channel's label, as in the recording.
    sweep : int
        0-based, as in measurements.csv.
    onset_s, peak_s : float or None
        Latency after the stimulus, s (the sidecar holds ms); None where not placed.
    reviewer, time : str or None
        Who placed it and when (ISO 8601).
    """

    channel: str
    sweep: int
    onset_s: float | None = None
    peak_s: float | None = None
    reviewer: str | None = None
    time: str | None = None


@dataclass(frozen=True)
class SignOff:
    """A reviewer's sign-off of the case in ``iomon review`` (``[[signoff]]``): who, when."""

    reviewer: str
    time: str


#: The equipment a simulated recording's header names (EDF: the recording field's last word).
SIMULATOR = "iomon.simulate"


@dataclass(frozen=True)
class Simulation:
    """A synthetic case: what the simulator says of it (the sidecar's ``[simulation]``).

    Attributes
    ----------
    time_compression : float or None
        The file runs this many times faster than the surgery it stands for (1: real time;
        None: not stated).
    scenario : str or None
    seed : int or None
    source : str
        Where iomon learnt the case is synthetic: ``"[simulation]"`` of the sidecar, or
        ``"header"`` (the recording names the simulator as its equipment).
    """

    time_compression: float | None = None
    scenario: str | None = None
    seed: int | None = None
    source: str = "[simulation]"


@dataclass(frozen=True)
class Case:
    """Facts about a case that the recording does not hold.

    Attributes
    ----------
    id : str
        Case identifier used in the outputs.
    side : str or None
        Side of the avulsion and lesioning (``"left"`` / ``"right"``), None when unknown.
    levels : tuple of str
        Avulsed root levels.
    channels : tuple of ChannelSpec
        Per-channel overrides.
    phases : tuple of Phase
        Explicit phases; when empty they come from the recording's annotations.
    clinical : dict
        Optional clinical facts for cohort tables.
    source : Path or None
        The sidecar file, None when there was none.
    read_options : ReadOptions
        How to read the recording (the ``[recording]`` table).
    rebaselines : tuple of Rebaseline
        Explicit re-baselinings (``[[rebaseline]]``: ``at_s``, ``reason``).
    processing : Settings
        How to condition and measure (the ``[processing]`` table).
    procedure : str or None
        The operation, as the report heads it (``[case] procedure``).
    exclusions : tuple of Exclusion
        Review edits: sweeps or channels left out (``[[exclude]]``).
    events : tuple of TheatreEvent
        What happened in theatre (``[[events]]``).
    notes : tuple of str
        What a user should know of the sidecar (a muscle iomon does not know).
    landmarks : tuple of Landmark
        Onsets and peaks placed by hand (``[[landmarks]]``), in the order written: a later one
        for the same sweep and channel overrides an earlier one.
    signoffs : tuple of SignOff
        Sign-offs in review (``[[signoff]]``), in the order written.
    simulation : Simulation or None
        A synthetic case's ``[simulation]`` (written by ``iomon simulate``).
    """

    id: str
    side: str | None = None
    levels: tuple[str, ...] = ()
    channels: tuple[ChannelSpec, ...] = ()
    phases: tuple[Phase, ...] = ()
    clinical: dict = field(default_factory=dict)
    source: Path | None = None
    read_options: ReadOptions = field(default_factory=ReadOptions)
    rebaselines: tuple[Rebaseline, ...] = ()
    processing: Settings = field(default_factory=Settings)
    procedure: str | None = None
    exclusions: tuple[Exclusion, ...] = ()
    events: tuple[TheatreEvent, ...] = ()
    notes: tuple[str, ...] = ()
    landmarks: tuple[Landmark, ...] = ()
    signoffs: tuple[SignOff, ...] = ()
    simulation: Simulation | None = None


#: The sidecar inside a folder that holds a case exported as one file per sweep.
FOLDER_SIDECAR = "case.toml"


def sidecar_path(recording: str | Path) -> Path:
    """Return where the automatic sidecar of ``recording`` would be beside it.

    ``<stem>.case.toml`` beside a file; ``<name>.case.toml`` beside a folder of sweep files
    (which may also hold its sidecar inside, as ``case.toml``: see :func:`sidecars_of`).
    """
    recording = Path(recording)
    if recording.is_dir():
        return recording.with_name(recording.name + ".case.toml")
    return recording.with_name(recording.stem + ".case.toml")


def sidecars_of(recording: str | Path) -> list[Path]:
    """The automatic sidecars of a recording that exist: beside it, and inside a folder."""
    recording = Path(recording)
    places = [sidecar_path(recording)]
    if recording.is_dir():
        places.append(recording / FOLDER_SIDECAR)
    return [p for p in places if p.is_file()]


def _check_keys(table: dict, allowed: set, where: str, path: Path):
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise InputError(
            f"unknown key {unknown[0]!r} in {where} (expected: {', '.join(sorted(allowed))})", path
        )


def _tables(doc, key: str, allowed: set, path: Path):
    """The entries of an array of tables (``[[key]]``) as (where, table), keys checked."""
    entries = doc.get(key, [])
    if not isinstance(entries, list):
        raise InputError(f"{key} must be an array of tables ([[{key}]])", path)
    out = []
    for i, entry in enumerate(entries):
        # Counted from 1 as a reader counts them, and named by the channel it is about.
        where = f"[[{key}]] entry {i + 1}"
        named = entry.get("name", entry.get("channel")) if isinstance(entry, dict) else None
        if isinstance(named, str) and named.strip():
            where += f" ({named!r})"
        if not isinstance(entry, dict):
            raise InputError(f"{where} must be a table", path)
        _check_keys(entry, allowed, where, path)
        out.append((where, entry))
    return out


def _choice(value, allowed, key: str, path: Path):
    if value is None:
        return None
    if not isinstance(value, str) or value.lower() not in allowed:
        raise InputError(f"{key} must be one of {', '.join(allowed)}, got {value!r}", path)
    return value.lower()


def read_case(path: str | Path, default_id: str | None = None) -> Case:
    """Read and validate a case sidecar.

    Parameters
    ----------
    path : str or Path
        The ``.case.toml`` file.
    default_id : str, optional
        Case id to use when the sidecar has none (the recording's stem, usually).
    """
    path = Path(path)
    return case_from_document(_load_toml(path), path, default_id, source=path)


def case_from_document(doc: dict, path: Path, default_id: str | None = None,
                       source: Path | None = None) -> Case:
    """A case from a parsed sidecar document, every value checked.

    ``path`` is named in the refusals; ``source`` is the case's sidecar file (None for a case
    whose facts come from a BIDS recording's files alone).
    """
    _check_keys(doc, {"case", "channels", "phases", "clinical", "recording", "rebaseline",
                      "processing", "exclude", "events", "landmarks", "signoff", "simulation"}
                | sidecar_sections(),
                "the sidecar", path)
    case_id, side, levels, procedure = _case_section(doc, path, default_id)
    notes = []
    return Case(case_id, side, levels, _channel_specs(doc, path, notes), _phases(doc, path),
                _clinical(doc, path), source,
                _read_options(doc, path), _rebaselines(doc, path),
                _processing(doc.get("processing", {}), path), procedure,
                _exclusions(doc, path), _events(doc, path), notes=tuple(notes),
                landmarks=_landmarks(doc, path), signoffs=_signoffs(doc, path),
                simulation=_simulation(doc, path))


def _load_toml(path: Path) -> dict:
    # Size, nesting, 64-bit integers and finite floats are checked there (iomon.model.tomlsafe).
    return load_toml(path, "case sidecar")


def _case_section(doc: dict, path: Path, default_id) -> tuple:
    """``[case]``: id, side of the lesioning, avulsed levels, procedure."""
    case_table = doc.get("case", {})
    if not isinstance(case_table, dict):
        raise InputError("[case] must be a table", path)
    _check_keys(case_table, {"id", "side", "levels", "procedure"}, "[case]", path)
    procedure = case_table.get("procedure")
    if procedure is not None and (not isinstance(procedure, str) or not procedure.strip()):
        raise InputError(f"case.procedure must be text, got {procedure!r}", path)
    case_id = case_table.get("id", default_id or path.name.removesuffix(".case.toml"))
    if not isinstance(case_id, str) or not case_id.strip():
        raise InputError(f"case.id must be a non-empty string, got {case_id!r}", path)
    side = _choice(case_table.get("side"), SIDES, "case.side", path)
    levels = case_table.get("levels", [])
    if not isinstance(levels, list) or not all(isinstance(v, str) for v in levels):
        raise InputError("case.levels must be a list of root levels such as \"C5\"", path)
    bad = [v for v in levels if not _LEVEL.match(v.upper())]
    if bad:
        raise InputError(f"case.levels: {bad[0]!r} is not a root level (C1-C8, T1-T12, L1-L5, "
                         "S1-S5)", path)
    return str(case_id), side, tuple(v.upper() for v in levels), procedure


def _channel_specs(doc: dict, path: Path, notes: list) -> tuple[ChannelSpec, ...]:
    """``[[channels]]``: what the sidecar says about each channel.

    A muscle is read in any spelling the channel-label reader knows (``"Delt"``, ``"Tib
    ant"``, ``"deltoideus"``) and kept as its code; one iomon does not know is kept as written,
    with a note: its expected latencies are then unknown.
    """
    specs = []
    for where, entry in _tables(doc, "channels", {"name", "muscle", "side", "limb", "role"},
                                path):
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise InputError(f"{where}: name must be the channel's label in the recording", path)
        muscle = entry.get("muscle")
        if muscle is not None:
            if not isinstance(muscle, str):
                raise InputError(f"{where}: muscle must be text, got {muscle!r}", path)
            code = muscle_code(muscle)
            if code is None:
                notes.append(f"{path.name}: {where} names muscle {muscle!r}, which iomon does "
                             "not know: its expected latencies are not used (known: "
                             f"{', '.join(MUSCLES)})")
            muscle = code or muscle
        specs.append(ChannelSpec(
            name=name,
            muscle=muscle,
            side=_choice(entry.get("side"), SIDES, f"{where}: side", path),
            limb=_choice(entry.get("limb"), LIMBS, f"{where}: limb", path),
            role=_choice(entry.get("role"), ROLES, f"{where}: role", path),
        ))
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise InputError("a channel is listed twice under [[channels]]", path)
    return tuple(specs)


def _phases(doc: dict, path: Path) -> tuple[Phase, ...]:
    """``[[phases]]``: named spans of the surgery, in time order, not overlapping."""
    phases = []
    for where, entry in _tables(doc, "phases", {"name", "start_s", "end_s", "level"}, path):
        name, start, end = entry.get("name"), entry.get("start_s"), entry.get("end_s")
        level = entry.get("level")
        if level is not None and (not isinstance(level, str) or not _LEVEL.match(level.upper())):
            raise InputError(f"{where}: level must be a root level such as \"C6\" (C1-C8, "
                             f"T1-T12, L1-L5, S1-S5), got {level!r}", path)
        if not isinstance(name, str) or not name.strip():
            raise InputError(f"{where}: name must be a non-empty string", path)
        for key, value in (("start_s", start), ("end_s", end)):
            if not _seconds(value):
                raise InputError(f"{where}: {key} must be seconds >= 0 (at most 1e7), got "
                                 f"{value!r}", path)
        if end <= start:
            raise InputError(f"{where}: end_s ({end}) must be after start_s ({start})", path)
        phases.append(Phase(name.strip(), float(start), float(end),
                            None if level is None else level.upper()))
    phases.sort(key=lambda p: p.start_s)
    for a, b in zip(phases, phases[1:]):
        if b.start_s < a.end_s:
            raise InputError(f"phases {a.label!r} and {b.label!r} overlap", path)
    return tuple(phases)


#: The largest time compression a sidecar may state (a day of surgery in a second, about).
_MAX_COMPRESSION = 1e5


def _simulation(doc: dict, path: Path) -> Simulation | None:
    """``[simulation]``: a synthetic case's time compression, scenario and seed."""
    table = doc.get("simulation")
    if table is None:
        return None
    if not isinstance(table, dict):
        raise InputError("[simulation] must be a table", path)
    _check_keys(table, {"time_compression", "scenario", "seed"}, "[simulation]", path)
    compression = table.get("time_compression")
    if compression is not None and (isinstance(compression, bool)
                                    or not isinstance(compression, (int, float))
                                    or not 1 <= compression <= _MAX_COMPRESSION):
        raise InputError("simulation.time_compression must be a number from 1 (real time) to "
                         f"{_MAX_COMPRESSION:g}, got {compression!r}", path)
    scenario, seed = table.get("scenario"), table.get("seed")
    if scenario is not None and (not isinstance(scenario, str) or not scenario.strip()):
        raise InputError(f"simulation.scenario must be text, got {scenario!r}", path)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise InputError(f"simulation.seed must be a whole number >= 0, got {seed!r}", path)
    return Simulation(None if compression is None else float(compression),
                      None if scenario is None else scenario.strip(), seed)


def _clinical(doc: dict, path: Path) -> dict:
    """``[clinical]``: the facts cohort tables use, type-checked."""
    clinical = doc.get("clinical", {})
    if not isinstance(clinical, dict):
        raise InputError("[clinical] must be a table", path)
    _check_keys(clinical, set(_CLINICAL_TYPES), "[clinical]", path)
    for key, value in clinical.items():
        expected = _CLINICAL_TYPES[key]
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            raise InputError(f"clinical.{key} has the wrong type: {value!r}", path)
    clinical = dict(clinical)
    limbs = clinical.get("deficit_limbs")
    if limbs is not None:
        wrong = [v for v in limbs if not isinstance(v, str) or v.lower() not in DEFICIT_LIMBS]
        if wrong:
            raise InputError(f"clinical.deficit_limbs: {wrong[0]!r} is not a limb (one of "
                             f"{', '.join(DEFICIT_LIMBS)})", path)
        clinical["deficit_limbs"] = sorted({v.lower() for v in limbs}, key=DEFICIT_LIMBS.index)
        if limbs and clinical.get("new_deficit") is False:
            raise InputError("clinical.deficit_limbs names limbs but new_deficit is false",
                             path)
    if "surgery_date" in clinical:
        clinical["surgery_date"] = str(clinical["surgery_date"])
    return clinical


def _read_options(doc: dict, path: Path) -> ReadOptions:
    """Reading options: ``[recording]`` and the sections readers own, checked by them."""
    try:
        return read_options_from_sidecar(doc)
    except InputError as err:
        raise InputError(err.reason, path) from None


def _processing(table, path: Path) -> Settings:
    """Processing settings from the ``[processing]`` table."""
    if not isinstance(table, dict):
        raise InputError("[processing] must be a table", path)
    try:
        return settings_from_sidecar(table)
    except InputError as err:
        raise InputError(err.reason, path) from None


def _seconds(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and 0 <= value <= 1e7)


def _exclusions(doc, path: Path) -> tuple[Exclusion, ...]:
    """``[[exclude]]`` entries.

    Each needs a ``reason`` and at least one of ``channel``, ``sweep``, ``from_s``, ``to_s``.
    """
    out = []
    for where, entry in _tables(doc, "exclude", {"channel", "sweep", "from_s", "to_s",
                                                 "reason"} | _PROVENANCE, path):
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise InputError(f"{where}: reason must say why (text)", path)
        if not set(entry) & {"channel", "sweep", "from_s", "to_s"}:
            raise InputError(f"{where} must name a channel, a sweep or a time range", path)
        channel = entry.get("channel")
        if channel is not None and (not isinstance(channel, str) or not channel):
            raise InputError(f"{where}: channel must be the channel's label", path)
        sweeps = entry.get("sweep", [])
        sweeps = [sweeps] if isinstance(sweeps, int) and not isinstance(sweeps, bool) else sweeps
        if not isinstance(sweeps, list) or not all(
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 10**7 for v in sweeps):
            raise InputError(f"{where}: sweep must be a sweep number (0-based, as in "
                             "measurements.csv) or a list of them", path)
        for key in ("from_s", "to_s"):
            if key in entry and not _seconds(entry[key]):
                raise InputError(f"{where}: {key} must be seconds >= 0, got {entry[key]!r}", path)
        start, end = entry.get("from_s"), entry.get("to_s")
        if start is not None and end is not None and end < start:
            raise InputError(f"{where}: to_s ({end}) is before from_s ({start})", path)
        out.append(Exclusion(reason.strip(), channel, tuple(sweeps),
                             None if start is None else float(start),
                             None if end is None else float(end),
                             *_provenance(entry, where, path)))
    return tuple(out)


def _provenance(entry: dict, where: str, path: Path) -> tuple[str | None, str | None]:
    """A review edit's ``reviewer`` (text) and ``time`` (a TOML date-time or ISO text)."""
    reviewer, moment = entry.get("reviewer"), entry.get("time")
    if reviewer is not None and (not isinstance(reviewer, str) or not reviewer.strip()):
        raise InputError(f"{where}: reviewer must be the reviewer's name or initials", path)
    if isinstance(moment, (datetime.datetime, datetime.date)):
        moment = moment.isoformat()
    elif moment is not None:
        try:
            moment = datetime.datetime.fromisoformat(str(moment)).isoformat()
        except ValueError:
            raise InputError(f"{where}: time must be a date and time (ISO 8601), got "
                             f"{moment!r}", path) from None
    return (None if reviewer is None else reviewer.strip()), moment


def _events(doc, path: Path) -> tuple[TheatreEvent, ...]:
    """``[[events]]``: ``at_s``, ``text`` and an optional ``kind``, in time order."""
    out = []
    for where, entry in _tables(doc, "events", {"at_s", "text", "kind"} | _PROVENANCE, path):
        if not _seconds(entry.get("at_s")):
            raise InputError(f"{where}: at_s must be seconds >= 0, got {entry.get('at_s')!r}",
                             path)
        text = entry.get("text")
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"{where}: text must say what happened", path)
        kind = _choice(entry.get("kind"), EVENT_KINDS, f"{where}: kind", path)
        out.append(TheatreEvent(float(entry["at_s"]), text.strip(), kind,
                                *_provenance(entry, where, path)))
    return tuple(sorted(out, key=lambda e: e.at_s))


#: A hand-placed latency must lie within this many ms of the stimulus (checked against the
#: sweep itself when the analysis applies it).
_LANDMARK_RANGE_MS = 60_000.0


def _landmarks(doc, path: Path) -> tuple[Landmark, ...]:
    """``[[landmarks]]``: ``channel``, ``sweep`` and ``onset_ms`` and/or ``peak_ms``."""
    out = []
    for where, entry in _tables(doc, "landmarks", {"channel", "sweep", "onset_ms", "peak_ms"}
                                | _PROVENANCE, path):
        channel, sweep = entry.get("channel"), entry.get("sweep")
        if not isinstance(channel, str) or not channel:
            raise InputError(f"{where}: channel must be the channel's label", path)
        if not isinstance(sweep, int) or isinstance(sweep, bool) or not 0 <= sweep < 10**7:
            raise InputError(f"{where}: sweep must be a sweep number (0-based, as in "
                             "measurements.csv)", path)
        if "onset_ms" not in entry and "peak_ms" not in entry:
            raise InputError(f"{where} must place an onset_ms or a peak_ms", path)
        values = {}
        for key in ("onset_ms", "peak_ms"):
            value = entry.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not abs(value) <= _LANDMARK_RANGE_MS):
                raise InputError(f"{where}: {key} must be ms after the stimulus, got {value!r}",
                                 path)
            values[key] = None if value is None else float(value) * 1e-3
        out.append(Landmark(channel, sweep, values["onset_ms"], values["peak_ms"],
                            *_provenance(entry, where, path)))
    return tuple(out)


def _signoffs(doc, path: Path) -> tuple[SignOff, ...]:
    """``[[signoff]]``: ``reviewer`` and ``time``, both required."""
    out = []
    for where, entry in _tables(doc, "signoff", _PROVENANCE, path):
        reviewer, moment = _provenance(entry, where, path)
        if reviewer is None or moment is None:
            raise InputError(f"{where} must give the reviewer and the time", path)
        out.append(SignOff(reviewer, moment))
    return tuple(out)


def _rebaselines(doc, path: Path) -> tuple[Rebaseline, ...]:
    """The ``[[rebaseline]]`` entries: ``at_s`` (required) and ``reason``."""
    out = []
    for where, entry in _tables(doc, "rebaseline", {"at_s", "reason"} | _PROVENANCE, path):
        at = entry.get("at_s")
        if not _seconds(at):
            raise InputError(f"{where}: at_s must be seconds >= 0 (at most 1e7), got {at!r}",
                             path)
        reason = entry.get("reason", "")
        if not isinstance(reason, str):
            raise InputError(f"{where}: reason must be text", path)
        out.append(Rebaseline(float(at), reason, *_provenance(entry, where, path)))
    return tuple(out)


def load_case(recording_path: str | Path, case_path: str | Path | None = None) -> Case:
    """The case sidecar of a recording.

    The one named, else ``<stem>.case.toml`` beside the recording (for a folder of sweep files
    ``<folder>.case.toml`` beside it or ``case.toml`` inside it; both is refused), else an
    empty case named after the recording.
    """
    recording_path = Path(recording_path)
    stem = recording_path.name if recording_path.is_dir() else recording_path.stem
    found = [Path(case_path)] if case_path is not None else sidecars_of(recording_path)
    if len(found) > 1:
        raise InputError(f"has two sidecars, {found[0]} beside it and {FOLDER_SIDECAR} inside "
                         "it: keep one", recording_path)
    if is_bids_recording(recording_path):
        return _bids_case(recording_path, found[0] if found else None)
    if found:
        return read_case(found[0], default_id=stem)
    return Case(stem)


def _bids_case(recording_path: Path, sidecar: Path | None) -> Case:
    """The case of a BIDS recording: what its BIDS files say, a sidecar's sections over them.

    Each section of a sidecar given with a BIDS recording (or found beside it) replaces what
    the BIDS files say of it (``[[channels]]`` replaces channels.tsv's facts, ``[processing]``
    iomon's settings in the dataset's derivatives...); the others stay as the BIDS files say.
    """
    try:
        doc = bids_case_document(recording_path)
    except InputError as err:
        raise InputError(err.reason, err.path or recording_path) from None
    if sidecar is None:
        return case_from_document(doc, recording_path, source=None)
    doc.update(_load_toml(sidecar))
    return case_from_document(doc, sidecar, source=sidecar)
