"""Measure iomon against the simulator's ground truth over many seeds per scenario.

Each case is simulated, written to a real EDF+ file, read back and analysed with the default
settings (or ``--criteria``). Printed per scenario:

- exact: share of cases whose focal alerts are exactly the injected channels;
- false/case-h: focal alerts (not informational) on channels without an injected focal drop,
  per case-hour of the surgical clock;
- systemic ok: share of systemic-scenario cases with at least one alert during the injected
  event and every such alert systemic;
- delay: median sweeps from the first dropped sweep to the alert (focal scenarios);
- recovery ok: share of focal alerts whose recovery matches the truth;
- amp err / lat err: median absolute error of amplitude (%) and onset latency (ms) on responses
  of at least 100 µV; absent-found: share of valid sweeps of channels without a response where a
  response was reported.

Usage: python benchmarks/scenario_suite.py [--seeds N] [--criteria NAME] [--scenarios a,b]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from iomon.io import read
from iomon.pipeline import analyze, load_case
from iomon.simulate import SCENARIOS, simulate_case, write_simulated_case


def evaluate(scenario, seed, folder, criteria):
    sim = simulate_case(scenario, seed, time_compression=40.0)
    path = write_simulated_case(sim, folder, stem=f"{scenario}-{seed}")
    result = analyze(read(path), load_case(path), criteria)
    truth = sim.truth
    amplitude = np.array(truth["amplitude_uv"], dtype=float)
    latency = np.array(truth["onset_latency_ms"], dtype=float)
    m = result.measurements
    valid = ~result.rejected
    big = valid & np.isfinite(amplitude) & (amplitude >= 100)
    absent = valid & np.isnan(amplitude)
    expected = set(truth["expected"]["focal_channels"])
    # What the surgeon hears: focal alerts that are not informational.
    focal = [a for a in result.alerts if a.scope == "focal" and not a.informational]
    onsets = result.sweeps.table["onset_s"].to_numpy()
    delays, recovery_ok = [], []
    for event in truth["events"]:
        if event["kind"] not in ("focal", "loss"):
            continue
        first = int(np.flatnonzero(onsets >= event["start_s"])[0])
        for alert in focal:
            if alert.channel in event["channels"]:
                delays.append(alert.onset_sweep - first)
                recovery_ok.append(alert.recovered == event["recovers"])
    hours = truth["phases_nominal_s"]["closure"][1] / 3600.0
    during = [a for a in result.alerts for e in truth["events"]
              if e["kind"] == "systemic" and e["start_s"] <= a.onset_s <= e["end_s"]]
    return {
        "exact": {a.channel for a in focal} == expected,
        "false": sum(a.channel not in expected for a in focal),
        "hours": hours,
        "systemic_ok": bool(during) and all(a.scope == "systemic" for a in during),
        "delays": delays,
        "recovery_ok": recovery_ok,
        "amp_err": float(np.median(np.abs(m.amplitude[big] * 1e6 - amplitude[big])
                                   / amplitude[big]) * 100),
        "lat_err": float(np.nanmedian(np.abs(m.onset_latency[big] * 1e3 - latency[big]))),
        "absent_found": float(m.present[absent].mean()) if absent.any() else 0.0,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--criteria", default=None)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="iomon-bench-"))
    print(f"{'scenario':<18}{'exact':>7}{'false/case-h':>14}{'systemic ok':>13}{'delay':>7}"
          f"{'recovery ok':>13}{'amp err %':>11}{'lat err ms':>12}{'absent-found':>14}")
    start = time.perf_counter()
    for scenario in args.scenarios.split(","):
        runs = [evaluate(scenario, seed, folder, args.criteria) for seed in range(args.seeds)]
        delays = [d for r in runs for d in r["delays"]]
        recovery = [ok for r in runs for ok in r["recovery_ok"]]
        false_rate = sum(r["false"] for r in runs) / sum(r["hours"] for r in runs)
        systemic = (f"{np.mean([r['systemic_ok'] for r in runs]):.2f}"
                    if scenario == "systemic" else "-")
        print(f"{scenario:<18}{np.mean([r['exact'] for r in runs]):>7.2f}{false_rate:>14.2f}"
              f"{systemic:>13}{(np.median(delays) if delays else float('nan')):>7.1f}"
              f"{(np.mean(recovery) if recovery else float('nan')):>13.2f}"
              f"{np.median([r['amp_err'] for r in runs]):>11.2f}"
              f"{np.median([r['lat_err'] for r in runs]):>12.3f}"
              f"{np.mean([r['absent_found'] for r in runs]):>14.4f}")
    print(f"{args.seeds} seeds per scenario, {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
