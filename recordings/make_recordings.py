"""Regenerate the synthetic recordings shipped in this folder.

Run from the repository root:  python recordings/make_recordings.py
"""

from pathlib import Path

from iomon.sim import SHIPPED_MUSCLES, SHORT_SCHEDULE, simulate_case, write_simulated_case

HERE = Path(__file__).resolve().parent

# (file stem, scenario, seed): short 8-channel cases, 5 kHz, surgical clock compressed 60-fold.
CASES = [
    ("drez_focal_recovering", "focal_recovering", 11),
    ("drez_systemic", "systemic", 12),
]

if __name__ == "__main__":
    for stem, scenario, seed in CASES:
        sim = simulate_case(scenario, seed, muscles=SHIPPED_MUSCLES, schedule=SHORT_SCHEDULE,
                            time_compression=60.0, case_id=stem)
        path = write_simulated_case(sim, HERE, stem=stem)
        print(f"{path.name}: {len(sim.truth.sweeps.onset_s)} sweeps, "
              f"{path.stat().st_size / 1e6:.1f} MB, expected focal alerts on "
              f"{sim.truth.focal_channels or 'none'}")
