"""`iomon batch` as a research team runs it: a simulated archive with a corrupt file, real
child processes, a real Dask scheduler and worker, a SIGKILL half-way, and the cohort's
statistics and audit checked against the sidecars and alerts they come from."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tomllib

from conftest import RECORDINGS, open_in_browser, tool
from iomon.batch.cohort import AUDIT_COLUMNS, COHORT_COLUMNS
from iomon.report.outputs import OUTPUT_FILES
from iomon.sim import SHIPPED_MUSCLES, SHORT_SCHEDULE
from iomon.sim.cohort import DEFICIT_SCENARIOS, write_cohort

N_CASES = 6


def run(*args, timeout=600, **kwargs):
    return subprocess.run([sys.executable, "-m", "iomon.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, **kwargs)


def read_csv(path):
    import csv

    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def tree(folder: Path) -> dict:
    """Every file under ``folder`` (hidden ones included) by relative path, as bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def machine_readable(folder: Path) -> dict:
    return {k: v for k, v in tree(folder).items()
            if k.endswith((".csv", ".json")) and not k.startswith(".")}


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """Six simulated cases with [clinical] filled, plus a truncated EDF without a sidecar."""
    folder = tmp_path_factory.mktemp("archive")
    write_cohort(folder / "series", N_CASES, seed=3, muscles=SHIPPED_MUSCLES,
                 schedule=SHORT_SCHEDULE, time_compression=60.0)
    broken = folder / "broken.edf"
    broken.write_bytes((RECORDINGS / "drez_systemic.edf").read_bytes()[:5000])
    return folder


@pytest.fixture(scope="module")
def local_run(archive, tmp_path_factory):
    """The batch on this machine, 2 jobs, tables only (the report is tested on its own)."""
    before = tree(archive)
    out = tmp_path_factory.mktemp("local") / "out"
    proc = run("batch", archive, "--out", out, "--jobs", "2", "--no-report")
    assert tree(archive) == before, "the archive was written to"
    return out, proc


def some_cases(archive, names, tmp_path):
    """A folder holding copies of the archive's cases ``names`` (recording and sidecar)."""
    series = tmp_path / "series"
    series.mkdir()
    for name in names:
        for suffix in (".edf", ".case.toml"):
            shutil.copy(archive / "series" / f"{name}{suffix}", series)
    return series


def test_every_case_analysed_and_the_corrupt_one_named(local_run):
    out, proc = local_run
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("iomon: error")]
    assert errors == [f"iomon: error: 1 of {N_CASES + 1} cases failed (see "
                      f"{out / 'failures.csv'})"]
    assert "Traceback" not in proc.stderr
    failures = read_csv(out / "failures.csv")
    assert [(f["case_id"], f["path"]) for f in failures] == [("broken", "broken.edf")]
    assert "truncated" in failures[0]["reason"] and "\n" not in failures[0]["reason"]
    for index in range(N_CASES):
        case = out / f"P{index + 1:02d}"
        assert {p.name for p in case.iterdir()} == {"measurements.csv", "alerts.json",
                                                    "summary.json", "batch.json",
                                                    "iomon-manifest.json"}
    assert not (out / "broken").exists()
    assert not list(out.glob(".*.partial*"))
    # Without a terminal: one plain line per case, after the count and before the cohort step.
    lines = [line for line in proc.stderr.splitlines() if line.startswith("iomon batch:")]
    assert lines[0] == f"iomon batch: {N_CASES + 1} case(s)"
    assert len([line for line in lines if "iomon batch: [" in line]) == 7
    assert lines[8:] == ["iomon batch: writing the cohort tables and report"], lines


def test_case_outputs_are_what_analyze_writes(local_run, archive, tmp_path):
    out, _ = local_run
    alone = tmp_path / "alone"
    proc = run("analyze", archive / "series" / "P03.edf", "--out", alone, "--no-report")
    assert proc.returncode == 0, proc.stderr
    for name in ("measurements.csv", "alerts.json", "summary.json"):
        assert (out / "P03" / name).read_bytes() == (alone / name).read_bytes(), name


