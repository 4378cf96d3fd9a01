"""Issue 23, item 3: batch cases start from a preloaded fork server, and each is still a process
of its own, with its own session, memory limit and end.

Real processes throughout (`iomon batch` started as a user starts it). Test hooks, not iomon
code, sit in a ``sitecustomize`` module on the processes' path: one records which process
imports the heavy libraries (an import finder that only notes what is imported and by whom)
and which process analyses each case; one makes neo's parse hang (as tests/test_lifetimes.py);
one makes it leave a process behind in the case's group. Processes are looked for in /proc,
polled a bounded number of times (no wall-clock assertion).
"""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from test_lifetimes import (
    SITECUSTOMIZE,
    SRC,
    abf_file,
    alive,
    hanging_pids,
    kill_survivors,
    wait_until,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the fork server is Linux's (elsewhere cases start "
                                       "afresh, as tests/test_batch.py runs them)")

#: The hooks, each on when its environment variable names a folder.
HOOKS = SITECUSTOMIZE + '''
if os.environ.get("IOMON_TEST_IMPORTS_DIR"):
    import sys

    _WATCHED = {"numpy", "scipy.signal", "pandas", "matplotlib", "reportlab", "jinja2"}

    class _NoteImports:
        """Notes (in a file named by the pid) each watched module this process imports."""

        def find_spec(self, name, path=None, target=None):
            if name in _WATCHED:
                folder = os.environ["IOMON_TEST_IMPORTS_DIR"]
                with open(os.path.join(folder, f"imports-{os.getpid()}"), "a") as f:
                    f.write(name + "\\n")
            return None  # the import itself is left to the usual finders

    sys.meta_path.insert(0, _NoteImports())

    import iomon.batch.run as run

    _analyse = run.analyse_case

    def _noted(job, key):
        folder = os.environ["IOMON_TEST_IMPORTS_DIR"]
        with open(os.path.join(folder, f"case-{os.getpid()}"), "w") as f:
            f.write(f"{os.getppid()} {job.entry.case_id}")
        return _analyse(job, key)

    run.analyse_case = _noted

if os.environ.get("IOMON_TEST_THREAD"):  # a thread that never ends, in every process
    import threading
    import time

    threading.Thread(target=lambda: time.sleep(3600), daemon=True).start()

if os.environ.get("IOMON_TEST_STRAGGLER_DIR"):
    import iomon.io.neo_adapter as adapter

    def _leave_one_behind(*args, **kwargs):
        import time

        read_fd, write_fd = os.pipe()
        if os.fork() == 0:  # stays in the case's process group, and sleeps for ever
            folder = os.environ["IOMON_TEST_STRAGGLER_DIR"]
            open(os.path.join(folder, str(os.getpid())), "w").close()
            os.write(write_fd, b"x")
            os.closerange(0, 1024)  # holds none of the parse's pipes
            while True:
                time.sleep(0.05)
        os.read(read_fd, 1)
        raise ValueError("left a process behind")

    adapter._read_neo = _leave_one_behind
'''

N_CASES = 4


def stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat after the command name: state, ppid, pgrp, session, ..."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def address_space_limit(pid: int) -> int:
    line = next(line for line in Path(f"/proc/{pid}/limits").read_text().splitlines()
                if line.startswith("Max address space"))
    return int(line.split()[3])


@pytest.fixture
def hooked(tmp_path):
    """The hooks' environment, and a folder for each hook's files."""
    hook_dir = tmp_path / "hook"
    hook_dir.mkdir()
    (hook_dir / "sitecustomize.py").write_text(HOOKS)
    folders = {name: tmp_path / name for name in ("imports", "hang", "stragglers")}
    for folder in folders.values():
        folder.mkdir()
    env = dict(os.environ, PYTHONPATH=f"{hook_dir}{os.pathsep}{SRC}",
               IOMON_GUARD_TIMEOUT_S="3600")
    env.pop("IOMON_BATCH_START", None)
    yield env, folders
    kill_survivors(hanging_pids(folders["hang"]) + hanging_pids(folders["stragglers"]))


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    """Four short simulated cases, as `iomon simulate --cohort` writes them."""
    folder = tmp_path_factory.mktemp("series")
    made = subprocess.run([sys.executable, "-m", "iomon.cli", "simulate", "--cohort",
                           str(N_CASES), "--out", str(folder / "archive"), "--seed", "5"],
                          capture_output=True, text=True, timeout=600)
    assert made.returncode == 0, made.stderr
    for truth in (folder / "archive").glob("*.truth.json"):
        truth.unlink()
    return folder / "archive"


