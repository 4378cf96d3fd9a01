"""Reading a case exported as one EDF+D file per sweep (inomed ISIS): a folder of ~2,000 files.

A simulated case of about 1,900 sweeps (8 channels, 20 kHz, 0.15 s sweeps that start at the
stimulus, as inomed's do) is written as a folder of one-record EDF+D files
(``iomon.sim.writing.write_sweep_files``) and as one EDF+D file holding the same sweeps as
records; then, in turn, in this one run:

- ``iomon.io.read(FOLDER)``: iomon's sweep-file reader (a few small reads per file);
- each file opened with edfio and its record read (what a reader built on edfio would do),
  for comparison only;
- ``iomon.io.read`` of the one EDF+D file of the same sweeps (the floor: one file).

Medians of ``--repeats`` runs, wall and CPU seconds, and their ratios, are printed.

    python benchmarks/sweep_folder.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _case(work: Path):
    from iomon.sim import SHIPPED_MUSCLES, Schedule, simulate_case
    from iomon.sim.writing import write_sweep_files

    schedule = Schedule(positioning_min=20, exposure_min=20, lesioning_min=30,
                        closure_min=10, routine_interval_s=(2.0, 3.0),
                        lesioning_interval_s=(2.0, 3.0))
    sim = simulate_case("stable", 19, sfreq=20000.0, muscles=SHIPPED_MUSCLES,
                        schedule=schedule, time_compression=10.0)
    folder = write_sweep_files(sim, work / "case", (0.0, 0.150))
    return sim, folder


def _one_file(folder: Path, work: Path) -> Path:
    """The same sweeps as the records of one EDF+D file."""
    from fuzz_seeds import write_edfplus

    from iomon.io import read

    recording = read(folder)
    sweeps = recording.sweeps
    path = work / "one.edf"
    write_edfplus(path, sweeps.data * 1e6, sweeps.sfreq, sweeps.ch_names,
                  sweeps.table["onset_s"].to_numpy())
    return path


def _edfio_each(folder: Path):
    import edfio

    for path in sorted(folder.glob("*.edf")):
        edf = edfio.read_edf(path)
        np.stack([s.data for s in edf.signals])


def _timed(funcs, repeats: int):
    """Median (wall, CPU) seconds of each function, run in turn."""
    walls, cpus = [[] for _ in funcs], [[] for _ in funcs]
    for _ in range(repeats):
        for k, func in enumerate(funcs):
            wall, cpu = time.perf_counter(), time.process_time()
            func()
            walls[k].append(time.perf_counter() - wall)
            cpus[k].append(time.process_time() - cpu)
    return [(statistics.median(w), statistics.median(c)) for w, c in zip(walls, cpus)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from iomon.io import read

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        sim, folder = _case(work)
        files = sorted(folder.glob("*.edf"))
        size = sum(p.stat().st_size for p in files)
        print(f"{len(files)} sweep files, {size / 1e6:.0f} MB, 8 channels at 20 kHz "
              f"(simulated and written in {time.perf_counter() - start:.0f} s)")
        one = _one_file(folder, work)
        names = ("iomon sweep-file reader (FOLDER)", "edfio, file by file",
                 "iomon, one EDF+D file of the same sweeps")
        results = _timed([lambda: read(folder), lambda: _edfio_each(folder),
                          lambda: read(one)], args.repeats)
        base = results[2]
        print(f"{'way':<42} {'wall s':>8} {'CPU s':>8} {'ms/file':>8} {'x one file':>11}")
        for name, (wall, cpu) in zip(names, results):
            print(f"{name:<42} {wall:8.2f} {cpu:8.2f} {wall / len(files) * 1e3:8.2f} "
                  f"{wall / base[0]:11.1f}")


if __name__ == "__main__":
    main()