def test_cohort_table_reproduces_the_sidecars(local_run, archive):
    out, _ = local_run
    rows = read_csv(out / "cohort.csv")
    assert tuple(rows[0]) == COHORT_COLUMNS
    assert [r["case_id"] for r in rows] == [f"P{i + 1:02d}" for i in range(N_CASES)]
    sidecars = {p.stem.split(".")[0]: tomllib.loads(p.read_text())
                for p in sorted((archive / "series").glob("*.case.toml"))}
    for row in rows:
        doc = sidecars[row["case_id"]]
        clinical = doc["clinical"]
        assert row["sex"] == clinical["sex"] and int(row["age"]) == clinical["age"]
        assert row["side"] == doc["case"]["side"]
        assert row["new_deficit"] == str(clinical["new_deficit"]).lower()
        expected = 100 * (clinical["vas_pre"] - clinical["vas_post"]) / clinical["vas_pre"]
        assert float(row["vas_reduction_percent"]) == pytest.approx(expected, abs=0.05)
    # The statistics a case series publishes, computed here from the sidecars alone.
    ages = [d["clinical"]["age"] for d in sidecars.values()]
    after = [d["clinical"]["vas_post"] for d in sidecars.values()]
    html = " ".join((out / "cohort.html").read_text().split())
    assert f"mean {np.mean(ages):.1f}, range {min(ages)}-{max(ages)}" in html
    relief = sum(v == 0 for v in after)
    assert f"{relief} of {N_CASES} ({100 * relief / N_CASES:.0f} %)" in html
    males = sum(d["clinical"]["sex"] == "M" for d in sidecars.values())
    assert (f"M {males}" if males else "F") in html
    assert f"{np.mean([d['clinical']['vas_pre'] for d in sidecars.values()]):.1f} ±" in html


def _wilson(k, n):
    p, z = k / n, 1.959963984540054
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return p, centre - half, centre + half


def _case_events(out, case):
    """A case's events from its alerts.json: number to (scope, channels, recovered,
    informational, lead in file s)."""
    events = {}
    for a in json.loads((out / case / "alerts.json").read_text())["alerts"]:
        e = events.setdefault(a["event"], {"scope": a["scope"], "channels": set(),
                                           "recovered": True, "informational": True,
                                           "lead_s": None})
        e["channels"].add(a["channel"])
        e["recovered"] &= a["recovered"]
        e["informational"] &= a["informational"]
        if a["lesioning_end_lead_s"] is not None:
            e["lead_s"] = max(e["lead_s"] or -np.inf, a["lesioning_end_lead_s"])
        if a["scope"] == "focal":
            e["scope"] = "focal"
    return events


def test_audit_scores_the_alerts_against_the_new_deficits(local_run, archive):
    out, _ = local_run
    truth = {p.name.split(".")[0]: json.loads(p.read_text())["scenario"]
             for p in (archive / "series").glob("*.truth.json")}
    deficits = {case: scenario in DEFICIT_SCENARIOS for case, scenario in truth.items()}
    assert sum(deficits.values()) == 2
    positive = {}
    for case in deficits:
        positive[case] = any(e["scope"] in ("focal", "undetermined") and not e["informational"]
                             for e in _case_events(out, case).values())
    audit = read_csv(out / "audit.csv")
    assert tuple(audit[0]) == AUDIT_COLUMNS
    row = next(a for a in audit if a["unit"] == "case" and a["positive_if"] == "a focal event")
    tp = sum(positive[c] and deficits[c] for c in deficits)
    fn = sum(not positive[c] and deficits[c] for c in deficits)
    tn = sum(not positive[c] and not deficits[c] for c in deficits)
    fp = sum(positive[c] and not deficits[c] for c in deficits)
    assert [int(row[k]) for k in ("tp", "fp", "tn", "fn", "n")] == [tp, fp, tn, fn, N_CASES]
    # Wilson's score interval, written out.
    for name, k, n in (("sensitivity", tp, tp + fn), ("specificity", tn, tn + fp)):
        p, low, high = _wilson(k, n)
        assert float(row[name]) == pytest.approx(p, abs=5e-4)
        assert float(row[f"{name}_ci_low"]) == pytest.approx(low, abs=5e-4)
        assert float(row[f"{name}_ci_high"]) == pytest.approx(high, abs=5e-4)


