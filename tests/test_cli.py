"""The command line, run as users run it: a real subprocess on real files."""

import hashlib
import json
import subprocess
import sys

import pandas as pd
import pytest

from conftest import RECORDINGS
from iomon.results import MEASUREMENT_COLUMNS
from iomon.sim import read_truth


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "iomon.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def analysed(small_case, tmp_path_factory):
    sim, path = small_case
    out = tmp_path_factory.mktemp("cli") / "out"
    proc = run("analyze", path, "--out", out)
    assert proc.returncode == 0, proc.stderr
    return sim, path, out, proc


def test_analyze_writes_the_contract_files(analysed):
    sim, path, out, proc = analysed
    assert {p.name for p in out.iterdir()} == {"report.html", "report.pdf", "measurements.csv",
                                             "alerts.json", "summary.json", "figures",
                                             "iomon-manifest.json"}
    manifest = json.loads((out / "iomon-manifest.json").read_text())
    written = {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
               for p in out.rglob("*") if p.is_file() and p.name != "iomon-manifest.json"}
    assert manifest["files"] == written and manifest["case_id"] == sim.case.id
    table = pd.read_csv(out / "measurements.csv")
    assert tuple(table.columns) == MEASUREMENT_COLUMNS
    n_sweeps = len(sim.truth.sweeps.onset_s)
    assert len(table) == n_sweeps * len(sim.channels)
    assert table["sweep"].max() == n_sweeps - 1
    assert table["time_s"].is_monotonic_increasing
    assert set(table["phase"]) == {"pre-lesioning", "lesioning", "post-lesioning"}
    alerts = json.loads((out / "alerts.json").read_text())
    assert set(alerts) == {"case_id", "criteria", "iomon_version", "alerts"}
    assert alerts["criteria"] == "drez" and alerts["case_id"] == sim.case.id
    summary = json.loads((out / "summary.json").read_text())
    for key in ("case_id", "iomon_version", "input_sha256", "criteria", "n_sweeps",
                "n_rejected", "phases", "channels"):
        assert key in summary
    assert summary["n_sweeps"] == n_sweeps
    assert summary["input_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    deltoid = next(c for c in summary["channels"] if c["name"] == "L Deltoid")
    assert deltoid["baseline_present"] is False and deltoid["baseline_amplitude_uv"] is None
    assert {"name", "muscle", "side", "limb", "role", "baseline_present",
            "baseline_amplitude_uv", "baseline_latency_ms",
            "final_percent_of_baseline"} <= set(deltoid)
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "src=\"figures" not in html
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF")
    assert sorted(p.name for p in (out / "figures").iterdir()) == sorted(
        f"{name}.{kind}" for name in ("trend", "overlay", "latency", "waveforms")
        for kind in ("png", "svg"))
    # The command line counts alerts as the report's heading and alerts.json do: by event.
    alerts = json.loads((out / "alerts.json").read_text())["alerts"]
    events = len({a["event"] for a in alerts})
    assert (f"alerts: {events} event" in proc.stdout and f"{len(alerts)} alert episode"
            in proc.stdout) if alerts else "alerts: none" in proc.stdout


def test_patient_identifiers_only_with_identify(analysed, tmp_path):
    _, path, out, _ = analysed
    assert "Synthetic_Patient" not in (out / "report.html").read_text()
    proc = run("analyze", path, "--out", tmp_path / "id", "--identify")
    assert proc.returncode == 0, proc.stderr
    assert "Synthetic_Patient" in (tmp_path / "id" / "report.html").read_text()


def test_no_report_writes_tables_only(small_case, tmp_path):
    _, path = small_case
    proc = run("analyze", path, "--out", tmp_path / "o", "--no-report", "--criteria", "jssr70")
    assert proc.returncode == 0, proc.stderr
    assert {p.name for p in (tmp_path / "o").iterdir()} == {"measurements.csv", "alerts.json",
                                                          "summary.json", "iomon-manifest.json"}
    assert json.loads((tmp_path / "o" / "alerts.json").read_text())["criteria"] == "jssr70"


def test_bad_input_exits_2_with_one_line_and_writes_nothing(small_case, tmp_path):
    _, good = small_case
    (tmp_path / "fake.edf").write_text("not an edf")
    (tmp_path / "trunc.edf").write_bytes(good.read_bytes()[:100_000])
    sidecar = good.with_name(good.stem + ".case.toml").read_text()
    (tmp_path / "missing.case.toml").write_text(sidecar.replace('"L TA"', '"L XX"'))
    (tmp_path / "invalid.case.toml").write_text(sidecar.replace('side = "left"',
                                                                'side = "middle"', 1))
    import numpy as np
    from edfio import Edf, EdfSignal

    Edf([EdfSignal(np.zeros(5000), 1000, label="L TA", physical_dimension="uV",
                   physical_range=(-10, 10))]).write(tmp_path / "nostim.edf")
    # Criteria files are read within the sidecar's limits: deep nesting, nan.
    (tmp_path / "deep.toml").write_text("[criteria]\nx = " + "[" * 1000 + "]" * 1000 + "\n")
    (tmp_path / "nan.toml").write_text('[criteria]\nname = "n"\namplitude_drop_percent = nan\n')
    attempts = {
        "missing file": (tmp_path / "absent.edf",),
        "not an EDF": (tmp_path / "fake.edf",),
        "truncated": (tmp_path / "trunc.edf",),
        "no stimuli": (tmp_path / "nostim.edf",),
        "lacks": (good, "--case", tmp_path / "missing.case.toml"),
        "case.side": (good, "--case", tmp_path / "invalid.case.toml"),
        "unknown criteria": (good, "--criteria", "nope"),
        "nest deeper": (good, "--criteria", tmp_path / "deep.toml"),
        "numbers must be finite": (good, "--criteria", tmp_path / "nan.toml"),
    }
    for expected, args in attempts.items():
        out = tmp_path / f"out-{expected.replace(' ', '_')}"
        proc = run("analyze", *args, "--out", out)
        assert proc.returncode == 2, (expected, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert (expected in lines[0]) or (expected == "missing file" and "not found" in lines[0])
        assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_info_and_criteria(small_case):
    _, path = small_case
    proc = run("info", path)
    assert proc.returncode == 0, proc.stderr
    for text in ("EDF+C", "edfio", "L TA", "muscle TA", "side left", "lesioning",
                 "DREZ lesioning start", "5000 Hz", "-10.0 to 100.0 ms"):
        assert text in proc.stdout
    proc = run("criteria")
    assert proc.returncode == 0
    for name in ("drez", "fifty", "jssr70", "macdonald2017", "drez-cusum", "Son", "Kobayashi",
                 "Page", "cusum_false_alarm_rate"):
        assert name in proc.stdout
    # The scope rules every preset shares, once; the sequential test's focal rule among them.
    assert proc.stdout.count("Scope of an alert") == 1 and proc.stdout.count("Source:") == 5
    assert "the sequential test found" in proc.stdout
    for kind in ("amplitude", "loss", "threshold", "latency", "morphology"):
        assert f"\n  {kind}: " in proc.stdout


def test_simulate_writes_recording_sidecar_and_truth(tmp_path):
    proc = run("simulate", "--out", tmp_path, "--scenario", "loss", "--seed", "4",
               "--time-compression", "60")
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["SIM-loss-4.case.toml", "SIM-loss-4.edf", "SIM-loss-4.truth.json"]
    truth = json.loads((tmp_path / "SIM-loss-4.truth.json").read_text())
    assert truth["scenario"] == "loss" and truth["seed"] == 4
    assert run("simulate", "--out", tmp_path, "--scenario", "asteroid").returncode == 2


def test_help_lists_the_commands():
    proc = run("--help")
    assert proc.returncode == 0
    for command in ("demo", "analyze", "info", "simulate", "criteria"):
        assert command in proc.stdout


@pytest.mark.parametrize("stem", ["drez_focal_recovering", "drez_systemic"])
def test_shipped_recordings_give_what_their_truth_says(stem, tmp_path):
    from conftest import RECORDINGS

    recording = RECORDINGS / f"{stem}.edf"
    truth = read_truth(RECORDINGS / f"{stem}.truth.json")
    proc = run("analyze", recording, "--out", tmp_path / "o", "--no-report")
    assert proc.returncode == 0, proc.stderr
    alerts = json.loads((tmp_path / "o" / "alerts.json").read_text())["alerts"]
    focal = sorted({a["channel"] for a in alerts if a["scope"] == "focal"})
    assert focal == list(truth.focal_channels)
    if truth.systemic_expected:
        assert alerts and all(a["scope"] == "systemic" for a in alerts)


def test_every_real_file_through_the_command_line(realdata, tmp_path):
    """Other people's files: analysed (exit 0) or refused in one line (exit 2), never a crash."""
    from iomon.io import READERS

    suffixes = {e for r in READERS for e in r.extensions}
    files = sorted(p for p in realdata.rglob("*") if p.suffix.lower() in suffixes)
    assert len(files) >= 21
    codes = {}
    for path in files:
        out = tmp_path / path.name
        proc = run("analyze", path, "--out", out, "--no-report")
        assert proc.returncode in (0, 2), (path.name, proc.stderr)
        assert "Traceback" not in proc.stderr
        if proc.returncode == 2:
            assert len(proc.stderr.strip().splitlines()) == 1 and str(path) in proc.stderr
            assert not out.exists()
        else:
            assert (out / "summary.json").exists()
        codes[path.name] = proc.returncode
    assert codes["test.vhdr"] == 0 and codes["wcp-file.wcp"] == 0 and codes["test.bdf"] == 0


def info_lines(path) -> tuple[list[str], list[str]]:
    """``iomon info``'s lines (it must exit 0 with nothing on stderr), and the notes on what
    would stop an analysis."""
    proc = run("info", path)
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
    lines = proc.stdout.splitlines()
    return lines, [line.split(": ", 2)[2] for line in lines
                   if line.startswith("note: an analysis would stop: ")]


def test_info_on_a_readable_file_says_what_would_stop_an_analysis(realdata, tmp_path):
    """CED's test_file.cfs (100 Hz, sweeps from 0 ms): info printed the format, duration and
    sweeps, then exited 2 on processing.noise_window_ms. Its sweeps hold no time before the
    stimulus, but 2.5 s after it: the noise can be measured there; 100 Hz is too slow."""
    path = realdata / "cfs" / "test_file.cfs"
    lines, stops = info_lines(path)
    assert "sweeps:     3, 0.0 to 2550.0 ms around each stimulus, 100 Hz" in lines
    assert any(line.startswith("phases:") for line in lines)
    assert [s.split(":")[0] for s in stops] == ["sampled at 100 Hz"]
    analysed = run("analyze", path, "--no-report", "--out", tmp_path / "out")
    assert analysed.returncode == 2 and stops[0] in analysed.stderr


def test_info_on_a_table_without_pre_stimulus_samples(tmp_path):
    """The same without the real file: a 500 Hz sweep table from 0 to 60 ms of a tibialis,
    whose response window runs to 65 ms: neither before the stimulus nor after its response
    is there room for the noise window."""
    times = [f"{t:.0f}" for t in range(0, 61, 2)]
    rows = [",".join(["sweep", "channel", "onset_s"] + times)]
    rows += [",".join([str(s), "L TA", str(s * 2.0)] + ["1.0"] * len(times)) for s in range(3)]
    path = tmp_path / "slow.csv"
    path.write_text("\n".join(rows) + "\n")
    lines, stops = info_lines(path)
    assert "sweeps:     3, 0.0 to 60.0 ms around each stimulus, 500 Hz" in lines
    assert len(stops) == 2 and stops[0].startswith("sampled at 500 Hz")
    assert "leave no span to measure the noise" in stops[1]


def test_a_sidecar_entry_is_named_by_its_channel_and_counted_from_one(tmp_path):
    """It read "channels[4].role must be one of test, control": counted from 0, unnamed."""
    recording = RECORDINGS / "drez_systemic.edf"
    names = ["L Deltoid", "L APB", "L TA", "L AH", "R TA"]
    entries = "".join(f'[[channels]]\nname = "{n}"\n' for n in names)
    sidecar = tmp_path / "bad.case.toml"
    sidecar.write_text(entries + 'role = "at risk"\n')
    proc = run("info", recording, "--case", sidecar)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert f"{sidecar}: [[channels]] entry 5 ('R TA'): role must be one of test, control, " \
        "got 'at risk'" in proc.stderr


@pytest.mark.parametrize("name, content", [("hello.txt", "hello world\nsecond line\n"),
                                           ("notes.xyz", "hello\n")])
def test_a_file_that_is_no_recording_is_said_so(tmp_path, name, content):
    """A .txt got "no 'sweep' column (columns: hello world...)"."""
    path = tmp_path / name
    path.write_text(content)
    proc = run("info", path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert f"{path}: not a recording iomon reads (" in proc.stderr
    from iomon.io import formats_text

    assert f"formats: {formats_text()}" in proc.stderr and "EDF/BDF" in proc.stderr


def test_demo_simulates_and_reports(tmp_path):
    proc = run("demo", "--out", tmp_path / "demo")
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "demo"
    assert (out / "report.html").exists() and (out / "recording" / "demo.edf").exists()
    alerts = json.loads((out / "alerts.json").read_text())["alerts"]
    truth = read_truth(out / "recording" / "demo.truth.json")
    focal = {a["channel"] for a in alerts if a["scope"] == "focal" and not a["informational"]}
    assert focal == set(truth.focal_channels)


def test_processing_settings_from_the_sidecar_are_used_and_recorded(small_case, tmp_path):
    """Issue 9: band, artefact span, noise window and presence settable in [processing]."""
    _, good = small_case
    sidecar = good.with_name(good.stem + ".case.toml").read_text()
    custom = tmp_path / "custom.case.toml"
    custom.write_text(sidecar + '\n[processing]\nband_hz = [5, 1000]\nartefact_ms = [-1, 11]\n'
                      'noise_window_ms = [-8, -2]\npresence_uv = 50\n'
                      'presence_noise_ratio = 15\nonset_method = "changepoint"\n')
    out = tmp_path / "custom"
    proc = run("analyze", good, "--case", custom, "--out", out, "--no-report")
    assert proc.returncode == 0, proc.stderr
    settings = json.loads((out / "summary.json").read_text())["settings"]
    assert settings["band_hz"] == [5.0, 1000.0]
    assert settings["artefact"] == "set" and settings["artefact_blanked_ms"] == [-1.0, 11.0]
    assert settings["noise_window_ms"] == [-8.0, -2.0]
    assert (settings["presence_uv"], settings["presence_noise_ratio"]) == (50.0, 15.0)
    assert settings["onset_method"] == "changepoint"
    plain = tmp_path / "none"
    (tmp_path / "none.case.toml").write_text(sidecar + '\n[processing]\nband_hz = "none"\n'
                                             'artefact_ms = "none"\n')
    proc = run("analyze", good, "--case", tmp_path / "none.case.toml", "--out", plain,
               "--no-report")
    assert proc.returncode == 0, proc.stderr
    settings = json.loads((plain / "summary.json").read_text())["settings"]
    assert settings["band_hz"] is None and settings["artefact"] == "none"
    assert settings["artefact_blanked_ms"] is None
    default = json.loads(run_json(good, tmp_path / "default"))["settings"]
    assert default["band_hz"] == [2.0, 1500.0] and default["artefact"] == "found in the data"
    assert default["stimulus_pulses"] == 5 and default["stimulus_isi_ms"] == 2.0
    assert default["onset_method"] == "threshold"


def run_json(recording, out):
    proc = run("analyze", recording, "--out", out, "--no-report")
    assert proc.returncode == 0, proc.stderr
    return (out / "summary.json").read_text()


@pytest.mark.parametrize("table, key", [
    ("band_hz = [1500, 10]", "processing.band_hz"),
    ("band_hz = [10, 3000]", "processing.band_hz"),      # above Nyquist at 5 kHz
    ("band_hz = [0, 100]", "processing.band_hz"),
    ("band_hz = \"off\"", "processing.band_hz"),
    ("artefact_ms = [2, -1]", "processing.artefact_ms"),
    ("artefact_ms = [-20, 200]", "processing.artefact_ms"),  # longer than the sweep
    ("noise_window_ms = [-8, 3]", "processing.noise_window_ms"),
    ("noise_window_ms = [-80, -50]", "processing.noise_window_ms"),  # before the sweep
    ("presence_uv = -3", "processing.presence_uv"),
    ("presence_uv = \"thirty\"", "processing.presence_uv"),
    ("presence_noise_ratio = nan", "processing.presence_noise_ratio"),
    ("baseline_sweeps = 0", "processing.baseline_sweeps"),
    ("onset_method = \"eyeball\"", "processing.onset_method"),
    ("onset_method = 3", "processing.onset_method"),
    ("wobble = 1", "'wobble'"),
])
def test_bad_processing_settings_exit_2_naming_file_and_key(small_case, tmp_path, table, key):
    _, good = small_case
    sidecar = tmp_path / "bad.case.toml"
    sidecar.write_text(good.with_name(good.stem + ".case.toml").read_text()
                       + f"\n[processing]\n{table}\n")
    out = tmp_path / "out"
    proc = run("analyze", good, "--case", sidecar, "--out", out)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.case.toml" in lines[0] and key in lines[0], lines
    assert not out.exists()
