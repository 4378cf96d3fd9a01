"""BIDS-EMG export (BIDS 1.11): each case as a recording of a BIDS dataset, through mne-bids.

``export_case(recording, root)`` writes one case into the dataset at ``root``:

- ``sub-<case id>/ses-<session>/emg/sub-..._task-tcmep_emg.edf`` (or ``.bdf``): an EDF or BDF
  source is copied by mne-bids (its header's patient field emptied and, unless dates are
  kept, its start date moved before 1925, as mne-bids anonymises); the sweeps of any other
  source are written as BDF+D, one data record per sweep at its time (an epoched recording);
- ``_emg.json`` (placement, reference, power line, recording type, epoch length, filters),
  ``_channels.tsv`` with ``target_muscle``, ``side``, ``limb`` and ``role`` (described in
  ``_channels.json``), ``_events.tsv`` with every stimulus (intensity, montage), marker,
  phase, theatre event (with its kind), exclusion, re-baseline and alert (described in
  ``_events.json``);
- ``participants.tsv`` (and ``participants.json``): the case id, side and levels of the
  avulsion, the procedure and the ``[clinical]`` facts without identifiers (no surgery date;
  ages above 89 as 89);
- ``derivatives/iomon/``: a derivative dataset (its ``dataset_description.json`` names
  iomon and its version) holding, per recording, iomon's outputs (measurements.csv,
  alerts.json, summary.json, the report) and ``settings.toml``, the case sidecar's sections
  BIDS has no place for (``[processing]``, ``[recording]``, ``[[landmarks]]``).

The outputs are those of analysing the exported recording itself (through
:mod:`iomon.io.bidsemg`), so the derivatives describe what the dataset holds. mne-bids is
imported only here, when a case is exported.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__
from .io.bidsemg import EVENT_TYPES, SETTINGS_FILE, TABLE_PREFIX, derivative_folder, read_tsv
from .model.errors import InputError

__all__ = ["BIDS_VERSION", "SESSION", "TASK", "ExportedCase", "export_case", "session_label",
           "subject_label", "write_bdf_plus_d"]

#: The BIDS version the dataset follows (the first with an EMG modality is 1.11).
BIDS_VERSION = "1.11.1"
#: The task of every recording: intraoperative TcMEP monitoring.
TASK = "tcmep"
#: The session label when dates are not kept (a date is an identifier).
SESSION = "intraop"
_LOCK = ".iomon-bids.lock"


@dataclass(frozen=True)
class ExportedCase:
    """One case written into a BIDS dataset.

    Attributes
    ----------
    case_id, subject, session : str
    data_file : Path
        The recording in the dataset.
    how : str
        How its data got there: ``"copied (EDF+C)"``, ``"converted to BDF+D"``...
    recording_type : str
        ``continuous``, ``epoched`` or ``discontinuous`` (emg.json ``RecordingType``).
    n_stimuli, n_alerts : int
    derivatives : Path
        iomon's outputs of the recording.
    """

    case_id: str
    subject: str
    session: str
    data_file: Path
    how: str
    recording_type: str
    n_stimuli: int
    n_alerts: int
    derivatives: Path


def subject_label(case_id: str) -> str:
    """The BIDS subject label of a case: its id's letters and digits (``P-03`` -> ``P03``)."""
    label = re.sub(r"[^A-Za-z0-9]", "", case_id)
    if not label:
        raise InputError(f"case id {case_id!r} has no letter or digit to make a BIDS subject "
                         "label of (set [case] id)")
    return label


def session_label(clinical: dict, keep_dates: bool) -> str:
    """``intraop``; the surgery date (``20231004``) when dates are kept and the case has one."""
    date = clinical.get("surgery_date")
    if keep_dates and date:
        try:
            return datetime.date.fromisoformat(str(date)[:10]).strftime("%Y%m%d")
        except ValueError:
            raise InputError(f"clinical.surgery_date {date!r} is not a date (YYYY-MM-DD)"
                             ) from None
    return SESSION


