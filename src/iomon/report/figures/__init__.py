"""Figures of a case: MEP trends, baseline against final, latency trends, stacked waveforms.

Each figure is one module (:mod:`.trend`, :mod:`.threshold`, :mod:`.overlay`,
:mod:`.latency`, :mod:`.waveforms`) with a function that takes a
:class:`~iomon.results.CaseResult` and returns a matplotlib Figure, so a case-report author
can restyle or save it at any size, and a :class:`~.common.FigureSpec` (file name, heading,
drawing, caption, and whether the case has anything for it). :data:`FIGURES` lists
them in the report's order; :func:`save_figures` draws each once per format and writes it as
PNG (for the report) and SVG (for publication). What they share is in :mod:`.common` (colours,
sizes, the grid of channel panels) and :mod:`.marks` (what trend panels draw: phases, events,
alert lanes, legends and captions). A new figure is a module with its ``FIGURE`` and one entry
in :data:`FIGURES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..clock import TimeAxis, whole_seconds
from . import latency, overlay, threshold, trend, waveforms
from .common import COLOURS, PNG_DPI, FigureSpec, channel_grid, sweep_edges
from .latency import latency_figure
from .marks import alert_end_s, alert_lanes, excluded_runs
from .overlay import final_sweep, overlay_figure, overlay_rows
from .threshold import threshold_figure
from .trend import trend_figure
from .waveforms import RowChoice, choose_rows, rows_that_fit, waveform_figure

__all__ = ["COLOURS", "FIGURES", "FigureFile", "FigureSpec", "RowChoice", "TimeAxis",
           "alert_end_s", "alert_lanes", "channel_grid", "choose_rows", "excluded_runs",
           "final_sweep", "latency_figure", "overlay_figure", "overlay_rows", "rows_that_fit",
           "save_figures", "sweep_edges", "threshold_figure", "trend_figure", "waveform_figure",
           "whole_seconds", "write_png"]

#: The report's figures, in its order.
FIGURES: list[FigureSpec] = [trend.FIGURE, threshold.FIGURE, overlay.FIGURE, latency.FIGURE,
                              waveforms.FIGURE]


@dataclass(frozen=True)
class FigureFile:
    """A figure as the report uses it: its name, files and what it shows.

    ``size_in`` is the figure's size at print scale (width, height), inches.
    """

    name: str
    png: Path
    svg: Path
    title: str
    caption: str
    size_in: tuple[float, float] | None = None


def write_png(fig, path: Path, dpi: int = PNG_DPI) -> None:
    """Draw ``fig`` once with Agg and write it as an opaque RGB PNG.

    RGB, not RGBA: the PDF embeds it without a transparency mask (which PDF/A-1 forbids and
    which costs a second image); a light zlib level keeps the write fast.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    original = fig.dpi
    fig.set_dpi(dpi)
    try:
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        pixels = np.asarray(canvas.buffer_rgba())[..., :3]
        Image.fromarray(pixels).save(path, format="png", compress_level=3)
    finally:
        fig.set_dpi(original)


def save_figures(result, folder: Path, dpi: int = PNG_DPI, svg: bool = True,
                 figures=None) -> list[FigureFile]:
    """Draw each figure and write it as PNG (and SVG) into ``folder``.

    Parameters
    ----------
    result : CaseResult
    folder : Path
    dpi : int
        Of the PNGs.
    svg : bool
        Also write each figure as SVG (text kept as text, for publication).
    figures : list of FigureSpec, optional
        Default :data:`FIGURES`.
    """
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for spec in FIGURES if figures is None else figures:
        if not spec.applies(result):
            continue
        fig = spec.draw(result)
        png, svg_path = folder / f"{spec.name}.png", folder / f"{spec.name}.svg"
        write_png(fig, png, dpi)
        if svg:
            fig.savefig(svg_path, format="svg", metadata={"Date": None})
        made.append(FigureFile(spec.name, png, svg_path, spec.title, spec.caption(fig),
                               tuple(float(v) for v in fig.get_size_inches())))
    return made