def batch(env, archive: Path, out: Path, *extra) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "iomon.cli", "batch", str(archive), "--out",
                             str(out), "--quiet", *map(str, extra)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def noted(folder: Path) -> tuple[dict, dict]:
    """Cases by the pid that analysed them (its parent, case id); modules by importing pid."""
    cases = {int(p.name[5:]): p.read_text().split() for p in folder.glob("case-*")}
    imports = {int(p.name[8:]): set(p.read_text().split()) for p in folder.glob("imports-*")}
    return cases, imports


@pytest.mark.parametrize("report", [False, True], ids=["tables", "with reports"])
def test_the_heavy_modules_are_imported_once_per_server_not_per_case(series, hooked,
                                                                    tmp_path, report):
    env, folders = hooked
    env = dict(env, IOMON_TEST_IMPORTS_DIR=str(folders["imports"]))
    archive = series
    if report:  # two cases are enough to see a second one import nothing again
        archive = tmp_path / "two"
        archive.mkdir()
        for path in sorted(series.iterdir())[:4]:
            shutil.copy(path, archive)
    run = batch(env, archive, tmp_path / "out", "--jobs", "2",
                *(() if report else ("--no-report",)))
    out, err = run.communicate(timeout=900)
    assert run.returncode == 0, err
    cases, imports = noted(folders["imports"])
    n = len(list(archive.glob("*.edf")))
    assert len(cases) == n and run.pid not in cases, "each case in a process of its own"
    servers = {int(parent) for parent, _ in cases.values()}
    assert len(servers) == 1 and run.pid not in servers, "one server forked every case"
    heavy = {"numpy", "scipy.signal", "pandas"} | (
        {"matplotlib", "reportlab", "jinja2"} if report else set())
    for module in heavy:
        importers = {pid for pid, names in imports.items() if module in names}
        assert importers & servers, f"{module} not preloaded"
        assert not importers & set(cases), f"a case imported {module} itself"
        assert importers <= servers | {run.pid}, module


def test_fresh_case_processes_each_import_them_again(series, hooked, tmp_path):
    """Where there is no fork server (IOMON_BATCH_START=fresh, Windows, macOS), each case
    imports what it needs: the count above would see it."""
    env, folders = hooked
    env = dict(env, IOMON_TEST_IMPORTS_DIR=str(folders["imports"]), IOMON_BATCH_START="fresh")
    run = batch(env, series, tmp_path / "out", "--jobs", "2", "--no-report")
    _, err = run.communicate(timeout=900)
    assert run.returncode == 0, err
    cases, imports = noted(folders["imports"])
    assert len(cases) == N_CASES
    assert {int(parent) for parent, _ in cases.values()} == {run.pid}
    for pid in cases:
        assert {"numpy", "scipy.signal"} <= imports[pid]


def test_forked_and_fresh_cases_write_the_same_bytes(series, tmp_path):
    outs = {}
    for how in ("forkserver", "fresh"):
        env = dict(os.environ, IOMON_BATCH_START=how)
        run = batch(env, series, tmp_path / how, "--jobs", "2", "--no-report")
        _, err = run.communicate(timeout=900)
        assert run.returncode == 0, err
        outs[how] = {p.relative_to(tmp_path / how).as_posix(): p.read_bytes()
                     for p in sorted((tmp_path / how).rglob("*")) if p.is_file()}
    assert outs["forkserver"] == outs["fresh"]


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_a_forked_case_has_its_own_session_and_limit_and_dies_with_the_batch(hooked, tmp_path,
                                                                             how):
    env, folders = hooked
    env = dict(env, IOMON_TEST_HANG_DIR=str(folders["hang"]))
    archive = tmp_path / "archive"
    archive.mkdir()
    abf_file(archive)
    run = batch(env, archive, tmp_path / "out", "--no-report", "--case-memory", "3")
    try:
        assert wait_until(lambda: hanging_pids(folders["hang"]) or run.poll() is not None)
        assert run.poll() is None, run.communicate()
        (parse,) = hanging_pids(folders["hang"])
        case = int(stat_fields(parse)[1])
        server, group, session = map(int, stat_fields(case)[1:4])
        assert case not in (run.pid, server)
        assert (group, session) == (case, case), "the case leads a session of its own"
        assert int(stat_fields(server)[1]) == run.pid, "the server is the batch's child"
        assert b"iomon.batch.forkserver" in Path(f"/proc/{case}/cmdline").read_bytes()
        assert address_space_limit(case) == 3 * 2**30
        assert int(stat_fields(parse)[2]) == case, "the parse is in the case's group"
        os.kill(run.pid, getattr(signal, how))
        run.communicate()
    finally:
        kill_survivors([run.pid])
    assert wait_until(lambda: not any(map(alive, (parse, case, server)))), \
        f"outlived the batch: parse {alive(parse)}, case {alive(case)}, server {alive(server)}"


