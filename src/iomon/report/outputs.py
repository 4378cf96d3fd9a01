"""Writing a case's output folder (DESIGN.md section 4): nothing half-written, nothing else's.

Everything is first written into a hidden temporary folder beside the destination; only when
all files are complete are they moved into place, each by an atomic rename. Folders and files
follow the user's umask, so that colleagues on a shared drive can open the report.

**What iomon wrote.** The folder's ``iomon-manifest.json`` records every file iomon wrote there
and its SHA-256 (and the case it belongs to). A file is iomon's own only while it is recorded
there with its current checksum: anything else in the folder (a user's ``notes.txt`` or
``figures/my_plot.png``, an output edited since) is another's, and iomon never deletes or
overwrites it. A folder that holds another's files, or another case's results, is refused
unless ``force``; even then only iomon's own files are replaced, and a file of another's
where an output must go is refused. While files are moved into place the manifest records the
new checksums beside the old ones, so that a run killed half-way leaves every file recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..model.errors import InputError

__all__ = ["MANIFEST", "OS_LITTER", "OUTPUT_FILES", "REPORT_FILES", "check_folder",
           "move_into_place", "owned_files", "record_facts", "record_files", "staging_folder",
           "unrecorded", "write_atomic", "write_csv", "write_outputs"]

#: The report's files (and folder), removed when a rerun writes no report.
REPORT_FILES = ("report.html", "report.pdf", "figures")
#: Every file (and folder) of a case's output folder.
OUTPUT_FILES = ("measurements.csv", "alerts.json", "summary.json") + REPORT_FILES
#: The record of what iomon wrote into a folder.
MANIFEST = "iomon-manifest.json"
#: Files an operating system leaves in folders it shows: nobody's, never touched, never in
#: the way.
OS_LITTER = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
#: How many of another's files a refusal names.
NAMED = 3


def _write_json(path: Path, document: dict) -> None:
    path.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n", encoding="utf-8")


#: Rows of a table formatted at a time: the text of an 8-hour case's 230,000 rows would take
#: hundreds of MB at once.
CSV_ROWS = 8192


def write_csv(columns, file, float_format: str = "%.6g") -> None:
    """Write columns to a text file as CSV, as pandas' ``to_csv`` writes their DataFrame.

    ``columns``: a mapping of name to array (or a DataFrame) of numbers, booleans and text,
    all of one length; ``file`` open for writing text with ``newline=""``. What
    ``DataFrame(columns).to_csv(index=False, float_format=float_format, lineterminator=...)``
    gives with a newline at each line's end: numbers that are missing (NaN) are empty cells,
    booleans ``True``/``False``, text quoted only where it holds a comma, a quote or a line
    break (missing text, as pandas has it, empty). Column by column, :data:`CSV_ROWS` rows at
    a time: pandas formats every value through its own machinery (and takes 0.2 s to
    import), 0.3-0.7 s for the 28,528 rows of an hour's case; 0.03 s here.
    """
    import csv

    names = list(columns)
    arrays = [np.asarray(columns[name]) for name in names]
    if len({len(values) for values in arrays}) > 1:
        raise ValueError("the columns of a table must all have the same length")
    writer = csv.writer(file, lineterminator="\n")
    writer.writerow([str(name) for name in names])
    n_rows = len(arrays[0]) if arrays else 0
    for start in range(0, n_rows, CSV_ROWS):
        writer.writerows(zip(*[_cells(values[start:start + CSV_ROWS], float_format)
                               for values in arrays]))


def _cells(values, float_format: str) -> list[str]:
    """One column's values as CSV cells (empty where a number or text is missing)."""
    if values.dtype.kind == "f":
        return ["" if v != v else float_format % v for v in values.tolist()]
    if values.dtype.kind in "biu":
        return [str(v) for v in values.tolist()]
    return ["" if _missing(v) else str(v) for v in values.tolist()]  # text


