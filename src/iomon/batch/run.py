"""Many cases at once: an archive reprocessed with one set of criteria, here or on a Dask cluster.

:func:`find_cases` walks the archive (only reading it); :func:`run_batch` analyses every case
into ``DIR/<case_id>/`` and writes the cohort's tables and report beside them.

Each case runs in a child process of its own (:func:`process_case`), so a case that crashes,
runs out of memory or hangs takes only itself down: its address space is limited and it is
killed after the time allowed. On Linux the case processes are forked by a fork server that
imported the libraries once (:mod:`iomon.batch.forkserver`), so a case pays its analysis
only; elsewhere each starts as a fresh interpreter. Locally, ``jobs`` threads each wait on one
child; with a Dask scheduler the same :func:`process_case` is sent through the client's
futures and runs on the cluster's workers (which must see the archive and ``DIR`` at the same
paths), each worker process forking its cases from a fork server of its own.

A case folder is complete when its ``batch.json`` (written last, after the outputs) records
the checksums of its inputs, its sidecar, the criteria, the iomon version and of every output
file. A rerun skips a case whose record still matches; a batch killed at any point therefore
resumes, and a case interrupted half-way is simply analysed again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..model.errors import InputError

__all__ = ["BatchJob", "BatchSummary", "CaseEntry", "CaseOutcome", "CaseProcesses",
           "find_cases", "process_case", "run_batch"]

#: The files a batch writes into ``DIR`` beside the case folders.
BATCH_FILES = ("cohort.csv", "cohort.html", "cohort.pdf", "audit.csv", "failures.csv",
               "cohort-figures")
#: A case folder's record of what it was made from, written after its outputs.
MANIFEST = "batch.json"
#: Time one case may take before its process is killed, s (``--case-timeout``).
DEFAULT_TIMEOUT_S = 3600.0
#: Address space one case may use at least, bytes: a 3-hour, 12-channel, 10 kHz EDF (2.6 GB)
#: is memory-mapped whole, and the libraries' imports reserve about 1.5 GB of it already.
MIN_MEMORY_BYTES = 4 << 30


@dataclass(frozen=True)
class CaseEntry:
    """One case found in an archive.

    Attributes
    ----------
    case_id : str
        From the sidecar (``[case] id``), else the recording's stem.
    recording : Path
        Absolute path of the recording.
    sidecar : Path or None
        Its ``.case.toml``, None when it has none.
    relative : str
        The recording's path inside the archive (``/``-separated), as outputs name it.
    """

    case_id: str
    recording: Path
    sidecar: Path | None
    relative: str


@dataclass(frozen=True)
class BatchJob:
    """What one case's process needs: the case, where to write, and how to analyse it."""

    entry: CaseEntry
    out_dir: Path
    presets: tuple
    report: bool = True
    identify: bool = False
    timeout_s: float = DEFAULT_TIMEOUT_S
    memory_bytes: int | None = None
    bids_root: Path | None = None


@dataclass(frozen=True)
class CaseOutcome:
    """What became of one case: ``"analysed"``, ``"unchanged"`` (skipped) or ``"failed"``."""

    case_id: str
    relative: str
    status: str
    reason: str = ""
    manifest: dict | None = None


@dataclass(frozen=True)
class BatchSummary:
    """A finished batch: every case's outcome (in case order) and where its files are."""

    out_dir: Path
    outcomes: tuple[CaseOutcome, ...]

    @property
    def failed(self) -> tuple[CaseOutcome, ...]:
        """The outcomes of the cases that failed."""
        return tuple(o for o in self.outcomes if o.status == "failed")

    def count(self, status: str) -> int:
        """How many cases ended with ``status``."""
        return sum(o.status == status for o in self.outcomes)


# ------------------------------------------------------------------------------ discovery
def _reader_extensions() -> tuple[set[str], set[str]]:
    """Extensions of recordings that stand alone, and of those that need a sidecar's mapping."""
    from ..io import READERS

    alone = {e for r in READERS if r.section is None for e in r.extensions}
    mapped = {e for r in READERS if r.section is not None for e in r.extensions}
    return alone, mapped