def test_the_audit_splits_reversible_alerts_scores_limbs_and_gives_lead_times(local_run,
                                                                               archive):
    """Issue 21 item 14: reversible apart from unrecovered focal alerts, per side and limb as
    well as per case, and the lead time from first-met to the end of lesioning."""
    out, _ = local_run
    sidecars = {p.stem.split(".")[0]: tomllib.loads(p.read_text())
                for p in sorted((archive / "series").glob("*.case.toml"))}
    audit = read_csv(out / "audit.csv")
    assert {(a["unit"], a["positive_if"]) for a in audit} == {
        (u, r) for u in ("case", "side and limb")
        for r in ("a focal event", "an unrecovered focal event")}
    rows = {r["case_id"]: r for r in read_csv(out / "cohort.csv")}
    case_pairs = {"a focal event": [], "an unrecovered focal event": []}
    limb_pairs = {"a focal event": [], "an unrecovered focal event": []}
    for case, doc in sidecars.items():
        clinical, events = doc["clinical"], _case_events(out, case)
        summary = json.loads((out / case / "summary.json").read_text())
        scale = summary["simulation"]["time_compression"]
        counted = [e for e in events.values() if e["scope"] in ("focal", "undetermined")
                   and not e["informational"]]
        focal = [e for e in events.values() if e["scope"] == "focal" and not e["informational"]]
        row = rows[case]
        # Counted as the case's own report and alerts.json count them: by event (issue 21
        # item 7: "Systemic alerts 7" for a case whose report said "1 systemic event").
        assert int(row["events_systemic"]) == sum(e["scope"] == "systemic"
                                                  and not e["informational"]
                                                  for e in events.values())
        assert int(row["events_focal"]) == len(focal)
        assert int(row["focal_recovered"]) == sum(e["recovered"] for e in focal)
        assert int(row["focal_unrecovered"]) == sum(not e["recovered"] for e in focal)
        leads = [e["lead_s"] for e in counted if e["lead_s"] is not None]
        assert (float(row["lead_time_min"]) == pytest.approx(max(leads) * scale / 60, abs=0.01)
                if leads else row["lead_time_min"] == "")
        limbs = {}  # monitored limb -> its channels
        for ch in summary["channels"]:
            if ch["baseline_present"] and ch["side"] and ch["limb"]:
                limbs.setdefault(f"{ch['side']} {ch['limb']}", set()).add(ch["name"])
        for rule, keep in (("a focal event", counted),
                           ("an unrecovered focal event",
                            [e for e in counted if not e["recovered"]])):
            case_pairs[rule].append((bool(keep), clinical["new_deficit"]))
            for limb, names in limbs.items():
                limb_pairs[rule].append((any(names & e["channels"] for e in keep),
                                         limb in clinical["deficit_limbs"]))
    assert sum(d for _, d in limb_pairs["a focal event"]) == 2  # the two deficit legs
    for unit, pairs in (("case", case_pairs), ("side and limb", limb_pairs)):
        for rule, found in pairs.items():
            row = next(a for a in audit if a["unit"] == unit and a["positive_if"] == rule)
            tp = sum(p and d for p, d in found)
            fp = sum(p and not d for p, d in found)
            assert [int(row[k]) for k in ("n", "tp", "fp")] == [len(found), tp, fp], (unit, rule)
    # The deficits are persistent drops: caught by both rules, with a lead time.
    row = next(a for a in audit if a["unit"] == "case"
               and a["positive_if"] == "an unrecovered focal event")
    assert int(row["tp"]) == 2 and row["lead_time_median_min"] != ""
    html = " ".join((out / "cohort.html").read_text().split())
    assert "an unrecovered focal event" in html and "Lead time of the TP, min" in html


