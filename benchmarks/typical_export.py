"""The whole `iomon analyze` command on typical exports, start-up included (issue 13).

Cases: the shipped recordings, and a simulated export of 300 sweeps x 12 channels (5 kHz).
Each command runs in a fresh process, timed from start to exit (wall and CPU seconds); beside
them, in the same run, the floors no analysis can go under: starting Python, importing numpy,
and importing ``scipy.signal`` (the filters; SciPy 1.17 parses its docstrings at import).

Usage::

    python benchmarks/typical_export.py            # each command 3 times, the fastest kept
    python benchmarks/typical_export.py --small    # CI: one recording, once, for crashes
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from long_recording import run_measured

ROOT = Path(__file__).resolve().parents[1]
FLOORS = {
    "python -c pass": "pass",
    "import numpy": "import numpy",
    "import scipy.signal": "import scipy.signal",
}


def simulated_export(folder: Path) -> Path:
    """300 sweeps x 12 channels: a case with a stimulus every 15 s on the surgical clock."""
    from iomon.sim import Schedule, simulate_case, write_simulated_case

    schedule = Schedule(positioning_min=10.0, exposure_min=25.0, lesioning_min=25.0,
                        closure_min=15.0, routine_interval_s=(15.0, 15.0),
                        lesioning_interval_s=(15.0, 15.0))
    sim = simulate_case("focal_recovering", 4, muscles=("APB", "ADM", "Biceps", "ECR", "TA",
                                                        "AH"),
                        schedule=schedule, time_compression=20.0, case_id="export-300x12")
    return write_simulated_case(sim, folder, stem="export-300x12")


def best_of(command, repeats: int) -> tuple[float, float]:
    """The fastest of ``repeats`` runs: (wall s, CPU s)."""
    runs = [run_measured(command)[:2] for _ in range(repeats)]
    return min(runs, key=lambda run: run[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true",
                        help="one shipped recording, each command once (CI)")
    args = parser.parse_args()
    repeats = 1 if args.small else 3
    folder = Path(tempfile.mkdtemp(prefix="iomon-export-"))
    try:
        cases = sorted((ROOT / "recordings").glob("*.edf"))
        cases = cases[:1] if args.small else cases + [simulated_export(folder)]
        print("| command | wall s | CPU s |")
        print("|---|---:|---:|")
        floors = {}
        for name, code in FLOORS.items():
            floors[name] = best_of([sys.executable, "-c", code], repeats)
            print(f"| {name} | {floors[name][0]:.2f} | {floors[name][1]:.2f} |")
        for path in cases:
            base = [sys.executable, "-m", "iomon.cli", "analyze", str(path), "--force", "--out"]
            plain = best_of(base + [str(folder / "plain"), "--no-report"], repeats)
            report = best_of(base + [str(folder / "report")], repeats)
            print(f"| {path.stem}: analyze --no-report | {plain[0]:.2f} | {plain[1]:.2f} |")
            print(f"| {path.stem}: analyze (HTML and PDF report) | {report[0]:.2f} | "
                  f"{report[1]:.2f} |", flush=True)
            scipy_cpu = floors["import scipy.signal"][1]
            print(f"|   of which beyond importing scipy.signal (CPU) | | "
                  f"{plain[1] - scipy_cpu:.2f} / {report[1] - scipy_cpu:.2f} |")
        print("\ntargets: under 1 s without the report, under 3 s with it (wall, whole command)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