def _claimed(path: Path) -> bool:
    """Whether the reader of a file's extension takes it for its format.

    A ``.json`` file is a case only when it is a Cadwell case JSON.
    """
    from ..io import READERS

    return any(r.claims is None or r.claims(path) for r in READERS
               if path.suffix.lower() in r.extensions)


def _archive_files(archive: Path, skip: Path | None):
    """Every file under ``archive`` in a stable order, leaving out hidden ones and ``skip``.

    A folder of sweep files (a case exported as one file per sweep) is yielded as itself, its
    files and subfolders not walked.
    """
    from ..io.sweepfiles import is_sweep_folder

    for folder, subfolders, files in os.walk(archive):
        here = Path(folder)
        # A BIDS dataset's recordings are its cases; not its derivatives or source data.
        bids = {"derivatives", "sourcedata", "code"} if (here / "dataset_description.json"
                                                          ).is_file() else set()
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and d not in bids
                               and (skip is None or (here / d).resolve() != skip))
        if is_sweep_folder(here):
            subfolders[:] = []
            yield here
            continue
        for name in sorted(files):
            if not name.startswith("."):
                yield here / name


def find_cases(archive: str | Path, out_dir: str | Path | None = None
               ) -> tuple[list[CaseEntry], list[CaseOutcome]]:
    """The cases under ``archive``, and the ones that cannot be run (as failed outcomes).

    A case is a recording with its ``<stem>.case.toml`` sidecar, or a recording of a format
    that stands alone (EDF, BrainVision, the neo formats, CFS, Cadwell JSON) without one; CSV
    and MAT files count only with a sidecar, which holds their mapping. A folder of sweep
    files is one case, its sidecar ``<folder>.case.toml`` beside it or ``case.toml`` inside.
    A sidecar without a recording, or whose case id cannot name a folder, is a failed case.
    ``out_dir`` is left out of the walk when it lies inside the archive.

    Raises
    ------
    InputError
        The archive is missing, holds no case, or two cases share an id (both paths named).
    """
    from ..case.sidecar import load_case, sidecar_path

    archive = Path(archive)
    if not archive.is_dir():
        raise InputError("archive not found" if not archive.exists() else
                         "the archive must be a folder of recordings and their sidecars",
                         archive)
    archive = archive.resolve()
    skip = None if out_dir is None else Path(out_dir).resolve()
    alone, mapped = _reader_extensions()
    files = list(_archive_files(archive, skip))
    sidecars = {f for f in files if f.name.endswith(".case.toml")}
    entries, failures, used = [], [], set()
    for path in files:
        suffix = path.suffix.lower()
        beside = sidecar_path(path)
        if path.is_file() and (suffix not in alone or not _claimed(path)) and not (
                suffix in mapped and beside in sidecars):
            continue
        used.add(beside)
        relative = path.relative_to(archive).as_posix()
        stem = path.name if path.is_dir() else path.stem
        try:
            case = load_case(path)
            _check_case_id(case.id, path)
        except InputError as err:
            failures.append(CaseOutcome(stem, relative, "failed", _one_line(err, path)))
            continue
        entries.append(CaseEntry(case.id, path, case.source, relative))
    for orphan in sorted(sidecars - used):
        failures.append(CaseOutcome(orphan.name[: -len(".case.toml")],
                                    orphan.relative_to(archive).as_posix(), "failed",
                                    "a sidecar without a recording of the same name beside it"))
    if not entries and not failures:
        raise InputError("holds no case (no recording iomon reads, no .case.toml sidecar)",
                         archive)
    _refuse_duplicate_ids(entries)
    return entries, failures


def _check_case_id(case_id: str, path: Path) -> None:
    if (not case_id or case_id in {".", ".."} or case_id.startswith(".")
            or any(c in case_id for c in '/\\:*?"<>|\0') or case_id in BATCH_FILES):
        raise InputError(f"case id {case_id!r} cannot name an output folder (set [case] id)",
                         path)


def _refuse_duplicate_ids(entries: list[CaseEntry]) -> None:
    """Two cases with one id would write into one folder (ids differing in case only, too)."""
    seen = {}
    for entry in entries:
        key = entry.case_id.casefold()
        if key in seen:
            raise InputError(f"case id {entry.case_id!r} is used twice: by {seen[key].recording}"
                             f" and by {entry.recording}; give each case its own [case] id")
        seen[key] = entry


