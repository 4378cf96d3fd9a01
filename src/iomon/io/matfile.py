"""A structural check of MATLAB files (v4 and v5/7), before ``scipy.io.loadmat`` reads them.

scipy's MATLAB reader is a C extension that trusts the file: a damaged dimension, class or size
field makes it read past its buffers and crash the process (SIGSEGV) or allocate what the
field says. This walk reads every tag and checks it against the format (MathWorks, "MAT-File
Format", and the v4 layout scipy's ``_mio4`` reads) before scipy sees the file:

- v5: a 128-byte header with the endian mark; then data elements, each tag's type known and
  its size inside its parent; compressed elements inflated (within a size limit) and walked
  in turn; every matrix with its array flags, dimensions (non-negative, at least two) and
  name, a known class, and data whose byte count is what the dimensions and type make (cells
  and structs hold one matrix per element, sparse matrices consistent indices);
- v4: every matrix header's type digits, dimensions and name inside the file.

A file that passes is laid out as its headers say; only then is it parsed.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

import numpy as np

from ..model.errors import InputError

__all__ = ["check_mat"]

#: v5 data types: item size in bytes (None: miMATRIX or miCOMPRESSED).
_ITEM = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8, 14: None, 15: None,
         16: 1, 17: 2, 18: 4}
_NUMERIC_TYPES = {1, 2, 3, 4, 5, 6, 7, 9, 12, 13}
_CHAR_TYPES = {1, 2, 3, 4, 5, 6, 16, 17, 18}
_MATRIX, _COMPRESSED, _INT32, _INT8, _UINT32 = 14, 15, 5, 1, 6
#: Array classes: cell, struct, object, char, sparse, the numeric ones, function, opaque.
_CELL, _STRUCT, _OBJECT, _CHAR, _SPARSE = 1, 2, 3, 4, 5
_NUMERIC_CLASSES = set(range(6, 16))
_OPAQUE_CLASSES = {16, 17}
#: Limits: nesting of cells and structs, elements walked, bytes inflated in all.
MAX_DEPTH = 32
MAX_ELEMENTS = 1_000_000
MAX_INFLATED = 2 << 30


class _Walk:
    """The state of one walk: the byte order, counts so far, and the file for messages."""

    def __init__(self, path: Path, order: str):
        self.path, self.order = path, order
        self.elements = 0
        self.inflated = 0

    def fail(self, what: str):
        raise InputError(f"damaged MATLAB file ({what})", self.path)

    def unpack(self, fmt: str, buffer, offset: int):
        return struct.unpack_from(self.order + fmt, buffer, offset)

    def tag(self, buffer, offset: int, end: int, where: str):
        """(type, size, data start, next offset) of the element at ``offset``."""
        self.elements += 1
        if self.elements > MAX_ELEMENTS:
            self.fail(f"more than {MAX_ELEMENTS} elements")
        if offset + 8 > end:
            self.fail(f"{where}: a tag runs past its end")
        first, size = self.unpack("II", buffer, offset)
        if first >> 16:  # small element: type and size in 4 bytes, data in the next 4
            kind, size = first & 0xFFFF, first >> 16
            if size > 4:
                self.fail(f"{where}: a small element of {size} bytes")
            return kind, size, offset + 4, offset + 8
        kind = first
        if kind not in _ITEM:
            self.fail(f"{where}: unknown data type {kind}")
        stop = offset + 8 + size
        if stop > end:
            self.fail(f"{where}: an element of {size} bytes runs past its end")
        padded = stop if kind == _COMPRESSED else offset + 8 + size + (-size % 8)
        return kind, size, offset + 8, min(padded, end)


def check_mat(path: Path) -> None:
    """Walk a MATLAB v4 or v5 file; InputError naming the file and the damage, if any.

    MATLAB v7.3 files (HDF5) are left to the caller (scipy refuses them without parsing).
    """
    import scipy.io

    path = Path(path)
    try:
        major, _ = scipy.io.matlab.matfile_version(path)
    except Exception as err:  # noqa: BLE001 - scipy's own reasons, e.g. an empty file
        raise InputError(f"not a MATLAB file ({type(err).__name__}: {err})", path) from None
    buffer = path.read_bytes()
    if major == 0:
        _check_v4(buffer, path)
    elif major == 1:
        _check_v5(buffer, path)


# ---------------------------------------------------------------------------- v5
def _check_v5(buffer: bytes, path: Path) -> None:
    if len(buffer) < 128:
        raise InputError(f"truncated: {len(buffer)} bytes, a MATLAB header needs 128", path)
    mark = buffer[126:128]
    if mark not in (b"IM", b"MI"):
        raise InputError(f"damaged MATLAB file (endian mark {mark!r})", path)
    walk = _Walk(path, "<" if mark == b"IM" else ">")
    offset, index = 128, 0
    while offset < len(buffer):
        where = f"variable {index + 1}"
        if len(buffer) - offset < 8:
            break  # trailing padding
        kind, size, start, offset = walk.tag(buffer, offset, len(buffer), where)
        if kind == _COMPRESSED:
            _walk_elements(walk, _inflate(walk, buffer[start:start + size], where), where, 0)
        elif kind == _MATRIX:
            _walk_matrix(walk, buffer, start, start + size, where, 0)
        index += 1


def _inflate(walk: _Walk, raw: bytes, where: str) -> bytes:
    """A compressed element's content, within what is left of MAX_INFLATED."""
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(raw, MAX_INFLATED - walk.inflated + 1)
    except zlib.error as err:
        walk.fail(f"{where}: compressed data do not decompress: {err}")
    walk.inflated += len(data)
    if walk.inflated > MAX_INFLATED or inflater.unconsumed_tail:
        walk.fail(f"{where}: compressed data expand beyond {MAX_INFLATED >> 30} GB")
    return data


