"""Fuzz harness: mutated copies of valid files of every format through iomon's command line.

Every mutant (see benchmarks/fuzz_mutate.py; the valid seeds are in benchmarks/fuzz_seeds.py)
goes through ``iomon info`` and, when that succeeds, ``iomon analyze --no-report``, run by
``iomon.cli.main`` in-process inside long-lived worker processes (forked from this one, with
iomon and its libraries already imported) under a memory limit (RLIMIT_AS) and a time limit
per mutant; a worker that crashes or overruns is killed and replaced. The contract checked:

- exit 0, nothing on stderr, the usual stdout; or exit 2 with exactly one line on stderr that
  names the recording or the sidecar, and no output folder written;
- never exit 1 (unexpected error), a crash, a hang past the limit or a memory blow-up;
- the input files unchanged, and no ``inf``/``nan`` in measurements.csv.

Each failure is given a *place* (the exception and the innermost iomon frame, the crash or hang
traceback from faulthandler, or the kind of extra line) and, per place, a minimal reproducer
(operations removed while the failure stays) written under ``--out``.

    python benchmarks/fuzz.py --mutants 2000 --seed 1             # a run, report printed
    python benchmarks/fuzz.py --mutants 100000 --minutes 40       # at most 40 min of mutants
    python benchmarks/fuzz.py --estimate                          # seconds per seed and mutant
    python benchmarks/fuzz.py --replay OUT/reproducers/01-...     # a reproducer, fresh process
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # one core per worker

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz_mutate import apply_ops, plan, to_plain  # noqa: E402
from fuzz_seeds import GROUPS, build_seeds  # noqa: E402

#: Seconds a mutant may take (info and analyze together) before it counts as a hang.
LIMIT_S = 60.0
#: Memory a worker may add to its size at start, MB, before allocations fail.
MEMORY_MB = 3000
#: The time limit iomon's parser guard is given inside the harness (s): a parser that hangs
#: is refused after this, well inside LIMIT_S.
GUARD_S = 8.0
FAILURES = ("unexpected", "memory", "lines", "unnamed", "wrote", "modified", "nonfinite",
            "crash", "hang")


# ---------------------------------------------------------------------------- one mutant
@dataclass
class Outcome:
    """What one mutant did: ``ok``, ``refused`` or one of :data:`FAILURES`, and where."""

    kind: str
    place: str = ""
    detail: str = ""
    seconds: float = 0.0


def _short(frame) -> str:
    path = frame.filename
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{frame.name}:{frame.lineno}"


def _exception_place(err: BaseException) -> str:
    frames = traceback.extract_tb(err.__traceback__)
    ours = [f for f in frames if "/iomon/" in f.filename]
    place = f"{type(err).__name__} in {_short(ours[-1]) if ours else '?'}"
    if frames and (not ours or frames[-1] is not ours[-1]):
        place += f" <- {_short(frames[-1])}"
    return place


def _normalise(text: str, folder: Path) -> str:
    text = text.replace(str(folder), "<dir>")
    return re.sub(r"\d+", "#", text)[:110]


def _invoke(args, capture: Path):
    """Exit status, stdout, stderr and the escaped exception of ``iomon.cli.main(args)``."""
    from iomon.cli import main

    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    streams = sys.stdout, sys.stderr
    out_path, err_path = capture / "stdout", capture / "stderr"
    error = None
    with out_path.open("wb") as out, err_path.open("wb") as err:
        # File descriptors for what C code writes, and Python streams on them for what Python
        # prints (under pytest, sys.stdout is pytest's own capture, not descriptor 1).
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
        try:
            code = main([str(a) for a in args])
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        except BaseException as exc:  # noqa: BLE001 - IOMON_DEBUG lets bugs out: classify them
            code, error = 1, exc
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.close()
                except OSError:
                    pass
            sys.stdout, sys.stderr = streams
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
    read = lambda p: p.read_bytes().decode("utf-8", "replace")  # noqa: E731
    return code, read(out_path), read(err_path), error


def _classify(command, result, named, folder: Path, out: Path) -> Outcome:
    code, stdout, stderr, error = result
    if error is not None:
        kind = "memory" if isinstance(error, MemoryError) else "unexpected"
        return Outcome(kind, _exception_place(error), f"{type(error).__name__}: {error}"[:300])
    lines = stderr.strip().splitlines()
    if code == 2:
        if len(lines) != 1:
            extra = next((line for line in lines if not line.startswith("iomon: error")),
                         lines[0] if lines else "")
            return Outcome("lines", f"{command}: {_normalise(extra, folder)}", stderr[-300:])
        if not any(str(path) in lines[0] for path in named):
            return Outcome("unnamed", f"{command}: {_normalise(lines[0], folder)}", lines[0])
        if command == "analyze" and out.exists():
            return Outcome("wrote", "analyze: refused after writing", lines[0])
        return Outcome("refused", "", lines[0])
    if code != 0:
        return Outcome("unexpected", f"{command}: exit {code}", stderr[-300:])
    if lines:
        return Outcome("lines", f"{command} ok: {_normalise(lines[0], folder)}", stderr[-300:])
    printed = stdout.strip().splitlines()
    if (command == "info" and (not printed or not printed[0].startswith("file:"))) or (
            command == "analyze" and len(printed) != 1):
        first = printed[0] if printed else "(nothing)"
        return Outcome("lines", f"{command} stdout: {_normalise(first, folder)}",
                       stdout[-300:])
    return Outcome("ok")


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


def _check_outputs(out: Path) -> Outcome | None:
    """A failure if a number written is not finite (NaN is written empty, or null in JSON)."""
    import pandas as pd

    numbers = pd.read_csv(out / "measurements.csv").select_dtypes("number").to_numpy(float)
    if np.isinf(numbers).any():
        return Outcome("nonfinite", "analyze: inf in measurements.csv")

    def refuse(token):
        raise ValueError(token)

    for name in ("summary.json", "alerts.json"):
        try:
            json.loads((out / name).read_text(), parse_constant=refuse)
        except ValueError as err:
            return Outcome("nonfinite", f"analyze: {err} in {name}")
    return None


def run_mutant(seed, ops, work: Path) -> Outcome:
    """Write the mutant, run ``iomon info`` then ``iomon analyze``, classify the outcome."""
    start = time.perf_counter()
    folder, out, capture = work / "m", work / "out", work / "capture"
    for path in (folder, out):
        shutil.rmtree(path, ignore_errors=True)
    folder.mkdir(parents=True)
    capture.mkdir(exist_ok=True)
    for name, content in apply_ops(seed.files, ops).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)  # a folder of sweep files
        (folder / name).write_bytes(content)
    before = _digest(folder)
    recording = folder / seed.recording
    named = [folder / name for name in seed.files] + [recording]
    outcome = _classify("info", _invoke(["info", recording], capture), named, folder, out)
    if outcome.kind == "ok":
        outcome = _classify("analyze", _invoke(["analyze", recording, "--no-report", "--out",
                                                out], capture), named, folder, out)
        if outcome.kind == "ok":
            outcome = _check_outputs(out) or outcome
    if _digest(folder) != before:
        outcome = Outcome("modified", "the input files were changed")
    outcome.seconds = time.perf_counter() - start
    return outcome


# ---------------------------------------------------------------------------- workers
def _vm_size() -> int:
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith("VmSize:"))
    return int(line.split()[1]) * 1024


def _worker(conn, seeds, dump: Path, memory_mb: int):
    """A worker's life: take (seed index, ops), answer an Outcome, until told to stop."""
    import faulthandler

    os.setpgrp()  # its own group: killing it takes any child it started
    handle = dump.open("w")
    faulthandler.enable(handle, all_threads=True)
    faulthandler.register(signal.SIGUSR1, handle, all_threads=True)
    limit = _vm_size() + memory_mb * (1 << 20)
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    os.environ["IOMON_DEBUG"] = "1"
    work = Path(tempfile.mkdtemp(prefix="iomon-fuzz-"))
    try:
        while True:
            task = conn.recv()
            if task is None:
                break
            handle.seek(0)
            handle.truncate()
            conn.send(run_mutant(seeds[task[0]], task[1], work))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _dump_place(dump: Path, kind: str, signal_number=None) -> tuple[str, str]:
    """A crash's or hang's place from the traceback faulthandler wrote."""
    text = dump.read_text(errors="replace") if dump.exists() else ""
    frames = re.findall(r'File "([^"]+)", line (\d+) in (\S+)', text)
    ours = [f for f in frames if "/iomon/" in f[0]]
    top = frames[0] if frames else None  # faulthandler prints the innermost frame first

    def short(frame):
        return f"{Path(frame[0]).name}:{frame[2]}:{frame[1]}"

    what = kind if signal_number is None else f"{kind} (signal {signal_number})"
    place = f"{what} in {short(ours[0]) if ours else '?'}"
    if top and (not ours or top != ours[0]):
        place += f" <- {short(top)}"
    return place, text[-1500:]


