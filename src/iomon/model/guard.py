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
size at the fork. ``IOMON_GUARD_TIMEOUT_S`` and ``IOMON_GUARD_MEMORY_MB`` override the base
time and memory (the fuzz harness and the tests set them low). Where ``os.fork`` does not
exist (Windows) the parse runs in-process, unguarded.

The child never outlives the parse's caller. Whatever ends the parent (Ctrl-C, SIGTERM, a
batch's time limit, SIGKILL, a closed terminal), the child ends too: on Linux the kernel sends
it SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``, set first thing in the child,
which then checks that its parent did not die before that took effect); elsewhere a thread of
the child watches a pipe the parent holds open and ends the child when it closes. An
exception in the parent while it waits (KeyboardInterrupt) kills and reaps the child before it
propagates. The child ignores SIGINT: a Ctrl-C reaches the whole foreground process group, and
it is the parent that answers it.

What it costs on a valid file (a fork, and pickling the sweeps back) is measured by
``benchmarks/guard_cost.py``.
"""

from __future__ import annotations

import functools
import os
import pickle
import select
import signal
import sys
import time
import warnings
from pathlib import Path

from .errors import InputError

__all__ = ["BASE_MEMORY", "BASE_SECONDS", "die_with_parent", "guarded", "limits_for"]

#: Seconds any guarded parse may take, plus one per SECONDS_PER_MB megabytes of the file.
BASE_SECONDS = 60.0
SECONDS_PER_MB = 20.0
#: Bytes a guarded parse may add to the process, plus MEMORY_PER_BYTE per byte of the file.
BASE_MEMORY = 2 << 30
MEMORY_PER_BYTE = 16


def _override(name: str, default: float, smallest: float) -> float:
    """A base limit from the environment, or ``default`` when unset or not a number."""
    try:
        return max(float(os.environ[name]), smallest)
    except (KeyError, ValueError):
        return default


def limits_for(path: Path) -> tuple[float, int]:
    """The time (s) and the memory (bytes, above the current size) a parse of ``path`` gets."""
    size = Path(path).stat().st_size
    seconds = _override("IOMON_GUARD_TIMEOUT_S", BASE_SECONDS, 0.1)
    memory = _override("IOMON_GUARD_MEMORY_MB", BASE_MEMORY / 2**20, 16.0) * 2**20
    return seconds + size / (SECONDS_PER_MB * 1e6), int(memory) + MEMORY_PER_BYTE * size


#: prctl's option that has the kernel signal a process when its parent dies (linux/prctl.h).
_PR_SET_PDEATHSIG = 1


@functools.cache
def _kernel_death_signal():
    """The kernel's death signal for this process, or None where there is no such call.

    A function that asks the kernel to SIGKILL this process when its parent dies (Linux),
    returning True when it took. Made once, before a fork, so that the child only calls it.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - a libc without prctl
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                      ctypes.c_ulong]
    return lambda: prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0


def die_with_parent(parent: int, watch_fd: int | None = None) -> None:
    """End this process when ``parent`` (the pid it was started by) dies.

    Parameters
    ----------
    parent : int
        The parent's pid, taken before the fork or the start.
    watch_fd : int, optional
        The read end of a pipe whose write end only the parent holds: where the kernel
        cannot signal a parent's death, a thread ends this process when the pipe closes.

    Call it first thing in the child. If the parent is already gone (it died before the
    death signal was set, and the child was given to another process), the child ends now.
    """
    setter = _kernel_death_signal()
    if setter is None or not setter():
        if watch_fd is not None:
            import threading

            def watch():
                while os.read(watch_fd, 1):
                    pass
                os._exit(1)

            threading.Thread(target=watch, daemon=True).start()
    if os.getppid() != parent:
        os._exit(1)


def _process_size(field: str = "VmSize") -> int:
    """Virtual memory of this process now (``VmSize``) or at its peak (``VmPeak``), bytes.

    0 where /proc is not available.
    """
    try:
        with open("/proc/self/status") as f:
            line = next(line for line in f if line.startswith(field + ":"))
        return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError, StopIteration):
        return 0


def _run(func, args) -> tuple:
    """``func(*args)`` as an outcome: ("ok", value), or what stopped it."""
    try:
        return ("ok", func(*args))
    except MemoryError:
        return ("memory", None)
    except InputError as err:
        return ("refused", err.reason)
    except RecursionError:
        return ("error", "RecursionError: nesting too deep")
    except Exception as err:  # noqa: BLE001 - any failure of the parser is the file's
        text = str(err).strip().splitlines()
        return ("error", f"{type(err).__name__}: {text[0] if text else ''}".rstrip(": "))


def _child(write_fd: int, func, args, memory: int, parent: int, watch_fd: int) -> None:
    """In the forked child: tie its life to the parent's, cap memory, run, answer, exit.

    Its output is silenced, and it ignores SIGINT (the parent answers a Ctrl-C).
    """
    try:
        die_with_parent(parent, watch_fd)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
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
        outcome = _run(func, args)
        if outcome[0] != "ok" and size and _process_size("VmPeak") > size + 0.9 * memory:
            # C code that cannot allocate often fails without a MemoryError ("error return
            # without exception set"), and a reader may make that a refusal: the limit it
            # reached is the reason.
            outcome = ("memory", None)
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
            _kill(pid)
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
    _kernel_death_signal()  # made here, so that the child only calls it
    read_fd, write_fd = os.pipe()
    watch_fd, alive_fd = os.pipe()  # alive_fd stays open in the parent only
    parent = os.getpid()
    with warnings.catch_warnings():
        # Python 3.12+ warns about forking a process with threads (the checksum thread of
        # analyze_file); the child only parses and exits.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child (coverage does not follow it)
        os.close(read_fd)
        os.close(alive_fd)
        _child(write_fd, func, args, memory, parent, watch_fd)
    os.close(write_fd)
    os.close(watch_fd)
    try:
        payload, status = _collect(read_fd, pid, seconds)
    except BaseException:
        # Interrupted while waiting (Ctrl-C): the parse ends with its caller.
        _kill(pid)
        raise
    finally:
        os.close(read_fd)
        os.close(alive_fd)
    return _answer(payload, status, path, what, seconds, memory)


def _kill(pid: int) -> None:
    """SIGKILL the child and reap it (it may have ended already)."""
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


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