# ------------------------------------------------------------------------------ one case
def _input_key(job: BatchJob) -> dict:
    """What a case's outputs are made from: checksums of its files, criteria and version.

    The recording's companions (files beside it with the same stem: a BrainVision header's
    marker and data files) count as inputs too.
    """
    from ..io.bidsemg import companions
    from ..pipeline import file_sha256
    from .cohort import RECORD_FORMAT

    recording = job.entry.recording
    if recording.is_dir():  # a folder of sweep files: its checksum covers every sweep file
        inputs = {recording.name: file_sha256(recording)}
    else:
        inputs = {p.name: file_sha256(p) for p in sorted(recording.parent.iterdir())
                  if p.is_file() and p.stem == recording.stem}
        # A BIDS recording's case facts are in its dataset's tables and iomon's settings.
        inputs.update({p.name: file_sha256(p) for p in companions(recording)})
    criteria = json.dumps([c.as_dict() for c in job.presets], sort_keys=True)
    return {
        "recording_sha256": inputs[recording.name],
        "inputs_sha256": inputs,
        "sidecar_sha256": (None if job.entry.sidecar is None
                           else file_sha256(job.entry.sidecar)),
        "criteria": [c.name for c in job.presets],
        "criteria_sha256": hashlib.sha256(criteria.encode()).hexdigest(),
        "iomon_version": __version__,
        # A case's cohort record of another layout is made again (batch.cohort.RECORD_FORMAT).
        "record_format": RECORD_FORMAT,
        "report": job.report,
        "identify": job.identify,
        "bids_root": None if job.bids_root is None else str(job.bids_root),
    }


def _output_checksums(case_dir: Path) -> dict:
    """Checksum of every file iomon wrote into a case folder, by relative path.

    Its outputs as their manifest records them, and the manifest; anyone else's file counts
    not (a note a user keeps beside the outputs does not make the case run again).
    """
    from ..pipeline import file_sha256
    from ..report.outputs import MANIFEST as OUTPUTS_RECORD
    from ..report.outputs import owned_files

    owned = owned_files(case_dir)
    if OUTPUTS_RECORD in owned:
        owned[OUTPUTS_RECORD] = file_sha256(case_dir / OUTPUTS_RECORD)
    return dict(sorted(owned.items()))


