"""Writing a case's output folder (DESIGN.md section 4) so that a crash leaves nothing half-written.

Everything is first written into a hidden temporary folder beside the destination; only when
all files are complete are they moved into place, each by an atomic rename. Folders and files
follow the user's umask, so that colleagues on a shared drive can open the report.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from ..model.errors import InputError

__all__ = ["OUTPUT_FILES", "REPORT_FILES", "move_into_place", "staging_folder", "write_atomic",
           "write_outputs"]

#: The report's files (and folder), removed when a rerun writes no report.
REPORT_FILES = ("report.html", "report.pdf", "figures")
#: Every file (and folder) of a case's output folder.
OUTPUT_FILES = ("measurements.csv", "alerts.json", "summary.json") + REPORT_FILES


def _write_json(path: Path, document: dict) -> None:
    path.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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


def _check_destination(out_dir: Path, summary: dict, force: bool) -> None:
    """Refuse a folder that holds another case's results, unless told to replace them."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError("output path exists and is not a folder", out_dir)
    previous = out_dir / "summary.json"
    if force or not previous.is_file():
        return
    try:
        other = json.loads(previous.read_text(encoding="utf-8"))
        theirs = (other.get("case_id"), other.get("input"))
    except (ValueError, OSError, AttributeError):
        theirs = ("an unreadable summary.json", None)
    if theirs != (summary["case_id"], summary["input"]):
        raise InputError(f"holds the results of another case ({theirs[0]}, from {theirs[1]}); "
                         "choose another --out, or pass --force to replace them", out_dir)


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


def _move_into_place(staging: Path, out_dir: Path, keep: set[str]) -> None:
    """Move the staged files into ``out_dir``; outputs of an earlier run not written now go."""
    if not out_dir.exists():
        os.replace(staging, out_dir)
        return
    move_into_place(staging, out_dir)
    for name in set(OUTPUT_FILES) - keep:
        # A report from an earlier run would describe other results: take it away.
        target = out_dir / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


def write_outputs(result, out_dir: str | Path, report: bool = True, identify: bool = False,
                  force: bool = False) -> Path:
    """Write tables, JSON and (optionally) the report of one case into ``out_dir``.

    Parameters
    ----------
    result : CaseResult
    out_dir : str or Path
        Created if missing. If it holds the results of the same case (same case id and
        input), they are replaced; another case's results are refused unless ``force``.
    report : bool
        Also write report.html, report.pdf and figures/.
    identify : bool
        Let patient identifiers from the file header into the report.
    force : bool
        Replace another case's results.

    Returns
    -------
    Path
        ``out_dir``.
    """
    out_dir = Path(out_dir)
    documents = result.documents()
    _check_destination(out_dir, documents.summary, force)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_folder(out_dir.parent, out_dir.name)
    try:
        documents.measurements.to_csv(staging / "measurements.csv", index=False,
                                      float_format="%.6g")
        _write_json(staging / "alerts.json", documents.alerts)
        _write_json(staging / "summary.json", documents.summary)
        if report:
            from . import write_report

            write_report(result, documents, staging, identify)
        _move_into_place(staging, out_dir, {p.name for p in staging.iterdir()})
        return out_dir
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
