"""BIDS-EMG recordings (BIDS 1.11).

The data file with its ``emg.json``, ``channels.tsv`` and ``events.tsv``, as the BIDS
specification and mne-bids lay them out.

A BIDS recording is ``sub-<label>[_ses-<label>]_task-<label>[...]_emg.edf`` (or ``.bdf``) in
a dataset whose root holds ``dataset_description.json``. Its samples are read by the EDF/BDF
reader (:func:`iomon.io.edf.read_edf`, continuous, discontinuous or epoched alike); what the
case sidecar would say comes from the BIDS files instead:

- the stimuli (time, intensity, montage) and the markers from ``events.tsv``, which replace
  the annotations stored in the data file (as :func:`mne_bids.read_raw_bids` does);
- the channels analysed are those ``channels.tsv`` types ``EMG``; a ``TRIG`` channel is the
  stimulus channel;
- the mains frequency from ``emg.json`` ``PowerLineFrequency`` when the data hold no stretch
  to find it in;
- the case facts (:func:`case_document`): channel facts from ``channels.tsv`` (``target_muscle``,
  ``side``, ``limb``, ``role``), phases, theatre events, exclusions and re-baselines from
  ``events.tsv``, the case id, side, levels and clinical facts from ``participants.tsv``, and
  iomon's own analysis settings (``[processing]``, ``[recording]``, ``[[landmarks]]``), which
  BIDS has no place for, from ``derivatives/iomon`` (:func:`derivative_folder`).

The layout is the one :mod:`iomon.bids` writes; recordings other tools wrote are read as far
as they say the same things (a stimulus is an event whose ``trial_type`` names one, other
events are markers).
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import numpy as np

from ..model.annotations import Annotation, Stimulus, is_stimulus, parse_stimulus
from ..model.errors import InputError
from .base import Reader, ReadOptions, Recording, check_time

__all__ = ["BIDS_NAME", "EVENT_TYPES", "READER", "SETTINGS_FILE", "case_document", "companions",
           "dataset_root", "derivative_folder", "find_sidecar", "is_bids_recording",
           "read_bids", "read_tsv", "recording_stem"]

#: A BIDS-EMG data file's name: entities, then the ``emg`` suffix and an EDF or BDF extension.
BIDS_NAME = re.compile(r"^sub-[A-Za-z0-9]+(_[a-z]+-[A-Za-z0-9]+)*_emg\.(edf|bdf)$")
#: The ``trial_type`` of each kind of event iomon writes into events.tsv.
EVENT_TYPES = {"stimulus": "stimulus", "marker": "marker", "phase": "phase",
               "event": "theatre event", "exclusion": "exclusion", "rebaseline": "rebaseline",
               "alert": "alert"}
#: iomon's analysis settings of a recording, in its derivatives folder.
SETTINGS_FILE = "settings.toml"
#: Largest BIDS text file read (events.tsv of a long case runs to a few MB).
MAX_TSV_BYTES = 64 << 20
#: Sweep-table columns a reader added travel in events.tsv under this prefix.
TABLE_PREFIX = "sweep_"
_SIDES = ("left", "right")


def dataset_root(path: Path) -> Path | None:
    """The dataset's root: the nearest folder above ``path`` with dataset_description.json."""
    for folder in list(Path(path).resolve().parents)[:6]:
        if (folder / "dataset_description.json").is_file():
            return folder
    return None


def _entities(name: str) -> dict:
    """A BIDS file name's entities (``{"sub": "P01", "task": "tcmep"}``) and its ``suffix``."""
    stem = name.split(".", 1)[0]
    parts = stem.split("_")
    found = dict(p.split("-", 1) for p in parts[:-1] if "-" in p)
    found["suffix"] = parts[-1]
    return found


def find_sidecar(path: Path, suffix: str, extension: str) -> Path | None:
    """The file ``suffix`` + ``extension`` that applies to a recording (BIDS inheritance).

    The nearest one, from the recording's folder up to the dataset root, whose entities are
    all the recording's.
    """
    path = Path(path)
    wanted = _entities(path.name)
    root = dataset_root(path)
    folders = [path.parent]
    for folder in path.parent.parents:
        if root is None or not folder.is_relative_to(root):
            break
        folders.append(folder)
    for folder in folders:
        matches = []
        for candidate in sorted(folder.glob(f"*_{suffix}{extension}")):
            found = _entities(candidate.name)
            if found.pop("suffix") == suffix and all(wanted.get(k) == v for k, v in found.items()):
                matches.append((len(found), candidate))
        if matches:
            return max(matches)[1]
    return None