def test_rerun_skips_everything_and_writes_the_same_bytes(local_run, archive, tmp_path):
    out, _ = local_run
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    stamps = {p: p.stat().st_mtime_ns for p in copy.rglob("*.csv")}
    proc = run("batch", archive, "--out", copy, "--no-report", "--quiet")
    assert proc.returncode == 2
    assert f"0 case(s) analysed, {N_CASES} unchanged, 1 failed" in proc.stdout
    assert proc.stderr.count("\n") == 1, "--quiet prints the error line only"
    assert machine_readable(copy) == machine_readable(out)
    for path, stamp in stamps.items():
        if path.parent != copy:
            assert path.stat().st_mtime_ns == stamp, f"{path} was rewritten"
    # A changed sidecar reruns its case only; other criteria rerun every case.
    sidecar = archive / "series" / "P02.case.toml"
    original = sidecar.read_text()
    try:
        sidecar.write_text(original.replace("[clinical]", "[clinical]\n# reviewed again"))
        proc = run("batch", archive, "--out", copy, "--no-report")
        assert f"1 case(s) analysed, {N_CASES - 1} unchanged" in proc.stdout
    finally:
        sidecar.write_text(original)


def test_several_presets_are_audited_from_one_read(archive, tmp_path):
    out = tmp_path / "out"
    series = some_cases(archive, ("P03", "P04"), tmp_path)
    proc = run("batch", series, "--out", out, "--criteria", "drez", "fifty", "--no-report")
    assert proc.returncode == 0, proc.stderr
    audit = read_csv(out / "audit.csv")
    assert [a["criteria"] for a in audit] == ["drez"] * 4 + ["fifty"] * 4
    manifest = json.loads((out / "P04" / "batch.json").read_text())
    assert [p["criteria"] for p in manifest["presets"]] == ["drez", "fifty"]
    assert json.loads((out / "P04" / "alerts.json").read_text())["criteria"] == "drez"
    # The second preset's alerts, counted, are those `analyze --criteria fifty` finds.
    alone = tmp_path / "alone"
    assert run("analyze", series / "P04.edf", "--criteria", "fifty", "--out", alone,
               "--no-report").returncode == 0
    alerts = json.loads((alone / "alerts.json").read_text())["alerts"]
    assert manifest["presets"][1]["events_systemic"] == len(
        {a["event"] for a in alerts if a["scope"] == "systemic" and not a["informational"]})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """A real `dask scheduler` and `dask worker` on 127.0.0.1, as separate processes."""
    pytest.importorskip("distributed", reason="pip install '.[test]' (dask extra)")
    folder = tmp_path_factory.mktemp("dask")
    address = f"tcp://127.0.0.1:{_free_port()}"
    logs = [(folder / name).open("w") for name in ("scheduler.log", "worker.log")]
    scheduler = subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--host",
                                  "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                                  "--no-dashboard"], stdout=logs[0], stderr=logs[0],
                                 cwd=folder)
    worker = subprocess.Popen([sys.executable, "-m", "dask", "worker", address, "--nworkers",
                               "1", "--nthreads", "2", "--no-dashboard", "--memory-limit", "0",
                               "--local-directory", str(folder)], stdout=logs[1],
                              stderr=logs[1], cwd=folder)
    try:
        from dask.distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(1, timeout=120)
        yield address
    finally:
        for process in (worker, scheduler):
            process.terminate()
        for process in (worker, scheduler):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs:
            log.close()


@pytest.mark.slow
def test_dask_cluster_gives_the_local_results_byte_for_byte(local_run, archive, dask_cluster,
                                                             tmp_path):
    out, _ = local_run
    remote = tmp_path / "out"
    proc = run("batch", archive, "--out", remote, "--scheduler", dask_cluster, "--no-report")
    assert proc.returncode == 2, proc.stderr
    assert f"{N_CASES} case(s) analysed" in proc.stdout
    assert machine_readable(remote) == machine_readable(out)
    assert tree(remote)["cohort.pdf"] == tree(out)["cohort.pdf"]


