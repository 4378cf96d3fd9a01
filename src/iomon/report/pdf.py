"""The PDF renderer of a case report: the same content as the HTML page, typeset on A4.

Made with ReportLab (pure Python). The text uses matplotlib's DejaVu Sans, so µ, ±, – and
every character of the figures print the same; each page carries the case id, the title and
"page n of N".
"""

from __future__ import annotations

import functools
import hashlib
import struct
from pathlib import Path

__all__ = ["write_cohort_pdf", "write_pdf"]

_MARGIN_MM = 18
_TOP_MM = _BOTTOM_MM = 16
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
        "synthetic": ParagraphStyle("synthetic", base, fontName=bold, textColor=_TONES["focal"],
                                    borderColor=_TONES["focal"], borderWidth=1.2,
                                    borderPadding=4, spaceBefore=2, spaceAfter=8),
        "bold": bold,
    }


def _text(value) -> str:
    from xml.sax.saxutils import escape

    return escape(str(value))


def _table(table, styles, width, padding: float = 6):
    """A ReportLab table of a content Table, cells wrapped to the page width.

    ``padding`` is the cells' left and right padding, pt (narrow for many columns). Columns
    are widened where their longest word would not fit (ReportLab would break it mid-word),
    at the expense of columns with room to spare.
    """
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, Table, TableStyle

    data = [[Paragraph(_text(c), styles["head"]) for c in table.columns]]
    tones = [(style.split() or [""])[0] for style in table.styles] or [""] * len(table.rows)
    for row, tone in zip(table.rows, tones):
        # A row's scope (or a case with a new deficit) in its first cell's colour, bold: a
        # table style's TEXTCOLOR does not reach a Paragraph.
        first = (ParagraphStyle(f"cell-{tone}", styles["cell"], textColor=_TONES[tone],
                                fontName=styles["bold"]) if tone in _TONES else styles["cell"])
        data.append([Paragraph(_text(cell), first if k == 0 else styles["cell"])
                     for k, cell in enumerate(row)])
    widths = _fit_widths(table, styles, width, padding) if table.widths else None
    out = Table(data, colWidths=widths, repeatRows=1)
    commands = [("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#c8c8c8")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f0f0f0")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ("LEFTPADDING", (0, 0), (-1, -1), padding),
                ("RIGHTPADDING", (0, 0), (-1, -1), padding),
                # ReportLab sets each cell's font even under a Paragraph: else Helvetica,
                # which is not embedded
                ("FONTNAME", (0, 0), (-1, -1), styles["base"].fontName)]
    out.setStyle(TableStyle(commands))
    return out


#: Text tones of the figures' scope colours, dark enough to read on white (4.5:1 or more).
_TONES = {"focal": "#B34700", "systemic": "#8A5D00", "undetermined": "#AA4D88"}


def _fit_widths(table, styles, width, padding) -> list[float]:
    """Column widths, pt: the table's shares of ``width``, each at least its longest word.

    A word longer than 40 % of the width (a path, a checksum) is left to wrap.
    """
    from reportlab.pdfbase.pdfmetrics import stringWidth

    def longest(texts, style):
        words = [w for t in texts for w in str(t).split()]
        sizes = [stringWidth(w, style.fontName, style.fontSize) for w in words]
        return min(max(sizes, default=0.0), 0.4 * width) + 2 * padding + 1.0

    need = [max(longest([head], styles["head"]), longest([r[j] for r in table.rows],
                                                         styles["cell"]))
            for j, head in enumerate(table.columns)]
    widths = [w * width for w in table.widths]
    short = sum(max(n - w, 0.0) for n, w in zip(need, widths))
    spare = [max(w - n, 0.0) for n, w in zip(need, widths)]
    if short == 0 or sum(spare) < short:
        return widths
    return [max(w, n) - short * s / sum(spare) for n, w, s in zip(need, widths, spare)]