def _vouched(case_dir: Path) -> dict:
    """The outputs a case folder's ``batch.json`` says iomon wrote (its output names only).

    A folder written before outputs had a manifest of their own is known by this record.
    """
    from ..report.outputs import OUTPUT_FILES

    try:
        outputs = json.loads((case_dir / MANIFEST).read_text(encoding="utf-8"))["outputs"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    if not isinstance(outputs, dict):
        return {}
    return {k: v for k, v in outputs.items() if isinstance(k, str) and isinstance(v, str)
            and k.split("/")[0] in OUTPUT_FILES}


def _unchanged(job: BatchJob, key: dict) -> dict | None:
    """The case folder's record if it was made from exactly these inputs and is intact."""
    try:
        manifest = json.loads((job.out_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("key") != key:
        return None
    if manifest.get("outputs") != _output_checksums(job.out_dir):
        return None
    return manifest


def process_case(job: BatchJob, processes: CaseProcesses | None = None) -> CaseOutcome:
    """Analyse one case in a child process of its own, unless its outputs are up to date.

    Never raises: whatever goes wrong becomes a failed outcome with a one-line reason. This
    is the function local workers and Dask workers run; ``processes`` (local runs) lets an
    interrupted batch end the case processes it started. Without it (on a Dask worker) the
    case starts from the worker's own fork server, which serves every case sent to it.
    """
    entry = job.entry
    try:
        key = _input_key(job)
        manifest = _unchanged(job, key)
        if manifest is not None:
            return CaseOutcome(entry.case_id, entry.relative, "unchanged", manifest=manifest)
        return _run_child(job, key, processes or _worker_processes())
    except Exception as err:  # noqa: BLE001 - one case's trouble stays with that case
        return CaseOutcome(entry.case_id, entry.relative, "failed", _one_line(err))


class CaseProcesses:
    """The case processes a batch has running, each the leader of a process group of its own.

    Where it can (Linux), a case starts from a preloaded fork server
    (:mod:`iomon.batch.forkserver`), started with the first case that runs and ended by
    :meth:`close`; elsewhere as a fresh interpreter. Either way ending a case ends its whole
    group (the case and whatever it started: a guarded parse), whether it finished, overran
    its time or the batch was interrupted; after :meth:`stop`, no further case starts.

    Parameters
    ----------
    forkserver : bool, optional
        Start cases from a fork server (default: where :func:`forkserver.available`).
    """

    def __init__(self, forkserver: bool | None = None):
        from .forkserver import available

        self._lock = threading.Lock()
        self._running: set = set()
        self._stopped = False
        self._forkserver = available() if forkserver is None else forkserver
        self._server = None

    def start(self, job: BatchJob):
        """Start a case's process in a session of its own; None once stopped.

        Returns a :class:`~iomon.batch.forkserver.ForkedCase` or a :class:`_FreshCase`.
        """
        with self._lock:
            if self._stopped:
                return None
            process = self._forked(job) if self._forkserver else None
            process = process or _FreshCase()
            self._running.add(process)
            return process

    def _forked(self, job: BatchJob):
        """The case started by the fork server (started, or started again, if need be)."""
        from .forkserver import ForkServer

        for _ in range(2):
            if self._server is None or not self._server.alive():
                self._server = ForkServer(_case_env())
            try:
                return self._server.start(_preload_for(job))
            except OSError:  # the server is gone: a new one, once
                self._server.broken = "its socket closed"
        self._forkserver = False
        return None

    def without_server(self) -> None:
        """Start every further case afresh (the fork server could not start one)."""
        with self._lock:
            self._forkserver = False

    def end(self, process) -> None:
        """SIGKILL the process's group (any member left), reap the process, forget it."""
        process.end()
        with self._lock:
            self._running.discard(process)

    def stop(self) -> None:
        """End every running case's group; start none after."""
        with self._lock:
            self._stopped = True
            running = list(self._running)
        for process in running:
            process.kill()

    def close(self) -> None:
        """End the fork server, if one was started (it kills any case left)."""
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.close()


class _FreshCase:
    """A case started as a fresh interpreter that imports what it needs (no fork server)."""

    refused = ""

    def __init__(self):
        command = [sys.executable, "-c",
                   "from iomon.batch.run import _child_main; _child_main()"]
        self.popen = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, env=_case_env(),
                                      start_new_session=True)
        self.pid = self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    def communicate(self, data: bytes, timeout: float) -> tuple[bytes, bytes]:
        return self.popen.communicate(data, timeout=timeout)

    def kill(self) -> None:
        _kill_group(self.pid)

    def end(self) -> None:
        _kill_group(self.pid)
        self.popen.wait()
        for stream in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
            stream.close()


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):  # the group has ended
        pass


def _case_env() -> dict:
    """The environment of a case's process (and of the fork server whose cases inherit it)."""
    env = dict(os.environ, PYTHONHASHSEED="0", MPLBACKEND="Agg")
    # Cases run side by side, one per core: one thread each. (BLAS thread pools also reserve
    # address space that the memory limit counts, hang at exit when they cannot start, and
    # would make the fork server's forks unsafe.)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(name, "1")
    return env


def _preload_for(job: BatchJob) -> tuple[str, ...]:
    """The modules a case imports: the analysis, the report's if it writes one, its reader's."""
    from ..io import detect_format, folder_reader
    from .forkserver import BASE_PRELOAD, FORMAT_PRELOAD, REPORT_PRELOAD

    recording = job.entry.recording
    try:
        reader = folder_reader() if recording.is_dir() else detect_format(recording)
    except OSError:  # the case's own process will say what is wrong with the file
        reader = None
    return (*BASE_PRELOAD, *(REPORT_PRELOAD if job.report else ()),
            *FORMAT_PRELOAD.get(getattr(reader, "name", None), ()))


_WORKER_PROCESSES: list[CaseProcesses] = []
_WORKER_LOCK = threading.Lock()


def _worker_processes() -> CaseProcesses:
    """The case processes of this process when it runs cases for others (a Dask worker).

    One for the process's life: its fork server serves every case sent to the worker and
    ends with it.
    """
    with _WORKER_LOCK:
        if not _WORKER_PROCESSES:
            _WORKER_PROCESSES.append(CaseProcesses())
        return _WORKER_PROCESSES[0]


def _run_child(job: BatchJob, key: dict, processes: CaseProcesses) -> CaseOutcome:
    """Run :func:`_child_main` on ``job`` in a process of its own and read its answer."""
    entry = job.entry
    process = processes.start(job)
    if process is None:
        return CaseOutcome(entry.case_id, entry.relative, "failed",
                           "not started: the batch was interrupted")
    try:
        stdout, stderr = process.communicate(pickle.dumps((job, key, os.getpid())),
                                             job.timeout_s)
    except subprocess.TimeoutExpired:
        return CaseOutcome(entry.case_id, entry.relative, "failed",
                           f"took longer than {job.timeout_s:g} s and was stopped "
                           "(--case-timeout)")
    finally:
        processes.end(process)
    if process.refused:  # the fork server could not start it: afresh, and every case after
        processes.without_server()
        return _run_child(job, key, processes)
    if process.returncode == 0 and stdout:
        answer = json.loads(stdout.decode("utf-8"))
        return CaseOutcome(entry.case_id, entry.relative, answer["status"],
                           answer.get("reason", ""), answer.get("manifest"))
    if process.returncode is None:
        return CaseOutcome(entry.case_id, entry.relative, "failed",
                           "its process was lost with the fork server that started it")
    return CaseOutcome(entry.case_id, entry.relative, "failed",
                       _crash_reason(process.returncode, stderr, job.memory_bytes))


def _crash_reason(returncode: int, stderr: bytes, memory_bytes: int | None) -> str:
    """One line on why a case's process died without answering."""
    last = next((line for line in reversed(stderr.decode("utf-8", "replace").splitlines())
                 if line.strip()), "")
    if returncode < 0:
        name = signal.Signals(-returncode).name
        why = f"its process was killed by {name}"
        if name == "SIGKILL":
            why += " (out of memory?)"
        elif memory_bytes and name in ("SIGSEGV", "SIGABRT", "SIGBUS"):
            why += f" (possibly the memory limit, {memory_bytes / 2**30:.3g} GiB)"
        return why
    return f"its process exited with status {returncode}" + (f": {last[:300]}" if last else "")


def _one_line(err: BaseException, recording: Path | None = None) -> str:
    """An error as one line.

    An input error about the case's own recording comes without its path (failures.csv names
    the recording); one about another file (a sidecar) with that file's name.
    """
    if isinstance(err, InputError):
        if err.path is None or (recording is not None and err.path == recording):
            text = err.reason
        else:
            text = f"{err.path.name}: {err.reason}"
    else:
        text = f"{type(err).__name__}: {err}"
    return " ".join(text.split())


def _child_main(parent: int | None = None) -> None:
    """Entry of a case's process: read (job, key) from stdin, answer one JSON line.

    The process ends with the process that started it (``parent``: the fork server; by
    default the batch), whatever ends that (on Linux).
    """
    from ..model.guard import die_with_parent

    job, key, batch = pickle.load(sys.stdin.buffer)
    die_with_parent(parent or batch)
    answer_fd = os.dup(1)
    os.dup2(2, 1)  # anything a library prints goes to stderr, not into the answer
    if job.memory_bytes:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (job.memory_bytes, job.memory_bytes))
    try:
        answer = {"status": "analysed", "manifest": analyse_case(job, key)}
    except InputError as err:
        answer = {"status": "failed", "reason": _one_line(err, job.entry.recording)}
    except Exception as err:  # noqa: BLE001 - reported as this case's failure
        answer = {"status": "failed", "reason": (
            (f"ran out of memory (limit {job.memory_bytes / 2**30:.3g} GiB, --case-memory)"
             if job.memory_bytes else "ran out of memory") if _out_of_memory(err)
            else f"unexpected error ({_one_line(err)})")}
    os.write(answer_fd, json.dumps(answer, allow_nan=False).encode("utf-8"))
    os.close(answer_fd)
    sys.stderr.flush()
    # The answer is out: leave without the interpreter's shutdown, which a library's threads
    # left in a bad state (after a MemoryError) can hang.
    os._exit(0)