def _missing(value) -> bool:
    """Whether a text column's value is missing as pandas has it: None, NaN, NA or NaT."""
    return (value is None or (isinstance(value, float) and value != value)
            or type(value).__name__ in ("NAType", "NaTType"))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write one file whole or not at all: into a hidden file beside it, then renamed.

    Text is written as UTF-8. The file follows the umask like every output.
    """
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.partial-",
                                     delete=False) as handle:
        staged = Path(handle.name)
        try:
            handle.write(payload)
            handle.flush()
            os.fchmod(handle.fileno(), 0o666 & ~_umask())
        except BaseException:
            handle.close()
            staged.unlink(missing_ok=True)
            raise
    try:
        os.replace(staged, path)
    finally:
        staged.unlink(missing_ok=True)
    return path


# ------------------------------------------------------------------------------ ownership
def _record(folder: Path) -> dict:
    """The folder's manifest, or an empty one (missing, unreadable or not iomon's)."""
    try:
        record = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _checksums(record: dict, key: str) -> dict:
    value = record.get(key)
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)} \
        if isinstance(value, dict) else {}


def owned_files(folder: str | Path, vouched: dict | None = None) -> dict:
    """The files of ``folder`` that iomon wrote and nobody changed since: path -> SHA-256.

    Parameters
    ----------
    folder : str or Path
    vouched : dict, optional
        More files (relative path -> SHA-256) the caller's own record says iomon wrote (a
        batch's ``batch.json``).

    Returns
    -------
    dict
        Relative (``/``-separated) path -> checksum, for every recorded file whose current
        checksum is one recorded for it (the manifest's, one pending while a run moved files
        into place, or a vouched one), the manifest itself included.
    """
    folder = Path(folder)
    record = _record(folder)
    known: dict[str, set] = {}
    for source in (_checksums(record, "files"), _checksums(record, "pending"), vouched or {}):
        for relative, digest in source.items():
            known.setdefault(relative, set()).add(digest)
    owned = {MANIFEST: ""} if record else {}
    for relative, digests in known.items():
        path = folder / relative
        if ".." in Path(relative).parts or path.is_symlink() or not path.is_file():
            continue
        digest = _sha256(path)
        if digest in digests:
            owned[relative] = digest
    return owned


def _present(folder: Path) -> list[str]:
    """Every file (and link, and other non-folder) under ``folder``, relative, sorted."""
    found = []
    for parent, folders, files in os.walk(folder):
        here = Path(parent)
        found += [(here / f).relative_to(folder).as_posix() for f in files]
        found += [(here / d).relative_to(folder).as_posix() for d in folders
                  if (here / d).is_symlink()]
    return sorted(found)


def _foreign(folder: Path, owned: dict, keep=()) -> list[str]:
    """Files of ``folder`` that are not iomon's (``keep``: names the caller answers for)."""
    return [f for f in _present(folder) if f not in owned and f not in keep
            and Path(f).name not in OS_LITTER]


def _named(files: list[str]) -> str:
    more = len(files) - NAMED
    return ", ".join(files[:NAMED]) + (f" and {more} more" if more > 0 else "")


def check_folder(folder: str | Path, force: bool = False, case: tuple | None = None,
                 vouched: dict | None = None, keep=()) -> dict:
    """Refuse to write into ``folder`` if it holds what iomon did not write (unless ``force``).

    Parameters
    ----------
    folder : str or Path
        May not exist yet (nothing to refuse then).
    force : bool
        Write beside another's files and replace another case's results.
    case : tuple, optional
        (case id, input file name) of what is to be written; a folder holding another case's
        results is refused unless ``force``.
    vouched, keep
        As for :func:`owned_files`; ``keep``: names the caller answers for (not another's).

    Returns
    -------
    dict
        :func:`owned_files` of the folder: what may be replaced.

    Raises
    ------
    InputError
        Naming the folder and what is in it.
    """
    folder = Path(folder)
    if (folder.exists() or folder.is_symlink()) and not folder.is_dir():
        # A file, or a link to nothing: never replaced by a folder (a link to one is used).
        raise InputError("output path exists and is not a folder", folder)
    if not folder.exists():
        return {}
    owned = owned_files(folder, vouched)
    record = _record(folder)
    theirs = (record.get("case_id"), record.get("input"))
    if not force and case is not None and record and theirs != tuple(case):
        raise InputError(f"holds the results of another case ({theirs[0]}, from {theirs[1]});"
                         " choose another --out, or pass --force to replace them", folder)
    foreign = _foreign(folder, owned, keep)
    if foreign and not force:
        raise InputError(f"holds files iomon did not write there, or changed since "
                         f"({_named(foreign)}); choose another --out, or pass --force to write "
                         "beside them (they are left as they are)", folder)
    return owned


def _recorded_names(folder: str | Path) -> set:
    """Every path the folder's manifest names (written, or pending when a run was killed)."""
    record = _record(Path(folder))
    return set(_checksums(record, "files")) | set(_checksums(record, "pending"))


def unrecorded(folder: str | Path, also=()) -> list[str]:
    """Files of ``folder`` its manifest does not name (nor ``also``): another's.

    Found by name alone, no checksum computed: a quick look over many folders.
    """
    named = _recorded_names(folder) | set(also) | {MANIFEST}
    return [f for f in _present(Path(folder))
            if f not in named and Path(f).name not in OS_LITTER]


def record_files(folder: str | Path, paths, **facts) -> None:
    """Record ``paths`` (relative: files, or folders of files) as iomon's in ``folder``.

    The manifest then holds their checksums and ``facts`` beside them, and names nothing else.
    """
    from .. import __version__

    folder = Path(folder)
    files = {}
    for relative in paths:
        path = folder / relative
        found = sorted(path.rglob("*")) if path.is_dir() else [path] if path.is_file() else []
        files.update({p.relative_to(folder).as_posix(): _sha256(p) for p in found
                      if p.is_file() and not p.is_symlink()})
    record = {"written_by": f"iomon {__version__}", **facts, "files": files}
    write_atomic(folder / MANIFEST, json.dumps(record, indent=2) + "\n")


