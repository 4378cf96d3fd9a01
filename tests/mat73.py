"""A writer of MATLAB v7.3 files for tests, in the layout MATLAB itself writes (h5py).

As ``save -v7.3`` does (MathWorks, "MAT-File Versions"; the same layout ``hdf5storage``
writes): a 512-byte user block whose first 128 bytes are the MAT header (text, then version
0x0200 and the endian mark ``IM``); every variable a dataset at the root with the attribute
``MATLAB_class``; arrays stored column-major, i.e. the dataset holds the array's transpose;
``char`` as uint16 code units with ``MATLAB_int_decode = 2``; a ``cell`` a dataset of object
references to datasets in the ``#refs#`` group.
"""

from __future__ import annotations

import numpy as np


def _header() -> bytes:
    text = (b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 08:00:00 2024 "
            b"HDF5 schema 1.00 .")
    return text.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"


def _char(group, name, text):
    codes = np.array([ord(c) for c in text], dtype=np.uint16).reshape(1, -1)
    ds = group.create_dataset(name, data=codes.T)
    ds.attrs["MATLAB_class"] = np.bytes_("char")
    ds.attrs["MATLAB_int_decode"] = np.int32(2)
    return ds


def _put(f, name, value, refs):
    """One MATLAB variable: a number or array (double), text (char) or a list of text (cell)."""
    import h5py

    if isinstance(value, str):
        _char(f, name, value)
    elif isinstance(value, list):  # a 1 x n cell of char rows
        targets = [_char(refs, f"{name}_{k}", text).ref for k, text in enumerate(value)]
        cell = np.array(targets, dtype=h5py.ref_dtype).reshape(1, -1)
        ds = f.create_dataset(name, data=cell.T, dtype=h5py.ref_dtype)
        ds.attrs["MATLAB_class"] = np.bytes_("cell")
    else:
        array = np.atleast_2d(np.asarray(value, dtype=float))
        ds = f.create_dataset(name, data=array.T)  # column-major: the transpose
        ds.attrs["MATLAB_class"] = np.bytes_("double")


def write_mat73(path, variables: dict) -> None:
    """Write ``variables`` (name -> number, array, str or list of str) as MATLAB v7.3."""
    import h5py

    with h5py.File(path, "w", userblock_size=512, libver="earliest") as f:
        refs = f.create_group("#refs#")
        for name, value in variables.items():
            _put(f, name, value, refs)
    with open(path, "r+b") as f:
        f.write(_header())
