"""Issue 14: every damaged file gets one clear line naming it, never a crash, a hang, a
traceback, extra lines or a non-finite output; and the fuzz harness finds nothing.

Each failure class of the issue has a test here, built from a valid file mutated in the test
(the fuzz harness's reproducers, minimised, made readable).
"""

import dataclasses
import json
import math
import struct
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from iomon.io import read
from iomon.model.errors import InputError

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from fuzz_seeds import write_cfs, write_edfplus  # noqa: E402


def refused(path, match=None, options=None) -> str:
    """The one-line refusal of reading ``path``: it names the file (and ``match``)."""
    with pytest.raises(InputError) as info:
        read(path, options)
    text = str(info.value)
    assert str(path) in text and "\n" not in text, text
    if match is not None:
        assert match.lower() in text.lower(), text
    return text


def refused_in_child(path, match=None) -> str:
    """As :func:`refused`, with the read in a guarded child: a crash fails the test, not
    pytest (and a refusal that only the guard gave is not what is asked for)."""
    from iomon.model.guard import guarded

    with pytest.raises(InputError) as info:
        guarded(read, path, path=path, what="GUARD")
    text = str(info.value)
    assert "GUARD" not in text, f"not refused by the reader itself: {text}"
    assert str(path) in text and "\n" not in text
    if match is not None:
        assert match.lower() in text.lower(), text
    return text


def traced_peak(action) -> int:
    """Peak bytes allocated by Python and numpy while ``action()`` runs (tracemalloc)."""
    import tracemalloc

    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def never_parsed_by_neo(monkeypatch, class_name: str) -> list:
    """Replace one of neo's RawIO classes by one that records each file it is given and
    refuses it: the list stays empty if iomon refuses the file before neo sees it."""
    import neo.rawio

    given = []

    class Spy(getattr(neo.rawio, class_name)):
        def __init__(self, filename, *args, **kwargs):
            given.append(filename)
            raise InputError("given to neo")

    monkeypatch.setattr(neo.rawio, class_name, Spy)
    return given


def run_cli(capfd, *args):
    """Exit status, stdout and stderr (file descriptors: C-level output too) of ``main``."""
    from iomon.cli import main

    code = main([str(a) for a in args])
    out, err = capfd.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------- small files
SFREQ = 5000.0


def _signals(seconds=3.0, n_channels=2, seed=0):
    rng = np.random.default_rng(seed)
    n = int(seconds * SFREQ)
    signals = rng.standard_normal((n_channels, n)) * 5.0
    for onset in (0.5, 1.5, 2.5):
        start = int(onset * SFREQ)
        signals[:, start:start + 5] += 2000.0  # the stimulus artefact
    return signals


@pytest.fixture(scope="module")
def tiny_edf(tmp_path_factory):
    """A 3 s EDF+C (2 channels, 5 kHz) with three stimulus annotations."""
    from edfio import Edf, EdfAnnotation, EdfSignal

    path = tmp_path_factory.mktemp("edf") / "tiny.edf"
    signals = _signals()
    Edf([EdfSignal(s, SFREQ, label=name, physical_dimension="uV",
                   physical_range=(-4000, 4000)) for s, name in zip(signals, ("L TA", "R TA"))],
        annotations=[EdfAnnotation(t, None, "TcMEP 400V") for t in (0.5, 1.5, 2.5)]
        + [EdfAnnotation(0.2, None, "Baseline")]).write(path)
    return path


def _edfplus(folder, name="plus.edf", *, bdf=False, annotations=None, discontinuous=False):
    signals = _signals()
    records = signals.reshape(2, 3, -1).transpose(1, 0, 2)
    notes = annotations if annotations is not None else [(t, "TcMEP 400V")
                                                          for t in (0.5, 1.5, 2.5)]
    path = Path(folder) / name
    write_edfplus(path, records, SFREQ, ["L TA", "R TA"], [0.0, 1.0, 2.0], notes, bdf=bdf,
                  discontinuous=discontinuous)
    return path


def _patched(path, new_name, offset, value: bytes):
    content = bytearray(path.read_bytes())
    content[offset:offset + len(value)] = value
    target = path.with_name(new_name)
    target.write_bytes(bytes(content))
    return target