def record_facts(folder: str | Path) -> dict:
    """What the folder's manifest says beside its files (empty when it has none)."""
    return {k: v for k, v in _record(Path(folder)).items() if k not in ("files", "pending")}


# ------------------------------------------------------------------------------ writing
def staging_folder(parent: Path, name: str) -> Path:
    """A hidden folder in ``parent`` to write into before the files are moved into place.

    Named ``.<name>.partial-*`` (so a later run can tell a killed run's leftovers) and made
    with the umask's permissions (``mkdtemp`` makes it private).
    """
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.partial-", dir=parent))
    os.chmod(staging, 0o777 & ~_umask())
    return staging


def move_into_place(staging: Path, out_dir: Path) -> None:
    """Move every file and folder of ``staging`` into ``out_dir``, each by one rename."""
    for item in sorted(staging.iterdir()):
        target = out_dir / item.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(item, target)


def _in_the_way(staged, out_dir: Path, owned: dict) -> None:
    """Refuse if a file to be written would replace one of another's (or fill its place)."""
    for relative in staged:
        parts = Path(relative).parts
        for k in range(1, len(parts) + 1):
            here = "/".join(parts[:k])
            path = out_dir / here
            is_last = k == len(parts)
            if path.is_symlink() or (path.exists() and (is_last or not path.is_dir())):
                if here not in owned or not is_last:
                    raise InputError(f"{here} in it is not a file iomon wrote there (or it was "
                                     "changed since): move it away, or choose another --out",
                                     out_dir)


def _install(staging: Path, out_dir: Path, record: dict, owned: dict) -> None:
    """Move the staged files into ``out_dir`` and record what is there.

    iomon's outputs of an earlier run not written again are taken away; another's files stay
    as they are.
    """
    staged = {p.relative_to(staging).as_posix(): _sha256(p)
              for p in sorted(staging.rglob("*")) if p.is_file()}
    if not out_dir.exists():
        _write_json(staging / MANIFEST, {**record, "files": staged})
        os.replace(staging, out_dir)
        return
    _in_the_way([*staged, MANIFEST], out_dir, owned)
    previous = {k: v for k, v in owned.items() if k != MANIFEST}
    # Both checksums recorded while files move: a run killed now leaves every file known.
    write_atomic(out_dir / MANIFEST, json.dumps({**record, "files": previous, "pending": staged},
                                                indent=2) + "\n")
    for relative in staged:
        target = out_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / relative, target)
    for relative in sorted(set(previous) - set(staged)):
        # An output of an earlier run not written now (a report, with --no-report) would
        # describe other results: it goes, and its folder with it if nothing else is there.
        (out_dir / relative).unlink(missing_ok=True)
        parent = (out_dir / relative).parent
        while parent != out_dir and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
    write_atomic(out_dir / MANIFEST, json.dumps({**record, "files": staged}, indent=2) + "\n")


def write_outputs(result, out_dir: str | Path, report: bool = True, identify: bool = False,
                  force: bool = False, vouched: dict | None = None, keep=(),
                  extra: dict | None = None) -> Path:
    """Write tables, JSON and (optionally) the report of one case into ``out_dir``.

    Parameters
    ----------
    result : CaseResult
    out_dir : str or Path
        Created if missing. If it holds the results of the same case (same case id and
        input), they are replaced; another case's results, or files iomon did not write, are
        refused unless ``force`` (and even then, only iomon's own files are replaced).
    report : bool
        Also write report.html, report.pdf and figures/.
    identify : bool
        Let patient identifiers from the file header into the report.
    force : bool
        Replace another case's results, and write beside files iomon did not write.
    vouched, keep
        As for :func:`check_folder` (a batch's record and its own file).
    extra : dict, optional
        More files to move into the folder with the outputs: relative path -> a file written
        elsewhere (the demo's recording). They are recorded as iomon's.

    Returns
    -------
    Path
        ``out_dir``.
    """
    out_dir = Path(out_dir)
    documents = result.documents()
    case = (documents.summary["case_id"], documents.summary["input"])
    owned = check_folder(out_dir, force, case, vouched, keep)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_folder(out_dir.parent, out_dir.name)
    try:
        with (staging / "measurements.csv").open("w", encoding="utf-8", newline="") as f:
            write_csv(documents.measurements, f)
        _write_json(staging / "alerts.json", documents.alerts)
        _write_json(staging / "summary.json", documents.summary)
        if report:
            from . import write_report

            write_report(result, documents, staging, identify)
        for relative, source in (extra or {}).items():
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, staging / relative)
        from .. import __version__

        record = {"written_by": f"iomon {__version__}", "case_id": case[0], "input": case[1]}
        _install(staging, out_dir, record, owned)
        return out_dir
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
