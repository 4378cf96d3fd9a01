"""Per-case reports: one content model (:mod:`.content`), two faithful renderers.

:func:`write_report` works out the case's report facts once (:func:`.facts.case_facts`),
draws each figure (PNG for the report, SVG beside it), builds the content once, and prints it
as a self-contained HTML page (:func:`render_html`) and as an A4 PDF
(:func:`iomon.report.pdf.write_pdf`).
"""

from __future__ import annotations

import base64
from pathlib import Path

__all__ = ["render_html", "write_report"]


def render_html(content) -> str:
    """The report as one HTML string with the figures inlined (opens offline anywhere)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("iomon.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
    )
    images = {f.name: base64.b64encode(Path(f.png).read_bytes()).decode("ascii")
              for f in content.figures}
    return env.get_template("report.html.j2").render(c=content, images=images)


def write_report(result, documents, folder: Path, identify: bool = False):
    """Write figures/, report.html and report.pdf of one case into ``folder``.

    Parameters
    ----------
    result : CaseResult
    documents : CaseDocuments
        Built once by the caller (the same summary the JSON files hold).
    folder : Path
    identify : bool
        Let patient identifiers from the file header into the report.

    Returns
    -------
    ReportContent
    """
    from .content import build_content
    from .facts import case_facts
    from .figures import save_figures
    from .pdf import write_pdf

    facts = case_facts(result)
    figures = save_figures(result, folder / "figures")
    content = build_content(result, documents, figures, identify, facts)
    (folder / "report.html").write_text(render_html(content), encoding="utf-8")
    write_pdf(content, folder / "report.pdf")
    return content
