"""Parsers that can crash, hang or exhaust memory, run where they cannot take iomon down.

Some formats are parsed by C code iomon cannot fully check beforehand: HDF5 (NIX files,
through nixio and h5py) can loop for ever on a damaged file, and a C extension (scipy's MATLAB
reader) can crash the process. :func:`guarded` runs such a parse in a forked child process
under a memory limit (``RLIMIT_AS``) and a time limit; its result comes back pickled through a
pipe. A crash (a signal), a hang past the limit, a memory blow-up or any other error becomes
one :class:`~iomon.model.errors.InputError` naming the file, never a traceback or a silent death;
the child's stdout and stderr go to ``/dev/null``, so library chatter (C-level prints
included) never reaches the terminal.

The limits grow with the file: ``BASE_SECONDS`` plus one second per ``SECONDS_PER_MB``
megabytes, and ``BASE_MEMORY`` plus ``MEMORY_PER_BYTE`` times its size above the process's
size at the fork. ``IOMON_GUARD_TIMEOUT_S`` overrides the base time (the fuzz harness sets
it low). Where ``os.fork`` does not exist (Windows) the parse runs in-process, unguarded.

What it costs on a valid file (a fork, and pickling the sweeps back) is measured by
``benchmarks/guard_cost.py``.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import sys
import time
import warnings
from pathlib import Path

from .errors import InputError

__all__ = ["BASE_MEMORY", "BASE_SECONDS", "guarded", "limits_for"]

#: Seconds any guarded parse may take, plus one per SECONDS_PER_MB megabytes of the file.
BASE_SECONDS = 60.0
SECONDS_PER_MB = 20.0
#: Bytes a guarded parse may add to the process, plus MEMORY_PER_BYTE per byte of the file.
BASE_MEMORY = 2 << 30
MEMORY_PER_BYTE = 16


def limits_for(path: Path) -> tuple[float, int]:
    """The time (s) and the memory (bytes, above the current size) a parse of ``path`` gets."""
    size = Path(path).stat().st_size
    base = BASE_SECONDS
    override = os.environ.get("IOMON_GUARD_TIMEOUT_S")
    if override:
        try:
            base = max(float(override), 0.1)
        except ValueError:
            pass
    return base + size / (SECONDS_PER_MB * 1e6), BASE_MEMORY + MEMORY_PER_BYTE * size


def _process_size() -> int:
    """Virtual memory of this process, bytes (0 where /proc is not available)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _child(write_fd: int, func, args, memory: int) -> None:
    """In the forked child: silence output, cap memory, run, send the outcome, exit."""
    try:
        import faulthandler
        import resource

        # A crash here is reported by the parent, in one line: no traceback from a
        # faulthandler the parent enabled (python -X faulthandler, pytest) on its own fd.
        faulthandler.disable()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        size = _process_size()
        if size:
            hard = resource.getrlimit(resource.RLIMIT_AS)[1]
            soft = size + memory if hard == resource.RLIM_INFINITY else min(size + memory, hard)
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        try:
            outcome = ("ok", func(*args))
        except MemoryError:
            outcome = ("memory", None)
        except InputError as err:
            outcome = ("refused", err.reason)
        except RecursionError:
            outcome = ("error", "RecursionError: nesting too deep")
        except Exception as err:  # noqa: BLE001 - any failure of the parser is the file's
            text = str(err).strip().splitlines()
            outcome = ("error", f"{type(err).__name__}: {text[0] if text else ''}".rstrip(": "))
        try:
            payload = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
        except MemoryError:
            payload = pickle.dumps(("memory", None))
        except Exception as err:  # noqa: BLE001 - a result that does not pickle
            payload = pickle.dumps(("error", f"its result cannot be sent back ({err})"))
        view = memoryview(payload)
        while view:
            view = view[os.write(write_fd, view):]
    finally:
        os._exit(0)


def _collect(read_fd: int, pid: int, seconds: float):
    """Read the child's answer until it ends or the time is up: (bytes, wait status or None)."""
    chunks, deadline = [], time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return b"".join(chunks), None
        ready, _, _ = select.select([read_fd], [], [], min(left, 1.0))
        if ready:
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    return b"".join(chunks), status


def guarded(func, *args, path, what: str):
    """``func(*args)`` run in a guarded child process; its return value (which must pickle).

    Parameters
    ----------
    func : callable
    *args
        Passed to ``func``.
    path : Path
        The file being parsed: named in refusals, and its size sets the limits.
    what : str
        The parser or format, as refusals name it (``"NIX"``).

    Raises
    ------
    InputError
        The parse crashed, hung past its time limit, ran out of its memory or failed; the
        message names the file and says which.
    """
    if not hasattr(os, "fork"):  # pragma: no cover - Windows: no fork, no guard
        return func(*args)
    seconds, memory = limits_for(path)
    sys.stdout.flush()
    sys.stderr.flush()
    read_fd, write_fd = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns about forking a process with threads (the checksum thread of
        # analyze_file); the child only parses and exits.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child (coverage does not follow it)
        os.close(read_fd)
        _child(write_fd, func, args, memory)
    os.close(write_fd)
    try:
        payload, status = _collect(read_fd, pid, seconds)
    finally:
        os.close(read_fd)
    return _answer(payload, status, path, what, seconds, memory)


def _answer(payload: bytes, status, path, what, seconds, memory):
    """The child's return value, or the refusal its outcome calls for."""
    if status is None:
        raise InputError(f"the {what} parser did not finish within {seconds:.0f} s (a damaged "
                         "file can make it loop)", path)
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        raise InputError(f"the {what} parser crashed ({name}) on this file: damaged or not a "
                         f"{what} file", path)
    try:
        kind, value = pickle.loads(payload)
    except Exception:  # noqa: BLE001 - an answer cut short: the child died while sending
        raise InputError(f"the {what} parser stopped without an answer (damaged file?)",
                         path) from None
    if kind == "ok":
        return value
    if kind == "memory":
        raise InputError(f"the {what} parser needed more than {memory / 2**30:.1f} GB of memory "
                         "(a damaged header can ask for any size)", path)
    if kind == "refused":
        raise InputError(value, path)
    raise InputError(f"cannot be read as {what}: {value}", path)