def _out_of_memory(err: BaseException) -> bool:
    """Whether an error is the address-space limit reached.

    A MemoryError, or a library or extension module that could not map its memory (an import
    under the limit fails so).
    """
    words = str(err)
    return isinstance(err, MemoryError) or (
        isinstance(err, (ImportError, OSError))
        and ("failed to map segment" in words or "Cannot allocate memory" in words))


def analyse_case(job: BatchJob, key: dict) -> dict:
    """Read a case once, apply every preset, write the outputs and then its record.

    The first preset's results are the case's outputs (as ``iomon analyze`` writes them); the
    others are applied to the same measurements for the alert audit. Returns the record.
    """
    from ..case.sidecar import load_case
    from ..io import read
    from ..pipeline import analyze_each
    from ..report.outputs import write_atomic, write_outputs
    from .cohort import at_risk_trend, cohort_row, preset_record

    entry = job.entry
    case = load_case(entry.recording, entry.sidecar)
    recording = read(entry.recording, case.read_options)
    results = analyze_each(recording, case, job.presets)
    primary = dataclasses.replace(results[0], input_sha256=key["recording_sha256"])
    vouched = _vouched(job.out_dir)
    (job.out_dir / MANIFEST).unlink(missing_ok=True)  # the folder is incomplete from here on
    # The batch checked the folder at its start (another's files only with --force): here
    # iomon's own outputs are replaced, and another's file where an output goes fails the case.
    write_outputs(primary, job.out_dir, report=job.report, identify=job.identify, force=True,
                  vouched=vouched)
    if job.bids_root is not None:
        from ..bids import export_case

        export_case(entry.recording, job.bids_root, entry.sidecar, job.presets[0],
                    report=job.report)
    manifest = {
        "case_id": entry.case_id,
        "recording": entry.relative,
        "key": key,
        "outputs": _output_checksums(job.out_dir),
        "cohort": cohort_row(primary, entry.relative),
        "presets": [preset_record(r) for r in results],
        "trend": at_risk_trend(primary),
    }
    write_atomic(job.out_dir / MANIFEST, json.dumps(manifest, indent=1, allow_nan=False) + "\n")
    return manifest


