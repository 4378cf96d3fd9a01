"""Cadwell Surgical Studio case JSON (issue 19): files written by iomon.sim.cadwell from the
layout public code documents (jrmxn/mep_preproc_intraop), read back against the simulator."""

import json
import subprocess
import sys

import numpy as np
import pytest

from iomon.io import cadwell, read
from iomon.io.base import read_options
from iomon.model.errors import InputError
from iomon.sim.cadwell import write_cadwell_json
from test_readers import check_recording

WINDOW = (-0.010, 0.100)


@pytest.fixture(scope="module")
def case_json(small_case, tmp_path_factory):
    sim = small_case[0]
    path = tmp_path_factory.mktemp("cadwell") / "P11_data.json"
    return sim, write_cadwell_json(sim, path, WINDOW, modes=("L MEP", "R MEP"),
                                   other_mode=True)


def _expected(sim):
    sfreq = sim.sfreq
    starts = np.round(sim.truth.sweeps.onset_s * sfreq).astype(int) - 50
    return np.stack([sim.signals[:, s:s + 550] for s in starts])


def test_trials_read_as_sweeps(case_json):
    sim, path = case_json
    recording = read(path)
    check_recording(recording)
    sweeps = recording.sweeps
    n = len(sim.truth.sweeps.onset_s)
    assert recording.format == "Cadwell Surgical Studio case JSON"
    assert sweeps.n_sweeps == n and sweeps.ch_names == [c.name for c in sim.channels]
    # Samples: TraceData x TraceDataScalar (0.1 µV steps).
    assert np.abs(sweeps.data - _expected(sim)).max() <= 0.05e-6 + 1e-12
    # The pre-trigger delay is not in an export: the stimulus is found at the artefact.
    assert sweeps.times[0] == pytest.approx(-0.010)
    assert any("does not hold the pre-trigger delay" in note for note in recording.notes)
    np.testing.assert_allclose(sweeps.table["onset_s"], sim.truth.sweeps.onset_s,
                               atol=0.5 / sim.sfreq + 1e-6)
    table = sweeps.table
    np.testing.assert_allclose(table["stim_intensity"], sim.truth.sweeps.intensity_v)
    assert set(table["stim_unit"]) == {"V"} and set(table["montage"]) == {"C3-C4"}
    assert list(table["mode"][:4]) == ["L MEP", "R MEP", "L MEP", "R MEP"]
    assert set(table["train_pulses"]) == {sim.truth.train["pulses"]}
    np.testing.assert_allclose(table["train_isi_s"], sim.truth.train["isi_ms"] / 1e3)
    # The SSEP mode is left out, named; events are annotations on the same clock.
    assert any("SSEP Upper (1 trial)" in note for note in recording.notes)
    marks = {a.text: a.onset_s for a in sim.annotations if not a.text.startswith("TcMEP")}
    assert {a.text: a.onset_s for a in recording.annotations} == pytest.approx(marks, abs=1e-6)
    assert recording.start.isoformat() == "2024-01-01T08:00:00"


def test_the_pre_trigger_delay_from_the_file_or_the_sidecar(small_case, tmp_path):
    sim = small_case[0]
    with_delay = write_cadwell_json(sim, tmp_path / "delay.json", (-0.004, 0.100),
                                    delay_in_file=True)
    recording = read(with_delay)
    assert recording.sweeps.times[0] == pytest.approx(-0.004)
    assert any("DataSweepTriggerDelayCustom" in note for note in recording.notes)
    plain = write_cadwell_json(sim, tmp_path / "plain.json", (-0.004, 0.100))
    recording = read(plain, read_options({"stimulus_s": 0.004}))
    assert recording.sweeps.times[0] == pytest.approx(-0.004)
    assert any("stimulus_s (0.004 s) places the stimulus" in n for n in recording.notes)


