"""Shared fixtures: simulated cases written to real EDF files, analysed once per session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from iomon.sim import SHIPPED_MUSCLES, SHORT_SCHEDULE, simulate_case, write_simulated_case

ROOT = Path(__file__).resolve().parents[1]
REALDATA = ROOT.parent / "shared" / "realdata"
RECORDINGS = ROOT / "recordings"

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: CI sets IOMON_REQUIRE_TOOLS=1: a missing browser or poppler then fails the tests that need
#: it instead of skipping them.
REQUIRED_TOOLS = os.environ.get("IOMON_REQUIRE_TOOLS") == "1"

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


def tool(name: str) -> str:
    """The path of a system tool (chromium, pdftoppm, pdftotext), or skip/fail saying why."""
    path = shutil.which(name) if name != "chromium" else CHROMIUM
    if path is None:
        if REQUIRED_TOOLS:
            pytest.fail(f"{name} is needed (IOMON_REQUIRE_TOOLS=1) but not installed")
        pytest.skip(f"{name} is not installed (.ci/run installs it)")
    return path


def open_in_browser(html: Path, screenshot: Path, width: int = 800) -> dict:
    """Load a page in Debian's Chromium (via Playwright) as a reader would.

    Returns the console errors, each image's (loaded, natural width, shown width), the page's
    scroll width and height; a full-page screenshot is saved to ``screenshot``.
    """
    tool("chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install '.[test]'")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            "--disable-quic"])
        page = browser.new_page(viewport={"width": width, "height": 1000})
        problems = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(html.as_uri())
        seen = {
            "problems": problems,
            "images": page.evaluate("Array.from(document.images).map(i => [i.complete, "
                                    "i.naturalWidth, i.getBoundingClientRect().width])"),
            "width": page.evaluate("document.documentElement.scrollWidth"),
            "height": page.evaluate("document.documentElement.scrollHeight"),
        }
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    return seen
