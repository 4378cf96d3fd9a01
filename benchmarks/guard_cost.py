"""What the robustness guards cost on valid files: guarded read against an unguarded one.

- Files read through neo (NIX, ABF, WinWCP, Spike2) are read in a forked child under time and
  memory limits (iomon.model.guard): the fork, and the sweeps pickled back through a pipe,
  against the same read in-process.
- MATLAB files are walked (iomon.io.matfile, every tag, compressed variables inflated), then
  read by scipy in a guarded child: the read with the walk alone, and with the walk and the
  guard, against scipy's read in-process without either. MATLAB v7.3 (HDF5) files are read
  by h5py in a guarded child, against the same read in-process.
- ABF and WinWCP headers are checked against the file's size before neo reads them.

Each read is timed ``--repeats`` times in this one run (the median is reported), on small
and large files written here, and on the real MATLAB and ABF/WinWCP files of
../shared/realdata when present.

    python benchmarks/guard_cost.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REALDATA = ROOT.parent / "shared" / "realdata"


def median_seconds(func, repeats: int) -> float:
    return medians([func], repeats)[0]


def medians(funcs, repeats: int) -> list[float]:
    """Median seconds of each function, run in turn (a, b, c, a, b, c...) so that the load of
    a shared machine weighs on all of them alike."""
    for func in funcs:
        func()  # warm: imports, caches
    times = [[] for _ in funcs]
    for _ in range(repeats):
        for func, seconds in zip(funcs, times):
            start = time.perf_counter()
            func()
            seconds.append(time.perf_counter() - start)
    return [statistics.median(seconds) for seconds in times]


def write_nix(path: Path, n_sweeps: int, n_channels: int, n_samples: int, sfreq=5000.0):
    import neo
    import quantities as pq

    rng = np.random.default_rng(0)
    block = neo.Block()
    for i in range(n_sweeps):
        segment = neo.Segment(name=f"sweep {i}")
        segment.analogsignals.append(neo.AnalogSignal(
            rng.standard_normal((n_samples, n_channels)) * 0.05, units="mV",
            sampling_rate=sfreq * pq.Hz, t_start=i * 2.0 * pq.s))
        block.segments.append(segment)
    with neo.io.NixIO(str(path), mode="ow") as io:
        io.write_block(block)
    return path


def write_mat(path: Path, n_sweeps: int, n_channels: int, n_samples: int, compress: bool):
    import scipy.io

    rng = np.random.default_rng(0)
    scipy.io.savemat(path, {"data": rng.standard_normal((n_sweeps, n_channels, n_samples)) * 50,
                            "sfreq": 5000.0, "first_sample_ms": -10.0},
                     do_compression=compress)
    return path


def write_abf(path: Path, n_sweeps: int, n_samples: int, sfreq=5000.0) -> Path:
    import pyabf.abfWriter

    sweeps = np.random.default_rng(0).standard_normal((n_sweeps, n_samples)) * 0.05
    pyabf.abfWriter.writeABF1(sweeps, str(path), sfreq, units="mV")
    return path


def neo_rows(work: Path, repeats: int):
    """Every format read through neo: the guarded read against the same read in-process."""
    from iomon.io import ReadOptions
    from iomon.io.neo_adapter import _read_neo, read_neo

    episodes = ReadOptions(stimulus_s=0.01)
    files = [("NIX, 10 sweeps x 4 ch x 551", write_nix(work / "10.nix", 10, 4, 551),
              "NIXRawIO", "NIX", episodes),
             ("NIX, 60 sweeps x 8 ch x 2201", write_nix(work / "60.nix", 60, 8, 2201),
              "NIXRawIO", "NIX", episodes),
             ("ABF1, 10 sweeps x 1 ch x 551", write_abf(work / "10.abf", 10, 551),
              "AxonRawIO", "Axon ABF", episodes),
             ("ABF1, 300 sweeps x 1 ch x 2201", write_abf(work / "300.abf", 300, 2201),
              "AxonRawIO", "Axon ABF", episodes)]
    if REALDATA.is_dir():
        files += [("WinWCP real wcp-file.wcp", REALDATA / "wcp" / "wcp-file.wcp",
                   "WinWcpRawIO", "WinWCP", ReadOptions()),
                  ("Spike2 real physiology.smr", REALDATA / "smr" / "physiology.smr",
                   "Spike2RawIO", "Spike2 (SON)",
                   ReadOptions(stimulus_channel="Magnet", window_s=(-0.02, 0.1)))]
    for label, path, class_name, title, options in files:
        plain, guarded = medians(
            [lambda p=path, c=class_name, t=title, o=options: _read_neo(p, o, c, t),
             lambda p=path, c=class_name, t=title, o=options: read_neo(p, o, c, t)], repeats)
        yield label, path.stat().st_size, plain, guarded


def mat_rows(work: Path, repeats: int):
    import iomon.io.matfile as matfile
    import iomon.io.matlab as matlab
    from iomon.io import read

    files = [("MAT v5, 10 x 4 x 551", write_mat(work / "small.mat", 10, 4, 551, False)),
             ("MAT v5 compressed, 10 x 4 x 551", write_mat(work / "smallz.mat", 10, 4, 551, True)),
             ("MAT v5, 300 x 8 x 2201", write_mat(work / "large.mat", 300, 8, 2201, False)),
             ("MAT v5 compressed, 300 x 8 x 2201",
              write_mat(work / "largez.mat", 300, 8, 2201, True))]
    if REALDATA.is_dir():
        from iomon.agreement import mepfeatx_sidecar
        from iomon.case.sidecar import read_case

        for name, muscle in (("ID02", "TA"), ("ID10_1", "ECR")):
            sidecar = work / f"{name}.case.toml"
            sidecar.write_text(mepfeatx_sidecar(name, muscle))
            files.append((f"MAT real {name} (compressed)", (REALDATA / "mat_mep" / f"{name}.mat",
                                                             read_case(sidecar).read_options)))
    walk, load = matfile.check_mat, matlab._load
    ways = {"plain": matlab._loadmat,                                # scipy in-process
            "walked": lambda p: (walk(p), matlab._loadmat(p))[1],    # the walk, no fork
            "guarded": load}                                         # walk, then guarded

    def reading(way, path, options):
        def run():
            matlab._load = ways[way]
            try:
                read(path, options)
            finally:
                matlab._load = load
        return run

    for label, item in files:
        path, options = item if isinstance(item, tuple) else (item, None)
        plain, walked, guarded = medians([reading(w, path, options) for w in ways], repeats)
        yield f"{label} (walk)", path.stat().st_size, plain, walked
        yield f"{label} (walk+fork)", path.stat().st_size, plain, guarded


def v73_rows(work: Path, repeats: int):
    """MATLAB v7.3 (HDF5): h5py in-process against h5py in the guarded child."""
    import sys

    from iomon.io.mat73 import load_v73
    from iomon.io.matlab import _load

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from fuzz_seeds import write_mat73

    rng = np.random.default_rng(0)
    for label, shape in (("MAT v7.3, 10 x 4 x 551", (10, 4, 551)),
                         ("MAT v7.3, 300 x 8 x 2201", (300, 8, 2201))):
        path = work / f"v73-{shape[0]}.mat"
        write_mat73(path, {"data": rng.standard_normal(shape) * 50, "sfreq": 5000.0,
                           "first_sample_ms": -10.0,
                           "channels": [f"ch {k}" for k in range(shape[1])]})
        plain, guarded = medians([lambda p=path: load_v73(p), lambda p=path: _load(p)],
                                 repeats)
        yield f"{label} (fork)", path.stat().st_size, plain, guarded


def header_rows(repeats: int):
    from iomon.io.neo_adapter import _check_structure

    if not REALDATA.is_dir():
        return
    for name, class_name in (("abf/pclamp11_4ch.abf", "AxonRawIO"),
                             ("abf/pclamp11_4ch_abf1.abf", "AxonRawIO"),
                             ("wcp/wcp-file.wcp", "WinWcpRawIO")):
        path = REALDATA / name
        check = median_seconds(lambda p=path, c=class_name: _check_structure(p, c), repeats)
        yield f"{name} header check (alone)", path.stat().st_size, 0.0, check


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    print(f"{'file':<44}{'size':>10}{'unguarded':>12}{'guarded':>12}{'ratio':>8}")
    with tempfile.TemporaryDirectory(prefix="iomon-guard-cost-") as work:
        for rows in (neo_rows(Path(work), args.repeats), mat_rows(Path(work), args.repeats),
                     v73_rows(Path(work), args.repeats), header_rows(args.repeats)):
            for label, size, plain, guarded in rows:
                ratio = f"{guarded / plain:8.2f}" if plain else f"{'-':>8}"
                print(f"{label:<44}{size / 1e6:>8.2f}MB{plain * 1e3:>10.1f}ms"
                      f"{guarded * 1e3:>10.2f}ms{ratio}", flush=True)


if __name__ == "__main__":
    main()