def test_analyze_a_case_json_end_to_end(case_json, tmp_path):
    sim, path = case_json
    single = write_cadwell_json(sim, tmp_path / "one_mode.json", WINDOW)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "iomon.cli", "analyze", single, "--out", out,
                           "--no-report"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_sweeps"] == len(sim.truth.sweeps.onset_s)
    truth = {c.name: c.present for c in sim.truth.channels}
    for channel in summary["channels"]:
        assert channel["baseline_present"] == truth[channel["name"]], channel["name"]


def _write(tmp_path, doc_or_text):
    path = tmp_path / "bad.json"
    text = doc_or_text if isinstance(doc_or_text, str) else json.dumps(doc_or_text)
    path.write_text(text)
    return path


def _doc(case_json):
    return json.loads(case_json[1].read_text())


def _break(case_json, change):
    doc = _doc(case_json)
    change(doc["Cases"][0])
    return doc


@pytest.mark.parametrize("damage, message", [
    (lambda t: t[: len(t) // 2], "damaged JSON"),
    (lambda t: t.replace('"TraceDataScalar": 1e-07', '"TraceDataScalar": NaN', 1),
     "NaN, which is not a number"),
    (lambda t: '{"Cases": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested deeper"),
    (lambda t: '{"Other": 1}', "no Cases list"),
    (lambda t: "\xff\xfe" + t, "damaged JSON|not UTF-8"),
])
def test_damaged_text_is_refused_in_one_line(case_json, tmp_path, damage, message):
    path = _write(tmp_path, damage(case_json[1].read_text()))
    with pytest.raises(InputError, match=message) as info:
        read(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize("change, message", [
    (lambda c: c["Modes"][1]["Trials"][3]["Traces"][2].update(TraceDataLength=17),
     r"Modes\[1\].Trials\[3\].Traces\[2\]: TraceDataLength 17 for 550"),
    (lambda c: c["Modes"][1]["Trials"][0]["Traces"][0].update(Sweep=0),
     "sampling rate"),
    (lambda c: c["Modes"][1]["Trials"][0]["Traces"][0].update(TraceData="none"),
     "TraceData is not a list of numbers"),
    (lambda c: c["Modes"][1]["Trials"][0].pop("Timestamp"), "has no Timestamp"),
    (lambda c: c["Modes"][1]["Trials"][0].update(Timestamp="noon"), "wrong type"),
    (lambda c: c["Modes"][1]["Trials"][0]["Traces"][1].update(
        TraceData=[0] * 1100, TraceDataLength=1100, Sweep=0.22), "differ in sampling rate"),
    (lambda c: c.update(Modes=[c["Modes"][0]]), "no trial in a mode that records MEPs"),
    (lambda c: c["Modes"][2]["Trials"].append(dict(c["Modes"][1]["Trials"][0])),
     "the same Timestamp"),
])
def test_damaged_fields_are_refused_by_name(case_json, tmp_path, change, message):
    path = _write(tmp_path, _break(case_json, change))
    with pytest.raises(InputError, match=message) as info:
        read(path)
    assert "\n" not in str(info.value)


def test_sizes_and_counts_are_bounded(case_json, tmp_path, monkeypatch):
    monkeypatch.setattr(cadwell, "MAX_JSON_BYTES", 1000)
    with pytest.raises(InputError, match="larger than iomon reads"):
        read(case_json[1])
    monkeypatch.undo()
    monkeypatch.setattr(cadwell, "MAX_TRIALS", 10)
    with pytest.raises(InputError, match="more than iomon reads|more than 10 trials"):
        read(case_json[1])


def test_batch_takes_a_case_json_but_no_other_json(case_json, tmp_path):
    import shutil

    from iomon.batch.run import find_cases

    archive = tmp_path / "archive"
    archive.mkdir()
    shutil.copy(case_json[1], archive / "P11.json")
    (archive / "P11.truth.json").write_text('{"scenario": "stable"}')
    (archive / "notes.json").write_text("[1, 2]")
    entries, failures = find_cases(archive)
    assert [e.relative for e in entries] == ["P11.json"] and not failures
