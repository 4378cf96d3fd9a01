"""Sweeps streamed from their file (issue 23): the same numbers as held sweeps, less memory.

A long continuous EDF+ gives a SweepSource instead of an array: the analysis reads, conditions
and judges its sweeps a chunk at a time, so the raw sweeps are never all in memory beside the
conditioned ones. Memory is bounded in bytes (tracemalloc sees numpy's allocations), never in
time.
"""

from __future__ import annotations

import dataclasses
import os
import tracemalloc

import numpy as np
import pytest

import iomon.io.edf
import iomon.pipeline
import iomon.processing.measures
from iomon.io import read
from iomon.model.errors import InputError
from iomon.model.spill import SpilledSweeps
from iomon.model.sweeps import Channel, Sweeps, SweepSource
from iomon.pipeline import analyze, analyze_file, load_case
from iomon.processing.conditioning import ARTEFACT_SWEEPS
from iomon.sim import Schedule


def _held_and_streamed(path, monkeypatch):
    held = read(path)
    monkeypatch.setattr(iomon.io.edf, "STREAM_BYTES", 0)
    streamed = read(path)
    monkeypatch.undo()
    return held, streamed


def test_a_sweep_source_is_read_only_where_asked(small_case):
    _, path = small_case
    held = read(path).sweeps
    asked = []

    def read_rows(index):
        asked.append(np.asarray(index).tolist())
        return held.data[index]

    sweeps = Sweeps(SweepSource(held.shape, read_rows), held.times, held.sfreq, held.channels,
                    held.table)
    assert sweeps.streamed and not held.streamed
    assert (sweeps.n_sweeps, sweeps.n_channels) == held.shape[:2] and not asked
    np.testing.assert_array_equal(sweeps.rows(slice(2, 5)), held.data[2:5])
    assert asked == [[2, 3, 4]]
    every_third = np.arange(sweeps.n_sweeps) % 3 == 0
    np.testing.assert_array_equal(sweeps.rows(every_third), held.data[every_third])
    assert asked[-1] == list(range(0, held.n_sweeps, 3))
    np.testing.assert_array_equal(sweeps.rows(-1), held.data[-1])  # one sweep, as an array
    with pytest.raises(IndexError):
        sweeps.rows([held.n_sweeps])
    # Selections stay streamed and read nothing until asked.
    before = len(asked)
    chosen = sweeps.select(every_third).pick_channels(held.ch_names[::-2])
    labelled = sweeps.with_channels([Channel(ch.name, role="test") for ch in held.channels])
    assert chosen.streamed and labelled.streamed and len(asked) == before
    np.testing.assert_array_equal(chosen.rows([1, 2]), held.data[every_third][1:3, ::-2])
    assert asked[-1] == [3, 6]
    np.testing.assert_array_equal(chosen.data, held.data[every_third][:, ::-2])
    np.testing.assert_array_equal(sweeps.data, held.data)


def test_a_sweep_source_reading_the_wrong_shape_is_an_error(small_case):
    _, path = small_case
    held = read(path).sweeps
    sweeps = Sweeps(SweepSource(held.shape, lambda index: held.data[index][:, :1]), held.times,
                    held.sfreq, held.channels, held.table)
    with pytest.raises(ValueError, match="read"):
        sweeps.rows([0, 1])


def test_a_long_edf_is_streamed_and_measured_as_if_held(small_case, monkeypatch):
    """Every measure, rejection and alert of a streamed case is the held case's, to the bit."""
    _, path = small_case
    held, streamed = _held_and_streamed(path, monkeypatch)
    assert streamed.sweeps.streamed and not held.sweeps.streamed
    case = load_case(path)
    a, b = analyze(held, case), analyze(streamed, case)
    for field in dataclasses.fields(a.measurements):
        np.testing.assert_array_equal(getattr(b.measurements, field.name),
                                      getattr(a.measurements, field.name), err_msg=field.name)
    np.testing.assert_array_equal(b.rejected, a.rejected)
    np.testing.assert_array_equal(b.conditioned, a.conditioned)
    assert [x.channel for x in b.alerts] == [x.channel for x in a.alerts]
    assert b.notes == a.notes


