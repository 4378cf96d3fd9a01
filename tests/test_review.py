"""`iomon review` as a user meets it: a real server process, a real headless Chromium.

The browser test opens the page, steps through sweeps, excludes one, moves an onset, adds a
theatre event, undoes and signs off; the sidecar and the outputs are then read back and
compared with what `iomon analyze` writes from the same sidecar. The security tests send real
HTTP requests without the token, with a foreign Host, cross-origin and cross-site, and expect
refusals. The rest checks the pieces on their own: the sidecar edits (comments kept, atomic,
refused when invalid), the hand-placed landmarks against the simulator's ground truth, and
the session's reruns against a fresh analysis.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import CHROMIUM, RECORDINGS, tool
from iomon.model.errors import InputError

SHIPPED = sorted(RECORDINGS.glob("*.edf"))
COMMENT = "# reviewed at the bedside: keep this comment\n"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def copy_case(recording: Path, folder: Path) -> Path:
    """A shipped recording and its sidecar in a scratch folder, the sidecar with a comment."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(recording, folder / recording.name)
    sidecar = recording.with_name(recording.stem + ".case.toml")
    (folder / sidecar.name).write_text(COMMENT + sidecar.read_text(encoding="utf-8"),
                                       encoding="utf-8")
    return folder / recording.name