def _walk_elements(walk: _Walk, buffer: bytes, where: str, depth: int) -> None:
    """Every element of an inflated compressed element (normally one matrix)."""
    offset = 0
    while offset + 8 <= len(buffer):
        kind, size, start, offset = walk.tag(buffer, offset, len(buffer), where)
        if kind == _MATRIX:
            _walk_matrix(walk, buffer, start, start + size, where, depth)
        elif kind == _COMPRESSED:
            walk.fail(f"{where}: compressed data inside compressed data")


def _walk_matrix(walk: _Walk, buffer, start: int, end: int, where: str, depth: int) -> None:
    """One miMATRIX element's content: flags, dimensions, name and data, per its class."""
    if start == end:
        return  # an empty matrix
    if depth > MAX_DEPTH:
        walk.fail(f"{where}: cells or structs nested deeper than {MAX_DEPTH}")
    kind, size, at, offset = walk.tag(buffer, start, end, where)
    if kind != _UINT32 or size != 8:
        walk.fail(f"{where}: array flags of type {kind} and {size} bytes")
    flags, nzmax = walk.unpack("II", buffer, at)
    array_class, is_complex = flags & 0xFF, bool(flags & 0x800)
    kind, size, at, offset = walk.tag(buffer, offset, end, where)
    if kind != _INT32 or size < 8 or size % 4:
        walk.fail(f"{where}: dimensions of type {kind} and {size} bytes")
    dims = walk.unpack(f"{size // 4}i", buffer, at)
    if min(dims) < 0:
        walk.fail(f"{where}: negative dimensions {dims}")
    count = math.prod(dims)
    kind, size, at, offset = walk.tag(buffer, offset, end, where)
    if kind != _INT8:
        walk.fail(f"{where}: a name of type {kind}")
    name = bytes(buffer[at:at + size]).decode("latin-1")
    where = f"variable {name!r}" if depth == 0 and name else where
    state = (walk, buffer, offset, end, where, depth)
    if array_class in _NUMERIC_CLASSES:
        _numeric(state, count, is_complex)
    elif array_class == _CHAR:
        _char(state, count)
    elif array_class == _CELL:
        _children(state, count)
    elif array_class in (_STRUCT, _OBJECT):
        _struct(state, count, array_class == _OBJECT)
    elif array_class == _SPARSE:
        _sparse(state, dims, nzmax, is_complex)
    elif array_class not in _OPAQUE_CLASSES:
        walk.fail(f"{where}: unknown array class {array_class}")
    # Function handles and opaque objects (MATLAB strings, tables) are left as scipy reads
    # them: their elements were checked to lie inside the matrix when it was found.


def _data(state, offset, expected_count, types, what):
    """One data element holding ``expected_count`` items of one of ``types``: next offset."""
    walk, buffer, _, end, where, _ = state
    kind, size, _, offset = walk.tag(buffer, offset, end, where)
    if kind not in types:
        walk.fail(f"{where}: {what} of data type {kind}")
    if size != expected_count * _ITEM[kind]:
        walk.fail(f"{where}: {what} of {size} bytes for {expected_count} values")
    return offset


def _numeric(state, count, is_complex):
    offset = _data(state, state[2], count, _NUMERIC_TYPES, "numbers")
    if is_complex:
        _data(state, offset, count, _NUMERIC_TYPES, "imaginary parts")


def _char(state, count):
    walk, buffer, offset, end, where, _ = state
    kind, size, _, _ = walk.tag(buffer, offset, end, where)
    if kind == 16:  # UTF-8: a character takes one to four bytes
        if not count <= size <= 4 * count:
            walk.fail(f"{where}: {size} bytes of UTF-8 for {count} characters")
        return
    _data(state, offset, count, _CHAR_TYPES, "characters")


