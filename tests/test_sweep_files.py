"""A case exported as one EDF+D file per sweep (the inomed ISIS layout, issue 19): written by
iomon.sim's writer of that layout, read back as one case and checked against the simulator."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from iomon.case.sidecar import load_case
from iomon.io import read
from iomon.io.base import read_options
from iomon.model.errors import InputError
from iomon.sim.writing import write_sweep_files
from test_readers import check_recording

PRE = (-0.010, 0.100)        # sweeps with 10 ms before the stimulus
AT_STIMULUS = (0.0, 0.150)   # sweeps that start at the first pulse, as inomed's do


def run(*args):
    return subprocess.run([sys.executable, "-m", "iomon.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def folder(small_case, tmp_path_factory):
    sim = small_case[0]
    return sim, write_sweep_files(sim, tmp_path_factory.mktemp("sweeps") / "P07", PRE)


@pytest.fixture(scope="module")
def at_stimulus(small_case, tmp_path_factory):
    sim = small_case[0]
    return sim, write_sweep_files(sim, tmp_path_factory.mktemp("sweeps") / "P08", AT_STIMULUS)


def _windows(sim, window_s):
    """What the simulator rendered in each sweep's window: (n_sweeps, n_channels, n), V."""
    sfreq = sim.sfreq
    first = int(round(window_s[0] * sfreq))
    n = int(round((window_s[1] - window_s[0]) * sfreq))
    starts = np.round(sim.truth.sweeps.onset_s * sfreq).astype(int) + first
    return np.stack([sim.signals[:, s:s + n] for s in starts]), starts


def test_the_layout_is_inomeds(folder):
    sim, path = folder
    files = sorted(path.glob("*.edf"))
    assert len(files) == len(sim.truth.sweeps.onset_s)
    name = files[0].name
    assert name[:8] == "20240101" and name[8] == "_" and name[15] == "_"
    assert ".MEPt_" in name and len(name.split("MEPt_")[1]) == len("12345678-1234-1234-1234-"
                                                                   "123456789012.edf")
    raw = files[0].read_bytes()
    assert raw[8:23] == b"X X X Anonymous" and raw[192:197] == b"EDF+D"
    assert int(raw[236:244]) == 1  # one data record
    # The record's onset after the header's start (a whole second) is its time-keeping TAL.
    assert b"+0.74\x14\x14" in raw[-200:]
    assert b"TcMEP" not in raw  # no stimulus annotation
    # The same seed gives the same names (uuids drawn from the case's seed).
    again = write_sweep_files(sim, path.parent / "again", PRE)
    assert sorted(p.name for p in again.glob("*.edf")) == [f.name for f in files]


def test_folder_reads_as_the_simulated_case(folder):
    sim, path = folder
    case = load_case(path)
    assert case.source == path / "case.toml" and case.id == sim.case.id
    assert case.read_options.stimulus_s == pytest.approx(0.010)
    recording = read(path, case.read_options)
    check_recording(recording)
    sweeps = recording.sweeps
    expected, starts = _windows(sim, PRE)
    assert sweeps.n_sweeps == len(starts) and sweeps.ch_names == [c.name for c in sim.channels]
    assert recording.format.startswith("EDF+ sweep files")
    np.testing.assert_allclose(sweeps.times, (np.arange(550) - 50) / sim.sfreq, atol=1e-12)
    # Times count from the first file's start (08:00:00 here, the simulation's zero): each
    # stimulus lands on the sample the simulator put it on.
    zero = math.floor(starts[0] / sim.sfreq)
    np.testing.assert_allclose(sweeps.table["onset_s"] + zero, sim.truth.sweeps.onset_s,
                               atol=0.5 / sim.sfreq + 1e-9)
    # Values: the simulator's signal through each file's 16-bit range in mV.
    step = np.ptp(expected, axis=2, keepdims=True) * 1.003 / 65535
    assert np.all(np.abs(sweeps.data - expected) <= step / 2 + 1e-9)
    # Phase and baseline markers travel in the files, on the recording's clock.
    texts = {a.text: a.onset_s for a in recording.annotations}
    marks = {a.text: a.onset_s for a in sim.annotations if not a.text.startswith("TcMEP")}
    assert set(texts) == set(marks)
    for text, onset in marks.items():
        assert texts[text] + zero == pytest.approx(onset, abs=1e-6)
    assert recording.patient == "X X X Anonymous"


