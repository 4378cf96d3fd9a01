"""Issue 21, item 2: a guarded parse never outlives its command, and a batch ends every case's
process group.

Real processes throughout: ``iomon info`` and ``iomon batch`` are started as a user starts
them, with a parse that hangs, and ended as a user or a scheduler ends them (Ctrl-C, SIGINT,
SIGTERM, SIGKILL, a case's time limit). The hang is a test hook, not iomon code: a
``sitecustomize`` module on the child's path replaces neo's parse by an endless sleep that
first records the pid of the process it runs in. Survivors are looked for in /proc, polled a
bounded number of times (no wall-clock assertion); any found are killed before the test ends.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(),
                                reason="needs /proc (Linux) to look for surviving processes")

SRC = Path(__file__).resolve().parents[1] / "src"

#: The hook: neo's parse, as iomon calls it (iomon.io.neo_adapter._read_neo), sleeps for ever
#: after leaving a file named by its pid in $IOMON_TEST_HANG_DIR.
SITECUSTOMIZE = '''
import os

if os.environ.get("IOMON_TEST_HANG_DIR"):
    import iomon.io.neo_adapter as adapter

    def _hang(*args, **kwargs):
        import time

        folder = os.environ["IOMON_TEST_HANG_DIR"]
        open(os.path.join(folder, str(os.getpid())), "w").close()
        while True:
            time.sleep(0.05)

    adapter._read_neo = _hang
    if os.environ.get("IOMON_TEST_NO_PRCTL"):
        import iomon.model.guard as guard

        guard._kernel_death_signal = lambda: None  # as where the kernel call does not exist
'''

#: Polls (of 0.05 s) before giving up on something that should happen.
POLLS = 2400


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (an orphan whose reaper has not yet reaped it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(condition, polls: int = POLLS) -> bool:
    for _ in range(polls):
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def hanging_pids(folder: Path) -> list[int]:
    return sorted(int(p.name) for p in folder.iterdir())


def kill_survivors(pids) -> None:
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def hook(tmp_path):
    """Environment that makes neo's parse hang, and the folder where the hung pids appear."""
    hook_dir, pids = tmp_path / "hook", tmp_path / "pids"
    hook_dir.mkdir()
    pids.mkdir()
    (hook_dir / "sitecustomize.py").write_text(SITECUSTOMIZE)
    # The guard's own time limit must not be what ends a hung parse here.
    env = dict(os.environ, PYTHONPATH=f"{hook_dir}{os.pathsep}{SRC}",
               IOMON_TEST_HANG_DIR=str(pids), IOMON_GUARD_TIMEOUT_S="3600")
    yield env, pids
    kill_survivors(hanging_pids(pids))


def abf_file(folder: Path) -> Path:
    import pyabf.abfWriter

    sweeps = np.random.default_rng(0).standard_normal((3, 600)) * 0.05
    path = folder / "ta.abf"
    pyabf.abfWriter.writeABF1(sweeps, str(path), 5000.0, units="mV")
    return path


