"""BIDS-EMG export and reading back (issue 25).

Every shipped recording and a simulated cohort are exported through mne-bids, checked by the
official BIDS validator (the Deno validator's Python package) and analysed back from the
dataset: measurements.csv and alerts.json must be byte-identical to the sources', summary.json
may differ only in what names the input file (input, input_sha256, format, reader), in the
surgery date, which never enters the dataset, and in an empty clinical text (n/a in
participants.tsv, absent when read back).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import RECORDINGS, REQUIRED_TOOLS
from iomon.bids import SESSION, export_case, write_bdf_plus_d
from iomon.cli import main
from iomon.io import detect_format, read
from iomon.model.errors import InputError
from iomon.pipeline import analyze_file
from iomon.report.outputs import write_outputs

#: The summary.json keys that name the input file, and so differ between source and BIDS.
INPUT_KEYS = {"input", "input_sha256", "format", "reader"}


def validate(root: Path) -> dict:
    """The official BIDS validator's findings on a dataset: {severity: [codes]}."""
    program = shutil.which("bids-validator-deno")
    if program is None:
        if REQUIRED_TOOLS:
            pytest.fail("bids-validator-deno is needed (pip install '.[test]')")
        pytest.skip("bids-validator-deno is not installed (pip install '.[test]')")
    done = subprocess.run([program, str(root), "--format", "json"], capture_output=True,
                          text=True, timeout=300, check=False)
    issues = json.loads(done.stdout)["issues"]["issues"]
    found: dict = {}
    for issue in issues:
        code = issue["code"] + (f" {issue['subCode']}" if issue.get("subCode") else "")
        found.setdefault(issue["severity"], set()).add(code)
    return found


#: Warnings left on purpose: facts the source exports do not hold (who made the amplifier,
#: which hospital, the licence), HED tags iomon does not write, and a stimulus presentation
#: that describes screens, not stimulators.
ACCEPTED_WARNINGS = {
    "JSON_KEY_RECOMMENDED HEDVersion", "JSON_KEY_RECOMMENDED License",
    "JSON_KEY_RECOMMENDED SourceDatasets", "SIDECAR_KEY_RECOMMENDED StimulusPresentation",
    "SIDECAR_KEY_RECOMMENDED ManufacturersModelName", "SIDECAR_KEY_RECOMMENDED SoftwareVersions",
    "SIDECAR_KEY_RECOMMENDED DeviceSerialNumber", "SIDECAR_KEY_RECOMMENDED ElectrodeManufacturer",
    "SIDECAR_KEY_RECOMMENDED ElectrodeManufacturersModelName",
    "SIDECAR_KEY_RECOMMENDED InstitutionName", "SIDECAR_KEY_RECOMMENDED InstitutionAddress",
    "SIDECAR_KEY_RECOMMENDED InstitutionalDepartmentName"}


def assert_same_results(source: Path, exported: Path, also=()):
    """Byte-identical tables and alerts; summary.json apart from the input's name."""
    assert (source / "measurements.csv").read_bytes() == (exported / "measurements.csv"
                                                           ).read_bytes()
    assert (source / "alerts.json").read_bytes() == (exported / "alerts.json").read_bytes()
    a = json.loads((source / "summary.json").read_text())
    b = json.loads((exported / "summary.json").read_text())
    # Never in the dataset: the surgery date; an empty text or list is n/a in participants.tsv.
    a["clinical"] = {k: v for k, v in a["clinical"].items()
                     if k != "surgery_date" and v not in ("", [])}
    differ = {k for k in a if a[k] != b.get(k)}
    assert differ <= INPUT_KEYS | set(also), differ


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """Every shipped recording analysed, and exported into one dataset."""
    folder = tmp_path_factory.mktemp("shipped")
    root, done = folder / "bids", []
    for recording in sorted(RECORDINGS.glob("*.edf")):
        source = write_outputs(analyze_file(recording), folder / recording.stem, report=False)
        done.append((source, export_case(recording, root, report=False)))
    return root, done


def test_shipped_recordings_round_trip_byte_identical(shipped):
    root, done = shipped
    assert len(done) == len(list(RECORDINGS.glob("*.edf"))) >= 2
    for source, exported in done:
        assert exported.how == "copied (EDF+C)" and exported.recording_type == "continuous"
        assert detect_format(exported.data_file).name == "bids"
        assert_same_results(source, exported.derivatives)
        # The alerts are in events.tsv too, one row each.
        events = (exported.data_file.parent / exported.data_file.name.replace(
            "_emg.edf", "_events.tsv")).read_text().splitlines()
        alerts = json.loads((source / "alerts.json").read_text())["alerts"]
        assert sum("\talert\t" in line for line in events) == len(alerts) > 0


