"""What the case report costs: `iomon analyze` with the report and with --no-report, in one run.

For each shipped recording (``recordings/*.edf`` and their sidecars) the whole command is run
as a user runs it (``python -m iomon.cli analyze ... --out``, start-up included) with the
report (figures as PNG and SVG, report.html, report.pdf) and with ``--no-report``; each is
the best of ``--repeats`` runs (the least disturbed by other work on the machine), and the
ratio of the two is printed beside the targets of issue 13 (under 1 s without the report,
under 3 s with it). On a shared machine the ratio is the steadier figure.

A breakdown of the report's part follows, measured in this process on an analysed case: each
figure drawn once (the PNG the HTML and the PDF both use, then the SVG beside it), the
content, the HTML and the PDF. Last, which heavy modules a ``--no-report`` run imports (none
of matplotlib, reportlab, mne, neo or dask should be).

The shipped recordings are small (3 MB), so the benchmark runs in CI as it is (``--repeats
1``), for crashes, not for speed.

Usage: python benchmarks/report_speed.py [--repeats N] [RECORDING ...]
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("matplotlib", "reportlab", "mne", "neo", "dask", "jinja2")
#: Targets of issue 13 for a typical export, whole command, s.
TARGET_NO_REPORT_S, TARGET_REPORT_S = 1.0, 3.0


def analyze_time(recording: Path, out: Path, report: bool) -> tuple[float, float]:
    """Wall and CPU time (user + system) of one `iomon analyze` command, s.

    The CPU time is the steadier figure on a machine shared with other work. Exits on failure.
    """
    args = [sys.executable, "-m", "iomon.cli", "analyze", str(recording), "--out", str(out),
            "--force"] + ([] if report else ["--no-report"])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        sys.exit(f"iomon analyze {recording.name} failed: {proc.stderr.strip()}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def best_of(repeats: int, run) -> tuple[float, float]:
    """The least wall time and the least CPU time of ``repeats`` runs."""
    times = [run() for _ in range(repeats)]
    return min(t[0] for t in times), min(t[1] for t in times)


def command_table(recordings, repeats: int, folder: Path) -> None:
    """The whole command with and without the report, per recording, side by side."""
    print(f"iomon analyze, whole command (best of {repeats}; wall / CPU, s):")
    print(f"  {'recording':28s} {'--no-report':>13s} {'report':>13s} {'ratio':>13s}  targets "
          "(wall)")
    for recording in recordings:
        out = folder / recording.stem
        bare = best_of(repeats, functools.partial(analyze_time, recording, out, False))
        full = best_of(repeats, functools.partial(analyze_time, recording, out, True))
        met = (f"{'met' if bare[0] < TARGET_NO_REPORT_S else 'missed'} "
               f"(< {TARGET_NO_REPORT_S:g} s), "
               f"{'met' if full[0] < TARGET_REPORT_S else 'missed'} (< {TARGET_REPORT_S:g} s)")
        print(f"  {recording.name:28s} {bare[0]:6.2f} /{bare[1]:5.2f} {full[0]:6.2f} /"
              f"{full[1]:5.2f} {full[0] / bare[0]:5.2f}x /{full[1] / bare[1]:5.2f}x  {met}")
    print(f"  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


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
    from iomon.report.facts import case_facts, rise_words
    from iomon.report.figures import (
        choose_rows,
        latency_figure,
        overlay_figure,
        trend_figure,
        waveform_figure,
        write_png,
    )

    facts = timed("facts (first met, brackets, ends)", lambda: case_facts(result))
    brackets = rise_words(facts)
    rows = choose_rows(result)
    makers = {"trend": lambda: trend_figure(result, brackets=brackets),
              "overlay": lambda: overlay_figure(result),
              "latency": lambda: latency_figure(result, brackets=brackets),
              "waveforms": lambda: waveform_figure(result, rows)}
    for name, make in makers.items():
        fig = timed(f"{name}: build the figure", make)
        timed(f"{name}: draw once, PNG (HTML and PDF)",
              functools.partial(write_png, fig, folder / "f.png"))
        timed(f"{name}: SVG beside it", functools.partial(
            fig.savefig, folder / "f.svg", format="svg", metadata={"Date": None}))
    from iomon.report.figures import save_figures

    figures = save_figures(result, folder / "figures", brackets=brackets)
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
    parser.add_argument("recordings", nargs="*", type=Path,
                        default=sorted((ROOT / "recordings").glob("*.edf")))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="iomon-report-speed-") as tmp:
        folder = Path(tmp)
        command_table(args.recordings, args.repeats, folder)
        report_breakdown(args.recordings[0], folder)
        loaded = heavy_imports(args.recordings[0], folder)
        print(f"\n--no-report imports: {', '.join(loaded) if loaded else 'none of'} "
              f"({', '.join(HEAVY)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
