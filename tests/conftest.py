"""Shared fixtures: simulated cases written to real EDF files, analysed once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from iomon.sim import SHIPPED_MUSCLES, SHORT_SCHEDULE, simulate_case, write_simulated_case

ROOT = Path(__file__).resolve().parents[1]
REALDATA = ROOT.parent / "shared" / "realdata"
RECORDINGS = ROOT / "recordings"

# Compressed enough to keep each file a few MB and each analysis about a second.
FAST = dict(time_compression=40.0)


def _realdata_or_skip() -> Path:
    if not REALDATA.is_dir():
        pytest.skip(f"{REALDATA} is absent (it sits beside the checkout in development and CI)")
    return REALDATA


@pytest.fixture(scope="session")
def realdata() -> Path:
    return _realdata_or_skip()


class CaseFactory:
    """Simulate, write and analyse cases once per session, keyed by their parameters."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._cache: dict = {}

    def write(self, scenario: str, seed: int = 0, **kwargs):
        key = ("write", scenario, seed, tuple(sorted(kwargs.items())))
        if key not in self._cache:
            params = {**FAST, **kwargs}
            sim = simulate_case(scenario, seed, **params)
            stem = f"{scenario}-{seed}-{len(self._cache)}"
            path = write_simulated_case(sim, self.folder / stem, stem=stem)
            self._cache[key] = (sim, path)
        return self._cache[key]

    def analyse(self, scenario: str, seed: int = 0, criteria=None, **kwargs):
        key = ("analyse", scenario, seed, criteria, tuple(sorted(kwargs.items())))
        if key not in self._cache:
            from iomon.io import read
            from iomon.pipeline import analyze, load_case

            sim, path = self.write(scenario, seed, **kwargs)
            self._cache[key] = (sim, analyze(read(path), load_case(path), criteria))
        return self._cache[key]


@pytest.fixture(scope="session")
def cases(tmp_path_factory) -> CaseFactory:
    return CaseFactory(tmp_path_factory.mktemp("cases"))


@pytest.fixture(scope="session")
def small_case(cases):
    """A short 8-channel stable case on disk: (SimulatedCase, path)."""
    return cases.write("stable", 3, muscles=SHIPPED_MUSCLES, schedule=SHORT_SCHEDULE)