# ------------------------------------------------------------------------------ the batch
def default_memory_bytes(jobs: int) -> int:
    """The address space each case may use by default: the machine's memory over the jobs."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: no limit
        return 0
    return max(MIN_MEMORY_BYTES, total // max(jobs, 1))


def _clean_leftovers(out_dir: Path) -> None:
    """Remove the staging folders and files of a batch that was killed."""
    for leftover in out_dir.glob(".*.partial*"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


#: The lock a running batch holds in its folder.
LOCK = ".iomon-batch.lock"


def _check_out_dir(out_dir: Path, force: bool) -> None:
    """Refuse a batch folder that holds what iomon did not write, unless ``force``.

    Case folders may hold only what their manifests (or ``batch.json``) record, the folder
    itself only the cohort's files its manifest records, case folders and the lock. Even with
    ``force``, a file of another's where the cohort's files go (which are replaced whole) is
    refused, before any case runs.
    """
    from ..report.outputs import MANIFEST as OUTPUTS_RECORD
    from ..report.outputs import OS_LITTER, owned_files, record_facts, unrecorded

    # A batch killed while writing the cohort's files left them unrecorded: they are iomon's;
    # so are those of a batch folder written before it had a manifest (its cases have theirs).
    facts = record_facts(out_dir)
    writing = facts.get("cohort") == "writing" or (
        not facts and any(out_dir.glob(f"*/{MANIFEST}")))
    owned, foreign = owned_files(out_dir), []
    for item in sorted(out_dir.iterdir()):
        if item.name in (OUTPUTS_RECORD, LOCK) or item.name in OS_LITTER:
            continue
        if item.name in BATCH_FILES:
            files = sorted(p for p in item.rglob("*") if not p.is_dir()) if item.is_dir() \
                else [item]
            theirs = [p.relative_to(out_dir).as_posix() for p in files]
            theirs = [f for f in theirs if f not in owned]
            if theirs and not writing:
                raise InputError(f"{theirs[0]} in it is not a file iomon wrote there (or it was "
                                 "changed since): move it away, or choose another --out",
                                 out_dir)
        elif item.is_dir() and not item.is_symlink():
            foreign += [f"{item.name}/{f}" for f in unrecorded(item, [*_vouched(item),
                                                                      MANIFEST])]
        else:
            foreign.append(item.name)
    if foreign and not force:
        more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        raise InputError(f"holds files iomon did not write there ({', '.join(foreign[:3])}"
                         f"{more}); choose another --out, or pass --force to write beside them "
                         "(they are left as they are)", out_dir)


def _write_cohort(summary: BatchSummary, presets, write_cohort_files) -> None:
    """Write the cohort's files and record them in the batch folder's manifest.

    They are recorded as being written first: a batch killed half-way leaves them iomon's.
    """
    from ..report.outputs import record_files

    out_dir = summary.out_dir
    present = [n for n in BATCH_FILES if (out_dir / n).exists()]
    record_files(out_dir, present, cohort="writing")
    write_cohort_files(summary, [p.name for p in presets])
    record_files(out_dir, [n for n in BATCH_FILES if (out_dir / n).exists()])


def _lock(out_dir: Path):
    """Hold ``DIR/.iomon-batch.lock`` so that two batches never write into one folder."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return None
    handle = (out_dir / LOCK).open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise InputError("another iomon batch is writing into this folder", out_dir) from None
    return handle


