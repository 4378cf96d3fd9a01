"""MATLAB v7.3 files (HDF5), read with h5py into what ``scipy.io.loadmat`` gives for v5.

MATLAB saves large variables (``save -v7.3``) as an HDF5 file behind a 512-byte header
(MathWorks, "MAT-File Versions"; the layout is that of MATLAB's own files and of the
``hdf5storage`` and ``mat73`` packages): every variable is a dataset at the file's root whose
attribute ``MATLAB_class`` names its class (``double``, ``single``, the integer classes,
``logical``, ``char``, ``cell``); arrays are stored column-major, so the dataset's axes are
MATLAB's reversed; ``char`` holds UTF-16 code units; a ``cell`` holds object references to
datasets in the ``#refs#`` group; an empty array holds its dimensions and the attribute
``MATLAB_empty``. Structs, objects and sparse matrices are not read (a sweep table needs
none of them) and are left out.

The values come back as ``loadmat(..., squeeze_me=False)`` returns those of a v5 file: numeric
arrays with at least two axes in MATLAB's order, character arrays as arrays of their rows,
cells as object arrays. HDF5 can loop or crash on a damaged file: :func:`load_v73` runs inside
:func:`iomon.model.guard.guarded` (see :mod:`iomon.io.matlab`); what it reads is bounded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..model.errors import InputError

__all__ = ["is_v73", "load_v73"]

_NUMERIC = {"double", "single", "int8", "uint8", "int16", "uint16", "int32", "uint32",
            "int64", "uint64", "logical"}
#: Limits: variables, nesting of cells, elements of all cells, values read in all.
MAX_VARIABLES = 10_000
MAX_DEPTH = 8
MAX_CELL_ELEMENTS = 1_000_000
MAX_VALUES = 400_000_000


def is_v73(path: Path) -> bool:
    """Whether a file's MATLAB header says version 7.3 (HDF5), or it is HDF5 from byte 0."""
    with Path(path).open("rb") as f:
        header = f.read(128)
    return header.startswith((b"MATLAB 7.3 MAT-file", b"\x89HDF\r\n\x1a\n")) or (
        len(header) == 128 and header[124:126] in (b"\x00\x02", b"\x02\x00")
        and header.startswith(b"MATLAB"))


class _Budget:
    """What a load may still read: values and cell elements."""

    def __init__(self, path: Path):
        self.path = path
        self.values = MAX_VALUES
        self.cells = MAX_CELL_ELEMENTS

    def take(self, n_values: int, where: str) -> None:
        self.values -= int(n_values)
        if self.values < 0:
            raise InputError(f"variable {where} would take iomon past {MAX_VALUES} values: "
                             "larger than a sweep table (damaged dimensions?)", self.path)


def _class(node) -> str:
    value = node.attrs.get("MATLAB_class", b"")
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)


def _value(node, where: str, budget: _Budget, depth: int):
    """One MATLAB value in loadmat's form; None for a class iomon does not read."""
    import h5py

    if depth > MAX_DEPTH:
        raise InputError(f"variable {where}: cells nested deeper than {MAX_DEPTH}", budget.path)
    if not isinstance(node, h5py.Dataset):
        return None  # a struct or an object: not part of a sweep table
    kind = _class(node)
    if node.attrs.get("MATLAB_empty", 0):
        return np.zeros((0, 0))
    budget.take(node.size, where)
    if kind in _NUMERIC:
        data = node[()]
        if data.dtype.names and {"real", "imag"} <= set(data.dtype.names):
            data = data["real"] + 1j * data["imag"]
        return np.atleast_2d(np.asarray(data).T)
    if kind == "char":
        codes = np.atleast_2d(np.asarray(node[()]).T).astype(np.uint16)
        return np.array(["".join(map(chr, row)) for row in codes])
    if kind == "cell":
        return _cell(node, where, budget, depth)
    return None


def _cell(node, where: str, budget: _Budget, depth: int) -> np.ndarray:
    """A cell array: its references followed, each element a value."""
    refs = np.atleast_2d(node[()].T)
    budget.cells -= refs.size
    if budget.cells < 0:
        raise InputError(f"variable {where}: more than {MAX_CELL_ELEMENTS} cell elements",
                         budget.path)
    out = np.empty(refs.shape, dtype=object)
    for index in np.ndindex(refs.shape):
        try:
            target = node.file[refs[index]]
        except (ValueError, KeyError, TypeError) as err:
            raise InputError(f"variable {where}: a cell element's reference is broken ({err})",
                             budget.path) from None
        out[index] = _value(target, f"{where}{{{index}}}", budget, depth + 1)
    return out


def load_v73(path: Path) -> dict:
    """The variables of a MATLAB v7.3 file, as ``loadmat`` gives those of a v5 file.

    Run it under :func:`iomon.model.guard.guarded`: HDF5 trusts the file.
    """
    import h5py

    path = Path(path)
    budget = _Budget(path)
    try:
        with h5py.File(path, "r") as f:
            names = [name for name in f if not name.startswith("#")]
            if len(names) > MAX_VARIABLES:
                raise InputError(f"holds {len(names)} variables: more than a sweep table "
                                 f"({MAX_VARIABLES})", path)
            variables = {}
            for name in names:
                value = _value(f[name], repr(name), budget, 0)
                if value is not None:
                    variables[name] = value
            return variables
    except InputError:
        raise
    except MemoryError:
        raise
    except Exception as err:  # noqa: BLE001 - h5py raises OSError, KeyError... for damage
        text = str(err).strip().splitlines()
        raise InputError(f"damaged MATLAB v7.3 (HDF5) file: {type(err).__name__}"
                         + (f": {text[0]}" if text else ""), path) from None