def _signal_field(path, column, width, index, value):
    """An EDF signal header field (column offset in units of the signal count) set to value."""
    n_signals = int(path.read_bytes()[252:256])
    at = 256 + column * n_signals + index * width
    return _patched(path, f"{path.stem}-{column}-{index}{path.suffix}", at,
                    value.encode().ljust(width))


# ---------------------------------------------------------------------------- EDF and BDF
@pytest.mark.parametrize("value, field", [
    ("nan", "record duration"), ("inf", "record duration"), ("0", "record duration"),
    ("-1", "record duration"), ("1e308", "record duration"), ("1e-300", "sampling rate")])
def test_edf_record_duration_is_checked(tiny_edf, value, field):
    path = _patched(tiny_edf, f"duration-{value}.edf", 244, value.encode().ljust(8))
    refused(path, field)


@pytest.mark.parametrize("value, field", [("-1", "never closed"), ("0", "no data"),
                                          ("-5", "record count")])
def test_edf_record_count_is_checked(tiny_edf, value, field):
    refused(_patched(tiny_edf, f"records{value}.edf", 236, value.encode().ljust(8)), field)


def test_bdf_plus_with_no_records(tmp_path):
    path = _edfplus(tmp_path, "empty.bdf", bdf=True)
    refused(_patched(path, "zero.bdf", 236, b"0       "), "no data")


@pytest.mark.parametrize("column, width, value, field", [
    (216, 8, "-2500", "samples per data record"),    # negative samples per record
    (216, 8, "0", "samples per data record"),
    (120, 8, "32767", "digital minimum"),            # digital range empty
    (128, 8, "-40000", "digital minimum"),           # digital range inverted
    (104, 8, "nan", "physical range"),
    (112, 8, "inf", "physical range"),
    (112, 8, "-4000", "physical range -4000.0 to -4000.0 is empty"),  # read uncalibrated
])
def test_edf_signal_header_is_checked(tiny_edf, column, width, value, field):
    refused(_signal_field(tiny_edf, column, width, 0, value), field)


def test_edf_numbers_must_be_ascii(tiny_edf):
    """A flipped top bit made a space a no-break space: Python's float() reads "100\xa0",
    edfio's ASCII decoding does not (it failed where the signal was first used)."""
    n_signals = int(tiny_edf.read_bytes()[252:256])
    at = 256 + 112 * n_signals + 7  # the last byte of the first physical maximum, a space
    refused(_patched(tiny_edf, "nbsp.edf", at, b"\xa0"), "range is not a number")


def test_bdf_signal_ranges_are_checked(tmp_path):
    path = _edfplus(tmp_path, "ranges.bdf", bdf=True)
    refused(_signal_field(path, 120, 8, 1, "8388607"), "digital minimum")


@pytest.mark.parametrize("onset", ["nan", "inf", "1e400", "-inf"])
def test_edf_annotation_times_must_be_finite(tmp_path, onset):
    path = _edfplus(tmp_path, annotations=[(0.5, "TcMEP 400V"), (1.5, "TcMEP 400V")])
    content = path.read_bytes().replace(b"+1.500000\x14TcMEP", f"{onset:>9}\x14TcMEP".encode())
    damaged = tmp_path / f"onset-{onset}.edf"
    damaged.write_bytes(content)
    refused(damaged, "onset of an annotation")


def test_baseline_marker_at_minus_infinity(tmp_path):
    path = _edfplus(tmp_path, annotations=[(0.5, "TcMEP"), (0.7, "Baseline")])
    damaged = tmp_path / "baseline.edf"
    damaged.write_bytes(path.read_bytes().replace(b"+0.700000\x14Baseline",
                                                  b"-inf     \x14Baseline"))
    refused(damaged, "onset of an annotation")


def test_edf_record_without_its_time_keeping_annotation(tmp_path):
    """Its start came from uninitialised memory (np.empty): 0.0 in one process, NaN in
    another."""
    path = _edfplus(tmp_path, discontinuous=True)
    content = bytearray(path.read_bytes())
    at = content.index(b"+1.000000\x14\x14\x00")
    content[at:at + 12] = bytes(12)  # record 1 keeps its stimulus, loses its start time
    damaged = tmp_path / "no-timekeeping.edf"
    damaged.write_bytes(bytes(content))
    refused(damaged, "data record 1 has no time-keeping annotation")