class Pool:
    """Forked workers with a time limit per task; a dead or overrunning worker is replaced."""

    def __init__(self, n, seeds, limit_s=LIMIT_S, memory_mb=MEMORY_MB):
        import multiprocessing

        self.context = multiprocessing.get_context("fork")
        self.seeds, self.limit_s, self.memory_mb = seeds, limit_s, memory_mb
        self.folder = Path(tempfile.mkdtemp(prefix="iomon-fuzz-dumps-"))
        self.workers = [self._start(k) for k in range(n)]

    def _start(self, slot):
        parent, child = self.context.Pipe()
        dump = self.folder / f"worker{slot}.txt"
        process = self.context.Process(target=_worker, args=(child, self.seeds, dump,
                                                             self.memory_mb), daemon=True)
        process.start()
        child.close()
        return {"process": process, "conn": parent, "dump": dump, "task": None, "since": 0.0}

    def _replace(self, slot, kind):
        worker = self.workers[slot]
        process = worker["process"]
        if kind == "hang" and process.is_alive():
            os.kill(process.pid, signal.SIGUSR1)  # faulthandler: where is it stuck?
            time.sleep(0.5)
        if kind == "crash":
            process.join(timeout=5)
        place, detail = _dump_place(worker["dump"], kind,
                                    None if kind == "hang" else -(process.exitcode or 0))
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.join()
        worker["conn"].close()
        self.workers[slot] = self._start(slot)
        return Outcome(kind, place, detail, time.monotonic() - worker["since"])

    def run(self, tasks):
        """Yield (task, Outcome) for every task (index, seed index, ops), in completion order."""
        from multiprocessing.connection import wait

        tasks = iter(tasks)
        pending = True
        while True:
            for worker in self.workers:
                if worker["task"] is None and pending:
                    task = next(tasks, None)
                    if task is None:
                        pending = False
                        break
                    worker["task"], worker["since"] = task, time.monotonic()
                    worker["conn"].send(task[1:])
            busy = [k for k, w in enumerate(self.workers) if w["task"] is not None]
            if not busy:
                return
            now = time.monotonic()
            deadline = min(self.workers[k]["since"] + self.limit_s for k in busy)
            ready = wait([self.workers[k]["conn"] for k in busy]
                         + [self.workers[k]["process"].sentinel for k in busy],
                         timeout=max(0.0, deadline - now))
            for k in busy:
                worker = self.workers[k]
                task = worker["task"]
                outcome = None
                if worker["conn"] in ready:
                    try:
                        outcome = worker["conn"].recv()
                    except (EOFError, OSError):
                        outcome = self._replace(k, "crash")
                elif worker["process"].sentinel in ready:
                    outcome = self._replace(k, "crash")
                elif time.monotonic() - worker["since"] > self.limit_s:
                    outcome = self._replace(k, "hang")
                if outcome is not None:
                    self.workers[k]["task"] = None
                    yield task, outcome

    def close(self):
        for worker in self.workers:
            try:
                worker["conn"].send(None)
            except OSError:
                pass
        for worker in self.workers:
            worker["process"].join(timeout=10)
            if worker["process"].is_alive():
                os.killpg(worker["process"].pid, signal.SIGKILL)
        shutil.rmtree(self.folder, ignore_errors=True)