def test_a_streamed_case_holds_neither_its_raw_nor_its_conditioned_sweeps(cases, monkeypatch):
    """Peak memory of a streamed analysis stays well below the sweeps' size.

    The raw sweeps are read a chunk at a time and the conditioned ones go to a temporary file
    (float32, read back a chunk at a time): what is allocated at the peak is bounded in bytes,
    and is mostly the artefact's statistics over ARTEFACT_SWEEPS sweeps, whatever the length.
    """
    # 13 minutes in real time, a stimulus every 0.5 s: far more sweeps than the artefact's
    # statistics read (ARTEFACT_SWEEPS), so the bound is about the case, not that sample.
    schedule = Schedule(positioning_min=1.0, exposure_min=4.0, lesioning_min=6.0,
                        closure_min=2.0, routine_interval_s=(0.5, 0.5),
                        lesioning_interval_s=(0.5, 0.5))
    _, path = cases.write("stable", 5, muscles=("TA", "AH"), schedule=schedule,
                          time_compression=1.0)
    held, streamed = _held_and_streamed(path, monkeypatch)
    raw_bytes = held.sweeps.data.nbytes
    assert held.sweeps.n_sweeps > 4 * ARTEFACT_SWEEPS and raw_bytes > 16e6
    monkeypatch.setattr(iomon.processing.measures, "CHUNK_BYTES", 256 << 10)
    # The artefact's statistics from 32 sweeps rather than 256: a fixed cost whatever the
    # length, which would otherwise make the peak of so short a case.
    monkeypatch.setattr(iomon.pipeline, "ARTEFACT_SWEEPS", 32)
    case = load_case(path)
    del held

    def peak_of(recording):
        tracemalloc.start()
        try:
            result = analyze(recording, case)
            return tracemalloc.get_traced_memory()[1], result
        finally:
            tracemalloc.stop()

    streamed_peak, result = peak_of(streamed)
    assert isinstance(result.conditioned, SpilledSweeps)
    assert result.conditioned.nbytes == raw_bytes // 2  # float32, in the file
    held_peak, held_result = peak_of(read(path))
    assert isinstance(held_result.conditioned, np.ndarray)
    # Streamed: neither the raw sweeps (26 MB) nor the conditioned ones (13 MB) in memory
    # (measured: 4.0 MB at the peak; held 16.7 MB).
    assert streamed_peak < 0.2 * raw_bytes, (streamed_peak, raw_bytes)
    # Held: the conditioned sweeps at least (the raw ones were read before tracing).
    assert held_peak > streamed_peak + 0.4 * raw_bytes, (held_peak, streamed_peak)
    np.testing.assert_array_equal(result.conditioned[::50, 1], held_result.conditioned[::50, 1])