def is_bids_recording(path: Path) -> bool:
    """Whether a file is a BIDS-EMG data file: its name, and an emg.json that applies to it."""
    path = Path(path)
    return (path.is_file() and BIDS_NAME.match(path.name) is not None
            and find_sidecar(path, "emg", ".json") is not None)


def companions(path: Path) -> list[Path]:
    """The files a BIDS recording's analysis reads beside its data (empty for other files).

    Its emg.json, channels.tsv, events.tsv, the dataset's participants.tsv and iomon's
    settings of it.
    """
    path = Path(path)
    if not is_bids_recording(path):
        return []
    found = [find_sidecar(path, suffix, extension) for suffix, extension in
             (("emg", ".json"), ("channels", ".tsv"), ("events", ".tsv"))]
    root, folder = dataset_root(path), derivative_folder(path)
    found += [root / "participants.tsv" if root else None,
              folder / SETTINGS_FILE if folder else None]
    return [p for p in found if p is not None and p.is_file()]


def recording_stem(path: Path) -> str:
    """The recording's name without its ``_emg`` suffix: ``sub-P01_ses-x_task-tcmep``."""
    return Path(path).name.split(".", 1)[0].removesuffix("_emg")


def derivative_folder(path: Path, root: Path | None = None) -> Path | None:
    """Where iomon's outputs and settings of a BIDS recording live in its dataset.

    ``<root>/derivatives/iomon/<the recording's folders>/<its stem>/``; None outside a dataset.
    """
    path = Path(path).resolve()
    root = Path(root).resolve() if root is not None else dataset_root(path)
    if root is None:
        return None
    return (root / "derivatives" / "iomon" / path.parent.relative_to(root)
            / recording_stem(path))


