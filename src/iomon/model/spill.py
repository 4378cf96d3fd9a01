"""Sweeps kept in a temporary file rather than in memory, read back a few at a time.

An analysis passes over a case's conditioned sweeps twice (once to judge them, once to
measure them in windows the baseline sets) and the report draws some of them: hours of sweeps
at 10 kHz would hold 126 MB per hour of 16 channels in memory for this. For sweeps streamed
from their file, the pipeline keeps them in a :class:`SpilledSweeps` instead, whose memory is
the chunk being read, whatever the recording's length.

The file is created unlinked (``tempfile.TemporaryFile``, in ``TMPDIR``): nothing is left
behind when the process ends, however it ends.
"""

from __future__ import annotations

import os
import tempfile
import threading
import weakref

import numpy as np

from .errors import InputError

__all__ = ["SpilledSweeps"]


class SpilledSweeps:
    """An array of sweeps (n_sweeps, ...) in a temporary file, indexed like an array.

    Sweeps are written a run at a time (``store[start:stop] = values``) and read back by any
    index whose first part picks sweeps (an int, a slice, an array of indices or a boolean
    mask); the rest of the index applies to what was read. Only the sweeps asked for are read
    (``preadv`` into the array returned; nothing is mapped, so neither the process's memory
    nor its address space grows with the file), a chunk at a time when other axes are picked
    too.

    Parameters
    ----------
    shape : tuple of int
    dtype : numpy dtype

    Raises
    ------
    InputError
        The temporary folder has no room for them (said at once: the room is reserved).
    """

    def __init__(self, shape, dtype=np.float32):
        self.shape = tuple(int(n) for n in shape)
        self.dtype = np.dtype(dtype)
        self.ndim = len(self.shape)
        self._row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        self._lock = threading.Lock()
        self._file = None
        try:
            self._file = tempfile.TemporaryFile(prefix="iomon-sweeps-")
            # The room is taken now: a full disk is said before any work, not half-way.
            size = max(self._row_bytes * self.shape[0], 1)
            if hasattr(os, "posix_fallocate"):
                os.posix_fallocate(self._file.fileno(), 0, size)
            else:  # pragma: no cover - not Linux
                self._file.truncate(size)
            # Closed when the store is collected (the file is unlinked: nothing stays).
            self._closer = weakref.finalize(self, self._file.close)
        except OSError as err:
            if self._file is not None:
                self._file.close()
            raise InputError(
                f"no room for the conditioned sweeps ({self.nbytes / 1e6:,.0f} MB) in the "
                f"temporary folder {tempfile.gettempdir()} ({err.strerror or err}): free space "
                "there or set TMPDIR to a folder with room") from None

    def __len__(self) -> int:
        return self.shape[0]

    def __setitem__(self, rows, values) -> None:
        """Write consecutive sweeps: ``rows`` a slice of step 1."""
        start, stop, step = rows.indices(self.shape[0])
        if step != 1:
            raise IndexError("spilled sweeps are written a run of consecutive sweeps at a time")
        values = np.ascontiguousarray(np.broadcast_to(
            np.asarray(values, self.dtype), (stop - start,) + self.shape[1:]))
        with self._lock:
            self._file.seek(start * self._row_bytes)
            self._file.write(memoryview(values).cast("B"))
            self._file.flush()

    def __getitem__(self, key) -> np.ndarray:
        rows, rest = (key[0], key[1:]) if isinstance(key, tuple) else (key, ())
        if rows is Ellipsis:
            rows, rest = slice(None), (Ellipsis,) + rest
        one = not isinstance(rows, slice) and np.ndim(rows) == 0  # a single sweep
        if rest and not one and not isinstance(rows, slice) and any(
                np.ndim(k) > 0 for k in rest):
            # numpy would pair the two arrays; reading first, then indexing, would not.
            raise IndexError("index spilled sweeps by an array of sweeps and arrays of the "
                             "other axes in two steps")
        index = np.arange(self.shape[0])[rows]  # IndexError out of range, as an array's
        if one:
            return self._read(np.atleast_1d(index))[0][rest]
        if not rest:
            return self._read(index)
        # Other axes picked too (a channel of every sweep): a chunk of sweeps at a time, so
        # that memory holds what is returned and one chunk, not every sweep.
        per = max(1, self.CHUNK_BYTES // max(self._row_bytes, 1))
        picked = None
        for i in range(0, max(index.size, 1), per):
            part = self._read(index[i:i + per])[(slice(None),) + rest]
            if picked is None:  # the result, filled chunk by chunk
                picked = np.empty((index.size,) + part.shape[1:], self.dtype)
            picked[i:i + per] = part
        return picked

    #: Bytes of sweeps read at once when other axes are picked from them.
    CHUNK_BYTES = 1 << 20

    def _read(self, index) -> np.ndarray:
        """The sweeps at ``index`` (array of int, in range), read run by run of consecutive ones."""
        out = np.empty((index.size,) + self.shape[1:], self.dtype)
        if not index.size:
            return out
        breaks = np.flatnonzero(np.diff(index) != 1) + 1
        bytes_out = memoryview(out.reshape(-1)).cast("B")
        for first, last in zip(np.r_[0, breaks], np.r_[breaks, index.size]):
            at, size = int(index[first]) * self._row_bytes, int(last - first) * self._row_bytes
            target = bytes_out[int(first) * self._row_bytes:][:size]
            while size:  # a read may return less than asked
                got = self._read_into(target, at)
                if got <= 0:
                    raise OSError(f"the temporary file of spilled sweeps ended early at {at}")
                target, at, size = target[got:], at + got, size - got
        return out

    def _read_into(self, target, at: int) -> int:
        """Read into ``target`` from byte ``at``; the bytes read.

        ``preadv`` where the system has it (positioned: reads from several threads, as the
        review's server makes, need no lock); elsewhere (Windows) a seek and a read under a lock.
        """
        if hasattr(os, "preadv"):
            return os.preadv(self._file.fileno(), [target], at)
        with self._lock:  # pragma: no cover - not POSIX
            self._file.seek(at)
            return self._file.readinto(target)

    def __array__(self, dtype=None, copy=None):
        data = self[:]
        return data if dtype is None else data.astype(dtype, copy=False)

    @property
    def nbytes(self) -> int:
        """Bytes the sweeps take in the file (none of them in memory)."""
        return self._row_bytes * self.shape[0]

    def close(self) -> None:
        """Let the file go now (otherwise when the store is collected)."""
        self._closer()