def test_shipped_dataset_validates_with_no_error(shipped):
    root, _ = shipped
    found = validate(root)
    assert "error" not in found, found["error"]
    assert found.get("warning", set()) <= ACCEPTED_WARNINGS, found["warning"] - ACCEPTED_WARNINGS


def test_bids_layout_and_sidecars(shipped):
    root, done = shipped
    exported = done[0][1]
    emg = exported.data_file.parent
    stem = exported.data_file.name.removesuffix("_emg.edf")
    assert exported.data_file.relative_to(root).parts[:3] == (
        f"sub-{exported.subject}", f"ses-{SESSION}", "emg")
    sidecar = json.loads((emg / f"{stem}_emg.json").read_text())
    for key in ("EMGPlacementScheme", "EMGReference", "SamplingFrequency", "PowerLineFrequency",
                "RecordingType", "SoftwareFilters", "TaskName"):
        assert key in sidecar
    assert sidecar["PowerLineFrequency"] == 50 and sidecar["SamplingFrequency"] == 5000
    header = (emg / f"{stem}_channels.tsv").read_text().splitlines()
    columns = header[0].split("\t")
    assert columns[:7] == ["name", "type", "units", "target_muscle", "side", "limb", "role"]
    rows = {line.split("\t")[0]: dict(zip(columns, line.split("\t"))) for line in header[1:]}
    assert rows["L TA"]["target_muscle"] == "left tibialis anterior"
    assert rows["L TA"]["role"] == "test" and rows["R TA"]["role"] == "control"
    kinds = {line.split("\t")[2] for line in
             (emg / f"{stem}_events.tsv").read_text().splitlines()[1:]}
    assert {"stimulus", "marker", "phase", "alert"} <= kinds
    description = json.loads((root / "derivatives" / "iomon" / "dataset_description.json")
                             .read_text())
    assert description["DatasetType"] == "derivative"
    assert description["GeneratedBy"][0]["Name"] == "iomon"


def test_no_identifier_enters_the_dataset(cases, tmp_path):
    """The header's patient name and every date stay out; the time of day stays."""
    sim, path = cases.write("stable", 5)
    sidecar = path.with_name(path.stem + ".case.toml")
    sidecar.write_text(sidecar.read_text() + '\n[clinical]\nsex = "F"\nage = 93\n'
                       'surgery_date = "2023-10-04"\nnew_deficit = false\n')
    assert b"Synthetic_Patient" in path.read_bytes()[:256]
    exported = export_case(path, tmp_path / "bids", report=False)
    header = exported.data_file.read_bytes()[:256]
    assert header[8:88].strip() == b"X X X X" and header[168:176] == b"01.01.85"
    assert header[176:184] == path.read_bytes()[176:184]  # the clock time is kept
    for file in (tmp_path / "bids").rglob("*"):
        if file.is_file() and file.suffix in (".tsv", ".json", ".csv", ".toml", ".md"):
            text = file.read_text()
            for identifier in ("2023-10-04", "20231004", "2024-01-01", "01-JAN-2024",
                               "Synthetic"):
                assert identifier not in text, (file, identifier)
    participants = (tmp_path / "bids" / "participants.tsv").read_text().splitlines()
    row = dict(zip(participants[0].split("\t"), participants[1].split("\t")))
    assert row["age"] == "89" and row["sex"] == "F" and "surgery_date" not in row
    kept = export_case(path, tmp_path / "dated", report=False, keep_dates=True)
    assert kept.session == "20231004"
    assert kept.data_file.read_bytes()[168:176] == path.read_bytes()[168:176]
    assert kept.data_file.read_bytes()[8:88].strip() == b"X X X X"


def test_review_edits_and_settings_travel(cases, tmp_path):
    """Phases, exclusions, theatre events, re-baselines, landmarks and processing settings
    come back from events.tsv and iomon's settings: the same results as the source."""
    sim, path = cases.write("focal_recovering", 6)
    sidecar = path.with_name(path.stem + ".case.toml")
    sidecar.write_text(sidecar.read_text() + """
[recording]
window_ms = [-8, 95]

[processing]
band_hz = [20, 1500]

[[phases]]
name = "lesioning"
start_s = 17.5
end_s = 30.25

[[exclude]]
channel = "R APB"
from_s = 20.0
reason = "electrode displaced"

[[exclude]]
sweep = [3, 4]
reason = "cautery"

[[events]]
at_s = 21.0
text = "MAP 55 mmHg"
kind = "blood pressure"

[[rebaseline]]
at_s = 12.0
reason = "intensity raised"

[[landmarks]]
channel = "L TA"
sweep = 10
onset_ms = 31.5
reviewer = "AB"
time = 2023-10-04T10:00:00
""")
    source = write_outputs(analyze_file(path), tmp_path / "source", report=False)
    exported = export_case(path, tmp_path / "bids", report=False)
    # When a landmark was placed is a date: it stays out; who placed it travels.
    summary = json.loads((source / "summary.json").read_text())
    del summary["review_edits"]["landmarks"][0]["time"]
    (source / "summary.json").write_text(json.dumps(summary))
    assert_same_results(source, exported.derivatives)
    settings = (exported.derivatives / "settings.toml").read_text()
    assert "band_hz" in settings and "window_ms" in settings and "2023" not in settings
    summary = json.loads((exported.derivatives / "summary.json").read_text())
    assert summary["review_edits"]["exclusions"][0]["reason"] == "electrode displaced"
    assert summary["settings"]["sweep_window_ms"] == [-8.0, 95.0]


