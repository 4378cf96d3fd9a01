"""CSV/TSV sweep tables: one row per sweep x channel (see :mod:`iomon.io.tabular`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..annotations import Stimulus
from ..errors import InputError
from .base import Reader, ReadOptions, Recording, assemble, error_line
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
        return pd.read_csv(path, sep=delimiter, dtype=str, keep_default_na=False,
                           encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InputError(f"not a readable table ({error_line(err)})", path) from None


def _samples(frame, sample_columns, path) -> np.ndarray:
    """The sample cells as numbers, shape (n_rows, n_samples); a clear error otherwise."""
    import pandas as pd

    values = frame[sample_columns]
    numeric = values.apply(pd.to_numeric, errors="coerce")
    bad = numeric.isna() & (values != "")
    if bad.any().any():
        row, column = np.argwhere(bad.to_numpy())[0]
        raise InputError(f"non-numeric cell {values.iat[row, column]!r} in row {row + 2}, "
                         f"column {sample_columns[column]!r}", path)
    if numeric.isna().any().any():
        row = int(np.flatnonzero(numeric.isna().any(axis=1).to_numpy())[0])
        raise InputError(f"row {row + 2} has fewer samples than the header (mismatched sample "
                         "counts)", path)
    return numeric.to_numpy(float)


def _stimuli(per_sweep, columns, n_sweeps, notes, path):
    """One Stimulus per sweep from the per-sweep columns (onset, intensity, unit, montage)."""
    def column(role, convert=float, default=np.nan):
        name = columns[role]
        if name not in per_sweep:
            return [default] * n_sweeps
        try:
            return [convert(v) if v != "" else default for v in per_sweep[name]]
        except ValueError:
            raise InputError(f"column {name!r} must be numeric", path) from None

    onsets = column("onset_s")
    if np.isnan(onsets).any():
        onsets = list(np.arange(n_sweeps, dtype=float))
        notes.append("no onset_s column: sweeps are placed 1 s apart in file order")
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
    for role in ("sweep", "channel"):
        if columns[role] not in frame:
            raise InputError(f"no {columns[role]!r} column (columns: "
                             f"{', '.join(frame.columns[:8])}...)", path)
    known = {c for c in columns.values() if c in frame}
    sample_columns = [c for c in frame.columns if c not in known]
    if len(sample_columns) < 2:
        raise InputError("fewer than 2 sample columns", path)
    samples = _samples(frame, sample_columns, path)
    times, sfreq = sample_times(len(sample_columns), mapping, sample_columns, path)
    sweep_ids = frame[columns["sweep"]]
    labels = frame[columns["channel"]].str.strip()
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
