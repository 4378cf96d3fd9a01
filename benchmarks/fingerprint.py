"""Fingerprint of iomon's outputs, to show a change of structure changes no result.

Writes the SHA-256 of every output that users keep (measurements.csv, alerts.json,
summary.json; the simulator's EDF, sidecar and truth files; ``iomon info``'s text) for:

- the shipped recordings, under every criteria preset;
- one simulated case per scenario (written, read back, analysed);
- every real file in ``../shared/realdata/`` of a format the reader registry names (read or
  refused; with the sidecars the tests use).

Run it before and after a change and compare:

    python benchmarks/fingerprint.py before.json
    python benchmarks/fingerprint.py after.json --compare before.json

The report's PNG and PDF are left out: matplotlib stamps the PDF with its creation time.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REALDATA = ROOT.parent / "shared" / "realdata"
KEPT = ("measurements.csv", "alerts.json", "summary.json")
SIDECARS = {
    "smr/physiology.smr": '[recording]\nstimulus_channel = "Magnet"\nwindow_ms = [-20, 100]\n',
    "edf/test_subsecond.edf": '[recording]\nstimulus_channel = "XLSpike"\n'
                              'window_ms = [-100, 500]\n',
    "mat_mep/ID02.mat": "TA", "mat_mep/ID04.mat": "TA", "mat_mep/ID10_1.mat": "ECR",
}


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run_cli(*args) -> tuple[int, str]:
    """Exit status and output (stdout and stderr together) of an ``iomon`` command."""
    from iomon.cli import main

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        status = main([str(a) for a in args])
    return status, buffer.getvalue()


def placeless(text: str, work: Path) -> bytes:
    """Text without the places it was made in (the scratch folder, the real files' folder)."""
    for place in (str(work), str(REALDATA)):
        text = text.replace(place, "")
    return text.encode()


def outputs(prefix, folder: Path, into: dict):
    for name in KEPT:
        path = folder / name
        if path.is_file():
            into[f"{prefix}/{name}"] = digest(path.read_bytes())


def shipped(work: Path, into: dict):
    from iomon import PRESETS

    for recording in sorted((ROOT / "recordings").glob("*.edf")):
        for preset in PRESETS:
            out = work / f"{recording.stem}-{preset}"
            status, text = run_cli("analyze", recording, "--out", out, "--no-report",
                                   "--criteria", preset)
            into[f"shipped/{recording.stem}/{preset}/status"] = str(status)
            outputs(f"shipped/{recording.stem}/{preset}", out, into)


def simulated(work: Path, into: dict):
    from iomon.sim import SCENARIOS

    for scenario in SCENARIOS:
        folder = work / "sim" / scenario
        status, _ = run_cli("simulate", "--out", folder, "--scenario", scenario, "--seed", "3",
                            "--time-compression", "40")
        into[f"sim/{scenario}/status"] = str(status)
        for path in sorted(folder.iterdir()):
            into[f"sim/{scenario}/{path.suffix}"] = digest(path.read_bytes())
        recording = next(folder.glob("*.edf"))
        out = work / "sim-out" / scenario
        status, text = run_cli("analyze", recording, "--out", out, "--no-report")
        outputs(f"sim/{scenario}", out, into)
        _, info = run_cli("info", recording)
        into[f"sim/{scenario}/info"] = digest(placeless(info, work))


def real(work: Path, into: dict):
    from iomon.io import READERS

    if not REALDATA.is_dir():
        return
    suffixes = {e for r in READERS for e in r.extensions}
    for path in sorted(REALDATA.rglob("*")):
        if path.suffix.lower() not in suffixes:
            continue
        relative = path.relative_to(REALDATA).as_posix()
        args = []
        if relative in SIDECARS:
            sidecar = work / "sidecars" / f"{path.stem}.case.toml"
            sidecar.parent.mkdir(parents=True, exist_ok=True)
            text = SIDECARS[relative]
            if "=" not in text:
                from iomon.agreement import mepfeatx_sidecar

                text = mepfeatx_sidecar(path.stem, text)
            sidecar.write_text(text)
            args = ["--case", sidecar]
        status, info = run_cli("info", path, *args)
        into[f"real/{relative}/info"] = digest(placeless(info, work))
        out = work / "real" / relative
        status, text = run_cli("analyze", path, *args, "--out", out, "--no-report")
        tail = placeless(text, work).decode().strip()[-120:]
        into[f"real/{relative}/status"] = (f"{status} {tail}"
                                           if status else "0")
        outputs(f"real/{relative}", out, into)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--compare", type=Path)
    args = parser.parse_args()
    fingerprint = {}
    with tempfile.TemporaryDirectory(prefix="iomon-fingerprint-") as work:
        for part in (shipped, simulated, real):
            part(Path(work), fingerprint)
    args.out.write_text(json.dumps(fingerprint, indent=1, sort_keys=True) + "\n")
    print(f"{len(fingerprint)} outputs fingerprinted into {args.out}")
    if args.compare:
        before = json.loads(args.compare.read_text())
        changed = sorted(k for k in set(before) | set(fingerprint)
                         if before.get(k) != fingerprint.get(k))
        for key in changed:
            print(f"changed: {key}")
        print(f"{len(changed)} of {len(fingerprint)} outputs differ from {args.compare}")


if __name__ == "__main__":
    main()
