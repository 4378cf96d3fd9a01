"""MATLAB sweep tables (.mat: version 4, 5 to 7.2, and 7.3; see :mod:`iomon.io.tabular`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..model.annotations import Stimulus
from ..model.errors import InputError
from .base import Reader, ReadOptions, Recording, assemble, check_rate, check_time, error_line
from .tabular import check_tabular, scale_of

__all__ = ["READER", "read_mat"]


def _mat_value(variables, name):
    value = variables.get(name)
    if value is None:
        return None
    return np.squeeze(np.asarray(value))


def _scalar(variables, mapping, key, variable, path) -> float | None:
    """A number from the sidecar's ``[tabular]`` (checked there), else a scalar variable."""
    if key in mapping:
        return float(mapping[key])
    value = _mat_value(variables, variable)
    if value is None:
        return None
    if value.size != 1 or not np.issubdtype(value.dtype, np.number) or np.iscomplexobj(value):
        raise InputError(f"variable {variable!r} must be one real number, got "
                         f"{value.dtype} of shape {value.shape}", path)
    return float(value)


def _per_sweep(variables, name, n_sweeps, path) -> np.ndarray | None:
    """A per-sweep numeric variable (one value per sweep), None when absent or mis-sized."""
    value = _mat_value(variables, name)
    if value is None or np.size(value) != n_sweeps:
        return None
    if not np.issubdtype(value.dtype, np.number) or np.iscomplexobj(value):
        raise InputError(f"variable {name!r} must be real numbers, got {value.dtype}", path)
    values = np.ravel(value).astype(float)
    if np.isinf(values).any():
        raise InputError(f"variable {name!r} holds an infinite value", path)
    return values


def _loadmat(path: Path) -> dict:
    """``scipy.io.loadmat``, its failures made refusals (run inside the guard's child)."""
    import scipy.io

    try:
        return scipy.io.loadmat(path, squeeze_me=False)
    except Exception as err:
        raise InputError(f"cannot be read as a MATLAB file: {error_line(err)}", path) from None


def _load(path: Path) -> tuple[dict, str]:
    """The file's variables and the library that read them.

    v4 to v7.2: a structural check first, then scipy's reader under the guard. scipy's reader
    is a C extension that trusts the file. The walk (:mod:`.matfile`) refuses the damage it
    knows, naming the field; :func:`iomon.model.guard.guarded` turns anything that still
    crashes it, or makes it allocate without bound, into one refusal. v7.3 (HDF5): h5py under
    the same guard (:mod:`.mat73`), the same variables in the same form.
    """
    from importlib.metadata import version

    from ..model.guard import guarded
    from .mat73 import is_v73, load_v73
    from .matfile import check_mat

    if is_v73(path):
        return (guarded(load_v73, path, path=path, what="MATLAB v7.3"),
                f"h5py {version('h5py')}")
    check_mat(path)
    return guarded(_loadmat, path, path=path, what="MATLAB"), "scipy.io.loadmat"


def _sweep_data(variables, mapping, path):
    """The data variable as float (sweeps, channels, samples) in volts, and its name."""
    name = mapping.get("data_variable", "data")
    if name not in variables:
        found = [k for k in variables if not k.startswith("__")]
        raise InputError(f"no variable {name!r} (variables: {', '.join(found)}); name it with "
                         "[tabular] data_variable in the sidecar", path)
    data = np.asarray(variables[name])
    if not np.issubdtype(data.dtype, np.number):
        raise InputError(f"variable {name!r} is not numeric", path)
    if np.iscomplexobj(data):
        raise InputError(f"variable {name!r} is complex; sweeps are real numbers", path)
    layout = [a.strip() for a in mapping.get(
        "layout", "sweeps,channels,samples" if data.ndim == 3 else "sweeps,samples").split(",")]
    if sorted(layout) not in (["channels", "samples", "sweeps"], ["samples", "sweeps"]) or \
            len(layout) != data.ndim:
        raise InputError(f"layout {','.join(layout)!r} does not fit {name!r} of shape "
                         f"{data.shape}", path)
    if "channels" not in layout:
        data = data[..., None]
        layout = layout + ["channels"]
    data = np.transpose(data, [layout.index(a) for a in ("sweeps", "channels", "samples")])
    data = data.astype(float) * scale_of(mapping, path)
    if not np.isfinite(data).all():
        raise InputError(f"variable {name!r} holds NaN or infinite values", path)
    return data


def read_mat(path: str | Path, options: ReadOptions | None = None) -> Recording:
    """Read sweeps from a MATLAB file in the layout of :mod:`iomon.io.tabular`."""
    path = Path(path)
    mapping = (options or ReadOptions()).section("tabular")
    variables, library = _load(path)
    data = _sweep_data(variables, mapping, path)
    sfreq = _scalar(variables, mapping, "sfreq_hz", "sfreq", path)
    first_ms = _scalar(variables, mapping, "first_sample_ms", "first_sample_ms", path)
    if sfreq is None or first_ms is None:
        raise InputError("the sampling rate and the first sample's time are needed: variables "
                         "sfreq and first_sample_ms, or [tabular] sfreq_hz and first_sample_ms",
                         path)
    sfreq = check_rate(sfreq, "the variable 'sfreq'", path)
    first_s = check_time(first_ms / 1e3, "the variable 'first_sample_ms' (in s)", path)
    times = first_s + np.arange(data.shape[2]) / sfreq
    names = mapping.get("channels")
    if names is None and "channels" in variables:
        names = [str(np.squeeze(n)) for n in np.ravel(variables["channels"])]
    names = names or [f"channel {k + 1}" for k in range(data.shape[1])]
    if len(names) != data.shape[1]:
        raise InputError(f"{len(names)} channel names for {data.shape[1]} channels", path)
    n_sweeps = data.shape[0]
    onsets = _per_sweep(variables, "onset_s", n_sweeps, path)
    notes = []
    if onsets is None:
        onsets = np.arange(n_sweeps, dtype=float)
        notes.append("no onset_s variable: sweeps are placed 1 s apart in file order")
    intensity = _per_sweep(variables, "stim_intensity", n_sweeps, path)
    if intensity is None:
        intensity = np.full(n_sweeps, np.nan)
    stimuli = [Stimulus(float(o), float(i), "", "") for o, i in zip(onsets, intensity)]
    return assemble(path, "sweep table (MATLAB)", library, data, times, sfreq,
                    names, stimuli, np.max(onsets) + times[-1], notes=notes)


def _sniff(head: bytes, suffix: str) -> bool:
    # MATLAB v7.3 files are HDF5 behind a MATLAB header; without it the extension tells
    # them from NIX.
    return head.startswith((b"MATLAB 5.0 MAT-file", b"MATLAB 7.3 MAT-file")) or (
        head.startswith(b"\x89HDF\r\n\x1a\n") and suffix == ".mat")


READER = Reader("mat", "MATLAB sweep table", (".mat",), read_mat, _sniff, section="tabular",
                check_section=check_tabular)