def test_a_sidecar_given_with_a_bids_recording_wins(shipped, tmp_path):
    _, done = shipped
    data_file = done[0][1].data_file
    sidecar = tmp_path / "override.case.toml"
    sidecar.write_text('[[channels]]\nname = "L TA"\nrole = "control"\n'
                       '[processing]\nband_hz = "none"\n')
    result = analyze_file(data_file, sidecar)
    roles = {ch.name: ch.role for ch in result.sweeps.channels}
    assert roles["L TA"] == "control" and result.band_hz is None
    # The sections it does not hold still come from the BIDS files.
    assert result.case.id == done[0][1].case_id and result.case.side == "left"
    assert any(p.name == "lesioning" for p in result.phases)


def test_sweeps_of_another_format_become_epoched_bdf(small_case, tmp_path):
    """A NIX file of sweeps: written as BDF+D, one record per sweep; read back to 24 bits."""
    import neo
    import quantities as pq

    sim, path = small_case
    sweeps = read(path).sweeps
    block = neo.Block()
    for i, sweep in enumerate(sweeps.data[:20]):
        segment = neo.Segment(name=f"sweep {i}")
        segment.analogsignals.append(neo.AnalogSignal(
            sweep.T * 1e3, units="mV", sampling_rate=sweeps.sfreq * pq.Hz,
            t_start=(i * 2.0 + sweeps.times[0]) * pq.s,
            array_annotations={"channel_names": np.array(sweeps.ch_names)}))
        block.segments.append(segment)
    nix = tmp_path / "sweeps.nix"
    with neo.io.NixIO(str(nix), mode="ow") as io:
        io.write_block(block)
    source = read(nix)
    exported = export_case(nix, tmp_path / "bids", report=False)
    assert exported.recording_type == "epoched" and exported.data_file.suffix == ".bdf"
    sidecar = json.loads(exported.data_file.with_name(
        exported.data_file.name.replace(".bdf", ".json")).read_text())
    assert sidecar["EpochLength"] == pytest.approx(source.sweeps.times.size / sweeps.sfreq)
    back = read(exported.data_file)
    assert back.format.startswith("BIDS-EMG (BDF+D")
    np.testing.assert_allclose(back.sweeps.column("onset_s"), source.sweeps.column("onset_s"))
    np.testing.assert_allclose(back.sweeps.times, source.sweeps.times, atol=1e-9)
    step = (np.ptp(source.sweeps.data, axis=(0, 2)) + 2e-6) / 2**24
    assert np.all(np.abs(back.sweeps.data - source.sweeps.data) <= step[None, :, None])
    assert "error" not in validate(tmp_path / "bids")


def test_edf_plus_d_sweeps_are_copied_as_epoched_and_round_trip(tmp_path):
    """An EDF+D file of one record per sweep (no stimulus markers) is copied, epoched."""
    from edfplus_d import write_edfplus_d

    sweeps = read(RECORDINGS / "drez_systemic.edf").sweeps
    path = tmp_path / "case.edf"
    write_edfplus_d(path, sweeps.data * 1e6, sweeps.sfreq, sweeps.ch_names,
                    sweeps.column("onset_s") + sweeps.times[0])
    shutil.copy(RECORDINGS / "drez_systemic.case.toml", tmp_path / "case.case.toml")
    with (tmp_path / "case.case.toml").open("a") as f:
        f.write("\n[recording]\nmains_hz = 50\n")
    source = write_outputs(analyze_file(path), tmp_path / "source", report=False)
    exported = export_case(path, tmp_path / "bids", report=False)
    assert exported.how == "copied (EDF+D (one sweep per record run))"
    assert exported.recording_type == "epoched"
    # The reader's note on where it placed the stimulus in the sweeps goes: events.tsv states
    # each stimulus's time.
    assert_same_results(source, exported.derivatives, also={"notes"})
    notes = [json.loads((folder / "summary.json").read_text())["notes"]
             for folder in (source, exported.derivatives)]
    assert [n for n in notes[0] if n not in notes[1]] == [
        n for n in notes[0] if "the stimulus was placed" in n] != []
    with pytest.raises(InputError, match="inside the dataset"):
        export_case(exported.data_file, tmp_path / "bids", report=False)