@functools.cache
def _figure_block_class():
    from reportlab.platypus import Flowable

    class FigureBlock(Flowable):
        """A figure's heading, image and caption on one page, the image scaled to the room.

        Where the page has room for the figure at (nearly) the size a fresh page would give
        it, it goes there, scaled down to fit if need be; otherwise the whole block moves to
        the next page. It is never split, so no heading or caption is left alone.
        """

        #: Shrink a figure by at most this much to keep it on the current page.
        KEEP_SCALE = 0.85

        def __init__(self, heading, path, caption, aspect, frame_height):
            super().__init__()
            self.heading, self.path, self.caption = heading, path, caption
            self.aspect, self.frame_height = aspect, frame_height
            self.scale = 1.0

        def getSpaceBefore(self):  # noqa: N802 - ReportLab's name
            return self.heading.style.spaceBefore

        def _text_heights(self, width):
            head = self.heading.wrap(width, 1e6)[1] + self.heading.style.spaceAfter
            return head, self.caption.wrap(width, 1e6)[1] + 3

        def wrap(self, avail_width, avail_height):
            head, caption = self._text_heights(avail_width)
            natural = avail_width * self.aspect
            on_fresh_page = min(1.0, (self.frame_height - head - caption) / natural)
            here = min(1.0, (avail_height - head - caption) / natural)
            self.scale = here if here >= self.KEEP_SCALE * on_fresh_page else on_fresh_page
            self.width = avail_width
            self.height = head + natural * self.scale + caption
            return self.width, self.height

        def split(self, avail_width, avail_height):
            return []

        def draw(self):
            head, caption = self._text_heights(self.width)
            self.heading.drawOn(self.canv, 0, self.height - head + self.heading.style.spaceAfter)
            image_w = self.width * self.scale
            image_h = image_w * self.aspect
            _draw_png(self.canv, self.path, (self.width - image_w) / 2, caption, image_w,
                      image_h)
            self.caption.drawOn(self.canv, 0, caption - 3 - self.caption.height)

    return FigureBlock


def png_stream(path) -> tuple[int, int, bytes] | None:
    """Width, height and the zlib stream (IDAT chunks joined) of an 8-bit RGB PNG.

    None for any other PNG (palette, grey, alpha, 16-bit, interlaced): only a plain RGB
    stream can go into a PDF as it is.
    """
    data = Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    position, header, chunks = 8, None, []
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        elif kind == b"IEND":
            break
        position += 12 + length
    if header is None or header[2:5] != (8, 2, 0) or header[6] != 0:
        return None
    return header[0], header[1], b"".join(chunks)


def _png_xobject(name, width, height, stream):
    """A PDF image of a PNG's own zlib stream, decoded with the PNG predictors (PDF 1.2+)."""
    from reportlab.pdfbase.pdfdoc import PDFDictionary, PDFImageXObject, PDFName, PDFStream

    class PngXObject(PDFImageXObject):
        def format(self, document):
            out = PDFStream(content=stream)
            out.dictionary.dict.update({
                "Type": PDFName("XObject"), "Subtype": PDFName("Image"), "Width": width,
                "Height": height, "BitsPerComponent": 8, "ColorSpace": PDFName("DeviceRGB"),
                "Filter": PDFName("FlateDecode"), "DecodeParms": PDFDictionary({
                    "Predictor": 15, "Colors": 3, "BitsPerComponent": 8, "Columns": width})})
            return out.format(document)

    image = PngXObject(name)
    image.width, image.height = width, height
    return image


def _draw_png(canvas, path, x, y, width, height) -> None:
    """Place a PNG on the page, its compressed pixels copied into the PDF as they are.

    ReportLab would decode the PNG and compress the pixels again (most of the PDF's time);
    a PDF reader undoes PNG's filters itself. The image is named by a digest of its stream,
    so the same figure written from another folder gives the same bytes. Other PNGs go
    through ReportLab.
    """
    png = png_stream(path)
    if png is None:
        from reportlab.lib.utils import ImageReader

        # An ImageReader, not the path: ReportLab names an image by a digest of what it is
        # given, and a path would make the file differ from folder to folder.
        canvas.drawImage(ImageReader(str(path)), x, y, width, height)
        return
    name = hashlib.md5(png[2]).hexdigest()
    document = canvas._doc
    registered = document.getXObjectName(name)
    if registered not in document.idToObject:
        image = _png_xobject(name, *png)
        canvas._setXObjects(image)
        document.Reference(image, registered)
        document.addForm(name, image)
    canvas.saveState()
    canvas.translate(x, y)
    canvas.scale(width, height)
    canvas._code.append(f"/{registered} Do")
    canvas.restoreState()
    canvas._formsinuse.append(name)