def _children(state, count):
    """``count`` matrices, one per cell (or per struct field and element)."""
    walk, buffer, offset, end, where, depth = state
    for k in range(count):
        kind, size, start, offset = walk.tag(buffer, offset, end, f"{where}, element {k + 1}")
        if kind != _MATRIX:
            walk.fail(f"{where}: element {k + 1} is of data type {kind}, not a matrix")
        _walk_matrix(walk, buffer, start, start + size, where, depth + 1)


def _struct(state, count, is_object):
    walk, buffer, offset, end, where, depth = state
    if is_object:  # the class name first
        kind, _, _, offset = walk.tag(buffer, offset, end, where)
        if kind != _INT8:
            walk.fail(f"{where}: an object class name of data type {kind}")
    kind, size, at, offset = walk.tag(buffer, offset, end, where)
    if kind != _INT32 or size != 4:
        walk.fail(f"{where}: a field name length of type {kind} and {size} bytes")
    length = walk.unpack("i", buffer, at)[0]
    kind, size, _, offset = walk.tag(buffer, offset, end, where)
    if kind != _INT8 or length <= 0 or size % length:
        walk.fail(f"{where}: field names of {size} bytes in names of {length}")
    _children((walk, buffer, offset, end, where, depth), count * (size // length))


def _sparse(state, dims, nzmax, is_complex):
    """Row indices, column starts and values of a sparse matrix, consistent with its shape."""
    walk, buffer, offset, end, where, _ = state
    if len(dims) != 2:
        walk.fail(f"{where}: a sparse matrix of {len(dims)} dimensions")
    parts = []
    for what in ("row indices", "column starts"):
        kind, size, at, offset = walk.tag(buffer, offset, end, where)
        if kind != _INT32:
            walk.fail(f"{where}: sparse {what} of data type {kind}")
        parts.append(np.frombuffer(buffer, walk.order + "i4", size // 4, at))
    rows, starts = parts
    if (starts.size != dims[1] + 1 or starts[0] != 0 or np.any(np.diff(starts) < 0)
            or starts[-1] > min(rows.size, nzmax) or np.any(rows[:starts[-1]] < 0)
            or np.any(rows[:starts[-1]] >= dims[0])):
        walk.fail(f"{where}: sparse indices inconsistent with its {dims[0]} x {dims[1]} shape")
    kind, size, _, offset = walk.tag(buffer, offset, end, where)
    if kind not in _NUMERIC_TYPES or size // _ITEM[kind] < starts[-1]:
        walk.fail(f"{where}: sparse values of data type {kind} and {size} bytes")
    if is_complex:
        kind, size, _, _ = walk.tag(buffer, offset, end, where)
        if kind not in _NUMERIC_TYPES or size // _ITEM[kind] < starts[-1]:
            walk.fail(f"{where}: sparse imaginary parts of {size} bytes")


# ---------------------------------------------------------------------------- v4
#: v4 precision digit -> bytes per value (double, single, int32, int16, uint16, uint8).
_V4_ITEM = {0: 8, 1: 4, 2: 4, 3: 2, 4: 2, 5: 1}


def _v4_order(buffer: bytes) -> str:
    """The byte order scipy's v4 reader takes, from the first header's type field."""
    mopt = struct.unpack_from("<i", buffer, 0)[0]
    if mopt == 0:
        return "<"
    if mopt < 0 or mopt > 5000:
        return ">"
    return ">" if mopt // 1000 == 1 else "<"


def _check_v4(buffer: bytes, path: Path) -> None:
    if len(buffer) < 20:
        raise InputError(f"truncated: {len(buffer)} bytes, a MATLAB v4 header needs 20", path)
    order, offset, index = _v4_order(buffer), 0, 0
    while offset < len(buffer):
        index += 1
        where = f"damaged MATLAB v4 file (matrix {index}"
        if len(buffer) - offset < 20:
            raise InputError(f"{where}: a header cut short)", path)
        mopt, rows, cols, imaginary, name_length = struct.unpack_from(order + "5i", buffer,
                                                                      offset)
        machine, zero, precision, kind = (mopt // 1000, mopt // 100 % 10, mopt // 10 % 10,
                                          mopt % 10)
        if (not 0 <= mopt < 5000 or machine > 4 or zero or precision not in _V4_ITEM
                or kind > 2 or imaginary not in (0, 1) or min(rows, cols) < 0
                or not 0 < name_length <= 4096):
            raise InputError(f"{where}: header fields {mopt}, {rows}, {cols}, {imaginary}, "
                             f"{name_length})", path)
        size = rows * cols * _V4_ITEM[precision] * (1 + imaginary)
        offset += 20 + name_length + size
        if offset > len(buffer):
            raise InputError(f"{where}: {rows} x {cols} values run past the end of the file)",
                             path)