@contextlib.contextmanager
def _locked(root: Path):
    """Hold the dataset's lock: cases exported side by side share participants.tsv."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with (root / _LOCK).open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def export_case(recording_path: str | Path, root: str | Path,
                case_path: str | Path | None = None, criteria=None, *, report: bool = True,
                keep_dates: bool = False) -> ExportedCase:
    """Write one case into the BIDS dataset at ``root`` (created if missing) and analyse it.

    Parameters
    ----------
    recording_path : str or Path
        A recording file or a folder of sweep files, read as ``iomon analyze`` reads it.
    root : str or Path
        The dataset's root folder.
    case_path : str or Path, optional
        Its case sidecar (default: found as ``iomon analyze`` finds it).
    criteria : str, Path or Criteria, optional
        The preset whose alerts go into events.tsv and the derivatives (default ``drez``).
    report : bool
        Write the report into the derivatives too.
    keep_dates : bool
        Keep the surgery date (as the session label) and the recording's start date; by
        default no date enters the dataset.

    Raises
    ------
    InputError
        The case cannot be read, or its subject label already holds another case.
    """
    from .case.sidecar import load_case
    from .io import read
    from .pipeline import prepare

    recording_path, root = Path(recording_path), Path(root)
    if recording_path.resolve().is_relative_to(root.resolve()):
        raise InputError("is inside the dataset it would be exported into (--root): export "
                         "into another folder", recording_path)
    case = load_case(recording_path, case_path)
    recording = read(recording_path, case.read_options)
    sweeps, phases, _ = prepare(recording, case)
    subject = subject_label(case.id)
    session = session_label(case.clinical, keep_dates)
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root):
        _refuse_other_case(root, subject, session, case.id)
        _dataset_files(root)
        data_file, how, kind = _write_data(recording, sweeps, case, root, subject, session,
                                           keep_dates)
        _write_participant(root, subject, case)
    _write_sidecars(data_file, recording, sweeps, case, kind)
    folder = derivative_folder(data_file, root)
    folder.mkdir(parents=True, exist_ok=True)
    _write_settings(recording_path, case, folder / SETTINGS_FILE)
    events = _event_rows(recording, sweeps, phases, case)
    _write_events(data_file, events, recording)
    result = _analyse(data_file, criteria, folder, report)
    _write_events(data_file, events + _alert_rows(result), recording)
    _derivative_description(root)
    return ExportedCase(case.id, subject, session, data_file, how, kind, sweeps.n_sweeps,
                        len(result.alerts), folder)


def _refuse_other_case(root: Path, subject: str, session: str, case_id: str) -> None:
    """Refuse a subject label that already holds another case (``P-03`` and ``P03``)."""
    table = root / "participants.tsv"
    if not table.is_file():
        return
    for row in read_tsv(table):
        if row.get("participant_id") == f"sub-{subject}" and row.get("case_id") not in (
                None, case_id):
            raise InputError(f"case {case_id!r} would be BIDS subject sub-{subject}, which "
                             f"already holds case {row['case_id']!r}; give one of them another "
                             "[case] id", root)


def _analyse(data_file: Path, criteria, folder: Path, report: bool):
    """Analyse the exported recording (through the BIDS reader) into its derivatives folder."""
    from .pipeline import analyze_file
    from .report.outputs import write_outputs

    result = analyze_file(data_file, None, criteria)
    write_outputs(result, folder, report=report, identify=False, force=True)
    return result


# ---------------------------------------------------------------------- dataset-level files
_README = """\
# TcMEP cases exported by iomon

Intraoperative transcranial motor evoked potential (TcMEP) monitoring, one recording per case
(task `tcmep`), in BIDS-EMG (BIDS {version}). Written by iomon {iomon}.

- `sub-*/ses-*/emg/*_emg.edf|bdf`: the recording (continuous as exported by the monitoring
  system, or its sweeps as an epoched BDF+D file: one data record per sweep, at its time);
- `*_events.tsv`: every stimulus (intensity, montage), marker, surgical phase, theatre event,
  exclusion, re-baseline and alert (see `*_events.json`);
- `*_channels.tsv`: the target muscle, side, limb and role (test or control) of each channel;
- `participants.tsv`: the case id, the avulsion's side and levels and the clinical facts,
  without identifiers (no names, dates of birth or surgery dates);
- `derivatives/iomon/`: iomon's measurements, alerts, summary and report of each recording,
  and the analysis settings that produced them (`settings.toml`).