def _figure(figure, styles, width, frame_height=None):
    """A figure with its heading and caption, kept on one page, scaled to the room left."""
    from reportlab.platypus import Paragraph

    if figure.size_in:
        aspect = figure.size_in[1] / figure.size_in[0]
    else:
        from reportlab.lib.utils import ImageReader

        pixels_w, pixels_h = ImageReader(str(figure.png)).getSize()
        aspect = pixels_h / pixels_w
    return _figure_block_class()(
        Paragraph(_text(figure.title), styles["h2"]), figure.png,
        Paragraph(_text(figure.caption), styles["small"]), aspect,
        frame_height or _frame_height())


def _frame_height() -> float:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm

    # SimpleDocTemplate's frame: the page less the margins and the frame's own 6 pt padding.
    return A4[1] - (_TOP_MM + _BOTTOM_MM) * mm - 12


def _section(title, items, styles):
    """A heading and its bullet list; the heading kept with the first item.

    (A heading's keepWithNext cannot hold a list longer than the page: it would be left
    alone at the foot of one.)
    """
    from reportlab.platypus import KeepTogether, Paragraph

    out = [KeepTogether([Paragraph(_text(title), styles["h2"]), _bullets(items[:1], styles)])]
    return out + ([_bullets(items[1:], styles)] if len(items) > 1 else [])


def _bullets(items, styles):
    from reportlab.platypus import ListFlowable, ListItem, Paragraph

    return ListFlowable([ListItem(Paragraph(_text(i), styles["base"]), leftIndent=10)
                         for i in items], bulletType="bullet", start="•", leftIndent=10,
                        bulletFontName=styles["base"].fontName)


def _signoff(content, styles, width):
    """When and from what the report was made, and blank fields for the signature."""
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, Table

    rows = [[Paragraph(f"<b>{_text(label)}</b>", styles["cell"]), ""]
            for label in content.signoff[1:]]
    fields = Table(rows, colWidths=[0.3 * width, 0.7 * width], rowHeights=[20] * len(rows),
                   style=[("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#b0b0b0")),
                          ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                          ("FONTNAME", (0, 0), (-1, -1), styles["base"].fontName)])
    return [Paragraph(_text(content.signoff[0]), styles["small"]), fields]


def _header(content, styles, width):
    from reportlab.platypus import Paragraph, Table

    return Table([[Paragraph(f"<b>{_text(k)}</b>", styles["cell"]),
                   Paragraph(_text(v), styles["cell"])] for k, v in content.header],
                 colWidths=[0.2 * width, 0.8 * width],
                 style=[("VALIGN", (0, 0), (-1, -1), "TOP"),
                        ("TOPPADDING", (0, 0), (-1, -1), 1),
                        ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                        ("FONTNAME", (0, 0), (-1, -1), styles["base"].fontName)])


def _story(content, styles, width):
    from reportlab.platypus import Paragraph, Spacer

    story = [Paragraph(_text(content.title), styles["title"])]
    if getattr(content, "synthetic", ""):
        story.append(Paragraph(f"<b>{_text(content.synthetic)}</b>", styles["synthetic"]))
    story += [_header(content, styles, width), Paragraph("Conclusion", styles["h2"])]
    story += [Paragraph(_text(p), styles["base"]) for p in content.conclusion]
    if content.signoff:
        story += [Spacer(1, 6)] + _signoff(content, styles, width)
    story.append(Paragraph(_text(content.alerts_heading), styles["h2"]))
    if content.alerts.rows:
        story += [_table(content.alerts, styles, width, padding=3), Spacer(1, 2),
                  Paragraph(_text(content.alerts_note), styles["small"])]
    else:
        story.append(Paragraph("No channel met the criterion.", styles["base"]))
    story += [Paragraph("Channels", styles["h2"]),
              _table(content.channels, styles, width, padding=3), Spacer(1, 2),
              Paragraph(_text(content.channels_note), styles["small"]),
              Paragraph("Phases", styles["h2"]), _table(content.phases, styles, 0.6 * width)]
    if content.events is not None:
        story += [Paragraph("Markers and theatre events", styles["h2"]),
                  _table(content.events, styles, width)]
    story += _section("Review edits", content.review_edits, styles)
    story += [_figure(f, styles, width) for f in content.figures]
    story += _section("Methods", content.methods, styles)
    if content.notes:
        story += _section("Notes", content.notes, styles)
    story += [Spacer(1, 8), Paragraph(_text(content.footer) + ". Machine-readable results: "
                                      "measurements.csv, alerts.json, summary.json beside "
                                      "this report.", styles["small"])]
    return story