def test_dense_trigger_pulses_are_refused_fast(tmp_path):
    """A noise channel taken for a trigger gave thousands of sweeps (27 s, 3.7 GB)."""
    from edfio import Edf, EdfSignal

    rng = np.random.default_rng(1)
    n = int(20 * SFREQ)
    path = tmp_path / "noise-trigger.edf"
    Edf([EdfSignal(rng.standard_normal(n) * 5, SFREQ, label="L TA", physical_dimension="uV",
                   physical_range=(-100, 100)),
         EdfSignal(rng.integers(0, 2, n) * 5.0, SFREQ, label="TRIG", physical_dimension="V",
                   physical_range=(-10, 10))]).write(path)
    peak = traced_peak(lambda: refused(path, "not stimuli"))
    # Refused from the stimulus times alone, before any sweep is cut (3.7 GB before the check).
    assert peak < 50 * path.stat().st_size, f"{peak / 1e6:.0f} MB allocated"


# ---------------------------------------------------------------------------- MATLAB
def _mat(folder, name="sweeps.mat", compress=False, **extra):
    import scipy.io

    rng = np.random.default_rng(0)
    variables = {"data": rng.standard_normal((6, 2, 300)) * 50, "sfreq": 5000.0,
                 "first_sample_ms": -10.0, "channels": np.array(["L TA", "R TA"], dtype=object),
                 "onset_s": np.arange(6.0)}
    variables.update(extra)
    path = Path(folder) / name
    scipy.io.savemat(path, variables, do_compression=compress)
    return path


def _dims_offset(content: bytes, variable: str) -> int:
    """Offset of the dimensions tag of a variable of an uncompressed MAT v5 file."""
    offset = 128
    while offset < len(content):
        _, size = struct.unpack_from("<II", content, offset)
        dims = offset + 8 + 16  # the matrix tag, then its array flags
        dims_size = struct.unpack_from("<I", content, dims + 4)[0]
        name_tag = dims + 8 + dims_size + (-dims_size % 8)
        first, length = struct.unpack_from("<II", content, name_tag)
        if first >> 16:  # a small element: name of up to 4 bytes inside the tag
            name = content[name_tag + 4:name_tag + 4 + (first >> 16)]
        else:
            name = content[name_tag + 8:name_tag + 8 + length]
        if name == variable.encode():
            return dims
        offset += 8 + size + (-size % 8)
    raise AssertionError(f"no variable {variable}")


@pytest.mark.parametrize("damage", ["dims size", "huge dim", "negative dim", "class"])
def test_damaged_matlab_fields_are_refused_not_a_segfault(tmp_path, damage):
    """scipy.io.loadmat segfaulted on such files: iomon died with no message at all."""
    path = _mat(tmp_path)
    content = bytearray(path.read_bytes())
    dims = _dims_offset(bytes(content), "channels")
    if damage == "dims size":  # the fuzz reproducer: 3 bytes of dimensions
        struct.pack_into("<I", content, dims + 4, 3)
    elif damage == "huge dim":
        struct.pack_into("<i", content, dims + 8, 2**31 - 1)
    elif damage == "negative dim":
        struct.pack_into("<i", content, dims + 12, -7)
    else:  # an array class that does not exist
        struct.pack_into("<B", content, dims - 8, 99)
    damaged = tmp_path / f"{damage.replace(' ', '-')}.mat"
    damaged.write_bytes(bytes(content))
    refused_in_child(damaged, "damaged MATLAB file")


def test_compressed_matlab_variables_are_walked_too(tmp_path):
    import zlib

    path = _mat(tmp_path, "packed.mat", compress=True)
    content = path.read_bytes()
    offset = 128
    kind, size = struct.unpack_from("<II", content, offset)
    inner = bytearray(zlib.decompress(content[offset + 8:offset + 8 + size]))
    struct.pack_into("<i", inner, 8 + 16 + 8, 1 << 30)  # the first dimension of 'data'
    packed = zlib.compress(bytes(inner))
    damaged = tmp_path / "packed-damaged.mat"
    damaged.write_bytes(content[:offset] + struct.pack("<II", 15, len(packed)) + packed
                        + content[offset + 8 + size:])
    refused_in_child(damaged, "damaged MATLAB file")