"""


def _dataset_files(root: Path) -> None:
    """README and dataset_description.json, unless the dataset already has its own."""
    if not any(root.glob("README*")):
        (root / "README.md").write_text(
            _README.format(version=BIDS_VERSION, iomon=__version__), encoding="utf-8")
    description = root / "dataset_description.json"
    if not description.exists():
        _write_json(description, {
            "Name": "TcMEP cases exported by iomon", "BIDSVersion": BIDS_VERSION,
            "DatasetType": "raw",
            "GeneratedBy": [{"Name": "iomon", "Version": __version__,
                             "Description": "iomon bids export"}]})


def _derivative_description(root: Path) -> None:
    folder = root / "derivatives" / "iomon"
    _write_json(folder / "dataset_description.json", {
        "Name": "iomon: TcMEP measurements, alerts and reports", "BIDSVersion": BIDS_VERSION,
        "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "iomon", "Version": __version__,
                         "Description": "measurements.csv, alerts.json, summary.json and the "
                                        "report of each recording, and the analysis settings "
                                        "(settings.toml) that produced them"}]})
    # iomon's output files keep their own names; a recursive validation leaves them be.
    (folder / ".bidsignore").write_text("sub-*/**\n", encoding="utf-8")


def _write_json(path: Path, document: dict) -> None:
    from .report.outputs import write_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False)
                 + "\n")


# ---------------------------------------------------------------------- numbers as text
def _num(value) -> str:
    """A number as BIDS text: exact (it reads back as the same float), ``n/a`` if unknown."""
    if value is None:
        return "n/a"
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    value = float(value)
    if not np.isfinite(value):
        return "n/a"
    return np.format_float_positional(value, unique=True, trim="-")


def _duration(start: float, end: float) -> float:
    """A duration that, added to ``start``, gives ``end`` exactly (phases read back exact)."""
    span = end - start
    candidates, up, down = [span], span, span
    for _ in range(4):
        up, down = np.nextafter(up, np.inf), np.nextafter(down, -np.inf)
        candidates += [up, down]
    return float(next((c for c in candidates if start + c == end), span))


def _text(value) -> str:
    """Text for a TSV cell: tabs and line breaks as spaces, empty as ``n/a``."""
    if value is None:
        return "n/a"
    text = " ".join(str(value).split())
    return text if text else "n/a"


def _write_tsv(path: Path, columns: list[str], rows: list[dict]) -> None:
    from .report.outputs import write_atomic

    lines = ["\t".join(columns)]
    lines += ["\t".join(row.get(c, "n/a") for c in columns) for row in rows]
    write_atomic(path, "\n".join(lines) + "\n")


# ---------------------------------------------------------------------- the recording
def _channel_types(raw, sweeps, case) -> dict:
    """MNE channel types: the analysed channels EMG, a trigger channel stim, the rest misc."""
    from .io.base import TRIGGER_PATTERN

    analysed = set(sweeps.ch_names)
    trigger = case.read_options.stimulus_channel
    types = {}
    for name in raw.ch_names:
        if name in analysed:
            types[name] = "emg"
        elif name == trigger or TRIGGER_PATTERN.match(name.strip()):
            types[name] = "stim"
        else:
            types[name] = "misc"
    return types


def _mains(recording, case):
    """The mains frequency the case names or the reader found (50, 60) or None."""
    named = case.read_options.mains_hz
    return named if named in (50.0, 60.0) else recording.mains_hz


def _daysback(raw) -> int | None:
    """Days that move the recording's start to 1 January 1924 (BIDS: before 1925)."""
    start = raw.info["meas_date"]
    if start is None:
        return None
    return max(0, (start.date() - datetime.date(1924, 1, 1)).days)


def _write_data(recording, sweeps, case, root, subject, session, keep_dates):
    """The recording's data file in the dataset, through mne-bids.

    An EDF or BDF file is copied as it is; any other source's sweeps are first written as
    BDF+D (one record per sweep) and that file copied. Returns (the data file, how it got
    there, the recording type).
    """
    import warnings

    import mne
    import mne_bids

    source = recording.path
    copy = source.is_file() and source.suffix.lower() in (".edf", ".bdf")
    bids_path = mne_bids.BIDSPath(subject=subject, session=session, task=TASK,
                                  datatype="emg", root=root)
    with tempfile.TemporaryDirectory(dir=root, prefix=".iomon-export-") as scratch:
        if copy:
            data, kind = source, _recording_type(recording.format)
            inner = recording.format
            if inner.startswith("BIDS-EMG (") and inner.endswith(")"):
                inner = inner[len("BIDS-EMG ("):-1]
            how = f"copied ({inner})"
        else:
            data, kind = Path(scratch) / "sweeps.bdf", "epoched"
            write_bdf_plus_d(data, sweeps.data, sweeps.sfreq, sweeps.ch_names,
                             sweeps.column("onset_s") + sweeps.times[0],
                             recording.start if keep_dates else _undated(recording.start))
            how = "converted to BDF+D (one data record per sweep)"
        read = mne.io.read_raw_bdf if data.suffix.lower() == ".bdf" else mne.io.read_raw_edf
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # MNE reads EDF+D records as if they abutted
            try:
                raw = read(data, preload=False, verbose="error")
            except Exception as err:  # noqa: BLE001 - MNE's own words, in one line
                raise InputError(f"mne-bids cannot copy it (MNE cannot read it: {err})",
                                 source) from None
            raw.set_channel_types(_channel_types(raw, sweeps, case), verbose="error")
            raw.info["line_freq"] = _mains(recording, case)
            raw.set_annotations(None)  # iomon writes events.tsv itself
            days = None if keep_dates else _daysback(raw)
            written = mne_bids.write_raw_bids(
                raw, bids_path, emg_placement="Other", overwrite=True, verbose="error",
                anonymize=None if days is None else {"daysback": days, "keep_his": False})
    _scrub_header(written.fpath, keep_dates)
    return written.fpath, how, kind


