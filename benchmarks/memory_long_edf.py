"""Peak memory of `iomon analyze` on a long continuous EDF+ (issue: readers, memory).

Simulates a case of about one hour at 10 kHz with 16 channels (about 1.2 GB on disk), then runs
`iomon analyze --no-report` on it in a child process and reads the child's peak resident memory.
The reference run, in the same process and the same way, is a shipped 3.4 MB recording, so the
ratio shows what the length of the recording adds.

Usage: python benchmarks/memory_long_edf.py [--minutes 60] [--keep DIR]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from iomon.sim import Schedule, simulate_case, write_simulated_case

ROOT = Path(__file__).resolve().parents[1]
MUSCLES = ("Deltoid", "Biceps", "Triceps", "ECR", "APB", "ADM", "TA", "AH")  # x 2 sides = 16


def peak_rss_of(command) -> tuple[float, float]:
    """Run ``command`` in a fresh process; return (its peak RSS in MB, seconds)."""
    script = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(rss, time.perf_counter() - t, code)\n"
    )
    out = subprocess.run([sys.executable, "-c", script, *command], capture_output=True,
                         text=True, check=True).stdout.splitlines()[-1].split()
    if out[2] != "0":
        raise SystemExit(f"command failed: {' '.join(command)}")
    return int(out[0]) / 1024.0, float(out[1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--keep", default=None, help="folder to keep the simulated EDF in")
    args = parser.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="iomon-memory-"))
    schedule = Schedule()
    nominal_s = 60 * (schedule.positioning_min + schedule.exposure_min
                      + schedule.lesioning_min + schedule.closure_min)
    start = time.perf_counter()
    sim = simulate_case("focal_recovering", 1, sfreq=10_000.0, muscles=MUSCLES,
                        time_compression=nominal_s / (args.minutes * 60.0))
    path = write_simulated_case(sim, folder, stem="long")
    del sim
    made = time.perf_counter() - start
    size_mb = path.stat().st_size / 1e6
    print(f"simulated {args.minutes:g} min x 16 channels x 10 kHz: {size_mb:.0f} MB on disk "
          f"({made:.0f} s to make)")
    iomon = [sys.executable, "-m", "iomon.cli", "analyze"]
    reference = ROOT / "recordings" / "drez_focal_recovering.edf"
    ref_rss, ref_s = peak_rss_of(iomon + [str(reference), "--out", str(folder / "ref"),
                                          "--no-report"])
    rss, seconds = peak_rss_of(iomon + [str(path), "--out", str(folder / "out"),
                                        "--no-report"])
    print(f"reference (shipped {reference.stat().st_size / 1e6:.1f} MB recording): peak RSS "
          f"{ref_rss:.0f} MB, {ref_s:.1f} s")
    print(f"long recording: peak RSS {rss:.0f} MB, {seconds:.1f} s")
    print(f"ratios: peak RSS / file size = {rss / size_mb:.2f}; peak RSS / reference = "
          f"{rss / ref_rss:.2f}")
    print(f"target: well under 1024 MB -> {'met' if rss < 1024 else 'NOT met'}")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"(this script itself peaked at {own:.0f} MB while simulating)")


if __name__ == "__main__":
    main()
