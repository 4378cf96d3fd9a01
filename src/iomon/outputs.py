"""Writing a case's output folder (DESIGN.md section 4) so that a crash leaves nothing half-written.

Everything is first written into a hidden temporary folder beside the destination; only when
all files are complete are they moved into place, each by an atomic rename.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["REPORT_FILES", "write_outputs"]

#: The report's files (and folder), removed when a rerun writes no report.
REPORT_FILES = ("report.html", "report.pdf", "figures")


def _write_json(path: Path, document: dict) -> None:
    path.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def write_outputs(result, out_dir: str | Path, report: bool = True,
                  identify: bool = False) -> Path:
    """Write tables, JSON and (optionally) the report of one case into ``out_dir``.

    Parameters
    ----------
    result : CaseResult
    out_dir : str or Path
        Created if missing; files of an earlier run there are replaced.
    report : bool
        Also write report.html, report.pdf and figures/.
    identify : bool
        Let patient identifiers from the file header into the report.

    Returns
    -------
    Path
        ``out_dir``.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        from .errors import InputError

        raise InputError("output path exists and is not a folder", out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    try:
        documents = result.documents()
        documents.measurements.to_csv(staging / "measurements.csv", index=False,
                                      float_format="%.6g")
        _write_json(staging / "alerts.json", documents.alerts)
        _write_json(staging / "summary.json", documents.summary)
        if report:
            from .report import render_html, write_pdf
            from .report.figures import save_figures

            figures = save_figures(result, staging / "figures")
            (staging / "report.html").write_text(
                render_html(result, documents.summary, figures, identify), encoding="utf-8")
            write_pdf(result, documents.summary, staging / "report.pdf", identify)
        if not out_dir.exists():
            os.replace(staging, out_dir)
            return out_dir
        for item in sorted(staging.iterdir()):
            target = out_dir / item.name
            if target.is_dir():
                shutil.rmtree(target)
            os.replace(item, target)
        if not report:
            # A report from an earlier run would describe other results: take it away.
            for name in REPORT_FILES:
                target = out_dir / name
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
        return out_dir
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
