"""A case exported as one EDF+ file per sweep: a folder read as one recording.

Some IONM systems export each TcMEP sweep as a file of its own. inomed ISIS, as measured from
the bytes of two of its exports (issue 19; the files cannot be shipped), writes one EDF+D file
per sweep named ``YYYYMMDD_HHMMSS_mmm.MEPt_<uuid>.edf``: **one** data record (0.15 s at
20 kHz) whose time-keeping annotation gives its onset after the header's start time
(``+0.74055``), the channels in mV named ``Tib ant re``, ``Thenar li``..., the patient field
``X X X Anonymous``, no stimulus annotation and no trigger channel; the sweep starts at the
first pulse of the train.

Every ``.edf`` (or ``.bdf``) file of the folder is one sweep, put in time order by its header's
start date and time plus its record's onset; times count from the earliest file's start.
Each file holds one run of contiguous records (EDF+D, EDF+C or plain EDF); a file with gaps
between its records is refused. The stimulus is where a stimulus annotation in the file says,
else the sidecar's ``[recording] stimulus_s``, else the sweep's first sample when the sweeps
start on the stimulus artefact, else the first pulse found (see
:func:`~iomon.io.base.stimulus_sample_in_episodes`). Sweeps at different sampling rates are
refused; channels that only some files hold are left out with a note (see
:mod:`~iomon.io.episodes`).

A folder of 2,000 sweeps is read with a few small reads per file (the header, the annotation
bytes, the data record) straight into the array the analysis uses; edfio is not opened per file.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..model.annotations import Annotation, find_stimuli
from ..model.errors import InputError
from .base import Reader, ReadOptions, Recording, assemble, unique_names
from .edf import (
    MAX_EPISODE_S,
    Records,
    check_header,
    header_signals,
    read_tals,
    read_windows,
    voltage_channels,
)
from .episodes import Episode, stack_episodes

__all__ = ["READER", "is_sweep_folder", "read_sweep_folder", "sweep_files"]

#: The files of a folder that are sweeps.
SWEEP_SUFFIXES = (".edf", ".bdf")
#: Largest sweep file read, bytes: a sweep of 0.5 s x 64 channels x 50 kHz x 3 bytes is 5 MB.
MAX_SWEEP_FILE_BYTES = 64 << 20
#: Most sweep files in one case (a stimulus every 2 s for 55 hours).
MAX_SWEEP_FILES = 100_000


def sweep_files(folder: Path) -> list[Path]:
    """The sweep files of a folder (``.edf``/``.bdf``, not hidden), sorted by name."""
    return sorted(p for p in Path(folder).iterdir()
                  if p.suffix.lower() in SWEEP_SUFFIXES and not p.name.startswith(".")
                  and p.is_file())


def is_sweep_folder(folder: Path) -> bool:
    """Whether a folder holds a case exported as one file per sweep.

    It does when its first sweep file (by name) is EDF+D or BDF+D and lasts at most
    MAX_EPISODE_S, as a sweep does (a continuous recording in a folder of its own is not).
    Reads one header.
    """
    files = sweep_files(folder)
    if not files:
        return False
    with files[0].open("rb") as f:
        header = f.read(256)
    try:
        n_records = int(header[236:244].decode("ascii"))
        record_s = float(header[244:252].decode("ascii"))
    except ValueError:
        return False
    return (header[192:197] in (b"EDF+D", b"BDF+D")
            and 0 < n_records * record_s <= MAX_EPISODE_S)


@dataclass(frozen=True)
class _SweepFile:
    """What one sweep file holds, before its samples are read."""

    path: Path
    layout: dict
    start: datetime.datetime
    onset_s: float
    signals: tuple
    names: tuple
    sfreq: float
    n_samples: int
    annotations: tuple
    patient: str | None


def _describe(path: Path, notes: set) -> _SweepFile:
    """One sweep file's header, record onset, channels and annotations, checked."""
    if path.stat().st_size > MAX_SWEEP_FILE_BYTES:
        raise InputError(f"{path.stat().st_size / 2**20:.0f} MB: too large for one sweep (at "
                         f"most {MAX_SWEEP_FILE_BYTES >> 20} MB); is it a continuous recording?",
                         path)
    layout = check_header(path)
    if layout["start"] is None:
        raise InputError("its header has no readable start date and time: the sweeps cannot "
                         "be put in time order", path)
    is_plus = layout["reserved"].startswith(("EDF+", "BDF+"))
    onsets, annotations = read_tals(path, layout) if is_plus else (None, [])
    onsets = np.zeros(1) if onsets is None else onsets
    if np.any(np.abs(np.diff(onsets) - layout["record_s"]) > 1e-6):
        raise InputError(f"its {layout['n_records']} data records have gaps between them: one "
                         "sweep per file was expected (analyse an EDF+D file of many sweeps "
                         "on its own)", path)
    if layout["n_records"] * layout["record_s"] > MAX_EPISODE_S:
        raise InputError(f"lasts {layout['n_records'] * layout['record_s']:g} s: a continuous "
                         "recording, not a sweep (analyse it on its own)", path)
    signals, channel_notes = voltage_channels(header_signals(path, layout), path)
    notes.update(channel_notes)
    sfreq = float(signals[0].sampling_frequency)
    names = unique_names([s.label.strip() for s in signals], [])
    return _SweepFile(path, layout, layout["start"], float(onsets[0]), tuple(signals), tuple(names),
                      sfreq, int(round(layout["n_records"] * layout["record_s"] * sfreq)),
                      tuple(annotations), layout["patient"] or None)