class Server:
    """`iomon review --no-browser` in its own process; the address it prints."""

    def __init__(self, recording: Path, *args):
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "iomon.cli", "review", str(recording), "--no-browser",
             "--port", "0", *map(str, args)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.url = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            if line.startswith("open "):
                self.url = line.split()[1]
                break
        if self.url is None:
            self.stop()
            raise AssertionError(f"no address printed: {self.process.stderr.read()}")
        self.port = int(self.url.split(":")[2].split("/")[0])
        self.token = self.url.split("token=")[1]

    def request(self, method, path, body=None, headers=None, host=None):
        """(status, JSON answer) of one request, Host and headers as given."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        all_headers = {"Host": host or f"127.0.0.1:{self.port}", **(headers or {})}
        payload = None if body is None else json.dumps(body)
        connection.request(method, path, body=payload, headers=all_headers)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response.status, json.loads(data) if data[:1] in (b"{", b"[") else data

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def shipped_case(tmp_path):
    return copy_case(RECORDINGS / "drez_focal_recovering.edf", tmp_path / "case")


@pytest.fixture
def server(shipped_case):
    running = Server(shipped_case)
    yield running
    running.stop()


def sidecar_of(recording: Path) -> Path:
    return recording.with_name(recording.stem + ".case.toml")


# ------------------------------------------------------------------------------ browser
def open_page(playwright, url):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=60_000)
    return browser, page, problems


def wait_version(page, version):
    """Wait for the page to show a newer analysis than ``version`` (selectors only: the
    page's Content-Security-Policy forbids the eval that wait_for_function needs)."""
    page.wait_for_selector(f"body[data-busy='0']:not([data-version='{version}'])",
                           timeout=60_000)
    return int(page.evaluate("document.body.dataset.version"))


def wait_at(page, sweep, channel=None):
    selector = f"body[data-sweep='{sweep}']"
    if channel is not None:
        selector += f"[data-channel='{channel}']"
    page.wait_for_selector(selector, timeout=60_000)


def test_review_in_the_browser_edits_the_sidecar_and_signs_off(server, shipped_case, tmp_path):
    tool("chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install '.[test]'")
    recording_sha = sha256(shipped_case)
    sidecar = sidecar_of(shipped_case)
    with sync_api.sync_playwright() as playwright:
        browser, page, problems = open_page(playwright, server.url)
        page.fill("#reviewer", "AB")
        # Pick the first channel's trace; Home, three sweeps on, one channel down (the keys).
        page.click("#traces .trace[data-channel='0']")
        page.keyboard.press("Home")
        wait_at(page, 0, 0)
        for _ in range(3):
            page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowDown")
        wait_at(page, 3, 1)
        assert page.evaluate("window.iomonReview.sweepData.sweep") == 3
        state = page.evaluate("window.iomonReview.state")
        channel = state["channels"][1]["name"]
        version = int(page.evaluate("document.body.dataset.version"))

        # Exclude this sweep on this channel.
        page.select_option("#exclude-scope", "sweep-channel")
        page.fill("#exclude-reason", "electrode displaced")
        page.click("#exclude-form button[type=submit]")
        version = wait_version(page, version)

        # Move the onset: choose the tool, click the detail trace at 30 ms.
        page.keyboard.press("Escape")
        page.click("#mode-onset")
        box = page.locator("#detail .u-over").bounding_box()
        x = page.evaluate("window.iomonReview.detail.valToPos(30, 'x')")
        page.mouse.click(box["x"] + x, box["y"] + box["height"] / 2)
        version = wait_version(page, version)
        detail = page.evaluate("window.iomonReview.sweepData.channels[1]")
        assert abs(detail["manual"]["onset_ms"] - 30.0) < 0.5
        assert abs(detail["onset_ms"] - detail["manual"]["onset_ms"]) < 0.25  # used

        # A theatre event, undone, then added again with its kind.
        page.select_option("#event-kind", "blood pressure")
        page.fill("#event-text", "MAP 55 mmHg")
        page.click("#event-form button[type=submit]")
        version = wait_version(page, version)
        assert "MAP 55 mmHg" in sidecar.read_text(encoding="utf-8")
        page.click("#undo")
        version = wait_version(page, version)
        assert "MAP 55 mmHg" not in sidecar.read_text(encoding="utf-8")
        page.select_option("#event-kind", "blood pressure")
        page.fill("#event-text", "MAP 55 mmHg")
        page.click("#event-form button[type=submit]")
        version = wait_version(page, version)
        assert page.locator("#log li").count() == 3
        update_ms = page.evaluate("window.iomonReview.lastUpdateMs")
        assert update_ms > 0

        # Sign off (the page asks to confirm).
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#signoff")
        version = wait_version(page, version)
        assert "signed off by AB" in page.text_content("#status")
        page.screenshot(path=str(tmp_path / "review.png"))
        browser.close()
    assert not problems, problems

    text = sidecar.read_text(encoding="utf-8")
    assert text.startswith(COMMENT)  # the user's comment and layout kept
    from iomon.case.sidecar import read_case

    case = read_case(sidecar)
    assert [(e.channel, e.sweeps, e.reason, e.reviewer) for e in case.exclusions] == [
        (channel, (3,), "electrode displaced", "AB")]
    assert [(m.channel, m.sweep, m.reviewer) for m in case.landmarks] == [(channel, 3, "AB")]
    assert [(e.text, e.kind, e.reviewer) for e in case.events] == [
        ("MAP 55 mmHg", "blood pressure", "AB")]
    assert [s.reviewer for s in case.signoffs] == ["AB"]
    assert all(e.time for e in (*case.exclusions, *case.landmarks, *case.events))
    assert sha256(shipped_case) == recording_sha  # the recording is only read

    # The outputs: as `iomon analyze` writes them from the same sidecar, edits in them.
    signed = shipped_case.with_name(shipped_case.stem + "_iomon")
    analysed = tmp_path / "analysed"
    from iomon.cli import main

    assert main(["analyze", str(shipped_case), "--out", str(analysed), "--no-report"]) == 0
    for name in ("measurements.csv", "alerts.json", "summary.json"):
        assert (signed / name).read_bytes() == (analysed / name).read_bytes(), name
    import pandas as pd

    rows = pd.read_csv(signed / "measurements.csv")
    row = rows[(rows.sweep == 3) & (rows.channel == channel)].iloc[0]
    assert bool(row.rejected) and row.reject_reason == "excluded: electrode displaced"
    summary = json.loads((signed / "summary.json").read_text())
    edits = summary["review_edits"]
    assert edits["landmarks"][0]["reviewer"] == "AB"
    assert edits["events"][0]["kind"] == "blood pressure"
    assert edits["signoffs"][0]["reviewer"] == "AB"
    report = (signed / "report.html").read_text(encoding="utf-8")
    assert "signed off by AB" in report
    assert "placed by hand on" in report and "(by AB," in report


def test_every_shipped_recording_opens_and_steps(tmp_path):
    tool("chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install '.[test]'")
    for recording in SHIPPED:
        case = copy_case(recording, tmp_path / recording.stem)
        running = Server(case)
        try:
            with sync_api.sync_playwright() as playwright:
                browser, page, problems = open_page(playwright, running.url)
                n = len(page.evaluate("window.iomonReview.state.sweeps.onset_s"))
                page.click("#traces .trace[data-channel='0']")
                page.keyboard.press("End")
                wait_at(page, n - 1)
                page.keyboard.press("ArrowLeft")
                wait_at(page, n - 2)
                traces = page.locator("#traces .trace").count()
                browser.close()
            assert traces == len(page_channels(running))
            assert not problems, (recording.name, problems)
        finally:
            running.stop()


def page_channels(running):
    status, state = running.request("GET", "/api/state",
                                    headers={"X-Iomon-Token": running.token})
    assert status == 200
    return state["channels"]


# ------------------------------------------------------------------------------ security
def test_requests_without_the_token_or_from_elsewhere_are_refused(server, shipped_case):
    sidecar = sidecar_of(shipped_case)
    before = sidecar.read_bytes()
    token = {"X-Iomon-Token": server.token}
    edit = {"kind": "event", "reviewer": "X", "entry": {"at_s": 1.0, "text": "forged"}}
    json_type = {"Content-Type": "application/json"}
    refused = [
        server.request("GET", "/"),                                         # no token
        server.request("GET", "/?token=wrong"),                             # wrong token
        server.request("GET", "/api/state"),
        server.request("GET", "/static/review.js"),
        server.request("GET", "/api/state", headers={"X-Iomon-Token": "x" * 32}),
        # DNS rebinding: a foreign name resolving to 127.0.0.1 carries its own Host.
        server.request("GET", f"/?token={server.token}", host=f"evil.example:{server.port}"),
        server.request("GET", "/api/state", headers=token, host="127.0.0.1:1"),
        # Cross-origin and cross-site writes, with the token and without.
        server.request("POST", "/api/edit", edit, {**token, **json_type,
                                                   "Origin": "http://evil.example"}),
        server.request("POST", "/api/edit", edit, {**token, **json_type,
                                                   "Sec-Fetch-Site": "cross-site"}),
        server.request("POST", "/api/edit", edit, {**json_type, "Origin":
                                                   f"http://127.0.0.1:{server.port}"}),
        server.request("POST", f"/api/edit?token={server.token}", edit, json_type),
        # A form post (no JSON) cannot be made to carry the header, but refuse it anyway.
        server.request("POST", "/api/edit", edit, {**token,
                                                   "Content-Type": "text/plain"}),
        server.request("POST", "/api/signoff", {"reviewer": "X"},
                       {**json_type, "Origin": "http://evil.example"}),
    ]
    assert [status for status, _ in refused] == [403] * len(refused)
    assert sidecar.read_bytes() == before
    assert not shipped_case.with_name(shipped_case.stem + "_iomon").exists()
    # The same requests, done right, are served.
    assert server.request("GET", f"/?token={server.token}")[0] == 200
    assert server.request("GET", f"/static/uPlot.iife.min.js?token={server.token}")[0] == 200
    status, answer = server.request("POST", "/api/edit", edit, {
        **token, **json_type, "Origin": f"http://127.0.0.1:{server.port}",
        "Sec-Fetch-Site": "same-origin"})
    assert status == 200, answer
    assert "forged" in sidecar.read_text(encoding="utf-8")


def test_the_server_listens_on_loopback_only():
    from iomon.review.server import open_socket

    sock = open_socket(0)
    try:
        assert sock.getsockname()[0] == "127.0.0.1"
    finally:
        sock.close()


def test_the_page_loads_nothing_from_elsewhere():
    from importlib import resources

    static = resources.files("iomon.review").joinpath("static")
    page = static.joinpath("index.html").read_text(encoding="utf-8")
    script = static.joinpath("review.js").read_text(encoding="utf-8")
    for text in (page, script, static.joinpath("review.css").read_text(encoding="utf-8")):
        assert "http://" not in text and "https://" not in text and "//cdn" not in text
    assert "MIT License" in static.joinpath("LICENSE.uPlot").read_text(encoding="utf-8")


# ------------------------------------------------------------------------------ sidecar edits
def test_edits_keep_the_users_file_and_are_refused_whole(tmp_path):
    from iomon.review.edits import append_edit, edit_log, now_text, undo_last_edit

    sidecar = tmp_path / "x.case.toml"
    hand = ('# my notes\n[case]\nid = "X"   # the case\n\n[[events]]\nat_s = 5.0\n'
            'text = "typed by hand"\n')
    sidecar.write_text(hand, encoding="utf-8")
    os.chmod(sidecar, 0o640)
    append_edit(sidecar, "events", {"at_s": 9.5, "text": "MAP 55", "kind": "blood pressure",
                                    "reviewer": "AB", "time": now_text()}, "X")
    text = sidecar.read_text(encoding="utf-8")
    assert text.startswith(hand.rstrip("\n")) and "# the case" in text
    assert sidecar.stat().st_mode & 0o777 == 0o640
    with pytest.raises(InputError, match="kind"):
        append_edit(sidecar, "events", {"at_s": 1.0, "text": "x", "kind": "coffee",
                                        "reviewer": "AB", "time": now_text()}, "X")
    assert sidecar.read_text(encoding="utf-8") == text  # nothing written
    assert [p.name for p in tmp_path.iterdir()] == ["x.case.toml"]  # no temporary left
    assert [e["text"] for e in edit_log(sidecar)] == ["MAP 55"]  # the typed one has no time
    assert undo_last_edit(sidecar, "X")["text"] == "MAP 55"
    assert sidecar.read_text(encoding="utf-8").rstrip("\n") == hand.rstrip("\n")
    assert undo_last_edit(sidecar, "X") is None  # never the user's own entries


def test_the_sidecar_refuses_bad_review_edits(tmp_path):
    from iomon.case.sidecar import read_case

    cases = {
        '[[events]]\nat_s = 1.0\ntext = "x"\nkind = "lunch"\n': "[[events]] entry 1: kind",
        '[[landmarks]]\nchannel = "L TA"\nsweep = 2\n': "onset_ms or a peak_ms",
        '[[landmarks]]\nchannel = "L TA"\nsweep = -1\nonset_ms = 30\n':
            "[[landmarks]] entry 1 ('L TA'): sweep",
        '[[landmarks]]\nchannel = "L TA"\nsweep = 1\nonset_ms = "30"\n': "onset_ms",
        '[[exclude]]\nsweep = 1\nreason = "x"\ntime = "yesterday"\n': "[[exclude]] entry 1: time",
        '[[signoff]]\nreviewer = "AB"\n': "[[signoff]] entry 1",
    }
    for text, words in cases.items():
        path = tmp_path / "bad.case.toml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(InputError, match=re.escape(words)):
            read_case(path)


# ------------------------------------------------------------------------------ landmarks
def test_a_landmark_at_the_true_onset_is_measured_there(cases):
    """Place the simulator's own onset by hand where the detector missed it most."""
    import dataclasses

    from iomon.case.sidecar import Landmark
    from iomon.io import read
    from iomon.pipeline import analyze, load_case

    sim, path = cases.write("stable", 5)
    recording, case = read(path), load_case(path)
    result = analyze(recording, case)
    truth = sim.truth.onset_latency_ms
    detected = result.measurements.onset_latency * 1e3
    error = np.where(result.measurements.present & ~result.rejected,
                     np.abs(detected - truth), -1)
    s, c = np.unravel_index(np.nanargmax(error), error.shape)
    name = result.sweeps.ch_names[c]
    placed = Landmark(name, int(s), onset_s=float(truth[s, c]) * 1e-3)
    edited = analyze(recording, dataclasses.replace(case, landmarks=(placed,)))
    onset = edited.measurements.onset_latency[s, c] * 1e3
    assert abs(onset - truth[s, c]) <= 1e3 / result.sweeps.sfreq  # within one sample
    # What rests on the onset follows it; the offset and amplitude stay the detector's.
    shift = (result.measurements.onset_latency[s, c] - edited.measurements.onset_latency[s, c])
    assert edited.measurements.duration[s, c] == pytest.approx(
        result.measurements.duration[s, c] + shift, abs=1.5 / result.sweeps.sfreq)
    assert edited.measurements.amplitude[s, c] == result.measurements.amplitude[s, c]
    others = np.ones(error.shape, bool)
    others[s, c] = False
    assert np.array_equal(edited.measurements.onset_latency[others],
                          result.measurements.onset_latency[others], equal_nan=True)
    rows = edited.measurement_table()
    row = rows[(rows.sweep == s) & (rows.channel == name)].iloc[0]
    assert row.onset_latency_ms == pytest.approx(onset, abs=1e-3)


def test_a_landmark_beyond_the_recording_is_refused(cases):
    import dataclasses

    from iomon.case.sidecar import Landmark
    from iomon.io import read
    from iomon.pipeline import analyze, load_case

    _, path = cases.write("stable", 5)
    recording, case = read(path), load_case(path)
    for mark, words in ((Landmark("nope", 1, 0.03), "lacks"),
                        (Landmark(recording.sweeps.ch_names[0], 10**6, 0.03), "sweep"),
                        (Landmark(recording.sweeps.ch_names[0], 1, 5.0), "outside the sweep")):
        with pytest.raises(InputError, match=words):
            analyze(recording, dataclasses.replace(case, landmarks=(mark,)))


# ------------------------------------------------------------------------------ session
def test_the_session_reruns_only_what_an_edit_touches(shipped_case):
    """Each edit's result is a fresh analysis's; a landmark or an event measures nothing anew."""
    from iomon.pipeline import analyze_file
    from iomon.review.session import ReviewSession

    session = ReviewSession(shipped_case)
    name = session.result.sweeps.ch_names[2]
    measured = session.timings["measured_channels"]
    assert measured == session.result.sweeps.n_channels
    onsets = session.result.sweeps.column("onset_s")

    def same_as_fresh():
        fresh = analyze_file(shipped_case)
        mine = session.result
        for field in ("amplitude", "onset_latency", "peak_latency", "duration", "present"):
            assert np.array_equal(getattr(mine.measurements, field),
                                  getattr(fresh.measurements, field), equal_nan=True), field
        assert np.array_equal(mine.percent, fresh.percent, equal_nan=True)
        assert [a.as_dict() for a in mine.alerts] == [a.as_dict() for a in fresh.alerts]

    session.edit("landmarks", {"channel": name, "sweep": 20, "onset_ms": 31.0}, "AB")
    assert session.timings["measured_channels"] == measured
    same_as_fresh()
    session.edit("events", {"at_s": float(onsets[30]), "text": "MAP 50", "kind":
                            "blood pressure"}, "AB")
    assert session.timings["measured_channels"] == measured
    session.edit("rebaseline", {"at_s": float(onsets[40]), "reason": "re-taped"}, "AB")
    assert session.timings["measured_channels"] == measured
    same_as_fresh()
    session.edit("exclude", {"channel": name, "sweep": [5], "reason": "noise"}, "AB")
    assert session.timings["measured_channels"] == measured + 1  # that channel alone
    same_as_fresh()
    session.edit("exclude", {"sweep": [7], "reason": "cautery"}, "AB")
    same_as_fresh()
    assert session.undo()["table"] == "exclude"
    assert session.undo()["table"] == "exclude"
    same_as_fresh()
    # An edit the analysis refuses is taken back: the sidecar is as it was.
    before = sidecar_of(shipped_case).read_bytes()
    with pytest.raises(InputError, match="outside the sweep"):
        session.edit("landmarks", {"channel": name, "sweep": 3, "onset_ms": 500.0}, "AB")
    assert sidecar_of(shipped_case).read_bytes() == before
    with pytest.raises(InputError, match="reviewer"):
        session.edit("events", {"at_s": 1.0, "text": "x"}, " ")


def test_a_sidecar_edited_by_hand_meanwhile_is_picked_up(shipped_case):
    from iomon.review.session import ReviewSession

    session = ReviewSession(shipped_case)
    assert not session.refresh()
    version = session.version
    sidecar = sidecar_of(shipped_case)
    with sidecar.open("a", encoding="utf-8") as handle:
        handle.write('\n[[events]]\nat_s = 12.0\ntext = "typed while reviewing"\n')
    assert session.refresh() and session.version == version + 1
    assert [e.text for e in session.result.case.events] == ["typed while reviewing"]


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    from iomon.cli import main

    missing = tmp_path / "missing.edf"
    assert main(["review", str(missing), "--no-browser"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.edf" in err[0]
    damaged = tmp_path / "damaged.edf"
    damaged.write_bytes(b"0       " + b"x" * 300)
    assert main(["review", str(damaged), "--no-browser"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert main(["review", str(damaged), "--port", "70000", "--no-browser"]) == 2


def test_a_sign_off_that_cannot_write_leaves_no_record(shipped_case, tmp_path):
    from iomon.review.session import ReviewSession

    other = tmp_path / "other"
    other.mkdir()
    (other / "summary.json").write_text(json.dumps({"case_id": "P99", "input": "p99.edf"}))
    session = ReviewSession(shipped_case, out=other)
    before = sidecar_of(shipped_case).read_bytes()
    with pytest.raises(InputError, match="iomon did not write"):
        session.sign_off("AB")
    assert sidecar_of(shipped_case).read_bytes() == before
    assert not session.result.case.signoffs


def test_a_case_exported_as_one_file_per_sweep_is_reviewed(tmp_path):
    """Issue 24: the review works on a folder of sweep files, sidecar inside, checksummed."""
    from iomon.pipeline import file_sha256
    from iomon.review.payload import state_payload
    from iomon.review.session import ReviewSession
    from iomon.sim import SHORT_SCHEDULE, simulate_case
    from iomon.sim.writing import write_sweep_files

    sim = simulate_case("focal_recovering", 3, time_compression=40, schedule=SHORT_SCHEDULE,
                        muscles=("Deltoid", "APB", "TA", "AH"))
    folder = write_sweep_files(sim, tmp_path / "sweeps", window_s=(0.0, 0.150))
    session = ReviewSession(folder)
    assert session.sidecar == folder / "case.toml"
    assert session.result.sweeps.n_sweeps == len(sim.truth.sweeps.onset_s)
    assert session.result.input_sha256 == file_sha256(folder)
    assert len(state_payload(session)["channels"]) == 8
