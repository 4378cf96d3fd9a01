"""What `iomon analyze` costs on typical exports, with and without the report, in one run.

Cases: the shipped recordings (``recordings/*.edf`` and their sidecars), and a simulated
export of 300 sweeps x 12 channels (5 kHz). Printed, all measured in this one run:

1. The whole command as a user runs it (``python -m iomon.cli analyze ... --out``, start-up
   included), in a fresh process each time, with ``--no-report`` and with the report
   (figures as PNG and SVG, report.html, report.pdf): the fastest of ``--repeats`` runs, wall
   and CPU seconds, the ratio of the two (the steadier figure on a shared machine), beside the
   targets of issue 13 (under 1 s without the report, under 3 s with it) and the floors no
   analysis goes under: starting Python, importing numpy, importing ``scipy.signal`` (the
   filters; SciPy 1.17 parses its docstrings at import).
2. The report's part step by step, in this process on an analysed case: each figure built,
   drawn once into the PNG the HTML and the PDF both use, then the SVG beside it; the content
   model; the HTML; the PDF.
3. Which heavy modules a ``--no-report`` run imports (none of matplotlib, reportlab, mne, neo,
   dask or jinja2 should be).

iomon's modules are compiled to bytecode first, as ``pip install`` leaves them (a source tree
where Python writes no bytecode would compile them in every run).

Usage::

    python benchmarks/typical_export.py            # each command 3 times, the fastest kept
    python benchmarks/typical_export.py --small    # CI: one recording, once, for crashes
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from long_recording import compile_as_installed, run_measured

ROOT = Path(__file__).resolve().parents[1]
FLOORS = {
    "python -c pass": "pass",
    "import numpy": "import numpy",
    "import scipy.signal": "import scipy.signal",
}
HEAVY = ("matplotlib", "reportlab", "mne", "neo", "dask", "jinja2", "pandas")
#: Targets of issue 13 for a typical export, whole command, wall s.
TARGET_NO_REPORT_S, TARGET_REPORT_S = 1.0, 3.0


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
    """The least wall time and the least CPU time of ``repeats`` runs, s."""
    runs = [run_measured(command)[:2] for _ in range(repeats)]
    return min(r[0] for r in runs), min(r[1] for r in runs)


def command_table(cases, repeats: int, folder: Path) -> None:
    """The floors, then each case's command with and without the report, and their ratio."""
    print(f"iomon analyze, whole command (best of {repeats}):\n")
    print("| command | wall s | CPU s |")
    print("|---|---:|---:|")
    floors = {}
    for name, code in FLOORS.items():
        floors[name] = best_of([sys.executable, "-c", code], repeats)
        print(f"| {name} | {floors[name][0]:.2f} | {floors[name][1]:.2f} |")
    scipy_cpu = floors["import scipy.signal"][1]
    for path in cases:
        base = [sys.executable, "-m", "iomon.cli", "analyze", str(path), "--force", "--out"]
        plain = best_of(base + [str(folder / "plain"), "--no-report"], repeats)
        report = best_of(base + [str(folder / "report")], repeats)
        print(f"| {path.stem}: analyze --no-report | {plain[0]:.2f} | {plain[1]:.2f} |")
        print(f"| {path.stem}: analyze (HTML and PDF report) | {report[0]:.2f} | "
              f"{report[1]:.2f} |")
        print(f"|   report / --no-report | {report[0] / plain[0]:.2f}x | "
              f"{report[1] / plain[1]:.2f}x |")
        print(f"|   of which beyond importing scipy.signal (CPU) | | "
              f"{plain[1] - scipy_cpu:.2f} / {report[1] - scipy_cpu:.2f} |", flush=True)
    print(f"\ntargets (wall, whole command): under {TARGET_NO_REPORT_S:g} s without the report, "
          f"under {TARGET_REPORT_S:g} s with it; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")


def report_breakdown(recording: Path, folder: Path) -> None:
    """The report's part, step by step, in this process (imports included where first used)."""
    from iomon.pipeline import analyze_file

    result = analyze_file(recording)
    documents = result.documents()
    steps: list[tuple[str, float, float]] = []

    def timed(name, run):
        start, cpu = time.perf_counter(), time.process_time()
        value = run()
        steps.append((name, time.perf_counter() - start, time.process_time() - cpu))
        return value

    from iomon.report import render_html
    from iomon.report.content import build_content
    from iomon.report.facts import case_facts
    from iomon.report.figures import FIGURES, FigureFile, write_png

    facts = timed("facts (data ends, events, brackets)", lambda: case_facts(result))
    figures = []
    for spec in (s for s in FIGURES if s.applies(result)):
        fig = timed(f"{spec.name}: build the figure", functools.partial(spec.draw, result))
        png, svg = folder / f"{spec.name}.png", folder / f"{spec.name}.svg"
        timed(f"{spec.name}: draw once, PNG (HTML and PDF)",
              functools.partial(write_png, fig, png))
        timed(f"{spec.name}: SVG beside it", functools.partial(
            fig.savefig, svg, format="svg", metadata={"Date": None}))
        figures.append(FigureFile(spec.name, png, svg, spec.title, spec.caption(fig),
                                  tuple(float(v) for v in fig.get_size_inches())))
    content = timed("content model", lambda: build_content(result, documents, figures,
                                                           False, facts))
    timed("HTML (figures inlined)", lambda: (folder / "r.html").write_text(
        render_html(content), encoding="utf-8"))
    from iomon.report.pdf import write_pdf

    timed("PDF (ReportLab, same PNGs)", lambda: write_pdf(content, folder / "r.pdf"))
    print(f"\nthe report's part, {recording.name} (one run, in process; wall / CPU, s):")
    for name, wall, cpu in steps + [("total", sum(s[1] for s in steps),
                                     sum(s[2] for s in steps))]:
        print(f"  {name:42s} {wall:6.3f} / {cpu:6.3f}")


def heavy_imports(recording: Path, folder: Path) -> list[str]:
    """The heavy modules a --no-report run has imported when it ends."""
    script = ("import sys; from iomon.cli import main; "
              f"code = main(['analyze', {str(recording)!r}, '--out', {str(folder / 'h')!r}, "
              "'--force', '--no-report']); "
              f"print('loaded:', *(m for m in {HEAVY!r} if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    line = next(x for x in proc.stdout.splitlines() if x.startswith("loaded:"))
    return line.split()[1:]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true",
                        help="one shipped recording, each command once (CI, for crashes)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    repeats = 1 if args.small else args.repeats
    compile_as_installed()
    folder = Path(tempfile.mkdtemp(prefix="iomon-export-"))
    try:
        shipped = sorted((ROOT / "recordings").glob("*.edf"))
        cases = shipped[:1] if args.small else shipped + [simulated_export(folder)]
        command_table(cases, repeats, folder)
        report_breakdown(shipped[0], folder)
        loaded = heavy_imports(shipped[0], folder)
        print(f"\n--no-report imports: {', '.join(loaded) if loaded else 'none of'} "
              f"({', '.join(HEAVY)})")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