@pytest.mark.parametrize("start", ["forkserver", "fresh"])
def test_what_a_case_leaves_in_its_group_is_killed_when_it_ends(hooked, tmp_path, start):
    """A case that ends (here: failing) with a process of its group still running takes it
    down with it, the batch going on."""
    env, folders = hooked
    env = dict(env, IOMON_TEST_STRAGGLER_DIR=str(folders["stragglers"]),
               IOMON_BATCH_START=start)
    archive = tmp_path / "archive"
    archive.mkdir()
    abf_file(archive)
    run = batch(env, archive, tmp_path / "out", "--no-report")
    _, err = run.communicate(timeout=600)
    assert run.returncode == 2, err
    assert "left a process behind" in (tmp_path / "out" / "failures.csv").read_text()
    (straggler,) = hanging_pids(folders["stragglers"])
    assert wait_until(lambda: not alive(straggler)), "a process of the case's group lived on"


def test_a_server_that_cannot_fork_safely_refuses_and_cases_start_afresh(series, hooked,
                                                                        tmp_path):
    """A thread left running in the server makes its forks unsafe (a fork copies a lock the
    thread may hold): the server says so and starts nothing; the cases start afresh."""
    env, folders = hooked
    env = dict(env, IOMON_TEST_IMPORTS_DIR=str(folders["imports"]), IOMON_TEST_THREAD="1")
    run = batch(env, series, tmp_path / "out", "--jobs", "2", "--no-report")
    _, err = run.communicate(timeout=900)
    assert run.returncode == 0, err
    cases, _ = noted(folders["imports"])
    assert len(cases) == N_CASES
    assert {int(parent) for parent, _ in cases.values()} == {run.pid}, "not started afresh"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_a_dask_worker_forks_its_cases_from_a_server_of_its_own(series, hooked, tmp_path):
    """On a cluster each worker process hosts a fork server: its cases are forked, not started
    afresh, and import nothing heavy themselves."""
    pytest.importorskip("distributed", reason="pip install '.[test]' (dask extra)")
    env, folders = hooked
    env = dict(env, IOMON_TEST_IMPORTS_DIR=str(folders["imports"]))
    address = f"tcp://127.0.0.1:{_free_port()}"
    log = (tmp_path / "dask.log").open("w")
    common = dict(stdout=log, stderr=log, env=env, cwd=tmp_path)
    cluster = [subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--host",
                                 "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                                 "--no-dashboard"], **common),
               subprocess.Popen([sys.executable, "-m", "dask", "worker", address, "--nworkers",
                                 "1", "--nthreads", "2", "--no-dashboard", "--memory-limit",
                                 "0", "--local-directory", str(tmp_path)], **common)]
    try:
        from dask.distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(1, timeout=120)
            (worker,) = client.run(os.getpid).values()
        run = batch(env, series, tmp_path / "out", "--scheduler", address, "--no-report")
        _, err = run.communicate(timeout=900)
        assert run.returncode == 0, err
        cases, imports = noted(folders["imports"])
        assert len(cases) == N_CASES
        (server,) = {int(parent) for parent, _ in cases.values()}
        assert int(stat_fields(server)[1]) == worker, "the server is the worker's child"
        for pid in cases:
            assert not imports.get(pid, set()) & {"numpy", "scipy.signal", "pandas"}
    finally:
        for process in reversed(cluster):
            process.terminate()
        for process in cluster:
            process.wait(timeout=60)
        log.close()
    assert wait_until(lambda: not alive(server)), "the fork server outlived its worker"