def _stimulus(sweep: _SweepFile):
    """Intensity, unit, montage and stimulus sample from a stimulus annotation in the file."""
    stimuli = find_stimuli(sweep.annotations)
    if len(stimuli) != 1:
        return None, (np.nan, "", "")
    stimulus = stimuli[0]
    index = int(round((stimulus.onset_s - sweep.onset_s) * sweep.sfreq))
    inside = 0 <= index < sweep.n_samples
    return (index if inside else None), (stimulus.intensity, stimulus.unit, stimulus.montage)


def _in_time_order(sweeps: list) -> tuple[list, datetime.datetime]:
    """The sweeps in time order and the recording's start (the earliest file's start)."""
    zero = min(s.start for s in sweeps)
    timed = sorted(((s.start - zero).total_seconds() + s.onset_s, s.path.name, s)
                   for s in sweeps)
    for (t0, name0, _), (t1, name1, _) in zip(timed, timed[1:]):
        if t1 - t0 < 1e-6:
            raise InputError(f"{name0} and {name1} start at the same time: a sweep exported "
                             "twice? (keep one)", sweeps[0].path.parent)
    return [s for _, _, s in timed], zero


def _annotations(sweeps, zero) -> list:
    """Every file's annotations on the recording's clock."""
    out = []
    for sweep in sweeps:
        offset = (sweep.start - zero).total_seconds()
        out += [Annotation(round(offset + a.onset_s, 9), a.duration_s, a.text)
                for a in sweep.annotations]
    return out


def read_sweep_folder(path: str | Path, options: ReadOptions | None = None) -> Recording:
    """Read a folder of one EDF+ file per sweep as one recording (see the module docstring).

    Raises
    ------
    InputError
        The folder holds no sweep file, too many, sweeps at different rates, two files at one
        time, or a damaged file (named).
    """
    path = Path(path)
    options = options or ReadOptions()
    files = sweep_files(path)
    if not files:
        raise InputError("holds no sweep files (a case exported as one .edf file per sweep, "
                         "as inomed ISIS writes it)", path)
    if len(files) > MAX_SWEEP_FILES:
        raise InputError(f"holds {len(files)} sweep files: more than one case has "
                         f"({MAX_SWEEP_FILES} at most)", path)
    file_notes: set = set()
    sweeps, zero = _in_time_order([_describe(f, file_notes) for f in files])
    episodes = []
    for sweep in sweeps:
        index, (intensity, unit, montage) = _stimulus(sweep)
        episodes.append(Episode(sweep.path.name, (sweep.start - zero).total_seconds()
                                + sweep.onset_s, sweep.sfreq, sweep.names, sweep.n_samples,
                                index, intensity, unit, montage))

    def read_one(i, names, first, n_samples):
        sweep = sweeps[i]
        signals = [sweep.signals[sweep.names.index(name)] for name in names]
        return read_windows(Records(sweep.path, sweep.layout), signals, [first],
                            n_samples, sweep.path)[0]

    notes = sorted(file_notes)
    stacked = stack_episodes(episodes, read_one, options, path, "sweep files", notes)
    return assemble(path, "EDF+ sweep files (one file per sweep)", "iomon sweep-file reader",
                    stacked.data, stacked.times, stacked.sfreq, stacked.names, stacked.stimuli,
                    stacked.end_s, annotations=_annotations(sweeps, zero), notes=notes,
                    start=zero, patient=sweeps[0].patient)


READER = Reader("sweep-files", "a FOLDER of EDF+D sweep files (one per sweep, inomed ISIS)",
                (), read_sweep_folder, folder=True)
