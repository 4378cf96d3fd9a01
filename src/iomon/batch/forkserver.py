"""A preloaded fork server: each case in a process of its own, without paying the imports again.

Started as a fresh interpreter (``python -c``, so it inherits none of the batch's threads), the
server imports what the cases need (numpy, ``scipy.signal``, pandas and iomon's analysis; the
report's matplotlib, ReportLab and Jinja2 when the batch writes reports; the reader library of
each format it meets) and then only waits. For every case the batch sends it, over a Unix
socket, the case's own socket and its stdin, stdout and stderr pipes; the server forks one
child per case, and the child

- starts a session of its own (it leads its process group, as a case started afresh did),
- asks the kernel to kill it when the server dies (``PR_SET_PDEATHSIG``, as
  :func:`~iomon.model.guard.die_with_parent`),
- takes the pipes as its stdin, stdout and stderr and runs the case exactly as a fresh case
  process does (:func:`iomon.batch.run._child_main`: its memory limit, then the analysis, one
  JSON answer), and exits.

The server tells the batch the case's pid and, when it ends, its exit status. When a case ends,
the server kills what is left of its process group before it reaps it (the group's leader,
unreaped, keeps the group's id from being reused); it kills the group at once when the batch
asks (the case's time limit, Ctrl-C) or closes the case's socket, and every group when the
batch closes its end of the server's socket or dies. The server is single-threaded, so a fork
copies no thread holding a lock; after each preload it checks that no other thread runs
(a child's fork is refused otherwise, and the batch starts its cases afresh). It ignores
SIGINT, in a session of its own: a Ctrl-C is the batch's to answer.

Linux only (``os.pidfd_open``, ``prctl``); elsewhere, and with ``IOMON_BATCH_START=fresh``,
each case starts a fresh interpreter instead (:mod:`iomon.batch.run`).
"""

from __future__ import annotations

import importlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time

__all__ = ["BASE_PRELOAD", "FORMAT_PRELOAD", "REPORT_PRELOAD", "ForkServer", "ForkedCase",
           "available", "serve"]

#: What every case imports, preloaded when the server starts: the analysis and its tables
#: (an EDF case needs no pandas; readers of tables (CSV, BIDS) and the cohort's do).
BASE_PRELOAD = ("numpy", "scipy.signal", "scipy.stats", "pandas", "edfio", "iomon.io",
                "iomon.case.sidecar", "iomon.pipeline", "iomon.report.outputs",
                "iomon.batch.cohort", "iomon.batch.run")
#: What the case report adds (HTML, PDF and the figures).
REPORT_PRELOAD = ("matplotlib.figure", "matplotlib.backends.backend_agg",
                  "matplotlib.backends.backend_svg", "matplotlib.collections", "PIL.Image",
                  "jinja2", "reportlab.platypus", "reportlab.pdfgen.canvas",
                  "reportlab.pdfbase.ttfonts", "iomon.report.figures", "iomon.report.pdf",
                  "iomon.report.content", "iomon.report.methods")
#: The libraries behind some readers, by reader name, preloaded once a case of them comes.
FORMAT_PRELOAD = {"brainvision": ("mne.io",), "wcp": ("neo.rawio",), "abf": ("neo.rawio",),
                  "smr": ("neo.rawio",), "nix": ("neo.rawio", "nixio"), "mat": ("scipy.io",)}

#: Seconds the server waits for threads an import started (a timer) to end before a fork.
_THREAD_GRACE_S = 5.0


def available() -> bool:
    """Whether cases can start from a fork server here (Linux, not turned off).

    ``IOMON_BATCH_START=fresh`` starts every case as a fresh interpreter, as on Windows and
    macOS (where forking a process that has loaded the system's frameworks is not safe).
    """
    return (sys.platform.startswith("linux") and hasattr(os, "pidfd_open")
            and os.environ.get("IOMON_BATCH_START", "forkserver") != "fresh")