def _recording_type(format_name: str) -> str:
    """The recording type of a copied EDF/BDF file.

    ``continuous`` for EDF+C and plain EDF, ``epoched`` for one sweep per record run,
    ``discontinuous`` for other EDF+D files.
    """
    if "+D" not in format_name:
        return "continuous"
    return "epoched" if "one sweep per record run" in format_name else "discontinuous"


def _undated(start):
    """The start of a recording without its date (1 January 1985, EDF's earliest)."""
    if start is None:
        return None
    return datetime.datetime.combine(datetime.date(1985, 1, 1), start.time())


def _scrub_header(path: Path, keep_dates: bool) -> None:
    """Empty the EDF/BDF header's patient field; without dates, its recording field and date.

    EDF+ writes an unknown patient as ``X X X X`` (code, sex, birth date, name) and an unknown
    recording as ``Startdate X X X X``: the name and date of birth are identifiers, whatever
    else the export keeps; the start date is one unless dates are kept (the time of day
    stays: the reports show clock times).
    """
    with path.open("r+b") as f:
        f.seek(8)
        f.write(b"X X X X".ljust(80))
        if not keep_dates:
            f.write(b"Startdate X X X X".ljust(80))
            f.write(b"01.01.85")


#: The BDF digital range (24 bit).
_BDF_DIGITAL = (-8388608, 8388607)


def _record_samples(n_samples: int, sfreq: float) -> tuple[int, str]:
    """Samples per data record (>= a sweep's) whose duration the 8-character field holds.

    Returns the count and the duration's text; a sweep shorter than the record is padded.
    """
    for n in range(n_samples, n_samples + int(sfreq) + 1):
        for digits in range(8, 0, -1):
            text = f"{n / sfreq:.{digits}f}".rstrip("0").rstrip(".")
            if len(text) <= 8 and abs(float(text) * sfreq - n) < 1e-9 * n:
                return n, text
    raise InputError(f"no data record of about {n_samples} samples at {sfreq:g} Hz has a "
                     "duration the EDF header can state")


def _field(value, width: int) -> bytes:
    return str(value).encode("ascii")[:width].ljust(width)