def test_a_sweep_file_alone_is_one_sweep_at_its_record_onset(folder):
    """A one-record EDF+D file is EDF+D (no gap shows it) and one sweep, read alone too."""
    sim, path = folder
    files = sorted(path.glob("*.edf"))
    whole = read(path, load_case(path).read_options)
    for k in (0, 7):
        alone = read(files[k], read_options({"stimulus_s": 0.01}))
        check_recording(alone)
        assert alone.format.startswith("EDF+D") and alone.sweeps.n_sweeps == 1
        # Counted from its own header's start: the record onset (a fraction of a second)
        # plus the 10 ms before the stimulus.
        onset = whole.sweeps.table["onset_s"][k]
        assert alone.sweeps.table["onset_s"][0] == pytest.approx(onset - math.floor(onset - 0.01))
        np.testing.assert_array_equal(alone.sweeps.data[0], whole.sweeps.data[k])
    # Without the sidecar, the stimulus is found at the artefact 10 ms in.
    alone = read(files[3])
    assert alone.sweeps.times[0] == pytest.approx(-0.010)


def test_sweeps_that_start_at_the_stimulus_have_times_from_zero(at_stimulus):
    sim, path = at_stimulus
    assert "stimulus_s" not in (path / "case.toml").read_text()  # found on the artefact
    recording = read(path)
    check_recording(recording)
    sweeps = recording.sweeps
    assert sweeps.times[0] == 0.0 and sweeps.data.shape[2] == 750
    assert any("start on the stimulus artefact" in note for note in recording.notes)
    expected, starts = _windows(sim, AT_STIMULUS)
    step = np.ptp(expected, axis=2, keepdims=True) * 1.003 / 65535
    assert np.all(np.abs(sweeps.data - expected) <= step / 2 + 1e-9)
    zero = math.floor(starts[0] / sim.sfreq)
    np.testing.assert_allclose(sweeps.table["onset_s"] + zero, sim.truth.sweeps.onset_s,
                               atol=0.5 / sim.sfreq + 1e-9)
    # [recording] stimulus_s still wins.
    moved = read(path, read_options({"stimulus_s": 0.002}))
    assert moved.sweeps.times[0] == pytest.approx(-0.002)


def test_saturating_channels_are_kept_as_recorded(small_case, tmp_path):
    """A fixed ±2.5 mV range, as inomed's amplifier: the artefact saturates and stays so."""
    sim = small_case[0]
    path = write_sweep_files(sim, tmp_path / "sat", AT_STIMULUS, range_mv=2.5)
    recording = read(path)
    check_recording(recording)
    assert recording.sweeps.times[0] == 0.0
    assert np.abs(recording.sweeps.data).max() <= 2.5e-3 + 1e-9
    expected, _ = _windows(sim, AT_STIMULUS)
    assert np.abs(expected).max() > 2.5e-3  # the simulated artefact exceeds the range


def test_info_on_a_folder(folder):
    sim, path = folder
    proc = run("info", path)
    assert proc.returncode == 0, proc.stderr
    assert "EDF+ sweep files" in proc.stdout
    assert f"sweeps:     {len(sim.truth.sweeps.onset_s)}, -10.0 to 99.8 ms" in proc.stdout
    assert f"sidecar: {path / 'case.toml'}" in proc.stdout


def test_analyze_a_folder_end_to_end(folder, tmp_path):
    sim, path = folder
    out = tmp_path / "out"
    proc = run("analyze", path, "--out", out, "--no-report")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_sweeps"] == len(sim.truth.sweeps.onset_s)
    assert summary["case_id"] == sim.case.id
    from iomon.pipeline import file_sha256

    assert summary["input_sha256"] == file_sha256(path)
    # The simulated truth: the deltoid of the avulsed side gives no response, the others do.
    truth = {c.name: c.present for c in sim.truth.channels}
    for channel in summary["channels"]:
        assert channel["baseline_present"] == truth[channel["name"]], channel["name"]
    phases = {p["name"] for p in summary["phases"]}
    assert {"pre-lesioning", "lesioning", "post-lesioning"} <= phases


