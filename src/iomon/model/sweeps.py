"""The case model: sweeps x channels x samples, with one table row per sweep.

Every reader produces a :class:`Sweeps`; everything downstream consumes one. Data are in volts,
``times`` in seconds relative to the stimulus (the first pulse of the train), and the per-sweep
table holds what changes from sweep to sweep (as ``mne.Epochs.metadata`` does).

The model is immutable: the data are a read-only view (the constructor does not copy an array
that is already float64), ``table`` hands out a copy, and every selection or change
(:meth:`Sweeps.select`, :meth:`Sweeps.replace`...) returns a new :class:`Sweeps`. The table
holds what the reader found per sweep (stimulus time, intensity, montage); what the analysis
decides per sweep (phase, rejection) lives in the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError

SIDES = ("left", "right")
LIMBS = ("upper", "lower")
ROLES = ("test", "control")

__all__ = ["Channel", "SweepSource", "Sweeps", "TABLE_COLUMNS", "intensity_varies"]

#: Columns of :attr:`Sweeps.table`, in order (a reader may add its own after them).
TABLE_COLUMNS = ("onset_s", "stim_intensity", "stim_unit", "montage")


@dataclass(frozen=True)
class Channel:
    """Facts about one recorded channel.

    Attributes
    ----------
    name : str
        The label exactly as in the recording.
    muscle : str or None
        Muscle code (a key of :data:`iomon.model.muscles.MUSCLES`), None when unknown.
    side : str or None
        ``"left"`` or ``"right"``, None when unknown.
    limb : str or None
        ``"upper"`` or ``"lower"``, None when unknown.
    role : str or None
        ``"test"`` (at risk) or ``"control"``, None when it cannot be decided.
    """

    name: str
    muscle: str | None = None
    side: str | None = None
    limb: str | None = None
    role: str | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise InputError(f"channel name must be a non-empty string, got {self.name!r}")
        for field, allowed in (("side", SIDES), ("limb", LIMBS), ("role", ROLES)):
            value = getattr(self, field)
            if value is not None and value not in allowed:
                raise InputError(
                    f"channel {self.name!r}: {field} must be one of {', '.join(allowed)}, "
                    f"got {value!r}"
                )


class SweepSource:
    """Sweeps read from their file when asked for, a few at a time, instead of held.

    A reader hands one to :class:`Sweeps` in place of an array when holding every sweep
    would take more memory than the analysis needs (hours of sweeps at 10 kHz): the pipeline
    then conditions and measures them chunk by chunk from the file (:meth:`Sweeps.rows`), and
    memory holds neither them nor the conditioned sweeps (those go to a temporary file,
    :class:`~iomon.model.spill.SpilledSweeps`).

    Parameters
    ----------
    shape : tuple of int
        (n_sweeps, n_channels, n_samples).
    read : callable
        ``read(index)`` with an array of sweep indices returns their signals, V: an array of
        float, shape (len(index), n_channels, n_samples).
    """

    def __init__(self, shape, read):
        self.shape = tuple(int(n) for n in shape)
        self._read = read

    def read(self, index) -> np.ndarray:
        """The signals of the sweeps at ``index`` (array of int, or a boolean mask), V, float64."""
        index = np.asarray(index)
        if index.dtype == bool and index.shape != self.shape[:1]:
            raise IndexError(f"a mask of {index.shape} for {self.shape[0]} sweeps")
        index = (np.flatnonzero(index) if index.dtype == bool
                 else index.astype(np.intp).reshape(-1))
        if index.size and (index.min() < -self.shape[0] or index.max() >= self.shape[0]):
            raise IndexError(f"sweep index out of range for {self.shape[0]} sweeps")
        index = index % max(self.shape[0], 1)  # negative indices count from the end
        data = np.asarray(self._read(index), dtype=np.float64)
        if data.shape != (index.size,) + self.shape[1:]:
            raise ValueError(f"a sweep source read {data.shape} for {index.size} sweeps of "
                             f"{self.shape[1:]}")
        return data

    def subset(self, sweep_index=None, channel_index=None) -> SweepSource:
        """A source of some of the sweeps and channels, still read when asked for."""
        rows = (np.arange(self.shape[0]) if sweep_index is None
                else np.arange(self.shape[0])[sweep_index])
        columns = (np.arange(self.shape[1]) if channel_index is None
                   else np.asarray(channel_index, dtype=np.intp))
        return SweepSource((rows.size, columns.size, self.shape[2]),
                           lambda index: self.read(rows[index])[:, columns])


class Sweeps:
    """Stimulus-locked sweeps of a case.

    Parameters
    ----------
    data : array of float, shape (n_sweeps, n_channels, n_samples), or SweepSource
        Signals in volts. Time is on the last axis. A :class:`SweepSource` is read when the
        sweeps are asked for (:meth:`rows`, :attr:`data`), never held whole.
    times : array of float, shape (n_samples,)
        Seconds relative to the stimulus, strictly increasing and evenly spaced at ``1/sfreq``.
    sfreq : float
        Sampling rate in Hz.
    channels : sequence of Channel
        One per channel, names unique.
    table : pandas.DataFrame or mapping of str to sequence, optional
        One row per sweep, in time order, with the columns of :data:`TABLE_COLUMNS`:
        ``onset_s`` (float, seconds since the start of the recording), ``stim_intensity``
        (float, NaN when unknown), ``stim_unit`` (``"V"``, ``"mA"`` or ``""``) and ``montage``
        (str, ``""`` when unknown). Missing columns are filled with their "unknown" value.
        Given as columns (a mapping, as readers build it), :attr:`table` is made a DataFrame
        only when asked for: an analysis reads the columns (:meth:`column`) without pandas.
    """

    def __init__(self, data, times, sfreq, channels, table=None):
        if not isinstance(data, SweepSource):
            data = np.asarray(data, dtype=np.float64)
        if len(data.shape) != 3:
            raise InputError(
                f"sweep data must have shape (n_sweeps, n_channels, n_samples), got {data.shape}"
            )
        n_sweeps, n_channels, n_samples = data.shape
        if n_sweeps == 0:
            raise InputError("there are no sweeps")
        if n_samples < 2:
            raise InputError(f"sweeps need at least 2 samples, got {n_samples}")
        sfreq = float(sfreq)
        if not np.isfinite(sfreq) or sfreq <= 0:
            raise InputError(f"sampling rate must be a positive number of Hz, got {sfreq}")
        times = np.asarray(times, dtype=np.float64)
        if times.shape != (n_samples,):
            raise InputError(f"times must have shape ({n_samples},), got {times.shape}")
        steps = np.diff(times)
        if not np.allclose(steps, 1.0 / sfreq, rtol=1e-6, atol=1e-9):
            raise InputError(f"times must increase evenly by 1/sfreq = {1.0 / sfreq:g} s")
        channels = tuple(channels)
        if len(channels) != n_channels:
            raise InputError(f"{len(channels)} channel descriptions for {n_channels} channels")
        if not all(isinstance(ch, Channel) for ch in channels):
            raise InputError("channels must be Channel instances")
        names = [ch.name for ch in channels]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise InputError(f"channel names must be unique; repeated: {', '.join(dup)}")

        if _is_frame(table):
            frame = _normalised(table)
            if len(frame) != n_sweeps:
                raise InputError(f"the sweep table has {len(frame)} rows for {n_sweeps} sweeps")
            source = frame
            columns = {name: frame[name].to_numpy() for name in TABLE_COLUMNS}
        else:
            frame = None
            source = {name: list(values) for name, values in dict(table or {}).items()}
            lengths = {len(values) for values in source.values()}
            if lengths - {n_sweeps}:
                raise InputError(f"the sweep table has {max(lengths - {n_sweeps})} rows for "
                                 f"{n_sweeps} sweeps")
            columns = _core_columns(source, n_sweeps)
            if columns is None:  # values other than numbers and text: pandas reads them
                import pandas as pd

                frame = _normalised(pd.DataFrame(source, index=range(n_sweeps)))
                columns = {name: frame[name].to_numpy() for name in TABLE_COLUMNS}
        onsets = columns["onset_s"]
        if np.isfinite(onsets).all() and np.any(np.diff(onsets) < 0):
            raise InputError("sweeps must be in time order (onset_s increasing)")

        if not isinstance(data, SweepSource):
            data = data.view()
            data.flags.writeable = False
        times = times.copy()
        times.flags.writeable = False
        self._data = data
        self._times = times
        self._sfreq = sfreq
        self._channels = channels
        # The table as given (a DataFrame, normalised; or the reader's columns) and its core
        # columns as arrays; the DataFrame of columns is made when first asked for.
        self._source, self._columns, self._frame = source, columns, frame

    @property
    def data(self) -> np.ndarray:
        """Signals, V, shape (n_sweeps, n_channels, n_samples); read-only.

        Sweeps from a :class:`SweepSource` are read whole for each access: go through
        :meth:`rows` to keep memory to a chunk.
        """
        if isinstance(self._data, SweepSource):
            data = self._data.read(np.arange(self._data.shape[0]))
            data.flags.writeable = False
            return data
        return self._data

    @property
    def streamed(self) -> bool:
        """Whether the sweeps are read from their file when asked for (a SweepSource)."""
        return isinstance(self._data, SweepSource)

    def rows(self, index) -> np.ndarray:
        """The signals of some sweeps, V: shape (n_index, n_channels, n_samples), float64.

        ``index`` is a slice, an array of sweep indices or a boolean mask (an int gives one
        sweep, shape (n_channels, n_samples), as an array would). Held sweeps give a read-only
        view or copy; streamed ones are read from the file, only these.
        """
        if isinstance(self._data, SweepSource):
            one = np.ndim(index) == 0 and not isinstance(index, slice)
            picked = np.arange(self._data.shape[0])[index]
            data = self._data.read(np.atleast_1d(picked))
            return data[0] if one else data
        return self._data[index]

    @property
    def shape(self) -> tuple[int, int, int]:
        """(n_sweeps, n_channels, n_samples), without reading streamed sweeps."""
        return tuple(self._data.shape)

    @property
    def times(self) -> np.ndarray:
        """Seconds relative to the stimulus, shape (n_samples,); read-only."""
        return self._times

    @property
    def sfreq(self) -> float:
        """Sampling rate, Hz."""
        return self._sfreq

    @property
    def channels(self) -> tuple[Channel, ...]:
        """Facts about each channel."""
        return self._channels

    @property
    def table(self):
        """The per-sweep table, a pandas DataFrame (a copy: changing it changes nothing here)."""
        if self._frame is None:
            import pandas as pd

            self._frame = _normalised(pd.DataFrame(self._source, index=range(self.n_sweeps)))
        return self._frame.copy()

    def column(self, name: str) -> np.ndarray:
        """One column of the sweep table as an array (a copy)."""
        if name in self._columns:
            return self._columns[name].copy()
        return self.table[name].to_numpy(copy=True)

    # ------------------------------------------------------------------ description
    @property
    def n_sweeps(self) -> int:
        """Number of sweeps."""
        return self.shape[0]

    @property
    def n_channels(self) -> int:
        """Number of channels."""
        return self.shape[1]

    @property
    def ch_names(self) -> list[str]:
        """Channel labels, in data order."""
        return [ch.name for ch in self.channels]

    def __repr__(self) -> str:
        return (
            f"<Sweeps | {self.n_sweeps} sweeps x {self.n_channels} channels x "
            f"{self.shape[2]} samples, {self.sfreq:g} Hz, "
            f"{self.times[0] * 1e3:.1f} to {self.times[-1] * 1e3:.1f} ms>"
        )

    # ------------------------------------------------------------------ selection (copies)
    def _subset(self, sweep_index=None, channel_index=None) -> Sweeps:
        channels = self.channels
        if set(self._source) - set(TABLE_COLUMNS):  # a reader's own columns: pandas keeps them
            table = self.table
            if sweep_index is not None:
                table = table.iloc[sweep_index]
        else:
            table = {name: values if sweep_index is None else values[sweep_index]
                     for name, values in self._columns.items()}
        if channel_index is not None:
            channels = tuple(channels[i] for i in channel_index)
        if isinstance(self._data, SweepSource):  # streamed sweeps stay streamed
            data = self._data.subset(sweep_index, channel_index)
        else:
            data = self._data
            if sweep_index is not None:
                data = data[sweep_index]
            if channel_index is not None:
                data = data[:, channel_index]
            data = data.copy()
        return Sweeps(data, self.times.copy(), self.sfreq, channels, table)

    def pick_channels(self, names) -> Sweeps:
        """Return a copy holding only the named channels, in the order given."""
        names = [names] if isinstance(names, str) else list(names)
        missing = [n for n in names if n not in self.ch_names]
        if missing:
            raise InputError(f"no channel named {', '.join(map(repr, missing))}")
        return self._subset(channel_index=[self.ch_names.index(n) for n in names])

    def select(self, mask) -> Sweeps:
        """Return a copy holding the sweeps where ``mask`` (bool, shape (n_sweeps,)) is True."""
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.shape != (self.n_sweeps,):
            raise InputError(f"mask must be boolean with shape ({self.n_sweeps},)")
        if not mask.any():
            raise InputError("the selection holds no sweep")
        return self._subset(sweep_index=np.flatnonzero(mask))

    def with_channels(self, channels) -> Sweeps:
        """Return a copy whose channel facts are replaced (same names, same order)."""
        channels = tuple(channels)
        if [c.name for c in channels] != self.ch_names:
            raise InputError("replacement channels must keep the names and order")
        return self.replace(channels=channels)

    def replace(self, *, data=None, table=None, channels=None) -> Sweeps:
        """Return new Sweeps with the data, table or channels given, checked as at creation.

        The new data must keep the shape of the sweeps (same times and sampling rate).
        """
        # Unchanged data are shared, not copied: they are read-only (hours of sweeps at 10 kHz
        # run to hundreds of MB); new data are copied, so no caller can change them later.
        data = self._data if data is None else np.array(data, dtype=np.float64)
        return Sweeps(data, self.times, self.sfreq,
                      self.channels if channels is None else channels,
                      self._source if table is None else table)

    # ------------------------------------------------------------------ MNE conversion
    def to_mne(self):
        """Convert to :class:`mne.EpochsArray` (EMG channels, metadata = the sweep table)."""
        import mne

        info = mne.create_info(self.ch_names, self.sfreq, ch_types="emg")
        return mne.EpochsArray(
            self.data.copy(), info, tmin=float(self.times[0]),
            metadata=self.table, verbose="error",
        )

    @classmethod
    def from_mne(cls, epochs, channels=None) -> Sweeps:
        """Build from :class:`mne.Epochs`; channels known by name only if not given.

        ``epochs.metadata`` becomes the sweep table when present. What each channel is
        (muscle, side, limb, role) is decided with the case (see
        :func:`iomon.case.channels.decide_channels`).
        """
        if channels is None:
            channels = [Channel(name) for name in epochs.ch_names]
        return cls(epochs.get_data(copy=True), epochs.times, epochs.info["sfreq"], channels,
                   epochs.metadata)


#: The value of each table column where the reader gave none.
_DEFAULTS = {"onset_s": np.nan, "stim_intensity": np.nan, "stim_unit": "", "montage": ""}


def _is_frame(table) -> bool:
    """Whether ``table`` is a pandas DataFrame (told without importing pandas)."""
    return hasattr(table, "iloc") and hasattr(table, "columns")


def _normalised(table):
    """The sweep table as :class:`Sweeps` holds it (a copy).

    A DataFrame with :data:`TABLE_COLUMNS` first, unknown values filled in, numbers as floats
    and text as text.
    """
    table = table.copy().reset_index(drop=True)
    for column, default in _DEFAULTS.items():
        if column not in table:
            table[column] = default
    table["onset_s"] = table["onset_s"].astype(float)
    table["stim_intensity"] = table["stim_intensity"].astype(float)
    for column in ("stim_unit", "montage"):
        table[column] = table[column].fillna("").astype(str)
    return table[list(TABLE_COLUMNS) + [c for c in table if c not in TABLE_COLUMNS]]


def _core_columns(source: dict, n_sweeps: int) -> dict | None:
    """:data:`TABLE_COLUMNS` as arrays from a reader's columns, as :func:`_normalised` makes them.

    Floats (NaN where missing) and text (``""`` where missing; object arrays of str). None
    where a column holds anything but numbers (or None) and text (or None): pandas' own
    reading of missing and foreign values is then the one to follow.
    """
    columns = {}
    for name in ("onset_s", "stim_intensity"):
        values = source.get(name, [None] * n_sweeps)
        if not all(v is None or (isinstance(v, (int, float, np.integer, np.floating))
                                 and not isinstance(v, (bool, np.bool_))) for v in values):
            return None
        columns[name] = np.array([np.nan if v is None else v for v in values], float)
    for name in ("stim_unit", "montage"):
        values = source.get(name, [""] * n_sweeps)
        if not all(v is None or isinstance(v, str) for v in values):
            return None
        text = np.empty(n_sweeps, object)
        text[:] = ["" if v is None else str(v) for v in values]
        columns[name] = text
    return columns


def intensity_varies(intensity) -> bool:
    """Whether the known intensities take more than one value (else no threshold shows).

    Parameters
    ----------
    intensity : array of float, shape (n_sweeps,)
        The sweep table's ``stim_intensity`` (NaN where unknown).
    """
    intensity = np.asarray(intensity, float)
    return np.unique(intensity[np.isfinite(intensity)]).size > 1