def test_scipy_matlab_reader_runs_under_the_guard(tmp_path, monkeypatch):
    """What the walk does not know still cannot take iomon down: scipy reads in a child."""
    import ctypes

    import scipy.io

    path = _mat(tmp_path)
    monkeypatch.setattr(scipy.io, "loadmat", lambda *args, **kwargs: ctypes.string_at(0))
    refused(path, "the MATLAB parser crashed (SIGSEGV)")


@pytest.mark.parametrize("variables, field", [
    ({"sfreq": np.zeros((0, 0))}, "'sfreq' must be one real number"),
    ({"sfreq": "fast"}, "'sfreq' must be one real number"),
    ({"first_sample_ms": "early"}, "'first_sample_ms' must be one real number"),
    ({"sfreq": -2.0e-33}, "sampling rate"),
    ({"onset_s": np.array([0, 1, 2, 3, 4, np.inf])}, "'onset_s' holds an infinite value"),
    ({"stim_intensity": np.array(["a"] * 6, dtype=object)}, "'stim_intensity' must be real"),
])
def test_matlab_scalars_and_times_are_checked(tmp_path, variables, field):
    refused(_mat(tmp_path, **variables), field)


# ---------------------------------------------------------------------------- CSV, CFS
def _csv(folder, name="sweeps.csv", rows=None):
    times = [f"{t:.1f}" for t in np.arange(-10, 20.2, 0.2)]
    lines = [",".join(["sweep", "channel", "onset_s"] + times)]
    rng = np.random.default_rng(0)
    for sweep in range(4):
        for channel in ("L TA", "R TA"):
            values = ",".join(f"{v:.2f}" for v in rng.standard_normal(len(times)))
            lines.append(f"{sweep},{channel},{sweep * 2.0},{values}")
    path = Path(folder) / name
    path.write_text("\n".join(rows(lines) if rows else lines) + "\n")
    return path


@pytest.mark.parametrize("damage, field", [
    (lambda lines: lines[:-1] + [lines[-1][:2]], "fewer samples"),        # cut in its cells
    (lambda lines: lines[:-1] + [lines[-1].replace(",R TA,", ",,")], "has no 'channel'"),
    (lambda lines: lines[:-1] + [lines[-1][:200]], "fewer samples"),      # cut in its samples
    (lambda lines: lines[:3] + [lines[3].replace(",2.0,", ",1e400,", 1)] + lines[4:],
     "onset_s"),
    (lambda lines: lines[:3] + [lines[3].replace(",2.0,", ",,", 1)] + lines[4:], "onset_s"),
    (lambda lines: lines[:2] + [lines[2][:-6] + "-1e999"] + lines[3:], "non-numeric cell"),
])
def test_damaged_csv_rows(tmp_path, damage, field):
    refused(_csv(tmp_path, rows=damage), field)


@pytest.mark.parametrize("suffix, sep", [(".tsv", "\t"), (".csv", ",")])
@pytest.mark.parametrize("cut", [lambda lines: lines[:1],                  # only the header
                                 lambda lines: [lines[0][:300]]])         # cut in the header
def test_a_table_without_rows_is_refused_in_one_line(tmp_path, capfd, suffix, sep, cut):
    """Cut in (or just after) its header row, a table gave IndexError and exit 1."""
    path = _csv(tmp_path, f"cut{suffix}", rows=lambda lines: [
        line.replace(",", sep) for line in cut(lines)])
    code, out, err = run_cli(capfd, "info", path)
    assert (code, out) == (2, ""), err
    assert err.count("\n") == 1 and str(path) in err and "no rows of sweeps" in err, err


def test_cfs_tables_outside_the_file(tmp_path):
    from iomon.io import read as read_any

    sweeps = read_any(_csv(tmp_path)).sweeps
    good = write_cfs(tmp_path / "good.cfs", sweeps, n_frames=4)
    content = bytearray(good.read_bytes())
    table = struct.unpack_from("<i", content, 134)[0]
    for name, (offset, fmt, value), field in (
            ("table.cfs", (134, "<i", len(content) + 100), "frame table outside"),
            ("frame.cfs", (table, "<i", len(content) - 10), "outside the file"),
            ("spacing.cfs", (178 + 44, "<h", -2), "corrupt or truncated"),
            ("points.cfs", (struct.unpack_from("<i", content, table)[0] + 34, "<i", 2**30),
             "corrupt or truncated")):
        damaged = bytearray(content)
        struct.pack_into(fmt, damaged, offset, value)
        (tmp_path / name).write_bytes(bytes(damaged))
        refused(tmp_path / name, field)