# ---------------------------------------------------------------------------- a run
@dataclass
class Report:
    """Outcomes per format group and the failure places, with one example each."""

    seed: int
    mutants: int = 0
    seconds: float = 0.0
    outcomes: dict = field(default_factory=lambda: defaultdict(Counter))
    places: dict = field(default_factory=dict)

    @property
    def failures(self) -> int:
        return sum(c[k] for c in self.outcomes.values() for k in FAILURES)

    def add(self, group, seed_name, ops, outcome: Outcome):
        self.mutants += 1
        self.outcomes[group][outcome.kind] += 1
        if outcome.kind in FAILURES:
            key = f"{group}: {outcome.kind}: {outcome.place}"
            entry = self.places.setdefault(key, {"count": 0, "seed": seed_name, "ops": ops,
                                                 "detail": outcome.detail, "group": group,
                                                 "kind": outcome.kind})
            entry["count"] += 1
            if len(ops) < len(entry["ops"]):
                entry.update(seed=seed_name, ops=ops, detail=outcome.detail)

    def text(self) -> str:
        lines = [f"{self.mutants} mutants (seed {self.seed}) in {self.seconds / 60:.1f} min "
                 f"({self.mutants / max(self.seconds, 1e-9):.1f}/s); "
                 f"{self.failures} failures at {len(self.places)} places"]
        kinds = ["ok", "refused", *FAILURES]
        lines.append(f"{'group':<12}{'mutants':>9}" + "".join(f"{k:>11}" for k in kinds)
                     + f"{'failure %':>11}")
        for group in GROUPS:
            counts = self.outcomes.get(group)
            if not counts:
                continue
            total = sum(counts.values())
            failed = sum(counts[k] for k in FAILURES)
            lines.append(f"{group:<12}{total:>9}" + "".join(f"{counts[k]:>11}" for k in kinds)
                         + f"{100 * failed / total:>10.2f}%")
        for key, entry in sorted(self.places.items(), key=lambda kv: -kv[1]["count"]):
            lines.append(f"  [{entry['count']}] {key}")
            ops = json.dumps(to_plain(entry["ops"]))[:300]
            lines.append(f"      seed {entry['seed']}, ops {ops}")
            if entry.get("reproducer"):
                lines.append(f"      reproducer {entry['reproducer']}")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {"seed": self.seed, "mutants": self.mutants, "seconds": round(self.seconds, 1),
                "outcomes": {g: dict(c) for g, c in self.outcomes.items()},
                "places": {k: {**v, "ops": to_plain(v["ops"])} for k, v in self.places.items()}}


