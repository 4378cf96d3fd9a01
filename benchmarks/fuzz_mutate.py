"""Mutations for the fuzz harness (benchmarks/fuzz.py): planned from a seed, applied to bytes.

A mutation is a list of operations, each a tuple of plain values (so it can be printed,
stored in a reproducer's JSON and replayed). Operations know the formats where it pays:
the numeric fields of EDF/BDF, ABF, CFS, Spike2, WinWCP and MATLAB headers and tag tables
(set to 0, -1, 2^31, NaN, inf, 1e308...), EDF+ annotation onsets and texts, numbers in text
formats and sidecars, TOML values and nesting; the rest is byte flips, garbage, truncation,
deletion and duplication.
"""

from __future__ import annotations

import math
import re
import struct
import zlib

import numpy as np

INT_VALUES = (0, -1, 1, 2, 3, 7, 255, 256, 32767, -32768, 65535, 2**31 - 1, -2**31, 2**31,
              2**32 - 1, 2**63 - 1, -2**63)
FLOAT_VALUES = (0.0, -0.0, -1.0, 1.0, math.nan, math.inf, -math.inf, 1e308, -1e308, 1e-308,
                5e-324, 3.4e38, -3.4e38, 1e-45, 1e-30, 1e30, -2.0e-33)
TEXT_NUMBERS = ("0", "-0", "-1", "1", "2", "2147483648", "-2147483649", "4294967296", "nan",
                "NaN", "inf", "-inf", "Infinity", "1e308", "-1e308", "1e400", "-1e400",
                "1e-400", "5e-324", "0.0", "", " ", "+", "-", ".", "1e", "0x10", "9" * 400,
                "1" + "0" * 30, "1,5", "\u0663", "1e-30", "-2.0e-33", "99999999")
TOML_VALUES = ("nan", "inf", "-inf", "+nan", "1e308", "-1e308", "1e400", "-1e400", "5e-324",
               "0", "-0", "-1", "1", "0.0", "2147483648", "9223372036854775807",
               "1" * 400, "1" * 5000, "0x7fffffff", "true", '""', '"x"', '"' + "x" * 100_000 + '"',
               "[]", "[1, 2]", "[nan, inf]", "[-1e400, 1e400]", "[[1, 2], [3, 4]]", "{}",
               "{a = 1}", "1979-05-27T07:32:00Z", "1979-05-27", "07:32:00", "[0, 0]",
               "[-1, 1e308]", "[1e-300, 2e-300]", "[-1" + "0" * 400 + ", 1]",
               "[" * 1000 + "]" * 1000, "{a = " * 600 + "1" + "}" * 600, '"none"', '"NONE"')
TOML_KEYS = ("id", "side", "levels", "procedure", "name", "muscle", "limb", "role", "start_s",
             "end_s", "window_ms", "mains_hz", "stimulus_channel", "stimulus_s", "band_hz",
             "artefact_ms", "noise_window_ms", "presence_uv", "presence_noise_ratio",
             "baseline_sweeps", "channel", "sweep", "from_s", "to_s", "reason", "at_s", "text",
             "age", "surgery_date", "sfreq_hz", "first_sample_ms", "layout", "data_variable",
             "channels", "unit")
TOML_TABLES = ("[case]", "[[channels]]", "[[phases]]", "[recording]", "[processing]",
               "[[exclude]]", "[[events]]", "[[rebaseline]]", "[clinical]", "[tabular]",
               "[" + ".".join(["a"] * 1000) + "]", "[[" + ".".join(["b"] * 300) + "]]")
TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".vhdr", ".vmrk", ".toml", ".json")
NUMBER = re.compile(rb"[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
TAL_NUMBER = re.compile(rb"[+-]\d+(?:\.\d*)?(?=[\x14\x15])")
TAL_TEXT = re.compile(rb"(?<=\x14)[^\x14\x00]+(?=\x14)")
TIMEKEEPING = re.compile(rb"[+-]\d+(?:\.\d*)?\x14\x14\x00")
TOML_ASSIGNMENT = re.compile(rb"^(\s*[\w\"'.-]+\s*=\s*)(.*)$", re.MULTILINE)
TAL_TEXTS = ("TcMEP 1e400 V", "TcMEP nan V", "Stimulus", "Baseline", "DREZ lesioning start",
             "DREZ lesioning end", "TcMEP 400V C3-C4", "x" * 200, "\u00ff\u00fe", "stim " * 40)
MARKER_LINES = ("Mk99=Stimulus,S  1,0,1,0", "Mk99=Stimulus,S  1,-5,1,0",
                "Mk99=Stimulus,S  1,99999999999,1,0", "Mk99=Stimulus,S  1,nan,1,0",
                "Mk99=Comment,DREZ lesioning start,1e400,1,0", "Mk99=Stimulus,,,,",
                "Mk99=Stimulus,S  1,10,-1,0", "Mk99=Stimulus,S  1,10,1,999",
                "Mk1=New Segment,,1,1,0,20240101", "Mk99=Comment,Baseline,-1,1,0")

ENCODINGS = ("<i2", "<u2", "<i4", "<u4", "<i8", "<f4", "<f8", "u1")


# ---------------------------------------------------------------------------- field locators
def _ascii_fields(pairs):
    return [(offset, width, "ascii") for offset, width in pairs]


def edf_fields(data: bytes) -> list:
    """The EDF/BDF header's fields (ASCII, fixed width), general and per signal."""
    fields = _ascii_fields([(168, 8), (176, 8), (184, 8), (192, 44), (236, 8), (244, 8),
                            (252, 4)])
    try:
        n = int(data[252:256].decode("ascii").strip())
    except ValueError:
        return fields
    if not 0 < n < 4096 or len(data) < 256 * (n + 1):
        return fields
    for column, width in ((0, 16), (96, 8), (104, 8), (112, 8), (120, 8), (128, 8),
                          (216, 8), (224, 32)):
        fields += _ascii_fields([(256 + column * n + i * width, width) for i in range(n)])
    return fields


_ABF1 = ((8, "<i2"), (10, "<i4"), (14, "<i2"), (16, "<i4"), (40, "<i4"), (44, "<i4"),
         (48, "<i4"), (92, "<i4"), (96, "<i4"), (100, "<i2"), (120, "<i2"), (122, "<f4"),
         (126, "<f4"), (138, "<i4"), (142, "<i4"), (146, "<i4"), (244, "<f4"), (252, "<i4"),
         (378, "<i2"), (410, "<i2"), (730, "<f4"), (922, "<f4"), (986, "<f4"), (1050, "<f4"),
         (1114, "<f4"), (4, "<f4"), (32, "<i4"), (36, "<i4"))


def abf_fields(data: bytes) -> list:
    """ABF1 header fields, or the ABF2 section table and the start of each section."""
    if data[:4] == b"ABF ":
        return [(offset, np.dtype(enc).itemsize, enc) for offset, enc in _ABF1]
    if data[:4] != b"ABF2":
        return []
    fields = [(4, 4, "<u4"), (8, 4, "<u4"), (12, 4, "<u4")]
    for k in range(18):
        at = 76 + 16 * k
        fields += [(at, 4, "<u4"), (at + 4, 4, "<u4"), (at + 8, 8, "<i8")]
        if at + 16 <= len(data):
            block, size, _ = struct.unpack_from("<IIq", data, at)
            start = block * 512
            for offset in range(start, min(start + min(size, 256), len(data) - 4), 2):
                fields.append((offset, 2, "<i2"))
                if offset % 4 == 0:
                    fields += [(offset, 4, "<i4"), (offset, 4, "<f4")]
    return fields


def cfs_fields(data: bytes) -> list:
    """CFS general header, channel and variable descriptions, frame table and frame headers."""
    fields = [(22, 4, "<i4"), (42, 2, "<i2"), (44, 2, "<i2"), (46, 2, "<i2"), (48, 2, "<i2"),
              (50, 2, "<i2"), (52, 4, "<i4"), (56, 2, "<u2"), (58, 2, "<u2"), (134, 4, "<i4")]
    if len(data) < 178:
        return fields
    n_channels, n_file, n_ds = struct.unpack_from("<hhh", data, 42)
    n_frames, table = struct.unpack_from("<H", data, 56)[0], struct.unpack_from("<i", data,
                                                                                   134)[0]
    for c in range(max(0, min(n_channels, 64))):
        at = 178 + 48 * c
        fields += [(at + 42, 1, "u1"), (at + 43, 1, "u1"), (at + 44, 2, "<i2"),
                   (at + 46, 2, "<i2"), (at, 1, "u1"), (at + 22, 1, "u1"), (at + 32, 1, "u1")]
    variables = 178 + 48 * max(n_channels, 0)
    for v in range(max(0, min(n_file + n_ds + 2, 64))):
        at = variables + 36 * v
        fields += [(at + 22, 2, "<i2"), (at + 34, 2, "<i2")]
    for f in range(min(n_frames, 64)):
        at = table + 4 * f
        if not 0 <= at <= len(data) - 4:
            break
        fields.append((at, 4, "<i4"))
        header = struct.unpack_from("<i", data, at)[0]
        if not 0 <= header <= len(data) - 30:
            continue
        fields += [(header + 4, 4, "<i4"), (header + 8, 4, "<i4")]
        for c in range(max(0, min(n_channels, 16))):
            channel = header + 30 + 24 * c
            fields += [(channel, 4, "<i4"), (channel + 4, 4, "<i4"), (channel + 8, 4, "<f4"),
                       (channel + 12, 4, "<f4"), (channel + 16, 4, "<f4"),
                       (channel + 20, 4, "<f4")]
        fields.append((header + 30 + 24 * max(n_channels, 0), 4, "<f4"))
    return [f for f in fields if f[0] + f[1] <= len(data)]


def spike2_fields(data: bytes) -> list:
    """Spike2 (SON) file header, channel headers and the headers of data blocks."""
    if len(data) < 512:
        return []
    fields = [(20, 2, "<i2"), (22, 2, "<i2"), (26, 4, "<i4"), (30, 2, "<i2"), (32, 2, "<i2"),
              (34, 2, "<i2"), (36, 2, "<i2"), (40, 4, "<i4"), (44, 8, "<f8"), (0, 2, "<i2")]
    n_channels = struct.unpack_from("<h", data, 30)[0]
    for c in range(max(0, min(n_channels, 64))):
        at = 512 + 140 * c
        if at + 140 > len(data):
            break
        fields += [(at + o, np.dtype(e).itemsize, e) for o, e in (
            (0, "<i2"), (2, "<i4"), (6, "<i4"), (10, "<i4"), (14, "<i2"), (16, "<i2"),
            (18, "<i2"), (22, "<i2"), (24, "<i2"), (98, "<i4"), (102, "<i4"), (106, "<i2"),
            (118, "<f4"), (122, "u1"), (124, "<f4"), (128, "<f4"), (138, "<i2"))]
        block = struct.unpack_from("<i", data, at + 6)[0]
        for _ in range(8):
            if not 0 < block <= len(data) - 20:
                break
            fields += [(block, 4, "<i4"), (block + 4, 4, "<i4"), (block + 8, 4, "<i4"),
                       (block + 12, 4, "<i4"), (block + 16, 2, "<i2"), (block + 18, 2, "<i2")]
            block = struct.unpack_from("<i", data, block + 4)[0]
    return fields


def wcp_fields(data: bytes) -> list:
    """WinWCP record analysis blocks (floats) after the text header."""
    text = data[:4096].decode("latin-1")

    def key(name, default):
        match = re.search(rf"^{name}=\s*(\d+)", text, re.MULTILINE)
        return int(match.group(1)) if match else default

    nbh, nba, nbd, nr = key("NBH", 2), key("NBA", 2), key("NBD", 2), key("NR", 0)
    fields = []
    for r in range(min(nr, 16)):
        start = nbh * 512 + r * (nba + nbd) * 512
        fields += [(start + o, 4, "<f4") for o in range(8, 8 + 4 * 16, 4)
                   if start + o + 4 <= len(data)]
    return fields


def hdf5_fields(data: bytes) -> list:
    """Aligned integers and floats in the first 8 kB of an HDF5 file (superblock, headers)."""
    out = []
    for offset in range(8, min(len(data), 8192) - 8, 4):
        out += [(offset, 4, "<u4"), (offset, 8, "<u8" if offset % 8 == 0 else "<i8")]
    return out


def mat_fields(data: bytes, start: int = 128, depth: int = 0) -> list:
    """Tags, array flags and dimensions of a MATLAB v5 element sequence (and v4 headers)."""
    if start == 128 and not data.startswith(b"MATLAB"):
        return _mat4_fields(data)
    fields, offset = [], start
    while offset + 8 <= len(data) and len(fields) < 400:
        kind, size = struct.unpack_from("<II", data, offset)
        fields += [(offset, 4, "<u4"), (offset + 4, 4, "<u4")]
        if kind >> 16:  # small data element: 4 bytes of data in the tag
            offset += 8
            continue
        if kind == 14 and depth < 4:  # miMATRIX: flags, dims, name, then data or cells
            fields += _matrix_fields(data, offset + 8, offset + 8 + size, depth)
        offset += 8 + size + (-size % 8 if kind != 15 else 0)
    return [f for f in fields if f[0] + f[1] <= len(data)]


def _matrix_fields(data, start, stop, depth):
    fields = []
    if start + 16 <= len(data):
        fields += [(start + 8, 1, "u1"), (start + 9, 1, "u1"), (start + 12, 4, "<u4")]
    dims = start + 16
    if dims + 8 <= len(data):
        kind, size = struct.unpack_from("<II", data, dims)
        fields += [(dims, 4, "<u4"), (dims + 4, 4, "<u4")]
        fields += [(dims + 8 + 4 * k, 4, "<i4") for k in range(min(size // 4, 8))]
        after = dims + 8 + size + (-size % 8)
        fields += mat_fields(data[:stop], after, depth + 1) if after < stop else []
    return fields


def _mat4_fields(data):
    fields, offset = [], 0
    while offset + 20 <= len(data) and len(fields) < 100:
        kind, rows, cols, imag, namelen = struct.unpack_from("<5i", data, offset)
        fields += [(offset + 4 * k, 4, "<i4") for k in range(5)]
        item = {0: 8, 10: 4, 20: 4, 30: 2, 40: 2, 50: 1}.get(kind % 100 - kind % 10, 8)
        size = rows * cols * item * (2 if imag else 1)
        if not (0 <= namelen < 1000 and 0 <= size < len(data)):
            break
        offset += 20 + namelen + size
    return fields


def compressed_elements(data: bytes) -> list:
    """Offsets of the compressed (miCOMPRESSED) top-level elements of a MATLAB v5 file."""
    out, offset = [], 128
    while offset + 8 <= len(data) and data.startswith(b"MATLAB"):
        kind, size = struct.unpack_from("<II", data, offset)
        if kind == 15:
            out.append(offset)
        if kind >> 16:
            offset += 8
            continue
        offset += 8 + size + (-size % 8 if kind != 15 else 0)
    return out


def fields_of(name: str, data: bytes) -> list:
    """The numeric fields worth setting to special values in a file."""
    suffix = name[name.rfind("."):].lower()
    if data[:8] in (b"0       ", b"\xffBIOSEMI"):
        return edf_fields(data)
    if data[:4] in (b"ABF ", b"ABF2"):
        return abf_fields(data)
    if data.startswith(b'CEDFILE"'):
        return cfs_fields(data)
    if data.startswith(b"\x89HDF"):
        return hdf5_fields(data)
    if data.startswith(b"VER="):
        return wcp_fields(data)
    if suffix == ".smr":
        return spike2_fields(data)
    if suffix == ".mat":
        return mat_fields(data)
    return []


# ---------------------------------------------------------------------------- applying
def encode(value, width: int, encoding: str) -> bytes:
    """A special value in a field's encoding (integers wrap; text is padded or cut)."""
    if encoding == "ascii":
        return str(value).encode("utf-8")[:width].ljust(width)
    dtype = np.dtype(encoding)
    if dtype.kind == "f":
        with np.errstate(over="ignore"):
            return np.array(float(value), dtype).tobytes()
    bits = 8 * dtype.itemsize
    value = int(value) % (1 << bits)
    if dtype.kind == "i" and value >= 1 << (bits - 1):
        value -= 1 << bits
    return np.array(value, dtype).tobytes()


def _keep_length(data: bytes, start: int, stop: int, new: bytes) -> bytes:
    """Replace data[start:stop] by ``new`` and restore the length in the padding after it."""
    delta = len(new) - (stop - start)
    out = data[:start] + new + data[stop:]
    pad = re.compile(rb"[\x00 ]{%d,}" % (max(delta, 0) + 1))
    match = pad.search(out, start + len(new))
    if delta > 0:
        if match is None:
            return data
        return out[:match.start()] + out[match.start() + delta:]
    if delta < 0:
        at = match.start() if match else len(out)
        return out[:at] + b"\x00" * -delta + out[at:]
    return out


def _nth(pattern, data, k):
    matches = list(pattern.finditer(data))
    return matches[k % len(matches)] if matches else None


def apply_op(files: dict, op) -> None:
    """Apply one operation to ``files`` (name -> bytes) in place."""
    kind, name = op[0], op[1]
    data = files[name]
    n = len(data)
    if kind == "flip" and n:
        at = op[2] % n
        data = data[:at] + bytes([data[at] ^ (1 << op[3])]) + data[at + 1:]
    elif kind == "bytes" and n:
        at = op[2] % n
        new = bytes.fromhex(op[3])
        data = data[:at] + new + data[at + len(new):]
    elif kind == "insert":
        at = op[2] % (n + 1)
        data = data[:at] + bytes.fromhex(op[3]) + data[at:]
    elif kind == "delete" and n:
        at = op[2] % n
        data = data[:at] + data[at + op[3]:]
    elif kind == "duplicate" and n:
        at = op[2] % n
        chunk = data[at:at + op[3]]
        to = op[4] % (n + 1)
        data = data[:to] + chunk + data[to:]
    elif kind == "truncate":
        data = data[:op[2] % (n + 1)]
    elif kind == "field":
        at, width, encoding, value = op[2], op[3], op[4], op[5]
        if at + width <= n:
            data = data[:at] + encode(value, width, encoding) + data[at + width:]
    elif kind in ("number", "tal", "taltext", "timekeeping"):
        pattern = {"number": NUMBER, "tal": TAL_NUMBER, "taltext": TAL_TEXT,
                   "timekeeping": TIMEKEEPING}[kind]
        match = _nth(pattern, data, op[2])
        if match is not None:
            new = op[3].encode("utf-8") if kind != "timekeeping" else b"\x00" * len(
                match.group())
            if op[4]:  # the file's layout depends on lengths: pad or cut after it
                data = _keep_length(data, match.start(), match.end(), new)
            else:
                data = data[:match.start()] + new + data[match.end():]
    elif kind == "line":
        data = _line_op(data, op[2], op[3], op[4])
    elif kind == "tomlvalue":
        match = _nth(TOML_ASSIGNMENT, data, op[2])
        if match is not None:
            data = data[:match.start(2)] + op[3].encode() + data[match.end(2):]
    elif kind == "zin":
        data = _in_compressed(data, op[2], op[3])
    files[name] = data


def _line_op(data: bytes, k: int, action: str, text: str) -> bytes:
    lines = data.split(b"\n")
    k %= len(lines)
    if action == "delete":
        del lines[k]
    elif action == "duplicate":
        lines.insert(k, lines[k])
    elif action == "replace":
        lines[k] = text.encode("utf-8", "replace")
    elif action == "insert":
        lines.insert(k, text.encode("utf-8", "replace"))
    elif action == "cut":
        lines[k] = lines[k][:int(text) % (len(lines[k]) + 1)]
        del lines[k + 1:]
    return b"\n".join(lines)


def _in_compressed(data: bytes, offset: int, inner) -> bytes:
    """Apply ``inner`` to the decompressed payload of the compressed element at ``offset``."""
    if offset + 8 > len(data):
        return data
    kind, size = struct.unpack_from("<II", data, offset)
    try:
        payload = zlib.decompress(data[offset + 8:offset + 8 + size])
    except zlib.error:
        return data
    files = {"payload": payload}
    apply_op(files, tuple(inner[:1]) + ("payload",) + tuple(inner[2:]))
    packed = zlib.compress(files["payload"])
    return (data[:offset] + struct.pack("<II", kind, len(packed)) + packed
            + data[offset + 8 + size:])


def apply_ops(files: dict, ops) -> dict:
    """A mutated copy of ``files``."""
    out = dict(files)
    for op in ops:
        apply_op(out, op)
    return out


# ---------------------------------------------------------------------------- planning
def _choice(rng, values):
    return values[int(rng.integers(len(values)))]


def _binary_op(rng, name, data, fields, payloads):
    """One operation on a binary file."""
    n = max(len(data), 1)
    kinds = ["flip"] * 3 + ["bytes"] * 2 + ["truncate"] * 2 + ["delete", "insert", "duplicate"]
    if fields:
        kinds += ["field"] * 8
    if data[:8] in (b"0       ", b"\xffBIOSEMI") and TAL_NUMBER.search(data):
        kinds += ["tal"] * 4 + ["taltext"] * 2 + ["timekeeping"] * 2
    if data.startswith(b"VER="):
        kinds += ["number"] * 4
    if payloads:
        kinds += ["zin"] * 6
    kind = _choice(rng, kinds)
    at = int(rng.integers(n))
    if kind == "flip":
        return ("flip", name, at, int(rng.integers(8)))
    if kind == "bytes":
        size = int(rng.choice([1, 2, 4, 8, 64]))
        fill = _choice(rng, ("random", "zero", "ff"))
        raw = (rng.bytes(size) if fill == "random" else (b"\x00" if fill == "zero" else
                                                          b"\xff") * size)
        return ("bytes", name, at, raw.hex())
    if kind == "truncate":
        cut = int(rng.integers(n)) if rng.random() < 0.5 else n - int(rng.integers(1, 64))
        return ("truncate", name, max(cut, 0))
    if kind == "delete":
        return ("delete", name, at, int(rng.choice([1, 3, 16, 512])))
    if kind == "insert":
        return ("insert", name, at, rng.bytes(int(rng.choice([1, 4, 16, 512]))).hex())
    if kind == "duplicate":
        return ("duplicate", name, at, int(rng.choice([16, 512, 4096])), int(rng.integers(n)))
    if kind == "field":
        return field_op(rng, name, fields)
    if kind in ("tal", "number"):
        return (kind, name, int(rng.integers(1 << 20)), _choice(rng, TEXT_NUMBERS), True)
    if kind == "taltext":
        return (kind, name, int(rng.integers(1 << 20)), _choice(rng, TAL_TEXTS), True)
    if kind == "timekeeping":
        return (kind, name, int(rng.integers(1 << 20)), "", True)
    offset, inner_fields = payloads[int(rng.integers(len(payloads)))]
    inner = _binary_op(rng, "payload", b"\x00" * 64, inner_fields, ()) if not inner_fields \
        else (field_op(rng, "payload", inner_fields) if rng.random() < 0.8 else
              _binary_op(rng, "payload", b"\x00" * 4096, (), ()))
    return ("zin", name, offset, list(inner))


def field_op(rng, name, fields):
    """Set a numeric header field to a special value."""
    at, width, encoding = fields[int(rng.integers(len(fields)))]
    if encoding == "ascii":
        value = _choice(rng, TEXT_NUMBERS)
    elif np.dtype(encoding).kind == "f":
        value = _choice(rng, FLOAT_VALUES)
    else:
        value = _choice(rng, INT_VALUES) if rng.random() < 0.8 else int(rng.integers(-9, 1 << 20))
    return ("field", name, at, width, encoding, value)


def _text_op(rng, name, data):
    """One operation on a text file (tables, BrainVision headers and markers, sidecars)."""
    toml = name.endswith(".toml")
    kinds = ["number"] * 5 + ["line"] * 4 + ["flip", "truncate", "insert"]
    if toml:
        kinds += ["tomlvalue"] * 8 + ["tomlline"] * 4
    kind = _choice(rng, kinds)
    k = int(rng.integers(1 << 20))
    if kind == "number":
        return ("number", name, k, _choice(rng, TEXT_NUMBERS), False)
    if kind == "tomlvalue":
        return ("tomlvalue", name, k, _choice(rng, TOML_VALUES))
    if kind == "tomlline":
        text = (_choice(rng, TOML_TABLES) if rng.random() < 0.3 else
                f"{_choice(rng, TOML_KEYS)} = {_choice(rng, TOML_VALUES)}")
        return ("line", name, k, "insert", text)
    if kind == "line":
        action = _choice(rng, ("delete", "duplicate", "replace", "insert", "cut"))
        if name.endswith(".vmrk") and action in ("replace", "insert"):
            text = _choice(rng, MARKER_LINES)
        elif action == "cut":
            text = str(int(rng.integers(1 << 12)))
        else:
            text = _choice(rng, ("", "x" * 5000, ",,,,", "\t\t", "=", "[Common Infos]",
                                 "NumberOfChannels=100000", "SamplingInterval=0",
                                 "DataFile=missing.eeg", "\x00\x01\x02", "1e400," * 50))
        return ("line", name, k, action, text)
    return _binary_op(rng, name, data, (), ())


def plan(rng, seed, cache) -> list:
    """The operations of one mutant of ``seed``: mostly one, sometimes a few."""
    count = 1 if rng.random() < 0.6 else int(rng.integers(2, 4)) if rng.random() < 0.75 else \
        int(rng.integers(4, 9))
    ops = []
    for _ in range(count):
        name = seed.targets[int(rng.integers(len(seed.targets)))]
        data = seed.files[name]
        if name.lower().endswith(TEXT_SUFFIXES):
            ops.append(_text_op(rng, name, data))
            continue
        key = (seed.name, name)
        if key not in cache:
            payloads = []
            for offset in compressed_elements(data):
                size = struct.unpack_from("<I", data, offset + 4)[0]
                try:
                    inner = zlib.decompress(data[offset + 8:offset + 8 + size])
                except zlib.error:
                    continue
                payloads.append((offset, mat_fields(inner, 0)))
            cache[key] = (fields_of(name, data), payloads)
        fields, payloads = cache[key]
        ops.append(_binary_op(rng, name, data, fields, payloads))
    return ops


def to_plain(value):
    """Operations as JSON values (NaN and inf as text)."""
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, np.integer):
        return int(value)
    return value