def test_cfs_frame_variables_outside_the_file_are_left_out(tmp_path):
    from iomon.io import read as read_any

    sweeps = read_any(_csv(tmp_path)).sweeps
    content = bytearray(write_cfs(tmp_path / "good.cfs", sweeps, n_frames=4).read_bytes())
    variables = 178 + 48 * 2 + 36  # after the channels and the file variables' system entry
    struct.pack_into("<h", content, variables + 34, 30000)  # the frame variable's offset
    damaged = tmp_path / "variables.cfs"
    damaged.write_bytes(bytes(content))
    recording = read(damaged)
    assert "cfs_Intensity" not in recording.sweeps.table


# ---------------------------------------------------------------------------- neo formats
def _abf1(folder, name="ta.abf"):
    import pyabf.abfWriter

    rng = np.random.default_rng(0)
    sweeps = rng.standard_normal((4, 600)) * 0.05
    sweeps[:, 50:55] += 5.0  # the stimulus artefact, 10 ms in
    path = Path(folder) / name
    pyabf.abfWriter.writeABF1(sweeps, str(path), SFREQ, units="mV")
    return path


def test_abf_tag_count_of_two_to_the_31_is_refused_at_once(tmp_path, monkeypatch):
    """It ran 60-70 s at 2.4 GB before a refusal saying "error return without exception set".

    "At once": from the header's 2 kB, before neo is given the file (no wall clock: a loaded
    machine made a time limit fail).
    """
    opened = never_parsed_by_neo(monkeypatch, "AxonRawIO")
    path = _patched(_abf1(tmp_path), "tags.abf", 44, struct.pack("<ii", 4, 2**31 - 1))
    peak = traced_peak(lambda: refused(path, "tag section"))
    # 7 kB of file; neo held 2.4 GB of it (imports made here count too: a few hundred kB).
    assert opened == [] and peak < 8 << 20, (opened, peak)


@pytest.mark.parametrize("offset, fmt, value, field", [
    (40, "<i", -3, "data section"),          # a negative data pointer
    (10, "<i", 10**8, "data section"),       # more samples than the file holds
    (122, "<f", math.nan, "sample interval"),
    (120, "<h", 0, "channels"),
])
def test_abf1_header_fields(tmp_path, offset, fmt, value, field):
    good = _abf1(tmp_path)
    refused(_patched(good, f"f{offset}.abf", offset, struct.pack(fmt, value)), field)


#: Address space (bytes) for an ``iomon`` run on a damaged file that once asked for any size.
RUN_LIMIT = 3 << 30