def tasks_for(seeds, mutants, seed, groups=GROUPS, first=0):
    """(index, seed index, ops) of each mutant: groups in turn, a seed of the group at random."""
    cache = {}
    by_group = {g: [k for k, s in enumerate(seeds) if s.group == g] for g in groups}
    order = [g for g in groups if by_group[g]]
    for index in range(first, first + mutants):
        rng = np.random.default_rng([seed, index])
        group = order[index % len(order)]
        chosen = by_group[group][int(rng.integers(len(by_group[group])))]
        yield index, chosen, plan(rng, seeds[chosen], cache)


def _minimise(pool, seeds, entry, key) -> list:
    """The example's operations, each dropped in turn while the same failure place stays."""
    index = next(k for k, s in enumerate(seeds) if s.name == entry["seed"])
    ops = list(entry["ops"])
    changed = True
    while changed and len(ops) > 1:
        changed = False
        for k in range(len(ops)):
            trial = ops[:k] + ops[k + 1:]
            (_, outcome), = list(pool.run([(0, index, trial)]))
            if f"{entry['group']}: {outcome.kind}: {outcome.place}" == key:
                ops, changed = trial, True
                break
    return ops


def write_reproducers(pool, seeds, report: Report, out: Path, minimise=True):
    """Per failure place: the smallest mutant found (minimised), its files and a JSON note."""
    folder = out / "reproducers"
    for n, (key, entry) in enumerate(sorted(report.places.items()), start=1):
        if minimise:
            entry["ops"] = _minimise(pool, seeds, entry, key)
        seed = next(s for s in seeds if s.name == entry["seed"])
        slug = re.sub(r"[^\w]+", "-", key)[:60].strip("-")
        target = folder / f"{n:02d}-{slug}"
        target.mkdir(parents=True, exist_ok=True)
        for name, content in apply_ops(seed.files, entry["ops"]).items():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(content)
        (target / "reproducer.json").write_text(json.dumps(
            {"place": key, "seed": entry["seed"], "recording": seed.recording,
             "ops": to_plain(entry["ops"]), "detail": entry["detail"]}, indent=1) + "\n")
        entry["reproducer"] = str(target)


def _until(tasks, deadline):
    """The tasks, until the clock (time.monotonic) passes ``deadline`` (None: all)."""
    for task in tasks:
        if deadline is not None and time.monotonic() > deadline:
            return
        yield task