def read_tsv(path: Path) -> list[dict]:
    """A BIDS TSV file as one dict per row; ``n/a`` (and an empty cell) is None.

    Raises InputError naming the file when it is too large, not UTF-8, or its rows do not
    have the header's columns.
    """
    path = Path(path)
    if path.stat().st_size > MAX_TSV_BYTES:
        raise InputError(f"larger than {MAX_TSV_BYTES >> 20} MB: not a BIDS table iomon reads",
                         path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text (BIDS tables are UTF-8)", path) from None
    rows = list(csv.reader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows:
        raise InputError("empty: a BIDS table needs its header row", path)
    header = [h.strip() for h in rows[0]]
    out = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise InputError(f"row {number} has {len(row)} cells for {len(header)} columns",
                             path)
        out.append({h: (None if c.strip() in ("n/a", "") else c) for h, c in zip(header, row)})
    return out


def _json(path: Path) -> dict:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise InputError(f"not a JSON document ({err})", path) from None
    if not isinstance(document, dict):
        raise InputError("must hold a JSON object", path)
    return document


def _number(value, what: str, path: Path) -> float:
    """A cell as a finite number (None: NaN); InputError naming the column when it is not."""
    if value is None:
        return math.nan
    try:
        number = float(value)
    except ValueError:
        raise InputError(f"{what} {value!r} is not a number", path) from None
    if not math.isfinite(number):
        raise InputError(f"{what} {value!r} is not a finite number", path)
    return number


def _seconds(row: dict, column: str, path: Path, number: int) -> float:
    return check_time(_number(row.get(column), f"row {number}: {column}", path),
                      f"row {number}'s {column}", path)


def _events(path: Path) -> list[dict]:
    """events.tsv's rows, each with its ``onset`` and ``duration`` (s) checked."""
    events = find_sidecar(path, "events", ".tsv")
    if events is None:
        return []
    rows = read_tsv(events)
    for number, row in enumerate(rows, start=2):
        if row.get("onset") is None:
            raise InputError(f"row {number} has no onset (BIDS requires one)", events)
        row["_onset"] = _seconds(row, "onset", events, number)
        duration = row.get("duration")
        row["_duration"] = 0.0 if duration is None else _seconds(row, "duration", events,
                                                                    number)
        row["_number"], row["_file"] = number, events
    return rows


def _kind(row: dict) -> str:
    """What an event is: one of EVENT_TYPES' keys; ``marker`` for anything else."""
    trial_type = (row.get("trial_type") or "").strip()
    for key, name in EVENT_TYPES.items():
        if trial_type.lower() == name:
            return key
    return "stimulus" if is_stimulus(trial_type) else "marker"


def _text(row: dict) -> str | None:
    """The words of an event: its ``text``, else ``value``, else its ``trial_type``."""
    return row.get("text") or row.get("value") or row.get("trial_type")


def _stimulus(row: dict) -> Stimulus:
    """A stimulus row: intensity, unit and montage from their columns, else from its text."""
    onset, path, number = row["_onset"], row["_file"], row["_number"]
    if "intensity" in row or "montage" in row:
        intensity = _number(row.get("intensity"), f"row {number}: intensity", path)
        unit = row.get("intensity_unit") or ""
        if unit not in ("", "V", "mA"):
            raise InputError(f"row {number}: intensity_unit {unit!r} is not V or mA", path)
        return Stimulus(onset, intensity, unit, row.get("montage") or "")
    return parse_stimulus(Annotation(onset, 0.0, _text(row) or ""))


def _stimuli_and_markers(rows: list[dict]):
    """The stimuli, the markers (annotations) and the extra sweep-table columns.

    A stimulus row whose ``text`` holds the annotation it was read from is a marker too, so
    the recording's annotations are what the source file held.
    """
    stimuli, markers, extra = [], [], {}
    columns = sorted({c for row in rows for c in row if c.startswith(TABLE_PREFIX)})
    for row in rows:
        kind = _kind(row)
        if kind == "stimulus":
            stimuli.append(_stimulus(row))
            for column in columns:
                extra.setdefault(column[len(TABLE_PREFIX):], []).append(row.get(column))
            if row.get("text") is not None:
                markers.append(Annotation(row["_onset"], row["_duration"], row["text"]))
        elif kind == "marker":
            markers.append(Annotation(row["_onset"], row["_duration"], _text(row) or ""))
    order = np.argsort([s.onset_s for s in stimuli], kind="stable")
    stimuli = [stimuli[i] for i in order]
    extra = {k: [v[i] for i in order] for k, v in extra.items()}
    return stimuli, markers, extra


def _channels(path: Path) -> list[dict]:
    found = find_sidecar(path, "channels", ".tsv")
    if found is None:
        raise InputError("no channels.tsv applies to this BIDS recording", path)
    rows = read_tsv(found)
    for number, row in enumerate(rows, start=2):
        if not row.get("name") or not row.get("type"):
            raise InputError(f"row {number} lacks the name or type BIDS requires", found)
    return rows


def _sweep_table_extras(sweeps, extra: dict, stimuli: list):
    """The reader's sweep table with the extra columns events.tsv carried, per sweep."""
    if not extra:
        return sweeps
    import pandas as pd

    table = sweeps.table
    onsets = [s.onset_s for s in stimuli]
    index = [onsets.index(t) for t in table["onset_s"]]
    for name, values in extra.items():
        if name in table:
            continue
        column = pd.Series([values[i] for i in index], dtype=object)
        numeric = pd.to_numeric(column, errors="coerce")
        table[name] = numeric if numeric.notna().sum() == column.notna().sum() else column
    return sweeps.replace(table=table)


def _epoch_window(path: Path, stimuli, emg_json: dict, options: ReadOptions):
    """The sweep window of an epoched recording: where its first stimulus lies in its epoch.

    Each epoch is one data record of the EDF+D/BDF+D file (``EpochLength`` s from the record's
    start); a continuous recording's window is the sidecar's (``options.window_s``).
    """
    from .edf import check_header, read_tals

    length = emg_json.get("EpochLength")
    if (emg_json.get("RecordingType") != "epoched" or isinstance(length, bool)
            or not isinstance(length, (int, float)) or not length > 0):
        return options.window_s
    layout = check_header(path)
    onsets, _ = read_tals(path, layout)
    if onsets is None:
        return options.window_s
    first = stimuli[0].onset_s
    record = int(np.searchsorted(onsets, first, side="right")) - 1
    if record < 0:
        raise InputError(f"the first stimulus ({first:g} s) lies before the first epoch", path)
    per_record = [n for n, label in zip(layout["per_record"], layout["labels"])
                  if not label.endswith("Annotations")]
    sfreq = max(per_record) / layout["record_s"]
    start = float(onsets[record]) - first
    return (start, start + (round(float(length) * sfreq) - 1) / sfreq)


def read_bids(path: str | Path, options: ReadOptions | None = None) -> Recording:
    """Read a BIDS-EMG recording into sweeps around the stimuli its events.tsv lists.

    Parameters
    ----------
    path : str or Path
        The ``*_emg.edf`` or ``*_emg.bdf`` file of a BIDS dataset.
    options : ReadOptions, optional
        The sweep window of a continuous recording (from iomon's settings of the recording or
        a case sidecar); its stimulus channel is the ``TRIG`` channel of channels.tsv.
    """
    import dataclasses

    from .edf import read_edf

    path = Path(path)
    options = options or ReadOptions()
    sidecar = find_sidecar(path, "emg", ".json")
    emg_json = _json(sidecar) if sidecar is not None else {}
    channels = _channels(path)
    rows = _events(path)
    stimuli, markers, extra = _stimuli_and_markers(rows)
    if not stimuli:
        raise InputError("its events.tsv lists no stimulus (trial_type \"stimulus\")", path)
    triggers = [c["name"] for c in channels if c["type"].upper() == "TRIG"]
    options = dataclasses.replace(
        options, stimulus_channel=triggers[0] if len(triggers) == 1 else None,
        window_s=_epoch_window(path, stimuli, emg_json, options))
    inner = read_edf(path, options, stimuli=stimuli, markers=markers)
    emg = [c["name"] for c in channels if c["type"].upper() == "EMG"]
    sweeps = inner.sweeps
    kept = [n for n in sweeps.ch_names if n in emg]
    if not kept:
        raise InputError("none of the channels channels.tsv types EMG holds data iomon reads "
                         f"(it reads {', '.join(sweeps.ch_names)})", path)
    if kept != sweeps.ch_names:
        sweeps = sweeps.pick_channels(kept)
    sweeps = _sweep_table_extras(sweeps, extra, stimuli)
    mains = inner.mains_hz
    line = emg_json.get("PowerLineFrequency")
    if mains is None and line in (50, 60):
        mains = float(line)
    return dataclasses.replace(inner, format=f"BIDS-EMG ({inner.format})",
                               reader=f"iomon BIDS reader, {inner.reader}", sweeps=sweeps,
                               mains_hz=mains)


# ---------------------------------------------------------------------- the case's facts
def _channel_facts(rows: list[dict]) -> list[dict]:
    """``[[channels]]`` entries from channels.tsv's EMG rows."""
    from ..model.muscles import MUSCLES, muscle_code

    names = {m.name: code for code, m in MUSCLES.items()}
    entries = []
    for row in rows:
        if row["type"].upper() != "EMG":
            continue
        entry = {"name": row["name"]}
        target = (row.get("target_muscle") or "").strip()
        side = row.get("side")
        for word in _SIDES:
            if target.lower().startswith(word + " "):
                target, side = target[len(word) + 1:], side or word
        if target:
            entry["muscle"] = names.get(target) or muscle_code(target) or target
        for key, value in (("side", side), ("limb", row.get("limb")),
                           ("role", row.get("role"))):
            if value is not None:
                entry[key] = value
        entries.append(entry)
    return entries


def _span(row: dict) -> tuple[float, float]:
    return row["_onset"], row["_onset"] + row["_duration"]


def _timed_edits(rows: list[dict]) -> dict:
    """``[[phases]]``, ``[[events]]``, ``[[exclude]]`` and ``[[rebaseline]]`` from events.tsv."""
    doc = {"phases": [], "events": [], "exclude": [], "rebaseline": []}
    for row in rows:
        kind = _kind(row)
        if kind == "phase":
            start, end = _span(row)
            phase = {"name": row.get("phase") or row.get("value") or "",
                     "start_s": start, "end_s": end}
            if row.get("level"):
                phase["level"] = row["level"]
            doc["phases"].append(phase)
        elif kind == "event":
            entry = {"at_s": row["_onset"], "text": _text(row) or ""}
            if row.get("kind"):
                entry["kind"] = row["kind"]
            doc["events"].append(entry)
        elif kind == "exclusion":
            doc["exclude"].append((_number(row.get("entry"), "entry", row["_file"]),
                                   _exclusion(row)))
        elif kind == "rebaseline":
            doc["rebaseline"].append({"at_s": row["_onset"], "reason": row.get("reason") or ""})
    # Exclusions in the case's order (where two overlap the later one's reason is given).
    order = np.argsort([e for e, _ in doc["exclude"]], kind="stable")
    doc["exclude"] = [doc["exclude"][i][1] for i in order]
    return {k: v for k, v in doc.items() if v}


def _exclusion(row: dict) -> dict:
    """An ``[[exclude]]`` entry: its channel, sweeps, time range and reason."""
    entry = {"reason": row.get("reason") or "excluded in the BIDS events"}
    if row.get("channel"):
        entry["channel"] = row["channel"]
    path, number = row["_file"], row["_number"]
    if row.get("sweeps"):
        try:
            entry["sweep"] = [int(v) for v in row["sweeps"].split()]
        except ValueError:
            raise InputError(f"row {number}: sweeps {row['sweeps']!r} must be sweep numbers "
                             "separated by spaces", path) from None
    for key in ("from_s", "to_s"):
        if row.get(key) is not None:
            entry[key] = _number(row[key], f"row {number}: {key}", path)
    if not set(entry) & {"channel", "sweep", "from_s", "to_s"}:
        entry["from_s"], entry["to_s"] = _span(row)
    return entry


#: Clinical facts participants.tsv carries, and how each is read back.
_CLINICAL = {"sex": "text", "age": "number", "etiology": "text", "vas_pre": "number",
             "vas_post": "number", "analgesics_post": "boolean", "complications": "text",
             "new_deficit": "boolean", "deficit_limbs": "list"}


def _participant(path: Path) -> dict:
    """The recording's participant: its participants.tsv row (empty when there is none)."""
    root = dataset_root(path)
    table = None if root is None else root / "participants.tsv"
    if table is None or not table.is_file():
        return {}
    subject = "sub-" + _entities(Path(path).name)["sub"]
    rows = [r for r in read_tsv(table) if r.get("participant_id") == subject]
    return rows[0] if rows else {}


def _cell(value: str, kind: str):
    if kind == "list":
        return [v.strip() for v in value.split(",") if v.strip()]
    if kind == "boolean":
        return {"true": True, "false": False}.get(value.strip().lower(), value)
    if kind == "number":
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if number.is_integer() and "." not in value else number
    return value


def _case_table(path: Path, participant: dict) -> tuple[dict, dict]:
    """``[case]`` (id, side, levels, procedure) and ``[clinical]`` from participants.tsv."""
    case = {"id": participant.get("case_id") or _entities(Path(path).name)["sub"]}
    if participant.get("side"):
        case["side"] = participant["side"]
    if participant.get("levels"):
        case["levels"] = participant["levels"].split()
    if participant.get("procedure"):
        case["procedure"] = participant["procedure"]
    clinical = {key: _cell(participant[key], kind) for key, kind in _CLINICAL.items()
                if participant.get(key) is not None}
    return case, clinical


def case_document(path: str | Path) -> dict:
    """What a case sidecar would say of a BIDS recording, as a parsed sidecar document.

    From participants.tsv (``[case]``, ``[clinical]``), channels.tsv (``[[channels]]``),
    events.tsv (``[[phases]]``, ``[[events]]``, ``[[exclude]]``, ``[[rebaseline]]``) and
    iomon's settings of the recording in ``derivatives/iomon`` (``[recording]``,
    ``[processing]``, ``[[landmarks]]``), if any. The case sidecar reader validates it.
    """
    from ..model.tomlsafe import load_toml

    path = Path(path)
    case, clinical = _case_table(path, _participant(path))
    doc = {"case": case}
    channels = _channel_facts(_channels(path))
    if channels:
        doc["channels"] = channels
    doc.update(_timed_edits(_events(path)))
    if clinical:
        doc["clinical"] = clinical
    folder = derivative_folder(path)
    if folder is not None and (folder / SETTINGS_FILE).is_file():
        settings = load_toml(folder / SETTINGS_FILE, "iomon settings of a BIDS recording")
        allowed = {"recording", "processing", "landmarks", "simulation"}
        unknown = sorted(set(settings) - allowed)
        if unknown:
            raise InputError(f"unknown section {unknown[0]!r} (expected: "
                             f"{', '.join(sorted(allowed))})", folder / SETTINGS_FILE)
        doc.update(settings)
    return doc


def _sniff(head: bytes, suffix: str) -> bool:
    return head.startswith(b"0       ") or head[:8] == b"\xffBIOSEMI"


READER = Reader("bids", "BIDS-EMG recording (sub-*_emg.edf/.bdf of a BIDS dataset)",
                (".edf", ".bdf"), read_bids, _sniff, claims=is_bids_recording)