def run_batch(archive: str | Path, out_dir: str | Path, criteria=(None,), *,
              jobs: int | None = None, scheduler: str | None = None, report: bool = True,
              identify: bool = False, timeout_s: float = DEFAULT_TIMEOUT_S,
              memory_bytes: int | None = None, progress=None,
              force: bool = False, bids_root: str | Path | None = None) -> BatchSummary:
    """Analyse every case under ``archive`` into ``out_dir`` and write the cohort's files.

    Parameters
    ----------
    archive, out_dir : str or Path
    criteria : sequence of str, Path, Criteria or None
        Presets or TOML files; the first gives the case outputs, all are audited.
    jobs : int, optional
        Cases analysed at once on this machine (default: the CPU count).
    scheduler : str, optional
        A Dask scheduler address (``tcp://host:port``); the cases run on its workers.
    report, identify : bool
        As for ``iomon analyze``.
    timeout_s : float
        A case still running after this long is stopped and counted as failed.
    memory_bytes : int, optional
        Address space each case may use (0: no limit; default :func:`default_memory_bytes`).
    force : bool
        Write beside files iomon did not write in ``out_dir`` (refused otherwise); only
        iomon's own files are ever replaced.
    progress : callable (CaseOutcome, int, int) -> None, optional
        Called as each case finishes with the outcome, cases finished and cases in all. If
        it has them, its ``start(total)`` is called once the cases are known, before any
        runs, and its ``stage(text)`` when the batch moves to the cohort's files.
    bids_root : str or Path, optional
        Also write every case into this BIDS-EMG dataset (:func:`iomon.bids.export_case`).

    Returns
    -------
    BatchSummary
    """
    from ..alerting.criteria import load_criteria
    from .cohort import write_cohort_files

    presets = _load_presets(criteria, load_criteria)
    out_dir = Path(out_dir)
    entries, failures = find_cases(archive, out_dir)
    jobs = jobs or os.cpu_count() or 1
    memory = default_memory_bytes(jobs) if memory_bytes is None else memory_bytes
    out_dir.mkdir(parents=True, exist_ok=True)
    lock = _lock(out_dir)
    try:
        _clean_leftovers(out_dir)
        _check_out_dir(out_dir, force)
        bids = None if bids_root is None else Path(bids_root).resolve()
        work = [BatchJob(e, out_dir.resolve() / e.case_id, presets, report, identify,
                         timeout_s, memory or None, bids) for e in entries]
        tally = _Tally(len(work) + len(failures), progress)
        # A cluster that cannot be reached is one line, before any progress is shown.
        client = _connect(scheduler) if scheduler else None
        try:
            tally.event("start", tally.total)
            for outcome in failures:
                tally(outcome)
            cohort_imports = _import_meanwhile(COHORT_MODULES)
            outcomes = (_run_on_dask(work, client, tally) if client is not None
                        else _run_here(work, jobs, tally))
        finally:
            if client is not None:
                client.close()
        summary = BatchSummary(out_dir, tuple(sorted(outcomes + failures,
                                                     key=lambda o: (o.case_id, o.relative))))
        tally.event("stage", "writing the cohort tables and report")
        cohort_imports.join()
        _write_cohort(summary, presets, write_cohort_files)
        return summary
    finally:
        if lock is not None:
            lock.close()