def test_unreachable_scheduler_is_one_line(archive, tmp_path):
    pytest.importorskip("distributed", reason="pip install '.[test]' (dask extra)")
    proc = run("batch", archive, "--out", tmp_path / "out", "--scheduler",
               f"tcp://127.0.0.1:{_free_port()}", timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("iomon: error: cannot reach the Dask scheduler")
    assert proc.stderr.count("\n") == 1


@pytest.mark.slow
def test_sigkill_half_way_then_rerun_leaves_no_corrupt_output(local_run, archive, tmp_path):
    out, _ = local_run
    killed = tmp_path / "out"
    batch = subprocess.Popen([sys.executable, "-m", "iomon.cli", "batch", str(archive),
                              "--out", str(killed), "--jobs", "1", "--no-report"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    while not list(killed.glob("*/batch.json")) and batch.poll() is None:
        time.sleep(0.05)
    # Into the next case: a forked case takes a quarter of a second, so a longer wait could
    # see the whole series end before the kill.
    time.sleep(0.2)
    os.killpg(batch.pid, signal.SIGKILL)
    batch.wait()
    finished = [p.parent for p in killed.glob("*/batch.json")]
    assert 1 <= len(finished) < N_CASES, "the kill did not land half-way"
    for case in killed.iterdir():
        if case.is_dir() and not case.name.startswith("."):
            for name in ("alerts.json", "summary.json"):
                if (case / name).exists():
                    json.loads((case / name).read_text())  # whole, never half-written
    assert not (killed / "cohort.csv").exists()
    proc = run("batch", archive, "--out", killed, "--no-report")
    assert proc.returncode == 2
    assert f"{len(finished)} unchanged" in proc.stdout
    assert machine_readable(killed) == machine_readable(out)
    assert not list(killed.glob(".*.partial*"))


def test_a_case_over_its_time_or_memory_does_not_take_the_batch_down(archive, tmp_path):
    series = some_cases(archive, ("P01",), tmp_path)
    slow = run("batch", series, "--out", tmp_path / "slow", "--case-timeout", "0.5",
               "--no-report")
    assert slow.returncode == 2
    (failure,) = read_csv(tmp_path / "slow" / "failures.csv")
    assert failure["reason"] == "took longer than 0.5 s and was stopped (--case-timeout)"
    small = run("batch", series, "--out", tmp_path / "small", "--case-memory", "0.25",
                "--case-timeout", "120", "--no-report")
    assert small.returncode == 2
    (failure,) = read_csv(tmp_path / "small" / "failures.csv")
    assert "memory" in failure["reason"] or "killed" in failure["reason"]
    assert read_csv(tmp_path / "small" / "cohort.csv") == []


def test_bad_archives_are_refused_in_one_line(archive, tmp_path):
    missing = run("batch", tmp_path / "nowhere", "--out", tmp_path / "o1")
    assert missing.returncode == 2
    assert missing.stderr == f"iomon: error: {tmp_path / 'nowhere'}: archive not found\n"
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no recordings here")
    empty = run("batch", tmp_path / "empty", "--out", tmp_path / "o2")
    assert empty.returncode == 2 and "holds no case" in empty.stderr
    assert empty.stderr.count("\n") == 1
    # Two cases with one id: refused before any work, both paths named.
    twins = tmp_path / "twins"
    for sub in ("a", "b"):
        (twins / sub).mkdir(parents=True)
        for suffix in (".edf", ".case.toml"):
            shutil.copy(archive / "series" / f"P01{suffix}", twins / sub / f"x{suffix}")
    proc = run("batch", twins, "--out", tmp_path / "o3")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert str(twins / "a" / "x.edf") in proc.stderr and str(twins / "b" / "x.edf") in proc.stderr
    assert not (tmp_path / "o3" / "P01").exists()


def test_a_bad_sidecar_fails_its_case_only(archive, tmp_path):
    series = some_cases(archive, ("P01", "P02"), tmp_path)
    sidecar = series / "P02.case.toml"
    sidecar.write_text(sidecar.read_text().replace("[clinical]", "[clinical]\nbmi = 24"))
    (series / "orphan.case.toml").write_text('[case]\nid = "lonely"\n')
    proc = run("batch", series, "--out", tmp_path / "out", "--no-report")
    assert proc.returncode == 2
    failures = {f["path"]: f["reason"] for f in read_csv(tmp_path / "out" / "failures.csv")}
    assert set(failures) == {"P02.edf", "orphan.case.toml"}
    assert "P02.case.toml" in failures["P02.edf"] and "bmi" in failures["P02.edf"]
    assert [r["case_id"] for r in read_csv(tmp_path / "out" / "cohort.csv")] == ["P01"]


def test_simulated_cohort_is_a_seeded_series(tmp_path):
    proc = run("simulate", "--cohort", "3", "--out", tmp_path / "a", "--seed", "7")
    assert proc.returncode == 0, proc.stderr
    again = run("simulate", "--cohort", "3", "--out", tmp_path / "b", "--seed", "7")
    assert again.returncode == 0
    a, b = tree(tmp_path / "a"), tree(tmp_path / "b")
    assert sorted(a) == sorted(f"P0{i}{s}" for i in (1, 2, 3)
                               for s in (".edf", ".case.toml", ".truth.json"))
    assert a == b
    doc = tomllib.loads(a["P01.case.toml"].decode())
    assert set(doc["clinical"]) == {"sex", "age", "etiology", "surgery_date", "vas_pre",
                                    "vas_post", "analgesics_post", "complications",
                                    "new_deficit", "deficit_limbs"}
    assert doc["clinical"]["deficit_limbs"] == ([f"{doc['case']['side']} lower"]
                                                if doc["clinical"]["new_deficit"] else [])
    assert run("simulate", "--cohort", "2", "--scenario", "loss", "--out",
               tmp_path / "c").returncode == 2


def test_cohort_report_with_case_reports(archive, tmp_path):
    """The default batch writes each case's report and a cohort report a reader can open."""
    series = some_cases(archive, ("P03", "P04"), tmp_path)
    out = tmp_path / "out"
    proc = run("batch", series, "--out", out, "--jobs", "2")
    assert proc.returncode == 0, proc.stderr
    assert set(OUTPUT_FILES) <= {p.name for p in (out / "P03").iterdir()}
    seen = open_in_browser(out / "cohort.html", tmp_path / "cohort.png")
    assert seen["problems"] == []
    assert len(seen["images"]) == 3 and all(ok and w > 0 for ok, w, _ in seen["images"])
    assert seen["width"] <= 800
    pdftotext = tool("pdftotext")
    text = subprocess.run([pdftotext, "-layout", str(out / "cohort.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    pages = text.split("\f")[:-1]
    for number, page in enumerate(pages, start=1):
        assert f"page {number} of {len(pages)}" in page
    flat = " ".join(text.split())
    for words in ("Case series: 2 case(s)", "Patients", "Monitoring", "Alert audit",
                  "Wilson", "P03", "P04", "±"):
        assert words in flat, words
    # Issue 21 item 7: the caption's vermillion case ids were printed in black in the PDF; the
    # leg trend's axis said seconds where its caption said minutes.
    xml = subprocess.run([tool("pdftohtml"), "-xml", "-i", "-stdout", str(out / "cohort.pdf")],
                         capture_output=True, text=True, check=True).stdout
    fonts = dict(re.findall(r'<fontspec id="(\d+)" [^>]*color="(#[0-9a-f]+)"', xml))
    families = set(re.findall(r'<fontspec [^>]*family="([^"]+)"', xml))
    assert all("DejaVu" in f for f in families), families  # every font embedded
    cells = re.findall(r'<text [^>]*font="(\d+)"[^>]*>(?:<b>)?(P0[34])(?:</b>)?</text>', xml)
    deficit = {r["case_id"]: r["new_deficit"] == "true" for r in read_csv(out / "cohort.csv")}
    assert cells and {case for _, case in cells} == {"P03", "P04"}
    for font, case in cells:
        assert (fonts[font] == "#b34700") == deficit[case], case
    assert "Vermillion case ids: a new deficit" in flat
    svg = (out / "cohort-figures" / "trend.svg").read_text()
    assert "minutes of surgery from the start of lesioning" in svg
    assert "minutes of surgery from the start of lesioning" in flat
    # A simulated series says so on every page.
    for number, page in enumerate(pages, start=1):
        assert "SYNTHETIC SERIES" in " ".join(page.split()), number


def run_in_terminal(*args, env=None) -> tuple[int, list[str]]:
    """``iomon ARGS`` with its stderr on a pseudo-terminal (100 columns), as a user sees it.

    Returns the exit status and the frames drawn on the terminal (text between carriage
    returns and newlines).
    """
    import fcntl
    import pty
    import re
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    process = subprocess.Popen([sys.executable, "-m", "iomon.cli", *map(str, args)],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:  # the terminal's other end closed: the command ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    text = b"".join(chunks).decode("utf-8", "replace")
    return process.wait(), [f for f in re.split(r"[\r\n]+", text) if f.strip()]


#: A hook (a ``sitecustomize`` module) that makes every case of a batch take
#: ``IOMON_TEST_CASE_DELAY_S`` longer: a case analysed in a tenth of a second ends before a
#: progress bar's clock could show it running.
SLOW_CASES = """
import os

if os.environ.get("IOMON_TEST_CASE_DELAY_S"):
    import time

    import iomon.batch.run as run

    _analyse = run.analyse_case

    def _slowly(job, key):
        time.sleep(float(os.environ["IOMON_TEST_CASE_DELAY_S"]))
        return _analyse(job, key)

    run.analyse_case = _slowly
"""


def test_progress_bar_from_the_start_per_case_its_clock_running_and_the_cohort_step(
        archive, tmp_path):
    """The bar appeared about 6 s late (at the first case's end), its clock stood still
    between cases, and the cohort report was written silently after 100 %."""
    import re

    series = some_cases(archive, ("P01", "P02"), tmp_path)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SLOW_CASES)
    env = dict(os.environ, IOMON_TEST_CASE_DELAY_S="1.5", PYTHONPATH=os.pathsep.join(
        filter(None, [str(hook), os.environ.get("PYTHONPATH")])))
    code, frames = run_in_terminal("batch", series, "--out", tmp_path / "out", "--jobs", "1",
                                   "--no-report", env=env)
    assert code == 0, frames
    bars = [(int(m[1]), m[2], f) for f in frames
            if (m := re.search(r"(\d)/2 \[(\d\d:\d\d)", f))]
    assert bars and bars[0][0] == 0, frames[:3]
    counts = [done for done, _, _ in bars]
    assert counts == sorted(counts) and set(counts) == {0, 1, 2}, counts
    # The clock runs while no case ends: the bar at 0 of 2 is redrawn as time passes.
    assert len({clock for done, clock, _ in bars if done == 0}) >= 2, frames
    cohort = [i for i, (_, _, f) in enumerate(bars) if "writing the cohort" in f]
    assert cohort and all(bars[i][0] == 2 for i in cohort), frames


def test_a_users_files_in_the_batch_folder_are_refused_then_kept(archive, tmp_path):
    """Issue 21, item 1: iomon never deletes or overwrites a file it did not write."""
    series = some_cases(archive, ("P01",), tmp_path)
    out = tmp_path / "out"
    assert run("batch", series, "--out", out, "--no-report", "--quiet").returncode == 0
    (out / "P01" / "notes.txt").write_text("mine\n")
    (out / "my_plot.png").write_bytes(b"mine")
    refused = run("batch", series, "--out", out, "--no-report")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert "P01/notes.txt, my_plot.png" in refused.stderr and "--force" in refused.stderr
    (series / "P01.case.toml").write_text((series / "P01.case.toml").read_text() + "\n")
    forced = run("batch", series, "--out", out, "--no-report", "--quiet", "--force")
    assert forced.returncode == 0 and "1 case(s) analysed" in forced.stdout, forced.stderr
    assert (out / "P01" / "notes.txt").read_text() == "mine\n"
    assert (out / "my_plot.png").read_bytes() == b"mine"
    # The cohort's files are replaced whole: one of the user's there is refused before any case.
    (out / "cohort-figures" / "my_figure.svg").write_text("mine\n")
    again = run("batch", series, "--out", out, "--no-report", "--force")
    assert again.returncode == 2 and "cohort-figures/my_figure.svg in it is not a file iomon" \
        " wrote" in again.stderr, again.stderr
    assert (out / "cohort-figures" / "my_figure.svg").read_text() == "mine\n"
