"""Loading iomon's TOML files (case sidecars, criteria presets) within limits.

``tomllib`` parses whatever it is given: a file of gigabytes, arrays nested a thousand deep
(a RecursionError), an integer of 5,000 digits (a ValueError from Python's integer-string
limit), ``nan`` and ``inf``. A sidecar or criteria file is a few kilobytes of flat tables, so
:func:`load_toml` refuses, naming the file and the key:

- files larger than ``MAX_BYTES``, or not UTF-8 text;
- nesting deeper than ``MAX_DEPTH`` (tables and arrays counted);
- integers beyond 64 bits (the TOML specification's range);
- NaN and infinite floats (``nan``, ``inf``, and ``1e400``, which is read as inf).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from .errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["MAX_BYTES", "MAX_DEPTH", "check_document", "load_toml"]

#: Largest TOML file read, bytes.
MAX_BYTES = 1 << 20
#: Deepest nesting of tables and arrays (a sidecar's ``[[channels]]`` entries are at 2).
MAX_DEPTH = 8
_INT64 = 1 << 63


def load_toml(path: str | Path, what: str = "TOML file") -> dict:
    """Parse a TOML file within the limits above.

    Parameters
    ----------
    path : str or Path
    what : str
        What the file is, for the refusal when it is missing (``"case sidecar"``).

    Raises
    ------
    InputError
        Missing, too large, not UTF-8, not TOML, too deep, or a number out of range; the
        message names the file (and the key).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} not found", path)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise InputError(f"{size} bytes: larger than a {what} can be ({MAX_BYTES} bytes)", path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("not valid TOML (not UTF-8 text)", path) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"not valid TOML ({err})", path) from None
    except RecursionError:
        raise InputError(f"not valid here: tables or arrays nest deeper than {MAX_DEPTH}",
                         path) from None
    except ValueError as err:  # e.g. an integer beyond Python's 4300-digit conversion limit
        raise InputError(f"not valid TOML ({' '.join(str(err).split())})", path) from None
    try:
        check_document(doc)
    except InputError as err:
        raise InputError(err.reason, path) from None
    return doc


def _children(key: str, value, joint: str):
    """(name, item, joint for its own items) of a table's or an array's items.

    A table in an array of the document's top level (``[[phases]]``) is its entry counted from
    1, with its ``name`` or ``channel`` when it has one, and its keys follow a colon; any other
    item of an array is indexed as in TOML.
    """
    if isinstance(value, dict):
        return [(f"{key}{joint}{k}" if key else str(k), v, ".") for k, v in value.items()]
    out = []
    for k, item in enumerate(value):
        if isinstance(item, dict) and key.isidentifier():
            named = item.get("name", item.get("channel"))
            label = f"[[{key}]] entry {k + 1}" + (f" ({named!r})" if isinstance(named, str)
                                                  else "")
            out.append((label, item, ": "))
        else:
            out.append((f"{key}[{k}]", item, "."))
    return out


def check_document(doc: dict) -> None:
    """Refuse nesting deeper than MAX_DEPTH, integers beyond 64 bits and non-finite floats.

    Walks the document without recursion; the message names the key as the sidecar's own
    refusals do (``[[phases]] entry 1 ('lesioning'): end_s``, ``recording.window_ms[0]``).
    """
    stack = [("", doc, 0, ".")]
    while stack:
        key, value, depth, joint = stack.pop()
        if isinstance(value, (dict, list)):
            if depth >= MAX_DEPTH:
                raise InputError(f"{key or 'the document'} nests deeper than {MAX_DEPTH} "
                                 "tables or arrays")
            for child, item, next_joint in _children(key, value, joint):
                stack.append((child, item, depth + 1, next_joint))
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int) and not -_INT64 <= value < _INT64:
            raise InputError(f"{key} is an integer of {value.bit_length()} bits, beyond the "
                             "64 bits TOML allows")
        elif isinstance(value, float) and not math.isfinite(value):
            raise InputError(f"{key} is {value!r}: numbers must be finite (1e400 reads as inf)")
