"""Measures against the simulator's ground truth over seeds and noise levels (processing core).

For each amplifier noise level, cases are simulated, written to EDF+, read and analysed; on
valid (not rejected) sweeps it prints:

- amp err %: median |measured - injected| / injected peak-to-peak, responses >= 100 µV;
- onset err ms (threshold / TKEO / changepoint, ``[processing] onset_method``): median
  |measured - injected| onset latency, same responses (the case analysed once more for the
  change point; TKEO is reported beside every method);
- found %: responses >= 100 µV reported present;
- silent ok %: sweeps of channels without a response where none was reported.

Targets (issue): at 10 µV rms, amp err <= 5 %, onset err <= 0.5 ms, silent ok >= 99 %.

Usage: python benchmarks/measure_validation.py [--seeds N] [--noise 5,10,20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from iomon.io import read
from iomon.pipeline import analyze, load_case
from iomon.processing.settings import Settings
from iomon.sim import simulate_case, write_simulated_case


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--noise", default="5,10,20")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="iomon-measures-") as folder:
        run(args, Path(folder))


def run(args, folder: Path) -> None:
    """Simulate, analyse and score the cases in ``folder`` (removed afterwards)."""
    print(f"{'noise µV':>9}{'amp err %':>11}{'onset thr ms':>14}{'onset TKEO ms':>15}"
          f"{'onset CP ms':>13}{'found %':>9}{'silent ok %':>13}")
    start = time.perf_counter()
    for noise in (float(v) for v in args.noise.split(",")):
        amp_err, thr_err, tkeo_err, cp_err, found, silent_ok = [], [], [], [], [], []
        for seed in range(args.seeds):
            sim = simulate_case("stable", seed, time_compression=40.0, noise_uv=noise)
            path = write_simulated_case(sim, folder, stem=f"n{noise:g}-{seed}")
            recording, case = read(path), load_case(path)
            result = analyze(recording, case)
            change = analyze(recording, case, settings=Settings(onset_method="changepoint"))
            amplitude = np.array(sim.truth.amplitude_uv, dtype=float)
            latency = np.array(sim.truth.onset_latency_ms, dtype=float)
            m = result.measurements
            valid = ~result.rejected
            big = valid & np.isfinite(amplitude) & (amplitude >= 100)
            silent = valid & np.isnan(amplitude)
            amp_err.append(np.abs(m.amplitude[big] * 1e6 - amplitude[big]) / amplitude[big])
            thr_err.append(np.abs(m.onset_latency[big] * 1e3 - latency[big]))
            tkeo_err.append(np.abs(m.onset_latency_tkeo[big] * 1e3 - latency[big]))
            cp_err.append(np.abs(change.measurements.onset_latency[big] * 1e3 - latency[big]))
            found.append(m.present[big])
            silent_ok.append(~m.present[silent])
        print(f"{noise:>9g}{100 * np.median(np.concatenate(amp_err)):>11.2f}"
              f"{np.nanmedian(np.concatenate(thr_err)):>14.3f}"
              f"{np.nanmedian(np.concatenate(tkeo_err)):>15.3f}"
              f"{np.nanmedian(np.concatenate(cp_err)):>13.3f}"
              f"{100 * np.concatenate(found).mean():>9.2f}"
              f"{100 * np.concatenate(silent_ok).mean():>13.2f}")
    print(f"{args.seeds} seeds per noise level, 12 channels each, "
          f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