def as_from_a_terminal() -> None:
    """SIGINT answered as at a terminal, even when the tests run in a background job.

    A non-interactive shell starts a background job with SIGINT ignored, which its children
    inherit: Python then installs no KeyboardInterrupt handler and the SIGINT cases would wait
    forever for an iomon that never hears them.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_info(env, path: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "iomon.cli", "info", str(path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=as_from_a_terminal)


def the_hung_parse(process: subprocess.Popen, pids: Path) -> int:
    """The pid of the process the hanging parse runs in, once it runs."""
    assert wait_until(lambda: hanging_pids(pids) or process.poll() is not None), "no parse"
    assert process.poll() is None, process.communicate()
    (pid,) = hanging_pids(pids)
    return pid


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM", "SIGINT", "Ctrl-C", "SIGKILL, no prctl"])
def test_a_guarded_parse_dies_with_iomon_info(tmp_path, hook, how):
    """``timeout -s INT 5 iomon info sw.nix`` left the parsing child running for an hour."""
    env, pids = hook
    if how.endswith("no prctl"):
        env = dict(env, IOMON_TEST_NO_PRCTL="1")  # the parent's pipe, watched by the child
    info = start_info(env, abf_file(tmp_path))
    try:
        child = the_hung_parse(info, pids)
        assert child != info.pid, "the parse runs in iomon's own process: unguarded"
        if how == "Ctrl-C":  # the terminal signals the whole foreground process group
            os.killpg(info.pid, signal.SIGINT)
        else:
            os.kill(info.pid, getattr(signal, how.split(",")[0]))
        _, err = info.communicate(timeout=120)
    finally:
        kill_survivors([info.pid])
    if how in ("SIGINT", "Ctrl-C"):
        assert (info.returncode, err) == (130, "iomon: interrupted\n")
    assert wait_until(lambda: not alive(child)), f"the parse outlived iomon ({how})"


def nix_file(folder: Path) -> Path:
    """A small NIX file (NIX was guarded before; its parses outlived their callers)."""
    pytest.importorskip("nixio")
    sys.path.insert(0, str(Path(__file__).parent))
    from test_robustness import _nix

    return _nix(folder)


def test_a_nix_parse_dies_with_iomon_info(tmp_path, hook):
    env, pids = hook
    info = start_info(env, nix_file(tmp_path))
    child = the_hung_parse(info, pids)
    os.kill(info.pid, signal.SIGKILL)
    info.communicate()
    assert wait_until(lambda: not alive(child)), "the NIX parse outlived iomon"


def test_a_child_whose_parent_died_before_it_could_ask_ends(tmp_path):
    """The parent can die between the fork and the child's prctl: the child sees it and ends."""
    from iomon.model.guard import die_with_parent

    read_fd, write_fd = os.pipe()
    middle = os.fork()
    if middle == 0:  # pragma: no cover - the parent that dies at once
        os.close(read_fd)
        parent = os.getpid()
        if os.fork() == 0:
            wait_until(lambda: os.getppid() != parent)  # the parent is gone
            die_with_parent(parent)
            os.write(write_fd, b"survived")
            os._exit(0)
        os._exit(0)
    os.close(write_fd)
    os.waitpid(middle, 0)
    with os.fdopen(read_fd, "rb") as answers:
        assert answers.read() == b""


def archive_with(tmp_path: Path, path: Path) -> Path:
    archive = tmp_path / "archive"
    archive.mkdir()
    path.rename(archive / path.name)
    return archive


def test_batch_ends_a_case_process_group_at_its_time_limit(tmp_path, hook):
    """A case over --case-timeout is killed with everything it started (its guarded parse)."""
    env, pids = hook
    archive = archive_with(tmp_path, nix_file(tmp_path))
    batch = subprocess.run([sys.executable, "-m", "iomon.cli", "batch", str(archive), "--out",
                            str(tmp_path / "out"), "--no-report", "--case-timeout", "20",
                            "--quiet"], env=env, capture_output=True, text=True,
                           timeout=600)
    assert batch.returncode == 2, batch.stderr
    assert "took longer than 20 s" in (tmp_path / "out" / "failures.csv").read_text()
    (child,) = hanging_pids(pids)
    assert wait_until(lambda: not alive(child)), "the case's parse outlived its time limit"


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM", "Ctrl-C"])
def test_cases_and_their_parses_die_with_an_ended_batch(tmp_path, hook, how):
    """Killed (a scheduler, the kernel's OOM killer: the batch's process alone) or interrupted
    (Ctrl-C: the terminal's process group), a batch leaves no case or parse running."""
    env, pids = hook
    archive = archive_with(tmp_path, nix_file(tmp_path))
    batch = subprocess.Popen([sys.executable, "-m", "iomon.cli", "batch", str(archive),
                              "--out", str(tmp_path / "out"), "--no-report", "--quiet"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True, preexec_fn=as_from_a_terminal)
    try:
        parse = the_hung_parse(batch, pids)
        case = int(Path(f"/proc/{parse}/stat").read_text().rsplit(")", 1)[1].split()[1])
        assert case != batch.pid, "the case runs in the batch's own process"
        if how == "Ctrl-C":
            os.killpg(batch.pid, signal.SIGINT)
        else:
            os.kill(batch.pid, getattr(signal, how))
        _, err = batch.communicate(timeout=120)
    finally:
        kill_survivors([batch.pid])
    if how == "Ctrl-C":
        assert (batch.returncode, err) == (130, "iomon: interrupted\n")
    assert wait_until(lambda: not alive(case) and not alive(parse)), \
        f"a case ({alive(case)}) or its parse ({alive(parse)}) outlived the batch ({how})"
