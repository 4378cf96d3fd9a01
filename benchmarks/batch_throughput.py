"""Cases per minute of `iomon batch`: 1 and 2 local jobs and a Dask cluster, in one run.

A simulated series (`iomon simulate --cohort N`, short 8-channel cases like the shipped
recordings) is written once; each way of running then analyses it into a fresh folder, as a
user runs it (the `iomon` command in a subprocess), with and without the case reports. The Dask
path starts a real `dask scheduler` and one `dask worker` process with 2 threads on 127.0.0.1
(the worker is started and warmed up before the clock starts). A rerun of the last batch
shows what skipping unchanged cases costs. Ratios are against 1 local job in the same run;
run it on an idle machine (the cases compete for the cores).

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


def iomon(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "iomon.cli", *map(str, args)],
                          capture_output=True, text=True)


def timed_batch(archive: Path, out: Path, *extra) -> float:
    start = time.perf_counter()
    proc = iomon("batch", archive, "--out", out, "--quiet", *extra)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"batch failed: {proc.stderr.strip()}")
    return elapsed


def start_dask(folder: Path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    log = (folder / "dask.log").open("w")
    processes = [
        subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1",
                          "--port", str(port), "--no-dashboard"], stdout=log, stderr=log),
        subprocess.Popen([sys.executable, "-m", "dask", "worker", address, "--nworkers", "1",
                          "--nthreads", "2", "--no-dashboard", "--memory-limit", "0",
                          "--local-directory", str(folder)], stdout=log, stderr=log),
    ]
    from dask.distributed import Client

    with Client(address, timeout="60s") as client:
        client.wait_for_workers(1, timeout=120)
    return address, processes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=8)
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--no-report-only", action="store_true",
                        help="skip the runs that write every case's report")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="iomon-batch-bench-"))
    processes = []
    try:
        archive = folder / "archive"
        made = iomon("simulate", "--cohort", args.cases, "--out", archive)
        if made.returncode != 0:
            sys.exit(made.stderr)
        size = sum(p.stat().st_size for p in archive.glob("*.edf")) / 1e6
        print(f"{args.cases} simulated cases, {size:.0f} MB of EDF, {os.cpu_count()} cores")
        ways = [("1 local job", ["--jobs", "1"]), ("2 local jobs", ["--jobs", "2"])]
        if not args.no_dask:
            address, processes = start_dask(folder)
            ways.append(("Dask, 1 worker x 2 threads", ["--scheduler", address]))
        reports = [("tables only", ["--no-report"])]
        if not args.no_report_only:
            reports.append(("with reports", []))
        for label, report in reports:
            print(f"\n{label}:")
            reference = None
            for index, (way, extra) in enumerate(ways):
                out = folder / f"out-{label[:4]}-{index}"
                seconds = timed_batch(archive, out, *extra, *report)
                reference = reference or seconds
                print(f"  {way:<28} {seconds:6.1f} s  {60 * args.cases / seconds:6.1f} cases/min"
                      f"  x{reference / seconds:.2f} vs 1 job")
            rerun = timed_batch(archive, out, *extra, *report)
            print(f"  {'rerun, all unchanged':<28} {rerun:6.1f} s")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
