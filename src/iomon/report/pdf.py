"""The PDF renderer of a case report: the same content as the HTML page, typeset on A4.

Made with ReportLab (pure Python). The text uses matplotlib's DejaVu Sans, so µ, ±, – and
every character of the figures print the same; each page carries the case id, the title and
"page n of N".
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["write_cohort_pdf", "write_pdf"]

_MARGIN_MM = 18
_FONT = "iomon-sans"


def _fonts() -> tuple[str, str]:
    """Register DejaVu Sans (regular, bold) from matplotlib's data; return their names."""
    import matplotlib
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if _FONT not in pdfmetrics.getRegisteredFontNames():
        folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
        pdfmetrics.registerFont(TTFont(_FONT, str(folder / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont(_FONT + "-bold", str(folder / "DejaVuSans-Bold.ttf")))
    return _FONT, _FONT + "-bold"


def _styles():
    from reportlab.lib.styles import ParagraphStyle

    regular, bold = _fonts()
    base = ParagraphStyle("base", fontName=regular, fontSize=9, leading=12)
    return {
        "base": base,
        "title": ParagraphStyle("title", base, fontName=bold, fontSize=15, leading=19,
                                spaceAfter=6),
        "h2": ParagraphStyle("h2", base, fontName=bold, fontSize=11.5, leading=15,
                             spaceBefore=10, spaceAfter=4, keepWithNext=True),
        "cell": ParagraphStyle("cell", base, fontSize=7.6, leading=9.4),
        "head": ParagraphStyle("head", base, fontName=bold, fontSize=7.6, leading=9.4),
        "small": ParagraphStyle("small", base, fontSize=8, leading=10.5, textColor="#333333"),
        "bold": bold,
    }


def _text(value) -> str:
    from xml.sax.saxutils import escape

    return escape(str(value))


def _table(table, styles, width, padding: float = 6):
    """A ReportLab table of a content Table, cells wrapped to the page width.

    ``padding`` is the cells' left and right padding, pt (narrow for many columns).
    """
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, Table, TableStyle

    data = [[Paragraph(_text(c), styles["head"]) for c in table.columns]]
    data += [[Paragraph(_text(cell), styles["cell"]) for cell in row] for row in table.rows]
    widths = [w * width for w in table.widths] if table.widths else None
    out = Table(data, colWidths=widths, repeatRows=1)
    commands = [("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#c8c8c8")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f0f0f0")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ("LEFTPADDING", (0, 0), (-1, -1), padding),
                ("RIGHTPADDING", (0, 0), (-1, -1), padding)]
    tones = {"focal": "#D55E00", "systemic": "#B07800", "undetermined": "#AA4D88"}
    for row, style in enumerate(table.styles, start=1):
        scope = style.split()[0] if style else ""
        if scope in tones:
            commands.append(("TEXTCOLOR", (0, row), (0, row), colors.HexColor(tones[scope])))
    out.setStyle(TableStyle(commands))
    return out


def _figure(figure, styles, width):
    """A figure scaled to the text width, with its caption, kept together."""
    from reportlab.lib.utils import ImageReader
    from reportlab.platypus import Image, KeepTogether, Paragraph, Spacer

    reader = ImageReader(str(figure.png))
    pixels_w, pixels_h = reader.getSize()
    height = width * pixels_h / pixels_w
    return KeepTogether([Paragraph(_text(figure.title), styles["h2"]),
                         Image(str(figure.png), width=width, height=height),
                         Spacer(1, 3), Paragraph(_text(figure.caption), styles["small"])])


def _story(content, styles, width):
    from reportlab.platypus import ListFlowable, ListItem, Paragraph, Spacer, Table

    def bullets(items):
        return ListFlowable([ListItem(Paragraph(_text(i), styles["base"]), leftIndent=10)
                             for i in items], bulletType="bullet", start="•", leftIndent=10)

    story = [Paragraph(_text(content.title), styles["title"])]
    header = Table([[Paragraph(f"<b>{_text(k)}</b>", styles["cell"]),
                     Paragraph(_text(v), styles["cell"])] for k, v in content.header],
                   colWidths=[0.2 * width, 0.8 * width],
                   style=[("VALIGN", (0, 0), (-1, -1), "TOP"),
                          ("TOPPADDING", (0, 0), (-1, -1), 1),
                          ("BOTTOMPADDING", (0, 0), (-1, -1), 1)])
    story += [header, Paragraph("Conclusion", styles["h2"])]
    story += [Paragraph(_text(p), styles["base"]) for p in content.conclusion]
    story.append(Paragraph(f"Alerts ({len(content.alerts.rows)})", styles["h2"]))
    story.append(_table(content.alerts, styles, width) if content.alerts.rows
                 else Paragraph("No channel met the criterion.", styles["base"]))
    story += [Paragraph("Channels", styles["h2"]), _table(content.channels, styles, width),
              Spacer(1, 2), Paragraph("* Final: the median of the channel's last 3 valid "
                                      "sweeps, as % of its baseline.", styles["small"]),
              Paragraph("Phases", styles["h2"]), _table(content.phases, styles, 0.6 * width)]
    if content.events is not None:
        story += [Paragraph("Theatre events", styles["h2"]),
                  _table(content.events, styles, width)]
    story += [Paragraph("Review edits", styles["h2"]), bullets(content.review_edits)]
    story += [_figure(f, styles, width) for f in content.figures]
    story += [Paragraph("Methods", styles["h2"]), bullets(content.methods)]
    if content.notes:
        story += [Paragraph("Notes", styles["h2"]), bullets(content.notes)]
    story += [Spacer(1, 8), Paragraph(_text(content.footer) + ". Machine-readable results: "
                                      "measurements.csv, alerts.json, summary.json beside "
                                      "this report.", styles["small"])]
    return story


def _numbered_canvas(content, font):
    """A canvas class that stamps each page with the case id and "page n of N"."""
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    class NumberedCanvas(canvas.Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages = []

        def showPage(self):  # noqa: N802 - ReportLab's name
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            for page in self._pages:
                self.__dict__.update(page)
                width, height = self._pagesize
                self.setFont(font, 7.5)
                self.setFillColorRGB(0.35, 0.35, 0.35)
                self.drawString(_MARGIN_MM * mm, height - 10 * mm, content.title)
                self.drawRightString(width - _MARGIN_MM * mm, 10 * mm,
                                     f"page {self._pageNumber} of {len(self._pages)}")
                self.drawString(_MARGIN_MM * mm, 10 * mm, content.footer)
                super().showPage()
            super().save()

    return NumberedCanvas


def write_pdf(content, path: Path) -> None:
    """Typeset a :class:`~iomon.report.content.ReportContent` as an A4 PDF at ``path``."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    styles = _styles()
    document = SimpleDocTemplate(
        str(path), pagesize=A4, leftMargin=_MARGIN_MM * mm, rightMargin=_MARGIN_MM * mm,
        topMargin=16 * mm, bottomMargin=16 * mm, title=content.title, author="iomon",
        subject=f"TcMEP monitoring report, case {content.case_id}", creator="iomon",
        invariant=True)
    width = A4[0] - 2 * _MARGIN_MM * mm
    document.build(_story(content, styles, width),
                   canvasmaker=_numbered_canvas(content, styles["base"].fontName))


def _cohort_story(content, styles, width):
    from reportlab.platypus import ListFlowable, ListItem, Paragraph, Spacer

    story = [Paragraph(_text(content.title), styles["title"]),
             Paragraph("The series", styles["h2"]),
             _table(content.statistics, styles, 0.75 * width) if content.statistics.rows
             else Paragraph("No case was analysed.", styles["base"]),
             Paragraph("Patients", styles["h2"])]
    if content.patients.rows:
        story += [_table(content.patients, styles, width, padding=3),
                  Paragraph("Monitoring", styles["h2"]),
                  _table(content.monitoring, styles, width, padding=3),
                  Spacer(1, 2),
                  Paragraph("Vermillion case ids: a new deficit after surgery. Alerts count "
                            "channel episodes in the phases the criteria watch; unrecovered: "
                            "still below the criterion at the end of the recording.",
                            styles["small"])]
    story += [Paragraph("Alert audit", styles["h2"]),
              _table(content.audit, styles, width) if content.audit.rows
              else Paragraph("No case records new_deficit: nothing to score.", styles["base"])]
    story += [_figure(f, styles, width) for f in content.figures]
    story += [Paragraph(f"Cases that failed ({len(content.failures.rows)})", styles["h2"]),
              _table(content.failures, styles, width) if content.failures.rows
              else Paragraph("None.", styles["base"])]
    story += [Paragraph("Methods", styles["h2"]),
              ListFlowable([ListItem(Paragraph(_text(m), styles["base"]), leftIndent=10)
                            for m in content.methods], bulletType="bullet", start="•",
                           leftIndent=10),
              Spacer(1, 8), Paragraph(_text(content.footer) + ". Machine-readable: cohort.csv, "
                                      "audit.csv, failures.csv beside this report.",
                                      styles["small"])]
    return story


def write_cohort_pdf(content, path: Path) -> None:
    """Typeset a :class:`~iomon.report.cohort.CohortContent` as an A4 PDF at ``path``."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    styles = _styles()
    document = SimpleDocTemplate(
        str(path), pagesize=A4, leftMargin=_MARGIN_MM * mm, rightMargin=_MARGIN_MM * mm,
        topMargin=16 * mm, bottomMargin=16 * mm, title=content.title, author="iomon",
        subject="TcMEP monitoring, case series", creator="iomon", invariant=True)
    width = A4[0] - 2 * _MARGIN_MM * mm
    document.build(_cohort_story(content, styles, width),
                   canvasmaker=_numbered_canvas(content, styles["base"].fontName))
