"""Speed and memory of `iomon analyze` on a long continuous EDF+, against the MNE way (issue 13).

A continuous EDF+C is simulated (10 kHz, a stimulus every 2 s annotated ``TcMEP 400V``, the
lesioning annotated in the middle; by default one hour and 16 channels, 1.15 GB on disk, as in
the issue) and read three ways, each in a fresh process timed from start-up to exit with its
peak resident memory (``os.wait4``):

* **MNE pipeline**, what a user writes today: ``read_raw_edf(preload=True)``,
  ``raw.filter(10, 1500)``, ``events_from_annotations``, ``Epochs``, ``get_data``, peak to
  peak.
* **windows alone**, the floor of any analysis: ``read_raw_edf`` without preloading,
  ``events_from_annotations`` and ``Epochs(preload=True)`` reading only the sweep windows
  (-10 to 100 ms), nothing else.
* **iomon**: ``iomon analyze FILE --no-report`` (read, condition, reject, measure, baseline,
  alert, write the machine-readable outputs, checksum of the input).

The file is read once before the runs so every run finds it in the page cache. Figures are
wall-clock seconds on a shared machine: compare the ratios, printed from one run.

Usage::

    python benchmarks/long_recording.py                  # 1 h x 16 channels (the issue's file)
    python benchmarks/long_recording.py --small          # CI: 3 min x 8 channels, for crashes
    python benchmarks/long_recording.py --scaling        # 15 min, 1, 4, 8 h; 8, 16, 24 channels
    python benchmarks/long_recording.py --keep DIR       # keep (and reuse) the simulated files
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Muscles of each side (the simulator records both sides): 4, 8 or 12 give 8, 16 or 24
#: channels (12 muscles are all it knows).
MUSCLES = ("TA", "AH", "APB", "ADM", "Deltoid", "Biceps", "Triceps", "ECR", "FDI", "Quad",
           "Gastroc", "Soleus")

MNE_PIPELINE = """
import sys
import mne
raw = mne.io.read_raw_edf(sys.argv[1], preload=True, verbose="error")
raw.filter(10.0, 1500.0, verbose="error")
events, ids = mne.events_from_annotations(raw, regexp="TcMEP", verbose="error")
epochs = mne.Epochs(raw, events, tmin=-0.010, tmax=0.100, baseline=None, preload=True,
                    verbose="error")
data = epochs.get_data()
ptp = data.max(axis=-1) - data.min(axis=-1)
print(ptp.shape)
"""

WINDOWS_ALONE = """
import sys
import mne
raw = mne.io.read_raw_edf(sys.argv[1], preload=False, verbose="error")
events, ids = mne.events_from_annotations(raw, regexp="TcMEP", verbose="error")
epochs = mne.Epochs(raw, events, tmin=-0.010, tmax=0.100, baseline=None, preload=True,
                    verbose="error")
