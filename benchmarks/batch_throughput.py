"""Cases per minute of `iomon batch`: each case afresh against the preloaded fork server, 1 and
2 local jobs, and a Dask worker, in one run.

A simulated series (`iomon simulate --cohort N`, short 8-channel cases like the shipped
recordings) is written once; each way of running then analyses it into a fresh folder, as a
user runs it (the `iomon` command in a subprocess), with and without the case reports:

- "afresh": every case a fresh interpreter that imports what it needs, as before the fork
  server and as on Windows and macOS (`IOMON_BATCH_START=fresh`);
- "fork server": cases forked from one server that imported the libraries once.

The Dask rows start a real `dask scheduler` and one `dask worker` process with 2 threads on
127.0.0.1 (started and warmed up before the clock starts), its cases afresh or from the
worker's own fork server. Besides the whole command, the progress lines give the cases' part
(from the batch's first line to its last case) and the cohort step after it, which run once
per batch whatever the jobs. A rerun of the last batch shows what skipping unchanged cases
costs. The machine's load average is printed before and after: run it on an idle machine
(the cases compete for the cores).

Usage: python benchmarks/batch_throughput.py [--cases N] [--no-dask] [--no-report-only]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def iomon(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "iomon.cli", *map(str, args)],
                          capture_output=True, text=True, env=env)


def timed_batch(archive: Path, out: Path, extra, env) -> dict:
    """Run one batch; its whole time, its cases' part and its cohort step, s.

    The progress lines (stderr, not a terminal) are timed as they arrive: the count of cases
    comes first, then one line per case, then the cohort step's line.
    """
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "iomon.cli", "batch", str(archive), "--out",
                             str(out), *map(str, extra)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    marks, lines = {}, []
    for line in proc.stderr:
        now = time.perf_counter() - start
        lines.append(line)
        if line.startswith("iomon batch:") and "case(s)" in line:
            marks["first"] = now
        elif line.startswith("iomon batch: ["):
            marks["last case"] = now
        elif line.startswith("iomon batch: writing the cohort"):
            marks["cohort"] = now
    proc.wait()
    whole = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"batch failed: {''.join(lines)[-2000:]}")
    cases = marks.get("last case", whole) - marks.get("first", 0.0)
    return {"whole": whole, "cases": cases, "cohort": whole - marks.get("cohort", whole)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DaskCluster:
    """A `dask scheduler` and one `dask worker` (2 threads), as separate processes."""

    def __init__(self, folder: Path, env: dict):
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.log = (folder / "dask.log").open("a")
        common = dict(stdout=self.log, stderr=self.log, env=env, cwd=folder)
        self.processes = [
            subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1",
                              "--port", self.address.rsplit(":", 1)[1], "--no-dashboard"],
                             **common),
            subprocess.Popen([sys.executable, "-m", "dask", "worker", self.address,
                              "--nworkers", "1", "--nthreads", "2", "--no-dashboard",
                              "--memory-limit", "0", "--local-directory", str(folder)],
                             **common),
        ]
        from dask.distributed import Client

        with Client(self.address, timeout="60s") as client:
            client.wait_for_workers(1, timeout=120)

    def close(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.log.close()


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--no-report-only", action="store_true",
                        help="skip the runs that write every case's report")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="iomon-batch-bench-"))
    afresh = dict(os.environ, IOMON_BATCH_START="fresh")
    forked = {k: v for k, v in os.environ.items() if k != "IOMON_BATCH_START"}
    try:
        archive = folder / "archive"
        made = iomon("simulate", "--cohort", args.cases, "--out", archive)
        if made.returncode != 0:
            sys.exit(made.stderr)
        size = sum(p.stat().st_size for p in archive.glob("*.edf")) / 1e6
        print(f"{args.cases} simulated cases, {size:.0f} MB of EDF, {os.cpu_count()} cores; "
              f"{load()} (1, 5, 15 min) before")
        ways = [("afresh, 1 job", ["--jobs", "1"], afresh),
                ("fork server, 1 job", ["--jobs", "1"], forked),
                ("fork server, 2 jobs", ["--jobs", "2"], forked)]
        reports = [("tables only", ["--no-report"])]
        if not args.no_report_only:
            reports.append(("with reports", []))
        results = {}
        for label, report in reports:
            print(f"\n{label}:")
            print(f"  {'way':<34} {'whole s':>8} {'cases/min':>9} {'cases s':>8} "
                  f"{'cohort s':>8}")
            for index, (way, extra, env) in enumerate(ways):
                out = folder / f"out-{label[:4]}-{index}"
                timing = timed_batch(archive, out, [*extra, *report], env)
                results[label, way] = timing
                print(f"  {way:<34} {timing['whole']:8.1f} "
                      f"{60 * args.cases / timing['whole']:9.1f} {timing['cases']:8.1f} "
                      f"{timing['cohort']:8.1f}")
            rerun = timed_batch(archive, out, [*extra, *report], forked)
            print(f"  {'rerun, every case unchanged':<34} {rerun['whole']:8.1f}")
            if not args.no_dask:
                for way, env in (("Dask, 1 worker x 2 threads, afresh", afresh),
                                 ("Dask, 1 worker x 2 threads, forked", forked)):
                    cluster = DaskCluster(folder, env)
                    try:
                        timing = timed_batch(archive, folder / f"dask-{label[:4]}-{way[-6:]}",
                                             ["--scheduler", cluster.address, *report], env)
                    finally:
                        cluster.close()
                    results[label, way] = timing
                    print(f"  {way:<34} {timing['whole']:8.1f} "
                          f"{60 * args.cases / timing['whole']:9.1f} {timing['cases']:8.1f} "
                          f"{timing['cohort']:8.1f}")
            print_ratios(results, label, args.no_dask)
        print(f"\n{load()} after")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def print_ratios(results: dict, label: str, no_dask: bool) -> None:
    """Throughput ratios, whole command (and the cases' part alone)."""
    def ratio(a: str, b: str) -> str:
        x, y = results[label, a], results[label, b]
        return f"x{y['whole'] / x['whole']:.2f} (cases' part x{y['cases'] / x['cases']:.2f})"

    print(f"  fork server / afresh, 1 job:   {ratio('fork server, 1 job', 'afresh, 1 job')}")
    print(f"  2 jobs / 1 job, fork server:   "
          f"{ratio('fork server, 2 jobs', 'fork server, 1 job')}")
    if not no_dask:
        dask = "Dask, 1 worker x 2 threads"
        print(f"  Dask, forked / afresh:         {ratio(f'{dask}, forked', f'{dask}, afresh')}")


if __name__ == "__main__":
    main()
