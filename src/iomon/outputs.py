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

from .errors import InputError

__all__ = ["OUTPUT_FILES", "REPORT_FILES", "write_outputs"]

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


def _move_into_place(staging: Path, out_dir: Path, keep: set[str]) -> None:
    """Move the staged files into ``out_dir``; outputs of an earlier run not written now go."""
    if not out_dir.exists():
        os.replace(staging, out_dir)
        return
    for item in sorted(staging.iterdir()):
        target = out_dir / item.name
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(item, target)
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
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    try:
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes it private
        documents.measurements.to_csv(staging / "measurements.csv", index=False,
                                      float_format="%.6g")
        _write_json(staging / "alerts.json", documents.alerts)
        _write_json(staging / "summary.json", documents.summary)
        if report:
            from .report import write_report

            write_report(result, documents, staging, identify)
        _move_into_place(staging, out_dir, {p.name for p in staging.iterdir()})
        return out_dir
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