def test_bdf_plus_d_writer_pads_records_to_a_statable_duration(tmp_path):
    """551 samples at 4096 Hz last 0.134521484375 s: too long for the header's 8 characters,
    so each record is padded to a duration it can state; the reader cuts the sweeps back."""
    data = np.random.default_rng(0).normal(0, 1e-4, (3, 2, 551))
    path = write_bdf_plus_d(tmp_path / "x.bdf", data, 4096.0, ["A", "B"], [0.0, 1.0, 2.5])
    header = path.read_bytes()[:256]
    duration = float(header[244:252])
    assert len(header[244:252].strip()) <= 8 and duration * 4096 >= 551
    assert abs(duration * 4096 - round(duration * 4096)) < 1e-6


def test_a_second_case_with_the_same_subject_label_is_refused(shipped, tmp_path, cases):
    root, done = shipped
    sim, path = cases.write("stable", 7)
    clash = tmp_path / "drez-focal-recovering.edf"
    shutil.copy(path, clash)
    clash.with_name("drez-focal-recovering.case.toml").write_text(
        '[case]\nid = "drez-focal_recovering"\n')
    with pytest.raises(InputError, match="already holds case 'drez_focal_recovering'"):
        export_case(clash, root, report=False)


def test_damaged_events_tsv_is_one_line_naming_it(shipped, tmp_path, capsys):
    _, done = shipped
    original = done[0][1].data_file
    copy = tmp_path / "bids"
    shutil.copytree(original.parents[3], copy)
    data_file = copy / original.relative_to(original.parents[3])
    events = data_file.with_name(data_file.name.replace("_emg.edf", "_events.tsv"))
    lines = events.read_text().splitlines()
    lines[3] = "soon" + lines[3][lines[3].index("\t"):]
    events.write_text("\n".join(lines) + "\n")
    assert main(["analyze", str(data_file), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and events.name in err and "'soon' is not a number" in err


def test_cli_export(tmp_path, capsys):
    recording = RECORDINGS / "drez_systemic.edf"
    assert main(["bids", "export", str(recording), "--root", str(tmp_path / "bids"),
                 "--no-report"]) == 0
    out = capsys.readouterr().out
    assert "drez_systemic: sub-drezsystemic/ses-intraop, copied (EDF+C), continuous" in out
    assert "bids-validator-deno" in out
    assert main(["bids", "export", str(tmp_path / "missing.edf"), "--root",
                 str(tmp_path / "bids")]) == 2
    assert "missing.edf" in capsys.readouterr().err


def test_simulated_cohort_batch_bids_then_batch_of_the_dataset(tmp_path):
    """`iomon batch ARCHIVE --bids ROOT` on a simulated cohort, then `iomon batch ROOT`: the
    same measurements and alerts for every case, and no error from the validator."""
    from iomon.sim import SHIPPED_MUSCLES, SHORT_SCHEDULE
    from iomon.sim.cohort import write_cohort

    archive, root = tmp_path / "archive", tmp_path / "bids"
    write_cohort(archive, 4, muscles=SHIPPED_MUSCLES, schedule=SHORT_SCHEDULE,
                 time_compression=60.0)
    common = ["--no-report", "--jobs", "2", "--quiet"]
    assert main(["batch", str(archive), "--out", str(tmp_path / "sources"), "--bids",
                 str(root), *common]) == 0
    assert main(["batch", str(root), "--out", str(tmp_path / "again"), *common]) == 0
    cases = sorted(p.name for p in (tmp_path / "again").iterdir() if p.is_dir()
                   and p.name.startswith("P"))
    assert cases == ["P01", "P02", "P03", "P04"]
    for case in cases:
        assert_same_results(tmp_path / "sources" / case, tmp_path / "again" / case)
        # The derivatives hold the same results as the batch of the dataset.
        derived = root / "derivatives" / "iomon" / f"sub-{case}" / f"ses-{SESSION}" / "emg" / (
            f"sub-{case}_ses-{SESSION}_task-tcmep")
        assert (derived / "alerts.json").read_bytes() == (
            tmp_path / "again" / case / "alerts.json").read_bytes()
    assert "error" not in validate(root)


def test_review_of_a_bids_recording_takes_its_case_from_the_bids_files(shipped):
    from iomon.review.session import ReviewSession

    _, done = shipped
    exported = done[0][1]
    session = ReviewSession(exported.data_file)
    assert session.case.id == exported.case_id and session.case.side == "left"
    assert {ch.name: ch.role for ch in session.result.sweeps.channels}["L TA"] == "test"
