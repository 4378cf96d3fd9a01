"""The benchmarks run, small, for crashes (not for speed: they print figures, never assert them).

And the command-line paths import only what they need: the heavy libraries (MNE, neo,
matplotlib, Dask) cost seconds of start-up that an EDF analysis without a report never uses.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RECORDING = ROOT / "recordings" / "drez_focal_recovering.edf"


def run_benchmark(name, *args):
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / name), *args],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_long_recording_benchmark_runs_small():
    out = run_benchmark("long_recording.py", "--small")
    for way in ("MNE pipeline", "windows alone", "iomon analyze --no-report"):
        assert f"| {way} |" in out
    assert "MNE pipeline / iomon:" in out and "iomon peak memory:" in out


REAL_MEPS = ROOT.parent / "shared" / "realdata" / "mat_mep"


@pytest.mark.skipif(not REAL_MEPS.is_dir(), reason="needs ../shared/realdata/mat_mep/")
def test_the_real_mep_misses_are_listed_and_drawn(tmp_path):
    """Each MEP off by more than 1 ms is one line with its marks, and drawn."""
    figure = tmp_path / "misses.png"
    out = run_benchmark("real_mep_agreement.py", "--misses-figure", str(figure))
    table, listing = out.split("MEPs whose onset is more than 1 ms from MEPFeatX's")
    pooled = next(line for line in table.splitlines() if line.startswith("all")).split()
    n_meps, share = int(pooled[1]), float(pooled[4])  # MEPs; threshold onsets <= 1 ms, %
    rows = [line for line in listing.splitlines()[2:] if line.startswith("ID")]
    assert len(rows) == round(n_meps * (1 - share / 100))
    for line in rows:
        published, threshold = map(float, line.split()[2:4])
        assert abs(published - threshold) > 1.0
    assert figure.stat().st_size > 10_000


@pytest.mark.slow
def test_typical_export_benchmark_runs_small():
    """The command with and without the report, the report's steps, and a --no-report run
    that loads no heavy module."""
    out = run_benchmark("typical_export.py", "--small")
    assert "| import scipy.signal |" in out
    assert f"| {RECORDING.stem}: analyze (HTML and PDF report) |" in out
    assert "|   report / --no-report |" in out
    assert "PDF (ReportLab, same PNGs)" in out and "waveforms: SVG beside it" in out
    assert "--no-report imports: none of" in out


@pytest.mark.slow
def test_onset_robustness_benchmark_runs_small():
    out = run_benchmark("onset_robustness.py", "--small")
    assert "after the blank" in out and "squares before the stimulus" in out


IMPORTED = """
import sys
from iomon.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(" ".join(sorted(m for m in ("mne", "neo", "matplotlib", "dask", "jinja2", "reportlab",
                                  "pandas") if m in sys.modules)))
"""


@pytest.mark.parametrize("command, allowed", [
    (["--help"], set()),
    (["info", str(RECORDING)], set()),
    (["analyze", str(RECORDING), "--no-report"], set()),
    (["analyze", str(RECORDING)], {"matplotlib", "jinja2", "reportlab"}),
])
def test_a_command_imports_only_what_its_path_needs(tmp_path, command, allowed):
    if command[0] == "analyze":
        command = command + ["--out", str(tmp_path / "out")]
    proc = subprocess.run([sys.executable, "-c", IMPORTED, *command], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    imported = set(proc.stdout.split("\n")[-2].split())
    assert imported <= allowed, f"{' '.join(command)} imported {sorted(imported - allowed)}"


@pytest.mark.slow
def test_review_speed_benchmark_runs_small():
    pytest.importorskip("playwright.sync_api", reason="pip install '.[test]'")
    from conftest import tool

    tool("chromium")
    out = run_benchmark("review_speed.py", "--small")
    assert "| page load (state fetched, every chart drawn) |" in out
    assert "| hand-placed onset |" in out and "| undo exclude one sweep |" in out