def write_bdf_plus_d(path, data_v, sfreq: float, names, starts_s, start=None) -> Path:
    """Write sweeps as BDF+D: one data record per sweep, starting at its time.

    Parameters
    ----------
    path : Path
    data_v : array of float, shape (n_sweeps, n_channels, n_samples)
        Volts; written in µV, 24 bit, each channel's range from its extremes (a missing value
        is written as the channel's lowest).
    sfreq : float
    names : sequence of str
    starts_s : array of float, shape (n_sweeps,)
        Each sweep's first sample, s from the recording's start; increasing, not overlapping.
    start : datetime.datetime, optional
        The recording's start (the header's date and time); None: unknown.
    """
    data = np.asarray(data_v, float) * 1e6
    n_sweeps, n_channels, n_samples = data.shape
    per_record, record_text = _record_samples(n_samples, sfreq)
    starts = np.asarray(starts_s, float)
    if np.any(np.diff(starts) < (n_samples - 0.5) / sfreq):
        raise InputError("its sweeps overlap in time: they cannot be written as BDF+D records")
    finite = np.where(np.isfinite(data), data, np.nan)
    low = np.floor(np.nan_to_num(np.nanmin(finite, axis=(0, 2)), nan=-1.0)) - 1.0
    high = np.ceil(np.nan_to_num(np.nanmax(finite, axis=(0, 2)), nan=1.0)) + 1.0
    span = _BDF_DIGITAL[1] - _BDF_DIGITAL[0]
    scaled = (np.nan_to_num(data, nan=-np.inf) - low[None, :, None]) / (high - low)[None, :, None]
    digital = np.clip(np.round(scaled * span + _BDF_DIGITAL[0]), *_BDF_DIGITAL).astype("<i4")
    if per_record > n_samples:  # pad each sweep with its last sample to fill the record
        digital = np.concatenate([digital, np.repeat(digital[..., -1:], per_record - n_samples,
                                                     axis=-1)], axis=-1)
    tals = [f"+{_num(t)}\x14\x14\x00".encode() for t in starts]
    tal_samples = -(-max(len(t) for t in tals) // 3)
    header = _bdf_header(names, low, high, per_record, tal_samples, n_sweeps, record_text,
                         start)
    with Path(path).open("wb") as f:
        f.write(header)
        for sweep in range(n_sweeps):
            samples = digital[sweep].reshape(-1)
            f.write(np.stack([samples & 0xFF, (samples >> 8) & 0xFF, (samples >> 16) & 0xFF],
                             axis=1).astype(np.uint8).tobytes())
            f.write(tals[sweep].ljust(3 * tal_samples, b"\x00"))
    return Path(path)


def _bdf_header(names, low, high, per_record, tal_samples, n_records, record_text, start):
    """The 256-byte header and one 256-byte block per signal (the annotations last)."""
    n_signals = len(names) + 1
    date = "01.01.85" if start is None else start.strftime("%d.%m.%y")
    clock = "00.00.00" if start is None else start.strftime("%H.%M.%S")
    startdate = "X" if start is None else start.strftime("%d-%b-%Y").upper()
    header = b"".join([
        b"\xffBIOSEMI", _field("X X X X", 80), _field(f"Startdate {startdate} X X X", 80),
        _field(date, 8), _field(clock, 8), _field(256 * (n_signals + 1), 8),
        _field("BDF+D", 44), _field(n_records, 8), _field(record_text, 8),
        _field(n_signals, 4)])
    columns = [
        (16, list(names) + ["BDF Annotations"]), (80, [""] * n_signals),
        (8, ["uV"] * len(names) + [""]),
        (8, [f"{v:.0f}" for v in low] + ["-1"]), (8, [f"{v:.0f}" for v in high] + ["1"]),
        (8, [str(_BDF_DIGITAL[0])] * n_signals), (8, [str(_BDF_DIGITAL[1])] * n_signals),
        (80, [""] * n_signals), (8, [per_record] * len(names) + [tal_samples]),
        (32, [""] * n_signals)]
    for width, values in columns:
        header += b"".join(_field(v, width) for v in values)
    return header


# ---------------------------------------------------------------------- sidecars
_PLACEMENT = ("Recording electrodes placed over or in each target muscle by the monitoring "
              "team, as in intraoperative TcMEP monitoring (target_muscle in channels.tsv); "
              "the placement method is not stated in the source export.")


def _write_sidecars(data_file: Path, recording, sweeps, case, kind: str) -> None:
    """emg.json completed, channels.tsv with the channel facts, channels.json describing them."""
    from .report.outputs import write_atomic

    emg_json = data_file.with_name(data_file.name.split(".")[0] + ".json")
    document = json.loads(emg_json.read_text(encoding="utf-8"))
    mains = _mains(recording, case)
    document.update({
        "TaskDescription": "Transcranial electrical stimulation of the motor cortex, motor "
                           "evoked potentials recorded from limb muscles, monitored during "
                           + (case.procedure or "surgery"),
        "Instructions": "none: the patient is under general anaesthesia",
        "EMGPlacementScheme": "Other", "EMGPlacementSchemeDescription": _PLACEMENT,
        "EMGReference": "n/a", "PowerLineFrequency": mains if mains else "n/a",
        "SoftwareFilters": "n/a", "HardwareFilters": "n/a",
        "RecordingDuration": float(recording.duration_s), "RecordingType": kind})
    document.pop("EMGGround", None)
    if kind == "epoched":
        document["EpochLength"] = float(sweeps.times.size / sweeps.sfreq)
    else:
        document.pop("EpochLength", None)
    write_atomic(emg_json, json.dumps(document, indent=4, allow_nan=False) + "\n")
    _write_channels(data_file.with_name(data_file.name.replace("_emg.", "_channels.")
                                        .rsplit(".", 1)[0] + ".tsv"), sweeps)


_CHANNEL_COLUMNS = {
    "target_muscle": None,  # BIDS defines it
    "side": {"Description": "side of the body of the target muscle",
             "Levels": {"left": "left", "right": "right"}},
    "limb": {"Description": "limb of the target muscle (n/a: a face or tongue muscle, or "
                            "unknown)", "Levels": {"upper": "arm", "lower": "leg"}},
    "role": {"Description": "the channel's role in the analysis (iomon)",
             "Levels": {"test": "at risk: on the side of the lesioning",
                        "control": "a control: on the other side, or above the lesion"}},
}


def _write_channels(path: Path, sweeps) -> None:
    """channels.tsv as mne-bids wrote it, with the facts of the channels iomon analysed."""
    from .model.muscles import MUSCLES

    rows = read_tsv(path)
    facts = {ch.name: ch for ch in sweeps.channels}
    out = []
    for row in rows:
        cells = {k: _text(v) for k, v in row.items()}
        ch = facts.get(row["name"])
        if ch is not None:
            muscle = MUSCLES[ch.muscle].name if ch.muscle in MUSCLES else ch.muscle
            cells["target_muscle"] = _text(f"{ch.side} {muscle}" if muscle and ch.side
                                           else muscle)
            cells.update(side=_text(ch.side), limb=_text(ch.limb), role=_text(ch.role))
        out.append(cells)
    first = ["name", "type", "units", *_CHANNEL_COLUMNS]
    columns = first + [c for c in rows[0] if c not in first] if rows else first
    _write_tsv(path, columns, out)
    _write_json(path.with_suffix(".json"),
                {k: v for k, v in _CHANNEL_COLUMNS.items() if v is not None})


# ---------------------------------------------------------------------- participants
#: The columns of participants.tsv, in order, with their descriptions.
PARTICIPANT_COLUMNS = {
    "participant_id": None,
    "case_id": {"Description": "the case's id ([case] id of its iomon case sidecar)"},
    "sex": None, "age": None,
    "side": {"Description": "side of the root avulsion and of the DREZ lesioning",
             "Levels": {"left": "left", "right": "right"}},
    "levels": {"Description": "avulsed root levels, separated by spaces"},
    "procedure": {"Description": "the operation"},
    "etiology": {"Description": "cause of the injury"},
    "vas_pre": {"Description": "pain on a visual analogue scale before surgery",
                "Units": "0-10"},
    "vas_post": {"Description": "pain on a visual analogue scale after surgery",
                 "Units": "0-10"},
    "analgesics_post": {"Description": "analgesics needed after surgery",
                        "Levels": {"true": "yes", "false": "no"}},
    "complications": {"Description": "complications of the surgery, in words"},
    "new_deficit": {"Description": "a new motor deficit after surgery",
                    "Levels": {"true": "yes", "false": "no"}},
    "deficit_limbs": {"Description": "the limbs the new deficit is in (left/right "
                                     "upper/lower), separated by commas"},
}
_SEXES = {"male", "m", "female", "f", "other", "o"}


def _participant_cells(subject: str, case) -> dict:
    """One participant's row: the case's facts without identifiers (no surgery date)."""
    clinical = case.clinical
    cells = {"participant_id": f"sub-{subject}", "case_id": _text(case.id),
             "side": _text(case.side), "levels": _text(" ".join(case.levels)),
             "procedure": _text(case.procedure)}
    sex = clinical.get("sex")
    cells["sex"] = _text(sex) if isinstance(sex, str) and sex.lower() in _SEXES else "n/a"
    age = clinical.get("age")
    cells["age"] = "n/a" if age is None else _num(min(age, 89))  # BIDS: ages capped at 89
    for key in ("etiology", "complications"):
        cells[key] = _text(clinical.get(key))
    for key in ("vas_pre", "vas_post", "analgesics_post", "new_deficit"):
        cells[key] = _num(clinical.get(key))
    limbs = clinical.get("deficit_limbs")
    cells["deficit_limbs"] = _text(", ".join(limbs) if limbs else None)
    return cells


def _write_participant(root: Path, subject: str, case) -> None:
    """participants.tsv with this case's row, every other row kept; participants.json."""
    path = root / "participants.tsv"
    rows = read_tsv(path) if path.is_file() else []
    ours = _participant_cells(subject, case)
    rows = [{k: _text(v) for k, v in r.items()} for r in rows
            if r.get("participant_id") != ours["participant_id"]] + [ours]
    rows.sort(key=lambda r: r["participant_id"])
    others = [c for r in rows for c in r if c not in PARTICIPANT_COLUMNS]
    # mne-bids's columns that no case fills say nothing: left out.
    others = [c for c in dict.fromkeys(others)
              if any(r.get(c, "n/a") != "n/a" for r in rows)]
    _write_tsv(path, list(PARTICIPANT_COLUMNS) + others, rows)
    described = root / "participants.json"
    document = {}
    if described.is_file():
        document = {k: v for k, v in json.loads(described.read_text(encoding="utf-8")).items()
                    if k in others}
    document.update({"sex": {"Description": "sex of the participant",
                             "Levels": {"M": "male", "F": "female", "O": "other"}},
                     "age": {"Description": "age at surgery (89 and above as 89)",
                             "Units": "year"}})
    document.update({k: v for k, v in PARTICIPANT_COLUMNS.items() if v is not None})
    _write_json(described, document)


# ---------------------------------------------------------------------- iomon's settings
def _write_settings(recording_path: Path, case, path: Path) -> None:
    """Write the sidecar's sections BIDS has no place for.

    ``[processing]``, ``[recording]``'s window and mains, ``[[landmarks]]`` (without when
    they were placed: a date), ``[simulation]`` (a synthetic case stays marked as one). Of a
    BIDS recording exported again: its own settings, its sidecar's
    over them.
    """
    import tomlkit

    from .io.bidsemg import case_document, is_bids_recording
    from .model.tomlsafe import load_toml

    doc = case_document(recording_path) if is_bids_recording(recording_path) else {}
    if case.source is not None and Path(case.source).is_file():
        doc.update(load_toml(case.source, "case sidecar"))
    settings = {}
    recording = {k: v for k, v in doc.get("recording", {}).items()
                 if k in ("window_ms", "mains_hz")}
    if recording:
        settings["recording"] = recording
    if doc.get("processing"):
        settings["processing"] = doc["processing"]
    if doc.get("simulation"):  # a synthetic case stays marked as one
        settings["simulation"] = doc["simulation"]
    landmarks = [{k: v for k, v in entry.items() if k != "time"}
                 for entry in doc.get("landmarks", [])]
    if landmarks:
        settings["landmarks"] = landmarks
    if settings:
        path.write_text("# iomon's analysis settings of this recording (iomon bids export)\n"
                        + tomlkit.dumps(settings), encoding="utf-8")
    else:
        path.unlink(missing_ok=True)


# ---------------------------------------------------------------------- events
#: The columns of events.tsv iomon writes (after them, the reader's sweep-table columns),
#: with their descriptions for events.json.
EVENT_COLUMNS = {
    "onset": None, "duration": None,
    "trial_type": {"Description": "what the event is",
                   "Levels": {"stimulus": "a transcranial stimulus (one sweep)",
                              "marker": "an annotation of the recording",
                              "phase": "a phase of the surgery (onset to onset + duration)",
                              "theatre event": "something that happened in theatre",
                              "exclusion": "sweeps or a channel left out of the analysis",
                              "rebaseline": "a new baseline from here on",
                              "alert": "an alert of iomon's analysis (derivatives/iomon)"}},
    "sweep": {"Description": "the stimulus's sweep number in iomon's measurements.csv "
                             "(from 0, in time order)"},
    "intensity": {"Description": "stimulus intensity, in intensity_unit"},
    "intensity_unit": {"Description": "unit of intensity",
                       "Levels": {"V": "volt", "mA": "milliampere"}},
    "montage": {"Description": "stimulating montage (anode-cathode, e.g. C3-C4)"},
    "text": {"Description": "the annotation's or the theatre event's words, as written"},
    "phase": {"Description": "the surgical phase (phase rows: its name; alerts: the phase "
                             "of the sweep that called it)"},
    "level": {"Description": "the root level being lesioned in a lesioning phase (e.g. C6)"},
    "kind": {"Description": "the kind of a theatre event", "Levels": {
        k: k for k in ("intervention", "surgeon informed", "blood pressure", "anaesthesia",
                       "position", "other")}},
    "channel": {"Description": "the channel an exclusion or an alert is about (n/a: every "
                               "channel)"},
    "sweeps": {"Description": "the sweeps an exclusion names, separated by spaces"},
    "from_s": {"Description": "an exclusion's start (n/a: from the recording's start)",
               "Units": "s"},
    "to_s": {"Description": "an exclusion's end (n/a: to the recording's end)", "Units": "s"},
    "reason": {"Description": "why a sweep or channel was excluded, or the case re-baselined"},
    "entry": {"Description": "an exclusion's place among the case's exclusions, from 0 (where "
                             "two overlap, the later one's reason is given)"},
    "criteria": {"Description": "the criteria preset of an alert (iomon criteria)"},
    "criterion": {"Description": "the criterion kind that alerted (amplitude, loss, "
                                 "threshold, latency, morphology)"},
    "scope": {"Description": "an alert's scope", "Levels": {
        "focal": "the channel fell, its controls held",
        "systemic": "its controls fell too", "undetermined": "no control to compare with"}},
    "recovered": {"Description": "the alerting channel recovered before the end (duration: "
                                 "until it did)", "Levels": {"true": "yes", "false": "no"}},
    "nadir_percent": {"Description": "the most abnormal value of the episode as % of "
                                     "baseline", "Units": "%"},
}


def _row(onset: float, what: str, duration=0.0, **cells) -> dict:
    row = {"_onset": float(onset), "onset": _num(onset), "duration": _num(duration),
           "trial_type": EVENT_TYPES[what]}
    row.update({k: v if isinstance(v, str) else _num(v) for k, v in cells.items()})
    return row


def _stimulus_cells(table, sweep: int, extras) -> dict:
    cells = {"sweep": _num(sweep), "intensity": _num(table["stim_intensity"].iloc[sweep]),
             "intensity_unit": _text(table["stim_unit"].iloc[sweep] or None),
             "montage": _text(table["montage"].iloc[sweep] or None)}
    for column in extras:
        value = table[column].iloc[sweep]
        cells[TABLE_PREFIX + column] = (_text(value) if isinstance(value, str)
                                        else _num(None if value is None else value))
    return cells


def _annotation_rows(recording, sweeps) -> list[dict]:
    """A row per annotation, in the file's order, and one per sweep.

    A stimulus annotation's row is its sweep's; the sweeps whose stimulus no annotation marks
    (a trigger channel's) follow.
    """
    from collections import defaultdict

    from .model.annotations import Annotation, is_stimulus, parse_stimulus
    from .model.sweeps import TABLE_COLUMNS

    table = sweeps.table
    extras = [c for c in table.columns if c not in TABLE_COLUMNS]
    waiting = defaultdict(list)
    for sweep, onset in enumerate(table["onset_s"]):
        waiting[float(onset)].append(sweep)
    rows = []
    for a in recording.annotations:
        if not is_stimulus(a.text):
            rows.append(_row(a.onset_s, "marker", a.duration_s, text=_text(a.text)))
            continue
        sweep = waiting[a.onset_s].pop(0) if waiting.get(a.onset_s) else None
        if sweep is None:  # a stimulus without a full sweep window: skipped again on reading
            stim = parse_stimulus(Annotation(a.onset_s, 0.0, a.text))
            cells = {"intensity": _num(stim.intensity),
                     "intensity_unit": _text(stim.unit or None),
                     "montage": _text(stim.montage or None)}
        else:
            cells = _stimulus_cells(table, sweep, extras)
        rows.append(_row(a.onset_s, "stimulus", a.duration_s, text=_text(a.text), **cells))
    for onset, left in waiting.items():
        rows += [_row(onset, "stimulus", **_stimulus_cells(table, s, extras)) for s in left]
    return rows


def _event_rows(recording, sweeps, phases, case) -> list[dict]:
    """Every row of events.tsv but the alerts: stimuli, markers, phases and review edits."""
    rows = _annotation_rows(recording, sweeps)
    for phase in phases:
        if phase.name != "unassigned" and phase.end_s > phase.start_s:
            rows.append(_row(phase.start_s, "phase", _duration(phase.start_s, phase.end_s),
                             phase=_text(phase.name), level=_text(phase.level)))
    for event in case.events:
        rows.append(_row(event.at_s, "event", text=_text(event.text), kind=_text(event.kind)))
    onsets = sweeps.column("onset_s")
    for entry, ex in enumerate(case.exclusions):
        start = (ex.from_s if ex.from_s is not None else
                 min(onsets[s] for s in ex.sweeps if s < onsets.size)
                 if any(s < onsets.size for s in ex.sweeps) else 0.0)
        end = ex.to_s if ex.to_s is not None else recording.duration_s
        rows.append(_row(start, "exclusion", max(end - start, 0.0), channel=_text(ex.channel),
                         sweeps=_text(" ".join(map(str, ex.sweeps)) or None),
                         from_s=_num(ex.from_s), to_s=_num(ex.to_s), reason=_text(ex.reason),
                         entry=_num(entry)))
    for rebaseline in case.rebaselines:
        rows.append(_row(rebaseline.at_s, "rebaseline",
                         reason=_text(getattr(rebaseline, "reason", None) or None)))
    return rows


def _alert_rows(result) -> list[dict]:
    """A row per alert: from its onset to its recovery (n/a: it did not recover)."""
    rows = []
    for alert in result.alerts:
        duration = (alert.recovery_s - alert.onset_s if alert.recovered
                    and alert.recovery_s is not None else None)
        rows.append(_row(alert.onset_s, "alert", duration, channel=_text(alert.channel),
                         phase=_text(alert.phase), criteria=_text(result.criteria.name),
                         criterion=_text(alert.criterion), scope=_text(alert.scope),
                         recovered=_num(bool(alert.recovered)),
                         nadir_percent=_num(alert.nadir_percent)))
    return rows


def _write_events(data_file: Path, rows: list[dict], recording) -> None:
    """events.tsv (rows in time order, ties as given) and events.json describing it."""
    del recording
    path = data_file.with_name(data_file.name.replace("_emg.", "_events.").rsplit(".", 1)[0]
                               + ".tsv")
    extras = sorted({c for r in rows for c in r if c.startswith(TABLE_PREFIX)})
    rows = sorted(rows, key=lambda r: r["_onset"])
    _write_tsv(path, list(EVENT_COLUMNS) + extras, rows)
    described = {k: v for k, v in EVENT_COLUMNS.items() if v is not None}
    described.update({c: {"Description": f"the source file's per-sweep value "
                                         f"{c[len(TABLE_PREFIX):]!r}, as its reader read it"}
                      for c in extras})
    _write_json(path.with_suffix(".json"), described)