# ------------------------------------------------------------------------------ batch side
class ForkServer:
    """The batch's handle on one fork server process.

    Parameters
    ----------
    env : dict
        The server's environment, which its cases inherit (one BLAS thread, Agg backend).
    preload : sequence of str
        Modules imported at once, before any case asks.
    """

    def __init__(self, env: dict, preload=BASE_PRELOAD):
        import threading

        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        command = [sys.executable, "-c", "from iomon.batch.forkserver import serve; "
                   f"serve({theirs.fileno()}, {json.dumps(list(preload))!r})"]
        try:
            # Its own session: a Ctrl-C at the terminal is for the batch, which answers it.
            self.process = subprocess.Popen(command, pass_fds=[theirs.fileno()], env=env,
                                            stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL, start_new_session=True)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._control = ours
        self._lock = threading.Lock()
        self.broken = ""  # why the server can start no more cases, once it cannot

    def alive(self) -> bool:
        """Whether the server runs and can start cases."""
        return not self.broken and self.process.poll() is None

    def start(self, modules=()) -> ForkedCase:
        """Start one case process; ``modules`` are imported in the server first if they are not.

        Raises
        ------
        OSError
            The server is gone (its socket is closed).
        """
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pipes = [os.pipe() for _ in range(3)]  # stdin, stdout, stderr
        child_ends = [pipes[0][0], pipes[1][1], pipes[2][1]]
        try:
            request = json.dumps({"preload": list(modules)}).encode()
            with self._lock:
                socket.send_fds(self._control, [request], [theirs.fileno(), *child_ends])
        except BaseException:
            ours.close()
            for fd in (pipes[0][1], pipes[1][0], pipes[2][0]):
                os.close(fd)
            raise
        finally:
            theirs.close()
            for fd in child_ends:
                os.close(fd)
        return ForkedCase(ours, pipes[0][1], pipes[1][0], pipes[2][0])

    def close(self) -> None:
        """End the server: its socket closed, it kills any case left and exits; reap it."""
        self._control.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover - a server that does not answer
            self.process.kill()
            self.process.wait()


class ForkedCase:
    """A case process started by the fork server, used as a :class:`subprocess.Popen` is.

    Its ``pid`` and ``returncode`` come from the server; ``returncode`` is negative for a
    signal, None while it runs (and when the server was lost before it said).
    """

    def __init__(self, sock: socket.socket, stdin: int, stdout: int, stderr: int):
        self._sock, self._stdin, self._out = sock, stdin, {stdout: [], stderr: []}
        self._stdout, self._stderr = stdout, stderr
        self.pid: int | None = None
        self.returncode: int | None = None
        self.refused = ""  # the server's reason, when it started no process
        self._heard_end = False

    def communicate(self, data: bytes, timeout: float) -> tuple[bytes, bytes]:
        """Send ``data`` to its stdin, read its stdout and stderr until it ends.

        Raises
        ------
        subprocess.TimeoutExpired
            It still runs after ``timeout`` seconds (it is left running: :meth:`kill` it).
        """
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            if data:
                os.set_blocking(self._stdin, False)
                selector.register(self._stdin, selectors.EVENT_WRITE)
            else:
                self._close_stdin()
            for fd in self._out:
                selector.register(fd, selectors.EVENT_READ)
            selector.register(self._sock, selectors.EVENT_READ)
            view = memoryview(data)
            while selector.get_map():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise subprocess.TimeoutExpired("case", timeout)
                for key, _ in selector.select(left):
                    if key.fd == self._stdin:
                        view = self._write(view, selector)
                    elif key.fileobj is self._sock:
                        if not self._hear():
                            selector.unregister(self._sock)
                    else:
                        chunk = os.read(key.fd, 1 << 16)
                        if chunk:
                            self._out[key.fd].append(chunk)
                        else:
                            selector.unregister(key.fd)
        return b"".join(self._out[self._stdout]), b"".join(self._out[self._stderr])

    def _write(self, view: memoryview, selector) -> memoryview:
        try:
            view = view[os.write(self._stdin, view[:1 << 16]):]
        except BrokenPipeError:  # it ended before reading its input: its status says why
            view = view[:0]
        if not view:
            selector.unregister(self._stdin)
            self._close_stdin()
        return view

    def _close_stdin(self) -> None:
        if self._stdin >= 0:
            os.close(self._stdin)
            self._stdin = -1

    def _hear(self) -> bool:
        """Read one message of the server; False once it has said all it will."""
        try:
            message = self._sock.recv(4096)
        except OSError:
            message = b""
        if not message:
            self._heard_end = True
            return False
        said = json.loads(message)
        if "pid" in said:
            self.pid = said["pid"]
        if "refused" in said:
            self.refused = said["refused"]
        if "exit" in said:
            self.returncode = said["exit"]
        return "pid" in said and "exit" not in said

    def kill(self) -> None:
        """Have the server SIGKILL its process group now (nothing if it has ended)."""
        try:
            self._sock.send(b"kill")
        except OSError:  # the server has ended it already, or is gone
            pass

    def end(self) -> None:
        """Kill its group, wait until the server has reaped it, close everything."""
        self.kill()
        while not self._heard_end and self.returncode is None:
            self._hear()
        self._sock.close()
        self._close_stdin()
        for fd in self._out:
            os.close(fd)
        self._out = {}