def _numbered_canvas(content, font):
    """A canvas class that stamps each page with the case id and "page n of N".

    Its initial font is ``font`` (embedded), so no unembedded base-14 font is named in the
    file.
    """
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    class NumberedCanvas(canvas.Canvas):
        def __init__(self, *args, **kwargs):
            if not kwargs.get("initialFontName"):
                kwargs["initialFontName"] = font
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
                if getattr(content, "synthetic", ""):  # on every page, in the alert colour
                    from reportlab.lib.colors import HexColor

                    self.setFillColor(HexColor(_TONES["focal"]))
                self.drawString(_MARGIN_MM * mm, height - 10 * mm, content.title)
                self.setFillColorRGB(0.35, 0.35, 0.35)
                self.drawRightString(width - _MARGIN_MM * mm, 10 * mm,
                                     f"page {self._pageNumber} of {len(self._pages)}")
                self.drawString(_MARGIN_MM * mm, 10 * mm, content.footer)
                super().showPage()
            super().save()

    return NumberedCanvas


def write_pdf(content, path: Path) -> None:
    """Typeset a :class:`~iomon.report.content.ReportContent` as an A4 PDF at ``path``.

    Every font is embedded (DejaVu Sans); images are Flate-compressed binary streams (ASCII85
    would only make them larger, and ReportLab encodes it in pure Python, slowly).
    """
    from reportlab import rl_config
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    styles = _styles()
    document = SimpleDocTemplate(
        str(path), pagesize=A4, leftMargin=_MARGIN_MM * mm, rightMargin=_MARGIN_MM * mm,
        topMargin=_TOP_MM * mm, bottomMargin=_BOTTOM_MM * mm, title=content.title,
        author="iomon", subject=f"TcMEP monitoring report, case {content.case_id}",
        creator="iomon", invariant=True, initialFontName=styles["base"].fontName)
    width = A4[0] - 2 * _MARGIN_MM * mm
    use_a85 = rl_config.useA85
    rl_config.useA85 = 0
    try:
        document.build(_story(content, styles, width),
                       canvasmaker=_numbered_canvas(content, styles["base"].fontName))
    finally:
        rl_config.useA85 = use_a85


def _cohort_story(content, styles, width):
    from reportlab.platypus import ListFlowable, ListItem, Paragraph, Spacer

    story = [Paragraph(_text(content.title), styles["title"])]
    if getattr(content, "synthetic", ""):
        story.append(Paragraph(f"<b>{_text(content.synthetic)}</b>", styles["synthetic"]))
    story += [Paragraph("The series", styles["h2"]),
             _table(content.statistics, styles, 0.75 * width) if content.statistics.rows
             else Paragraph("No case was analysed.", styles["base"]),
             Paragraph("Patients", styles["h2"])]
    if content.patients.rows:
        story += [_table(content.patients, styles, width, padding=3),
                  Paragraph("Monitoring", styles["h2"]),
                  _table(content.monitoring, styles, width, padding=3),
                  Spacer(1, 2), Paragraph(_text(content.monitoring_note), styles["small"])]
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
                           leftIndent=10, bulletFontName=styles["base"].fontName),
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
        subject="TcMEP monitoring, case series", creator="iomon", invariant=True,
        initialFontName=styles["base"].fontName)
    width = A4[0] - 2 * _MARGIN_MM * mm
    document.build(_cohort_story(content, styles, width),
                   canvasmaker=_numbered_canvas(content, styles["base"].fontName))