def run_bounded(args, env=None, prelude="") -> tuple[int, str, int]:
    """Run ``iomon ARGS`` in a process of its own under :data:`RUN_LIMIT` (RLIMIT_AS).

    ``prelude`` is Python run first (to take a check away, and see the guard alone). Returns
    the exit status, stderr and the peak resident memory, bytes, of the process or any child
    it waited for (``wait4``).
    """
    import os
    import subprocess
    import tempfile

    script = (f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({RUN_LIMIT}, "
              f"{RUN_LIMIT}))\n{prelude}\nfrom iomon.cli import main\n"
              f"raise SystemExit(main({[str(a) for a in args]!r}))")
    with tempfile.TemporaryFile() as err:
        process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL,
                                   stderr=err, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return process.returncode, err.read().decode(), usage.ru_maxrss * 1024


def damaged_pclamp(realdata, folder) -> Path:
    """The issue's damaged ABF: a real pCLAMP 11 file (60 KB) whose empty tag section (0
    entries of 0 bytes) is given 2^31 - 1 entries. neo read the same 0 bytes again and again,
    keeping each entry: ``iomon info`` grew to 24 GB in 217 s before the kernel killed it."""
    content = bytearray((realdata / "abf" / "2018_12_09_pCLAMP11_0001.abf").read_bytes())
    assert struct.unpack_from("<IIq", content, 76 + 16 * 11) == (0, 0, 0)
    struct.pack_into("<q", content, 76 + 16 * 11 + 8, 2**31 - 1)
    path = Path(folder) / "tags.abf"
    path.write_bytes(bytes(content))
    return path


def test_damaged_abf_is_refused_from_its_header_in_bounded_memory(realdata, tmp_path):
    path = damaged_pclamp(realdata, tmp_path)
    code, err, peak = run_bounded(["info", path])
    assert code == 2 and err.count("\n") == 1 and str(path) in err, err
    assert "tag section's entries are 0 bytes" in err, err
    assert peak < 1 << 30, f"peak {peak / 2**30:.2f} GiB"


def test_damaged_abf_past_the_checks_is_stopped_by_the_guard_s_memory_limit(realdata,
                                                                           tmp_path):
    """Every neo parse runs under the guard: a damage no check knows is stopped at its limit
    (here lowered to 256 MB; 2 GB plus 16 bytes per byte of the file by default)."""
    import os

    path = damaged_pclamp(realdata, tmp_path)
    code, err, peak = run_bounded(
        ["info", path], env=dict(os.environ, IOMON_GUARD_MEMORY_MB="256"),
        prelude="import iomon.io.neo_adapter as a; a._check_structure = lambda *args: None")
    assert code == 2 and err.count("\n") == 1 and str(path) in err, err
    assert "the Axon ABF parser needed more than" in err, err
    assert peak < 1 << 30, f"peak {peak / 2**30:.2f} GiB"


def test_abf2_entry_sizes_are_those_neo_reads():
    """The sizes the ABF2 check asks of a section's entries are what neo reads of one."""
    import neo.rawio.axonrawio as axon

    from iomon.io.neo_adapter import _ABF2_ENTRY_BYTES

    descriptions = {1: axon.ADCInfoDescription, 2: axon.DACInfoDescription,
                    3: axon.EpochInfoDescription, 5: axon.EpochInfoPerDACDescription,
                    11: axon.TagInfoDescription}
    assert {k: struct.calcsize("<" + "".join(f for _, f in d))
            for k, d in descriptions.items()} == {k: n for k, (_, n) in _ABF2_ENTRY_BYTES.items()}


def test_abf_written_by_pyabf_reads_without_extra_lines(tmp_path, capfd):
    """neo printed two lines for every ABF1 that pyabf writes, valid ones too."""
    path = _abf1(tmp_path)
    (tmp_path / "ta.case.toml").write_text("[recording]\nstimulus_s = 0.01\n")
    code, out, err = run_cli(capfd, "info", path)
    assert code == 0 and err == "", err
    assert out.startswith("file:")


def test_truncated_winwcp(realdata, tmp_path):
    good = (realdata / "wcp" / "wcp-file.wcp").read_bytes()
    path = tmp_path / "cut.wcp"
    path.write_bytes(good[:len(good) - 3000])  # "mmap length is greater than file size"
    refused(path, "truncated")
    path.write_bytes(good.replace(b"NR=11", b"NR=99", 1))
    refused(path, "records")


def _nix(folder, t_start=0.0):
    import neo
    import quantities as pq

    rng = np.random.default_rng(0)
    block = neo.Block()
    for i in range(3):
        segment = neo.Segment()
        segment.analogsignals.append(neo.AnalogSignal(
            rng.standard_normal((300, 2)) * 0.05, units="mV", sampling_rate=SFREQ * pq.Hz,
            t_start=(t_start + i) * pq.s))
        block.segments.append(segment)
    path = Path(folder) / f"sweeps{t_start}.nix"
    with neo.io.NixIO(str(path), mode="ow") as nix:
        nix.write_block(block)
    return path


def test_truncated_and_damaged_nix(tmp_path):
    good = _nix(tmp_path)
    cut = tmp_path / "cut.nix"
    cut.write_bytes(good.read_bytes()[:len(good.read_bytes()) // 2])
    refused(cut)
    refused(_nix(tmp_path, t_start=math.nan), "start")


def test_a_hanging_or_crashing_parser_becomes_one_line(tmp_path, monkeypatch):
    """A corrupted NIX file hung for ever inside HDF5; a C parser can crash or blow up."""
    import ctypes

    from iomon.model.guard import guarded

    path = tmp_path / "any.nix"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    monkeypatch.setenv("IOMON_GUARD_TIMEOUT_S", "1")
    cases = {"did not finish within 1 s": (time.sleep, 60),
             "crashed (SIGSEGV)": (ctypes.string_at, 0),  # reads address 0, in the child
             "more than": (bytearray, 40 << 30),
             "cannot be read as NIX: ZeroDivisionError": (divmod, 1, 0)}
    for message, (func, *args) in cases.items():
        # A guard that let the sleep run would return None after it: no refusal, a failure.
        with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
            guarded(func, *args, path=path, what="NIX")
    assert guarded(sum, [1, 2], path=path, what="NIX") == 3


def test_damaged_spike2_event_blocks(realdata, tmp_path):
    content = bytearray((realdata / "smr" / "physiology.smr").read_bytes())
    sidecar = '[recording]\nstimulus_channel = "Magnet"\nwindow_ms = [-20, 100]\n'
    n_channels = struct.unpack_from("<h", content, 30)[0]
    damaged = 0
    for c in range(n_channels):
        header = 512 + 140 * c
        if content[header + 122] in (2, 3, 4) and struct.unpack_from("<h", content,
                                                                      header + 14)[0]:
            block = struct.unpack_from("<i", content, header + 6)[0]
            struct.pack_into("<h", content, block + 18, -1)  # the block's item count
            struct.pack_into("<i", content, block + 8, 2**31 - 1)  # its start time
            damaged += 1
    assert damaged
    path = tmp_path / "physiology.smr"
    path.write_bytes(bytes(content))
    (tmp_path / "physiology.case.toml").write_text(sidecar)
    from iomon.case.sidecar import read_case

    try:
        recording = read(path, read_case(tmp_path / "physiology.case.toml").read_options)
    except InputError as err:
        assert str(path) in str(err) and "\n" not in str(err)
    else:
        assert np.isfinite(recording.sweeps.table["onset_s"]).all()


# ---------------------------------------------------------------------------- BrainVision
def test_brainvision_odd_markers(tmp_path, capfd):
    """Markers that leave no stimulus-free stretch made MNE fail ("No data in this range")."""
    import pybv

    signals = _signals(seconds=1.0) * 1e-6
    events = [{"onset": int(t * SFREQ), "duration": 1, "description": 1, "type": "Stimulus"}
              for t in np.arange(0.011, 0.9, 0.102)]
    pybv.write_brainvision(data=signals, sfreq=SFREQ, ch_names=["L TA", "R TA"],
                           fname_base="odd", folder_out=tmp_path, events=events, unit="µV")
    code, _, err = run_cli(capfd, "info", tmp_path / "odd.vhdr")
    assert code in (0, 2) and len(err.strip().splitlines()) <= 1, err
    header = (tmp_path / "odd.vhdr").read_text()
    (tmp_path / "odd.vhdr").write_text(header.replace("SamplingInterval=200",
                                                      "SamplingInterval=0"))
    refused(tmp_path / "odd.vhdr", "SamplingInterval")


# ---------------------------------------------------------------------------- one line
def test_refusals_from_the_model_name_the_file(tiny_edf, tmp_path):
    """"sampling rate must be a positive number of Hz, got -2.0e-33" named no file; nor did
    the baseline's "no valid sweep before lesioning"."""
    from iomon.io.base import assemble
    from iomon.pipeline import analyze_file

    with pytest.raises(InputError, match="tiny.edf: sampling rate"):
        assemble(tiny_edf, "x", "x", np.zeros((1, 1, 4)), np.arange(4) / 1e3, -2.0e-33,
                 ["L TA"], [], 1.0)
    sidecar = tmp_path / "lesioning.case.toml"
    sidecar.write_text('[[phases]]\nname = "lesioning"\nstart_s = 0\nend_s = 3\n')
    with pytest.raises(InputError, match="tiny.edf: no valid sweep before lesioning"):
        analyze_file(tiny_edf, sidecar)


def test_library_warnings_never_reach_the_terminal(tmp_path, capfd):
    """numpy RuntimeWarnings added lines to refusals and to successful runs."""
    path = _csv(tmp_path, "huge.csv", rows=lambda lines: lines[:1] + [
        line.replace(",0.", ",1e300") for line in lines[1:]])
    code, out, err = run_cli(capfd, "analyze", path, "--no-report", "--out", tmp_path / "o")
    assert code in (0, 2) and len(err.strip().splitlines()) <= (1 if code else 0), err
    assert "Warning" not in err


# ---------------------------------------------------------------------------- outputs
def test_non_finite_values_are_written_as_null(cases, tmp_path):
    """A NaN controls_percent (an ABF's) made writing alerts.json fail after the analysis."""
    from iomon.report.outputs import write_outputs
    from iomon.sim import SHIPPED_MUSCLES, SHORT_SCHEDULE

    _, result = cases.analyse("focal_recovering", 0, muscles=SHIPPED_MUSCLES,
                              schedule=SHORT_SCHEDULE)
    assert result.alerts
    alert = dataclasses.replace(result.alerts[0], controls_percent=math.nan, onset_s=math.inf)
    result = dataclasses.replace(result, alerts=(alert,) + result.alerts[1:])
    write_outputs(result, tmp_path / "o", report=False)
    alerts = json.loads((tmp_path / "o" / "alerts.json").read_text())["alerts"]
    assert alerts[0]["controls_percent"] is None and alerts[0]["onset_s"] is None


# ---------------------------------------------------------------------------- sidecar
@pytest.mark.parametrize("text, field", [
    ("x = " + "[" * 1000 + "]" * 1000 + "\n", "deeper"),
    ("[case]\nid = \"a\"\nlevels = " + "[" * 20 + "]" * 20 + "\n", "deeper than"),
    ("[clinical]\nage = " + "1" * 4400 + "\n", "not valid TOML"),
    ("[recording]\nwindow_ms = [-" + "1" * 400 + ", 100]\n", "recording.window_ms[0]"),
    ("[recording]\nwindow_ms = [nan, 100]\n", "recording.window_ms[0]"),
    ("[recording]\nwindow_ms = [-10, inf]\n", "recording.window_ms[1]"),
    ("[recording]\nwindow_ms = [-10, 1e400]\n", "recording.window_ms[1]"),
    ("[[phases]]\nname = \"lesioning\"\nstart_s = nan\nend_s = 5\n",
     "[[phases]] entry 1 ('lesioning'): start_s"),
    ("[[phases]]\nname = \"lesioning\"\nstart_s = 0\nend_s = 1e20\n",
     "[[phases]] entry 1 ('lesioning'): end_s"),
    ("[[rebaseline]]\nat_s = 1e300\n", "[[rebaseline]] entry 1: at_s"),
    ("[processing]\npresence_uv = 1e30\n", "processing.presence_uv"),
    ("[processing]\nband_hz = [2, " + "9" * 30 + "]\n", "processing.band_hz"),
    ("[tabular]\nsfreq_hz = 1e12\n", "tabular.sfreq_hz"),
    ("[recording]\nstimulus_s = 1e300\n", "recording.stimulus_s"),
    ("# " + "x" * (1 << 20) + "\n", "larger than"),
])
def test_sidecar_limits(tmp_path, text, field):
    from iomon.case.sidecar import read_case

    path = tmp_path / "bad.case.toml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        read_case(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message and field in message, message


# ---------------------------------------------------------------------------- the harness
@pytest.mark.slow
def test_fuzz_harness_finds_no_failure_place(tmp_path):
    """The harness at a small budget with a fixed seed (the full run is in the README): 242
    mutants, 22 of each format group, in about 40 s on two cores."""
    import fuzz

    report = fuzz.run(mutants=22 * len(fuzz.GROUPS), seed=20240614, workers=2,
                      out=tmp_path, minimise=False)
    assert report.mutants == 22 * len(fuzz.GROUPS)
    assert not report.places, report.text()


def test_fuzz_harness_classifies_failures(tmp_path):
    """The harness tells a crash, a hang and an extra line from a refusal."""
    import fuzz

    folder = tmp_path / "m"
    folder.mkdir()
    named = [folder / "x.edf"]
    out = tmp_path / "out"
    one_line = (2, "", f"iomon: error: {named[0]}: bad\n", None)
    assert fuzz._classify("info", one_line, named, folder, out).kind == "refused"
    two_lines = (2, "", f"warning\niomon: error: {named[0]}: bad\n", None)
    assert fuzz._classify("info", two_lines, named, folder, out).kind == "lines"
    unnamed = (2, "", "iomon: error: bad\n", None)
    assert fuzz._classify("info", unnamed, named, folder, out).kind == "unnamed"
    try:
        int("x")
    except ValueError as err:
        bug = (1, "", "", err)
    assert fuzz._classify("info", bug, named, folder, out).kind == "unexpected"