@pytest.mark.parametrize("change", ["cut short", "replaced", "removed"])
def test_a_streamed_file_changed_after_reading_is_refused_by_name(small_case, tmp_path,
                                                                  monkeypatch, change):
    """Streamed windows are read during the analysis: from the file read, or not at all.

    A file cut short, replaced by another of the same size or removed after it was read
    gives one line naming it, never a traceback nor samples of another file under the first
    one's header and checksum.
    """
    _, path = small_case
    copy = tmp_path / path.name
    copy.write_bytes(path.read_bytes())
    monkeypatch.setattr(iomon.io.edf, "STREAM_BYTES", 0)
    recording = read(copy)
    if change == "cut short":
        with copy.open("r+b") as f:
            f.truncate(copy.stat().st_size // 2)
    elif change == "replaced":
        other = tmp_path / "other.edf"
        other.write_bytes(path.read_bytes())
        other.replace(copy)
    else:
        copy.unlink()
    with pytest.raises(InputError, match="changed since it was read|can no longer be read") \
            as err:
        analyze(recording, load_case(path))
    assert err.value.path == copy


def test_analyze_file_streams_a_long_recording_and_names_it(small_case, monkeypatch):
    _, path = small_case
    monkeypatch.setattr(iomon.io.edf, "STREAM_BYTES", 0)
    result = analyze_file(path)
    assert result.recording.sweeps.streamed
    assert result.input_sha256 and result.measurements.amplitude.shape == \
        result.recording.sweeps.shape[:2]


def test_a_streamed_case_is_reported_and_reviewed_as_a_held_one(small_case, tmp_path,
                                                                 monkeypatch):
    """The report and the review of a streamed case are those of the same case held."""
    import shutil

    from iomon.report.outputs import write_outputs
    from iomon.review.payload import stack_payload, sweep_payload
    from iomon.review.session import ReviewSession

    _, path = small_case
    folder = tmp_path / "case"
    folder.mkdir()
    for file in path.parent.glob(path.stem + ".*"):
        shutil.copy(file, folder / file.name)
    copy = folder / path.name
    held = ReviewSession(copy)
    monkeypatch.setattr(iomon.io.edf, "STREAM_BYTES", 0)
    streamed = ReviewSession(copy)
    assert isinstance(streamed.result.conditioned, SpilledSweeps)
    name = held.result.sweeps.ch_names[1]
    for session in (held, streamed):
        session.edit("exclude", {"channel": name, "sweep": [4], "reason": "noise"}, "AB")
    assert sweep_payload(streamed, 7) == sweep_payload(held, 7)
    assert stack_payload(streamed, 1, 30) == stack_payload(held, 1, 30)
    np.testing.assert_array_equal(streamed.result.measurements.amplitude,
                                  held.result.measurements.amplitude)

    write_outputs(streamed.result, tmp_path / "streamed", report=True)
    write_outputs(held.result, tmp_path / "held", report=True)
    for made in ("measurements.csv", "alerts.json", "report.html", "report.pdf"):
        assert (tmp_path / "streamed" / made).stat().st_size > 0
    assert ((tmp_path / "streamed" / "measurements.csv").read_bytes()
            == (tmp_path / "held" / "measurements.csv").read_bytes())
    # The figures draw the same sweeps: their PNGs are the same pictures.
    for png in sorted((tmp_path / "held").glob("*.png")):
        assert (tmp_path / "streamed" / png.name).read_bytes() == png.read_bytes(), png.name


def test_spilled_sweeps_index_as_an_array_and_leave_no_file(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the store's file goes
    values = np.random.default_rng(0).normal(size=(50, 4, 30)).astype(np.float32)
    store = SpilledSweeps(values.shape)
    for start in range(0, 50, 7):
        store[start:start + 7] = values[start:start + 7]
    keys = [slice(None), 3, (3, 1), (slice(2, 9), 1), (np.array([1, 5, 9]), 2),
            (slice(None), [0, 2]), np.arange(50) % 2 == 0, (7, slice(None), slice(3, 8)),
            (Ellipsis, 2), (np.array([4, 2]), slice(None), 5), -1, (slice(None, None, -3), 2),
            np.array([], int)]
    for key in keys:
        np.testing.assert_array_equal(store[key], values[key], err_msg=repr(key))
    np.testing.assert_array_equal(np.asarray(store), values)
    for beyond in (50, -51, [3, 50]):
        with pytest.raises(IndexError):
            store[beyond]
    with pytest.raises(IndexError, match="two steps"):
        store[np.array([1, 2]), np.array([0, 1])]  # numpy would pair them
    with pytest.raises(IndexError, match="consecutive"):
        store[0:10:2] = values[0:10:2]
    # Unlinked from the start: a crash or a kill leaves nothing in the temporary folder.
    assert os.fstat(store._file.fileno()).st_nlink == 0
    assert not list(tmp_path.iterdir())


def test_no_room_for_spilled_sweeps_is_said_in_one_line_before_any_work(tmp_path):
    """A temporary folder without room (here a file-size limit) is one clear error at once."""
    import subprocess
    import sys

    script = (
        "import resource, signal\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))\n"
        "from iomon.model.errors import InputError\n"
        "from iomon.model.spill import SpilledSweeps\n"
        "try:\n"
        "    SpilledSweeps((1000, 16, 1000))\n"
        "except InputError as err:\n"
        "    print(err)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("no room for the conditioned sweeps (64 MB) in the "
                                  f"temporary folder {tmp_path}"), done.stdout
    assert "set TMPDIR" in done.stdout and not list(tmp_path.iterdir())


def test_a_channel_of_every_spilled_sweep_is_read_a_chunk_at_a_time():
    """What the review asks on every edit (one channel of all sweeps) costs its own size."""
    store = SpilledSweeps((2000, 4, 500))
    values = np.arange(2000 * 4 * 500, dtype=np.float32).reshape(2000, 4, 500)
    for start in range(0, 2000, 300):
        store[start:start + 300] = values[start:start + 300]
    tracemalloc.start()
    try:
        channel = store[:, 2]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(channel, values[:, 2])
    # The result (4 MB) and a chunk (1 MB) with its part, not the 16 MB of all sweeps.
    assert peak < channel.nbytes + 3 * SpilledSweeps.CHUNK_BYTES, peak


def test_spilled_sweeps_read_alike_without_positioned_reads(monkeypatch):
    """Where the system has no preadv (Windows), a seek and a read under a lock do the same."""
    import os

    values = np.random.default_rng(1).normal(size=(30, 3, 20)).astype(np.float32)
    store = SpilledSweeps(values.shape)
    store[0:30] = values
    monkeypatch.delattr(os, "preadv")
    for key in [(slice(None, None, 2), 1), 5, np.array([3, 4, 9])]:
        np.testing.assert_array_equal(store[key], values[key])