def run(mutants=1000, seed=1, workers=2, out: Path | None = None, groups=GROUPS,
        limit_s=LIMIT_S, memory_mb=MEMORY_MB, minimise=True, progress=False,
        seeds=None, minutes=None) -> Report:
    """Fuzz ``mutants`` mutants (fewer if ``minutes`` run out first); return the report.

    Reproducers are written under ``out`` when given.
    """
    os.environ.setdefault("IOMON_GUARD_TIMEOUT_S", str(GUARD_S))
    _preload()
    work = Path(tempfile.mkdtemp(prefix="iomon-fuzz-seeds-"))
    try:
        seeds = seeds if seeds is not None else build_seeds(work)
        report = Report(seed)
        pool = Pool(workers, seeds, limit_s, memory_mb)
        start = time.monotonic()
        deadline = None if minutes is None else start + 60 * minutes
        try:
            tasks = _until(tasks_for(seeds, mutants, seed, groups), deadline)
            for (_, chosen, ops), outcome in pool.run(tasks):
                report.add(seeds[chosen].group, seeds[chosen].name, ops, outcome)
                if progress and report.mutants % 500 == 0:
                    print(f"{report.mutants} mutants, {report.failures} failures, "
                          f"{len(report.places)} places, "
                          f"{(time.monotonic() - start) / 60:.1f} min", flush=True)
            report.seconds = time.monotonic() - start
            if out is not None:
                write_reproducers(pool, seeds, report, out, minimise)
                (out / "report.json").write_text(json.dumps(report.as_dict(), indent=1) + "\n")
                (out / "report.txt").write_text(report.text() + "\n")
        finally:
            pool.close()
        return report
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _preload():
    """Import what the readers and the analysis use once, so that forked workers share it."""
    import iomon.cli  # noqa: F401
    import iomon.io  # noqa: F401
    import iomon.pipeline  # noqa: F401
    import iomon.report.outputs  # noqa: F401

    for name in ("mne", "neo.rawio", "scipy.io", "scipy.signal", "edfio", "pandas", "nixio"):
        try:
            __import__(name)
        except ImportError:
            pass


def estimate(workers=2, sample=300, seed=99, full=100_000):
    """Seconds per unmutated seed, and per mutant over a sample; the time of a full run."""
    os.environ.setdefault("IOMON_GUARD_TIMEOUT_S", str(GUARD_S))
    _preload()
    with tempfile.TemporaryDirectory(prefix="iomon-fuzz-seeds-") as work:
        seeds = build_seeds(Path(work))
        pool = Pool(workers, seeds)
        try:
            for (_, chosen, _), outcome in pool.run([(k, k, []) for k in range(len(seeds))]):
                print(f"{seeds[chosen].name:<48} {outcome.kind:<10} {outcome.seconds:6.2f} s "
                      f"{outcome.place or outcome.detail[:60]}")
            start = time.monotonic()
            seconds = [o.seconds for _, o in pool.run(tasks_for(seeds, sample, seed))]
            wall = time.monotonic() - start
        finally:
            pool.close()
    print(f"{sample} mutants in {wall:.0f} s on {workers} workers ({np.mean(seconds):.2f} s "
          f"each): {full} mutants would take about {full * wall / sample / 3600:.1f} h")


def replay(folder: Path) -> int:
    """Run a reproducer through the real command line in a fresh interpreter."""
    note = json.loads((folder / "reproducer.json").read_text())
    recording = folder / note["recording"]
    status = 0
    for command in (["info", recording], ["analyze", recording, "--no-report", "--out",
                                          folder / "replay-out"]):
        proc = subprocess.run([sys.executable, "-m", "iomon.cli", *map(str, command)],
                              capture_output=True, text=True, timeout=600)
        print(f"$ iomon {' '.join(map(str, command))}\nexit {proc.returncode}\n"
              f"stderr: {proc.stderr}")
        status = max(status, proc.returncode)
        if proc.returncode:
            break
    shutil.rmtree(folder / "replay-out", ignore_errors=True)
    return status


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--groups", default=",".join(GROUPS),
                        help="format groups to fuzz: " + ", ".join(GROUPS))
    parser.add_argument("--out", type=Path, default=Path("fuzz-out"))
    parser.add_argument("--limit-s", type=float, default=LIMIT_S)
    parser.add_argument("--minutes", type=float,
                        help="stop starting mutants after this many minutes")
    parser.add_argument("--no-minimise", action="store_true")
    parser.add_argument("--estimate", action="store_true")
    parser.add_argument("--replay", type=Path)
    args = parser.parse_args()
    if args.replay:
        return replay(args.replay)
    if args.estimate:
        return estimate(args.workers)
    groups = tuple(g.strip() for g in args.groups.split(","))
    unknown = set(groups) - set(GROUPS)
    if unknown:
        parser.error(f"unknown group(s): {', '.join(sorted(unknown))}")
    args.out.mkdir(parents=True, exist_ok=True)
    report = run(args.mutants, args.seed, args.workers, args.out, groups, args.limit_s,
                 minimise=not args.no_minimise, progress=True, minutes=args.minutes)
    print(report.text())
    return 1 if report.places else 0


if __name__ == "__main__":
    sys.exit(main())