#: What writing the cohort's files imports in the batch's own process (most of that step's
#: time after short cases): imported while the cases run, in their processes.
COHORT_MODULES = ("scipy.stats", "pandas", "matplotlib.figure",
                  "matplotlib.backends.backend_agg", "matplotlib.backends.backend_svg",
                  "reportlab.platypus", "jinja2", "iomon.report.cohort", "iomon.report.pdf")


def _import_meanwhile(modules) -> threading.Thread:
    """Import ``modules`` in a thread of this process (join it before using them).

    The batch's process only waits while the cases run; one that fails to import is left to
    the step that needs it to report.
    """
    import importlib

    def run():
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001, S110 - imported again, and reported, where used
                pass

    thread = threading.Thread(target=run, name="iomon-cohort-imports", daemon=True)
    thread.start()
    return thread


def _load_presets(criteria, load_criteria) -> tuple:
    presets = tuple(load_criteria(c) for c in (criteria or (None,)))
    names = [p.name for p in presets]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"criteria preset {twice[0]!r} is asked for twice (each preset's name "
                         "names its audit row)")
    return presets


class _Tally:
    """Counts finished cases and tells the caller's progress function about each."""

    def __init__(self, total: int, progress):
        self.total, self.done, self.progress = total, 0, progress

    def __call__(self, outcome: CaseOutcome) -> CaseOutcome:
        self.done += 1
        if self.progress:
            self.progress(outcome, self.done, self.total)
        return outcome

    def event(self, name: str, value) -> None:
        """Tell the progress function's ``start`` or ``stage``, if it has one."""
        method = getattr(self.progress, name, None)
        if method is not None:
            method(value)


def _run_here(work, jobs: int, tally: _Tally) -> list[CaseOutcome]:
    """Run the cases on this machine, ``jobs`` at a time (each in its own process).

    Interrupted (Ctrl-C), the batch ends every running case's process group, starts no
    other, and lets the interruption through.
    """
    from concurrent.futures import ThreadPoolExecutor, as_completed

    processes = CaseProcesses()
    try:
        with ThreadPoolExecutor(max_workers=max(1, int(jobs))) as pool:
            try:
                futures = [pool.submit(process_case, job, processes) for job in work]
                return [tally(future.result()) for future in as_completed(futures)]
            except BaseException:
                processes.stop()
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    finally:
        processes.close()


def _connect(address: str):
    """A client of the Dask scheduler at ``address`` (one-line InputError when unreachable)."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise InputError("--scheduler needs Dask's distributed scheduler: "
                         "pip install 'iomon[dask]'") from None
    try:
        return Client(address, timeout="20s")
    except (OSError, TimeoutError, ValueError) as err:
        raise InputError(f"cannot reach the Dask scheduler at {address}: {_one_line(err)}"
                         ) from None


def _run_on_dask(work, client, tally: _Tally) -> list[CaseOutcome]:
    """Send the cases to an existing Dask cluster through the client's futures."""
    from dask.distributed import as_completed

    outcomes = []
    futures = {client.submit(process_case, job, pure=False): job for job in work}
    for future in as_completed(list(futures)):
        try:
            outcome = future.result()
        except Exception as err:  # noqa: BLE001 - a worker lost with the task
            job = futures[future]
            outcome = CaseOutcome(job.entry.case_id, job.entry.relative, "failed",
                                  f"lost on the Dask cluster ({_one_line(err)})")
        outcomes.append(tally(outcome))
    return outcomes