def test_analyze_sweeps_that_start_at_the_stimulus(at_stimulus, tmp_path):
    """No pre-stimulus sample: the noise is measured after the responses, and every muscle of
    an avulsed root is still absent at baseline."""
    sim, path = at_stimulus
    out = tmp_path / "out"
    proc = run("analyze", path, "--out", out, "--no-report")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["noise_window_source"] == "after the responses"
    assert summary["n_sweeps"] == len(sim.truth.sweeps.onset_s)
    truth = {c.name: c.present for c in sim.truth.channels}
    for channel in summary["channels"]:
        assert channel["baseline_present"] == truth[channel["name"]], channel["name"]


# ------------------------------------------------------------------ refusals, one line each
def _copy(folder, tmp_path, name="copy"):
    import shutil

    target = tmp_path / name
    shutil.copytree(folder, target)
    return target


def _refused(path, match, options=None):
    with pytest.raises(InputError, match=match) as info:
        read(path, options)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_a_folder_without_sweep_files(tmp_path):
    (tmp_path / "notes.txt").write_text("nothing here")
    text = _refused(tmp_path, "holds no sweep files")
    assert str(tmp_path) in text
    proc = run("analyze", tmp_path, "--out", tmp_path / "out")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "holds no sweep files" in proc.stderr


def test_a_damaged_sweep_file_is_named(folder, tmp_path):
    path = _copy(folder[1], tmp_path)
    victim = sorted(path.glob("*.edf"))[5]
    victim.write_bytes(victim.read_bytes()[:-300])
    text = _refused(path, "truncated")
    assert victim.name in text
    proc = run("info", path)
    assert proc.returncode == 2 and victim.name in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_sweep_files_at_two_rates_are_refused(small_case, folder, tmp_path):
    from iomon.sim import SHIPPED_MUSCLES, SHORT_SCHEDULE, simulate_case

    path = _copy(folder[1], tmp_path)
    faster = simulate_case("stable", 5, sfreq=10000.0, muscles=SHIPPED_MUSCLES,
                           schedule=SHORT_SCHEDULE, time_compression=40.0)
    other = write_sweep_files(faster, tmp_path / "fast", PRE)
    moved = sorted(other.glob("*.edf"))[:3]
    for p in moved:  # keep their times apart from the others': one hour later
        target = path / ("x" + p.name)
        raw = bytearray(p.read_bytes())
        raw[176:184] = b"09" + raw[178:184]
        target.write_bytes(bytes(raw))
    text = _refused(path, "different sampling rates")
    assert "5000 Hz (61 sweeps)" in text and "10000 Hz (3" in text


def test_channels_missing_from_some_files_are_left_out_with_a_note(folder, tmp_path):
    """A channel relabelled in two sweeps (say, an electrode moved): it is in 2 of 61 sweeps,
    "R AH" in 59; both are left out and named, the rest analysed."""
    path = _copy(folder[1], tmp_path)
    files = sorted(path.glob("*.edf"))
    for p in files[10:12]:
        raw = p.read_bytes()
        p.write_bytes(raw.replace(b"R AH" + b" " * 12, b"R AH spare" + b" " * 6, 1))
    recording = read(path, load_case(path).read_options)
    check_recording(recording)
    assert recording.sweeps.n_sweeps == len(files)
    assert "R AH" not in recording.sweeps.ch_names and len(recording.sweeps.ch_names) == 7
    assert any("R AH (in 59 of 61)" in n and "R AH spare (in 2 of 61)" in n
               for n in recording.notes)