print(epochs.get_data().shape)
"""


#: System CPU seconds of the last :func:`run_measured` (the kernel's share of its CPU s).
LAST_SYSTEM_S = [0.0]


def run_measured(command) -> tuple[float, float, float]:
    """Run ``command`` in a fresh process: (wall s, CPU s, peak resident memory in MB).

    CPU time (user + system) is what the ratios use: on a shared machine the wall clock also
    counts the time other processes held the cores. The system part is kept in
    :data:`LAST_SYSTEM_S`: the MNE pipeline's varies from run to run (the kernel handing it
    9.4 GB of memory), and with it the ratio.
    """
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"failed: {' '.join(map(str, command))}\n"
                         f"{process.stderr.read().decode(errors='replace')[-2000:]}")
    process.stderr.close()
    cpu = usage.ru_utime + usage.ru_stime
    LAST_SYSTEM_S[0] = usage.ru_stime
    return seconds, cpu, usage.ru_maxrss / 1024.0  # ru_maxrss is in KiB on Linux


def make_recording(folder: Path, minutes: float, n_channels: int, sfreq: float) -> Path:
    """Simulate the continuous recording (or reuse one made with the same parameters)."""
    from iomon.sim import Schedule, simulate_case, write_simulated_case

    stem = f"long-{minutes:g}min-{n_channels}ch-{sfreq / 1e3:g}kHz"
    path = folder / f"{stem}.edf"
    if path.exists():
        return path
    # The DREZ case's phases in the proportions of the default schedule, a stimulus every 2 s
    # in real time (time compression 1).
    share = minutes / 60.0
    schedule = Schedule(positioning_min=6 * share, exposure_min=18 * share,
                        lesioning_min=24 * share, closure_min=12 * share,
                        routine_interval_s=(2.0, 2.0), lesioning_interval_s=(2.0, 2.0))
    start = time.perf_counter()
    sim = simulate_case("focal_recovering", 1, sfreq=sfreq, muscles=MUSCLES[:n_channels // 2],
                        schedule=schedule, time_compression=1.0)
    written = write_simulated_case(sim, folder, stem=stem)
    print(f"  simulated {stem}: {written.stat().st_size / 1e6:.0f} MB, "
          f"{sim.truth.sweeps.onset_s.size} stimuli, {time.perf_counter() - start:.0f} s "
          f"(simulator peak so far {_own_peak_mb():.0f} MB)", flush=True)
    return written


def compile_as_installed() -> None:
    """Compile iomon's modules to bytecode, as ``pip install`` does when it installs them.

    Measured from a source tree, every run would otherwise compile them again where Python
    writes no bytecode (``PYTHONDONTWRITEBYTECODE``, set on the development machine): about
    0.2 s of every command that an installed iomon does not spend.
    """
    import compileall

    import iomon

    compileall.compile_dir(Path(iomon.__file__).parent, quiet=1)


def _own_peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def warm(path: Path) -> None:
    """Read the file once so that every run finds it in the page cache."""
    with path.open("rb") as f:
        while f.read(1 << 24):
            pass


def iomon_command(path: Path, out: Path) -> list:
    return [sys.executable, "-m", "iomon.cli", "analyze", str(path), "--out", str(out),
            "--no-report", "--force"]


def compare(path: Path, folder: Path) -> dict:
    """Time and peak memory of the three ways on one file."""
    warm(path)
    rows = {}
    for name, command in (("MNE pipeline", [sys.executable, "-c", MNE_PIPELINE, str(path)]),
                          ("windows alone", [sys.executable, "-c", WINDOWS_ALONE, str(path)]),
                          ("iomon analyze --no-report", iomon_command(path, folder / "out"))):
        rows[name] = run_measured(command) + (LAST_SYSTEM_S[0],)
    return rows


def print_comparison(path: Path, rows: dict) -> None:
    size_mb = path.stat().st_size / 1e6
    print(f"\n{path.name} ({size_mb:.0f} MB)\n")
    print("| way | wall s | CPU s | of which system | peak memory, MB |")
    print("|---|---:|---:|---:|---:|")
    for name, (seconds, cpu, peak, system) in rows.items():
        print(f"| {name} | {seconds:.1f} | {cpu:.1f} | {system:.1f} | {peak:.0f} |")
    _, iomon_s, iomon_mb, _ = rows["iomon analyze --no-report"]
    mne_s = rows["MNE pipeline"][1]
    floor_s = rows["windows alone"][1]
    print("\nratios of CPU seconds:")
    # Issue 23's targets: >= 8x the MNE pipeline, under 1 GB (1,000 MB) at 1 h and at 4 h.
    print(f"\nMNE pipeline / iomon: {mne_s / iomon_s:.1f}x faster (target >= 8x: "
          f"{'met' if mne_s / iomon_s >= 8 else 'NOT met'})")
    print(f"iomon / windows alone: {iomon_s / floor_s:.2f}x (for reference: the read's floor)")
    print(f"iomon peak memory: {iomon_mb:.0f} MB (target < 1000 MB: "
          f"{'met' if iomon_mb < 1000 else 'NOT met'})")


def scaling(folder: Path, sfreq: float, lengths, channel_counts, keep: bool) -> None:
    """iomon's time and peak memory against recording length and channel count."""
    print("\n| recording | MB on disk | iomon wall s | CPU s | CPU s per hour | peak memory, MB |")
    print("|---|---:|---:|---:|---:|---:|")
    cases = [(m, 16) for m in lengths] + [(lengths[0], n) for n in channel_counts if n != 16]
    for minutes, n_channels in cases:
        path = make_recording(folder, minutes, n_channels, sfreq)
        warm(path)
        seconds, cpu, peak = run_measured(iomon_command(path, folder / "out"))
        print(f"| {minutes:g} min x {n_channels} ch | {path.stat().st_size / 1e6:.0f} | "
              f"{seconds:.1f} | {cpu:.1f} | {cpu / (minutes / 60):.1f} | {peak:.0f} |",
              flush=True)
        if not keep:
            path.unlink()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--channels", type=int, default=16, choices=(8, 16, 24))
    parser.add_argument("--sfreq", type=float, default=10_000.0)
    parser.add_argument("--small", action="store_true",
                        help="3 minutes x 8 channels at 5 kHz: a quick run for CI")
    parser.add_argument("--scaling", action="store_true",
                        help="iomon alone on 15 min, 1 h, 4 h and 8 h (16 channels) and on 8 "
                             "and 24 channels (15 min)")
    parser.add_argument("--keep", default=None, help="folder to keep and reuse recordings in")
    args = parser.parse_args()
    if args.small:
        args.minutes, args.channels, args.sfreq = 3.0, 8, 5000.0
    compile_as_installed()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="iomon-long-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        if args.scaling:
            lengths = (3, 6) if args.small else (15, 60, 240, 480)
            scaling(folder, args.sfreq, lengths, (8, 16, 24), keep=bool(args.keep))
        else:
            path = make_recording(folder, args.minutes, args.channels, args.sfreq)
            print_comparison(path, compare(path, folder))
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
