"""Review edits as lines of the case sidecar: appended, undone, always written whole.

Every edit made in ``iomon review`` becomes one entry of an array of tables of the sidecar
(``[[exclude]]``, ``[[events]]``, ``[[rebaseline]]``, ``[[landmarks]]``, ``[[signoff]]``)
with the reviewer and the time, so the sidecar stays the one record of the case that
``iomon analyze`` and ``iomon batch`` read. The file is edited with tomlkit, which keeps the
user's comments, order and layout; the new text is checked by the sidecar reader before it
replaces the file, then written to a temporary file beside it and renamed over it (a crash
never leaves it half-written). Undo removes the newest entry that carries a time, that is,
the last edit made in review; entries typed by hand (without a time) are never removed.
"""

from __future__ import annotations

import datetime
import os
import tempfile
from pathlib import Path

from ..model.errors import InputError

__all__ = ["EDIT_TABLES", "append_edit", "edit_log", "now_text", "undo_last_edit"]

#: The sidecar's arrays of tables that review writes, in the order a log lists them.
EDIT_TABLES = ("exclude", "events", "rebaseline", "landmarks", "signoff")

_HEADER = ("# Case sidecar written by iomon review: every review edit is one entry below, with\n"
           "# its reviewer and time. Add [case], [[channels]] and the rest as the README shows.\n")


def now_text() -> str:
    """The local time, to the millisecond, as ISO 8601 with its UTC offset."""
    return datetime.datetime.now().astimezone().isoformat(timespec="milliseconds")


def _load(path: Path):
    import tomlkit

    if not path.exists():
        return tomlkit.parse(_HEADER)
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except Exception as err:  # tomlkit's parse errors have no common base worth naming
        raise InputError(f"not valid TOML ({err})", path) from None


def _write_checked(path: Path, text: str, default_id: str) -> None:
    """Check ``text`` as a sidecar, then replace ``path`` with it atomically.

    The file keeps its permissions; a new one follows the umask.
    """
    from ..case.sidecar import read_case

    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent,
                                     prefix=f".{path.name}.partial-", suffix=".toml",
                                     delete=False) as handle:
        staged = Path(handle.name)
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        # The reader's refusal names the staged file: say which file it is meant for.
        try:
            read_case(staged, default_id=default_id)
        except InputError as err:
            raise InputError(f"the edit would make the sidecar invalid: {err.reason}",
                             path) from None
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask()
        os.chmod(staged, mode)
        os.replace(staged, path)
    finally:
        staged.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def append_edit(path: str | Path, table: str, entry: dict, default_id: str) -> dict:
    """Append one review edit to the sidecar at ``path`` (created if missing).

    Parameters
    ----------
    path : str or Path
        The case sidecar.
    table : str
        One of :data:`EDIT_TABLES`.
    entry : dict
        The edit's keys as the sidecar holds them (``reviewer`` and ``time`` included).
    default_id : str
        The case id when the sidecar names none (the recording's stem).

    Returns
    -------
    dict
        ``entry``.

    Raises
    ------
    InputError
        The edit would make the sidecar invalid (nothing is written), or the sidecar is not
        TOML.
    """
    import tomlkit

    if table not in EDIT_TABLES:
        raise ValueError(f"not a review edit table: {table}")
    path = Path(path)
    doc = _load(path)
    if table not in doc:
        doc.append(table, tomlkit.aot())
    elif not isinstance(doc[table], list):
        raise InputError(f"{table} must be an array of tables ([[{table}]])", path)
    item = tomlkit.table()
    for key, value in entry.items():
        if value is not None:
            item.add(key, value)
    doc[table].append(item)
    _write_checked(path, tomlkit.dumps(doc), default_id)
    return entry


def edit_log(path: str | Path) -> list[dict]:
    """The review edits of the sidecar that carry a time, oldest first.

    Each: ``table``, ``index`` (in its array), the entry's keys.
    """
    path = Path(path)
    if not path.exists():
        return []
    doc = _load(path).unwrap()
    log = []
    for table in EDIT_TABLES:
        entries = doc.get(table, [])
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(entry, dict) and entry.get("time") is not None:
                log.append({"table": table, "index": index, **entry})
    return sorted(log, key=lambda e: (_moment(e["time"]), EDIT_TABLES.index(e["table"]),
                                      e["index"]))


def _moment(value) -> datetime.datetime:
    moment = (value if isinstance(value, datetime.datetime)
              else datetime.datetime.fromisoformat(str(value)))
    return moment if moment.tzinfo else moment.astimezone()


def undo_last_edit(path: str | Path, default_id: str) -> dict | None:
    """Remove the newest review edit (the newest entry with a time) from the sidecar.

    A sign-off is not an edit and is never undone. Returns the entry removed, or None when
    there was none.
    """
    import tomlkit

    path = Path(path)
    log = [e for e in edit_log(path) if e["table"] != "signoff"]
    if not log:
        return None
    last = log[-1]
    doc = _load(path)
    del doc[last["table"]][last["index"]]
    if not len(doc[last["table"]]):
        del doc[last["table"]]
    _write_checked(path, tomlkit.dumps(doc), default_id)
    return last