def test_two_files_at_one_time_are_refused(folder, tmp_path):
    path = _copy(folder[1], tmp_path)
    first = sorted(path.glob("*.edf"))[0]
    (path / ("copy_" + first.name)).write_bytes(first.read_bytes())
    _refused(path, "start at the same time")


def test_two_sidecars_are_refused(folder, tmp_path):
    path = _copy(folder[1], tmp_path, "P09")
    (tmp_path / "P09.case.toml").write_text('[case]\nid = "P09"\n')
    with pytest.raises(InputError, match="two sidecars"):
        load_case(path)
    (path / "case.toml").unlink()
    assert load_case(path).id == "P09"


def test_window_starting_at_the_stimulus_is_accepted():
    assert read_options({"window_ms": [0, 100]}).window_s == (0.0, 0.1)
    with pytest.raises(InputError, match="start <= 0"):
        read_options({"window_ms": [1, 100]})


def test_batch_finds_a_folder_as_one_case(folder, small_case, tmp_path):
    from iomon.batch.run import BatchJob, _input_key, find_cases
    from iomon.sim import write_simulated_case

    archive = tmp_path / "archive"
    _copy(folder[1], archive, "P07")
    write_simulated_case(small_case[0], archive, stem="E01")  # its truth.json is no case
    (archive / "E01.case.toml").write_text('[case]\nid = "E01"\n')
    entries, failures = find_cases(archive)
    assert not failures
    assert [(e.case_id, e.relative) for e in entries] == [("E01", "E01.edf"),
                                                          (folder[0].case.id, "P07")]
    folder_entry = entries[1]
    assert folder_entry.sidecar == archive / "P07" / "case.toml"
    from iomon.alerting.criteria import load_criteria

    key = _input_key(BatchJob(folder_entry, tmp_path / "out", (load_criteria("drez"),)))
    from iomon.pipeline import file_sha256

    assert key["recording_sha256"] == file_sha256(archive / "P07")


def test_reading_a_folder_opens_each_file_a_few_times(folder, monkeypatch):
    """Bounded work per sweep file: a folder of 2,000 files must not open edfio 2,000 times
    or read any file whole more than once."""
    import pathlib

    import edfio

    opened = {}
    original = pathlib.Path.open

    def counting(self, *args, **kwargs):
        opened[self.name] = opened.get(self.name, 0) + 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "open", counting)
    monkeypatch.setattr(edfio, "read_edf", lambda *a, **k: pytest.fail("edfio opened"))
    sim, path = folder
    read(path, load_case(path).read_options)
    counts = [n for name, n in opened.items() if name.endswith(".edf")]
    assert len(counts) == len(sim.truth.sweeps.onset_s)
    assert max(counts) == 3  # the header, the annotations, the data record


@pytest.mark.parametrize("window_s", [(0.0, 0.100), (0.0, 0.150), (-0.005, 0.095),
                                      (-0.010, 0.100)])
def test_hum_removed_from_sweeps_with_quiet_samples_at_one_end_leaves_the_noise(small_case,
                                                                                window_s,
                                                                                tmp_path):
    """Sweeps of 0-100 ms leave 20-25 ms after the leg responses to fit the hum from. A cubic
    drift fitted there beside the hum traded one for the other and left 11-16 µV of "noise"
    for 5 µV of it: small responses were then called absent, and a leg's loss read as
    systemic (drawn acquisitions, seed 6)."""
    from iomon.pipeline import analyze

    sim = small_case[0]
    assert (sim.plan.hum_amp > 2 * sim.plan.noise_v).any()  # hum there is to remove
    path = write_sweep_files(sim, tmp_path / "P09", window_s)
    result = analyze(read(path), load_case(path))
    assert result.mains_hz == sim.plan.mains_hz  # fitted and removed
    baseline = result.measurement_table().query("sweep < 10")
    noise_uv = baseline.groupby("channel")["noise_uv"].median()
    # Band-limited white noise of SD noise_v reads at most noise_v; hum left behind, or a fit
    # that traded drift for hum, reads several times more.
    assert (noise_uv < 1.3 * sim.plan.noise_v * 1e6).all(), noise_uv.round(1).to_dict()