# ------------------------------------------------------------------------------ server side
def _preload(modules, loaded: set) -> None:
    """Import ``modules`` not imported yet; one that fails is left to the case to report."""
    for name in modules:
        if name in loaded:
            continue
        loaded.add(name)
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S110 - the case imports it again and says why
            pass
    if "matplotlib" in sys.modules and "<fonts>" not in loaded:
        loaded.add("<fonts>")
        _warm_matplotlib()
    import gc

    # What the imports made stays put: the collector leaves it alone, so a case's collections
    # do not write to (and copy) the pages it shares with the server.
    gc.freeze()


def _warm_matplotlib() -> None:
    """Matplotlib's font list and the fonts the figures use, loaded once here.

    The first text drawn opens the font files (and the PDF registers its fonts): done in the
    server, the cases inherit them.
    """
    import io

    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(1, 1))
        FigureCanvasAgg(figure)
        figure.text(0.5, 0.5, "µV ms", weight="bold")
        figure.gca().set_title("iomon")
        figure.savefig(io.BytesIO(), format="png")
        figure.savefig(io.BytesIO(), format="svg")
    except Exception:  # noqa: BLE001, S110 - a warm-up only
        pass


def _threads() -> int:
    """Threads of this process, by the kernel's count (native threads included)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:  # pragma: no cover - no /proc
        return 1


def _settle() -> int:
    """Wait (bounded) for threads an import started to end; the threads left."""
    import threading

    deadline = time.monotonic() + _THREAD_GRACE_S
    for thread in threading.enumerate():
        if thread is not threading.main_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
    return _threads()


class _Server:
    """The server's loop: requests from the batch, messages about cases, cases ending."""

    def __init__(self, control: socket.socket, loaded: set):
        self.control, self.loaded = control, loaded
        self.selector = selectors.DefaultSelector()
        self.selector.register(control, selectors.EVENT_READ, self._request)
        self.cases: dict[int, tuple[socket.socket, int]] = {}  # pid -> (its socket, pidfd)

    def run(self) -> None:
        while True:
            for key, _ in self.selector.select():
                key.data(key.fileobj)

    def _request(self, control) -> None:
        try:
            message, fds, _, _ = socket.recv_fds(control, 1 << 16, 4)
        except OSError:
            message, fds = b"", []
        if not message:  # the batch closed its end, or died: no case outlives it
            self._shutdown()
        if len(fds) != 4:  # pragma: no cover - not a request of the batch's
            for fd in fds:
                os.close(fd)
            return
        sock, stdio = socket.socket(fileno=fds[0]), fds[1:]
        try:
            _preload(json.loads(message).get("preload", ()), self.loaded)
            threads = _settle()
            if threads != 1:
                _say(sock, refused=f"{threads} threads run in the fork server after its "
                                   "imports")
            else:
                self._fork(sock, stdio)
        except Exception as err:  # noqa: BLE001 - fork failed (memory, pids): say so, serve on
            _say(sock, refused=f"the fork server could not start it ({type(err).__name__}: "
                               f"{err})")
        finally:
            for fd in stdio:
                os.close(fd)
            if not any(sock is s for s, _ in self.cases.values()):
                sock.close()

    def _fork(self, sock: socket.socket, stdio) -> None:
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the case process (coverage does not follow it)
            self._become_case(parent, sock, stdio)
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:  # pragma: no cover - a kernel without pidfds (before 5.3)
            _kill_group(pid)
            os.waitpid(pid, 0)
            raise
        self.cases[pid] = (sock, pidfd)
        self.selector.register(sock, selectors.EVENT_READ, lambda _: self._message(pid))
        self.selector.register(pidfd, selectors.EVENT_READ, lambda _: self._ended(pid))
        if not _say(sock, pid=pid):  # the batch has given the case up already
            _kill_group(pid)

    def _become_case(self, parent: int, sock: socket.socket, stdio) -> None:
        """In the child: a session of its own, tied to the server's life, the case run."""
        try:
            os.setsid()
            from ..model.guard import die_with_parent

            die_with_parent(parent)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            self.selector.close()
            self.control.close()
            sock.close()
            for other, pidfd in self.cases.values():
                other.close()
                os.close(pidfd)
            for target, fd in enumerate(stdio):
                os.dup2(fd, target)
                os.close(fd)
            if "numpy.random" in sys.modules:  # its own random state, as a fresh process has
                sys.modules["numpy.random"].seed()
            from .run import _child_main

            _child_main(parent)
        except BaseException:  # noqa: BLE001 - said on its stderr; its status says it failed
            import traceback

            traceback.print_exc()
        finally:
            os._exit(1)

    def _message(self, pid: int) -> None:
        """The batch asked to kill the case, or gave it up (closed its socket): kill it."""
        if pid not in self.cases:  # it ended in this same round of events
            return
        sock, _ = self.cases[pid]
        try:
            said = sock.recv(64)
        except OSError:
            said = b""
        if not said:
            self.selector.unregister(sock)
        _kill_group(pid)

    def _ended(self, pid: int) -> None:
        """The case has exited: kill what is left of its group, reap it, say how it ended."""
        sock, pidfd = self.cases.pop(pid)
        _kill_group(pid)  # its leader is not reaped yet: the group's id cannot be reused
        _, status = os.waitpid(pid, 0)
        self.selector.unregister(pidfd)
        os.close(pidfd)
        try:
            self.selector.unregister(sock)
        except KeyError:  # the batch had closed its end
            pass
        _say(sock, exit=os.waitstatus_to_exitcode(status))
        sock.close()

    def _shutdown(self) -> None:
        """The batch is gone: kill every case's group, reap them, exit."""
        for pid in self.cases:
            _kill_group(pid)
        for pid in self.cases:
            os.waitpid(pid, 0)
        os._exit(0)


def _say(sock: socket.socket, **message) -> bool:
    """Send the batch one message about a case; False if it no longer listens."""
    try:
        sock.send(json.dumps(message).encode())
        return True
    except OSError:
        return False


def _kill_group(pid: int) -> None:
    """SIGKILL a case's process group, and the case itself should it not lead one yet."""
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def serve(control_fd: int, preload: str) -> None:
    """Entry of the fork server process: preload, then start cases until the batch is gone.

    Parameters
    ----------
    control_fd : int
        Its end of the batch's socket (``SOCK_SEQPACKET``).
    preload : str
        JSON list of the modules to import at once.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    control = socket.socket(fileno=control_fd)
    loaded: set = set()
    _preload(json.loads(preload), loaded)
    from ..model.guard import _kernel_death_signal

    _kernel_death_signal()  # made here, so that a case only calls it
    _Server(control, loaded).run()
