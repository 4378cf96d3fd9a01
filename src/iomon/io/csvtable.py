"""CSV/TSV sweep tables: one row per sweep x channel (see :mod:`iomon.io.tabular`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..model.annotations import Stimulus
from ..model.errors import InputError
from .base import NotARecording, Reader, ReadOptions, Recording, assemble, error_line
from .tabular import check_tabular, sample_times, scale_of

__all__ = ["READER", "read_csv"]


def _table(path: Path):
    """The file as a table of text cells; the separator is the one the header uses most."""
    import pandas as pd

    text = path.read_text(encoding="utf-8-sig", errors="replace")
    if not text.strip():
        raise InputError("the file is empty", path)
    header = text.splitlines()[0]
    delimiter = max(("\t", ";", ","), key=header.count)
    try:
        frame = pd.read_csv(path, sep=delimiter, dtype=str, keep_default_na=False,
                            encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InputError(f"not a readable table ({error_line(err)})", path) from None
    if frame.empty:
        # A header and nothing under it (a file cut after its first line): no sweep to place.
        raise InputError("the table has a header but no rows of sweeps (a file cut short?)",
                         path)
    return frame


def _first_cells(frame) -> str:
    """The table's first column names, for a message."""
    names = [str(c) for c in frame.columns[:8]]
    return ", ".join(names) + ("..." if len(frame.columns) > 8 else "")


def _has_samples(frame) -> bool:
    """Whether at least 2 columns hold numbers in every row (as sample columns do)."""
    import pandas as pd

    head = frame.head(20)
    numeric = [pd.to_numeric(head[c], errors="coerce").notna().all() for c in head.columns]
    return sum(numeric) >= 2


def _samples(frame, sample_columns, path) -> np.ndarray:
    """The sample cells as numbers, shape (n_rows, n_samples); a clear error otherwise.

    Every cell must hold a finite number: an empty or missing cell is a short row, text or an
    overflowing number (``1e400``) a damaged one.
    """
    import pandas as pd

    cells = frame[sample_columns].to_numpy(dtype=object)
    missing = pd.isna(cells) | (cells == "")
    # One conversion of every cell at once: per column, a wide table takes seconds.
    numeric = pd.to_numeric(pd.Series(cells.ravel()), errors="coerce").to_numpy(float)
    numeric = numeric.reshape(cells.shape)
    bad = ~np.isfinite(numeric) & ~missing
    if bad.any():
        row, column = np.argwhere(bad)[0]
        raise InputError(f"non-numeric cell {cells[row, column]!r} in row {row + 2}, "
                         f"column {sample_columns[column]!r}", path)
    if missing.any():
        row = int(np.flatnonzero(missing.any(axis=1))[0])
        raise InputError(f"row {row + 2} has fewer samples than the header (mismatched sample "
                         "counts)", path)
    return numeric


def _stimuli(per_sweep, columns, n_sweeps, notes, path):
    """One Stimulus per sweep from the per-sweep columns (onset, intensity, unit, montage)."""
    def column(role, convert=float, default=np.nan):
        name = columns[role]
        if name not in per_sweep:
            return [default] * n_sweeps
        try:
            values = [convert(v) if v != "" else default for v in per_sweep[name]]
        except (ValueError, TypeError):
            raise InputError(f"column {name!r} must be numeric", path) from None
        infinite = np.flatnonzero(np.isinf(values)) if convert is float else []
        if len(infinite):
            raise InputError(f"column {name!r} holds {per_sweep[name].iloc[infinite[0]]!r}, "
                             "not a finite number", path)
        return values

    onsets = column("onset_s")
    missing = np.isnan(onsets)
    if missing.all():
        onsets = list(np.arange(n_sweeps, dtype=float))
        notes.append("no onset_s column: sweeps are placed 1 s apart in file order")
    elif missing.any():
        raise InputError(f"column {columns['onset_s']!r} gives no time for sweep "
                         f"{per_sweep.index[int(np.flatnonzero(missing)[0])] + 1} of "
                         f"{n_sweeps}", path)
    return [Stimulus(o, i, u, m) for o, i, u, m in zip(
        onsets, column("stim_intensity"), column("stim_unit", str, ""),
        column("montage", str, ""))]


def read_csv(path: str | Path, options: ReadOptions | None = None) -> Recording:
    """Read a sweep table in the layout of :mod:`iomon.io.tabular`."""
    path = Path(path)
    mapping = (options or ReadOptions()).section("tabular")
    frame = _table(path)
    columns = {
        "sweep": mapping.get("sweep_column", "sweep"),
        "channel": mapping.get("channel_column", "channel"),
        "onset_s": mapping.get("onset_column", "onset_s"),
        "stim_intensity": mapping.get("intensity_column", "stim_intensity"),
        "stim_unit": "stim_unit",
        "montage": "montage",
    }
    missing = [columns[role] for role in ("sweep", "channel") if columns[role] not in frame]
    if len(missing) == 2 and not mapping and not _has_samples(frame):
        # Neither column, no sidecar mapping and no columns of numbers: a text file, not a
        # sweep table whose columns are named otherwise.
        raise NotARecording(f"no sweep table in it: its first line reads "
                            f"{_first_cells(frame)}", path)
    if missing:
        raise InputError(f"no {missing[0]!r} column (columns: {_first_cells(frame)}); name "
                         "yours with [tabular] sweep_column and channel_column in the case "
                         "sidecar", path)
    known = {c for c in columns.values() if c in frame}
    sample_columns = [c for c in frame.columns if c not in known]
    if len(sample_columns) < 2:
        raise InputError("fewer than 2 sample columns", path)
    samples = _samples(frame, sample_columns, path)
    times, sfreq = sample_times(len(sample_columns), mapping, sample_columns, path)
    sweep_ids = frame[columns["sweep"]]
    labels = frame[columns["channel"]].str.strip()
    for role, cells in (("sweep", sweep_ids), ("channel", labels)):
        blank = cells.isna() | (cells == "")
        if blank.any():
            raise InputError(f"row {int(np.flatnonzero(blank.to_numpy())[0]) + 2} has no "
                             f"{columns[role]!r} (a row cut short?)", path)
    channel_names = list(dict.fromkeys(labels))
    order = list(dict.fromkeys(sweep_ids))
    n_sweeps, n_channels = len(order), len(channel_names)
    if len(frame) != n_sweeps * n_channels or frame.duplicated(
            [columns["sweep"], columns["channel"]]).any():
        raise InputError(f"every sweep needs exactly one row per channel ({n_sweeps} sweeps x "
                         f"{n_channels} channels, {len(frame)} rows)", path)
    data = np.empty((n_sweeps, n_channels, len(sample_columns)))
    sweep_index = sweep_ids.map({s: i for i, s in enumerate(order)}).to_numpy()
    data[sweep_index, labels.map({c: i for i, c in enumerate(channel_names)}).to_numpy()] = \
        samples * scale_of(mapping, path)
    notes = []
    stimuli = _stimuli(frame.groupby(sweep_index).first(), columns, n_sweeps, notes, path)
    onsets = [s.onset_s for s in stimuli]
    order_by_time = np.argsort(onsets, kind="stable")
    return assemble(path, "sweep table (CSV)", "pandas", data[order_by_time], times, sfreq,
                    channel_names, [stimuli[i] for i in order_by_time],
                    max(onsets) + times[-1], notes=notes)


READER = Reader("csv", "sweep table CSV/TSV", (".csv", ".tsv", ".txt"), read_csv,
                section="tabular", check_section=check_tabular)
