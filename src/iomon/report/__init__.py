"""Per-case reports: a self-contained HTML page and a PDF of the same content."""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path

__all__ = ["render_html", "summary_lines", "write_pdf"]


def render_html(result, summary: dict, figure_paths: dict[str, Path],
                identify: bool = False) -> str:
    """The report as one HTML string with the figures inlined (opens offline anywhere).

    Patient identification and the recording's start time from the file header appear only
    with ``identify=True``.
    """
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("iomon.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
    )
    from ..methods import methods_paragraphs

    images = {name: base64.b64encode(Path(path).read_bytes()).decode("ascii")
              for name, path in figure_paths.items()}
    recording = result.recording
    return env.get_template("report.html.j2").render(
        s=summary,
        methods=methods_paragraphs(summary, result.criteria),
        alerts=[a.as_dict() for a in result.alerts],
        images=images,
        patient=recording.patient if identify else None,
        start=recording.start if identify else None,
    )


def summary_lines(result, summary: dict, identify: bool = False) -> list[str]:
    """The text of the PDF's summary page: case, phases, alerts, channels, notes."""
    lines = [f"TcMEP monitoring report: {summary['case_id']}",
             f"iomon {summary['iomon_version']}, criterion {summary['criteria']} "
             f"({result.criteria.citation})",
             f"input {summary['input']} ({summary['format']}), sha256 "
             f"{(summary['input_sha256'] or 'not computed')[:16]}...",
             f"side {summary['side'] or 'not given'}, levels "
             f"{', '.join(summary['levels']) or 'not given'}; {summary['n_sweeps']} sweeps, "
             f"{summary['n_rejected']} rejected on every channel"]
    if identify and result.recording.patient:
        lines.append(f"patient (file header): {result.recording.patient}")
    lines.append("")
    lines.append("Phases: " + "; ".join(f"{p['name']} {p['start_s']:.0f}-{p['end_s']:.0f} s "
                                        f"({p['n_sweeps']} sweeps)" for p in summary["phases"]))
    lines.append("")
    lines.append(f"Alerts ({len(result.alerts)}):")
    for a in result.alerts:
        recovery = (f"recovered at sweep {a.recovery_sweep} ({a.recovery_s:.1f} s)"
                    if a.recovered else "NOT recovered")
        flag = " (informational)" if a.informational else ""
        rise = "" if a.threshold_rise_v is None else f" (+{a.threshold_rise_v:g} V)"
        # The most abnormal value is a maximum for thresholds and latencies.
        extreme = "peak" if a.criterion in ("threshold", "latency") else "nadir"
        lines.append(f"  {a.channel}: {a.criterion}, {a.scope}{flag}, {a.phase}, from sweep "
                     f"{a.onset_sweep} ({a.onset_s:.1f} s), {extreme} {a.nadir_percent} % of "
                     f"baseline{rise}, {recovery}")
    if not result.alerts:
        lines.append("  none")
    lines.append("")
    lines.append("Channels:")
    for c in summary["channels"]:
        state = (f"baseline {c['baseline_amplitude_uv']} uV, onset {c['baseline_latency_ms']} ms, "
                 f"final {c['final_percent_of_baseline']} %" if c["baseline_present"]
                 else "absent at baseline (not alerted)")
        lines.append(f"  {c['name']} ({c['muscle'] or '?'}, {c['side'] or '?'}, "
                     f"{c['role'] or '?'}): {state}")
    from ..methods import methods_paragraphs

    lines.append("")
    lines.append("Methods:")
    for paragraph in methods_paragraphs(summary, result.criteria):
        lines += textwrap.wrap(paragraph, 110, initial_indent="  - ", subsequent_indent="    ")
    if result.notes:
        lines.append("")
        lines.append("Notes:")
        for note in result.notes:
            lines += textwrap.wrap(note, 110, initial_indent="  - ", subsequent_indent="    ")
    return lines


def write_pdf(result, summary: dict, path: Path, identify: bool = False) -> None:
    """The report as a PDF: a summary page with the alert table, then the figures."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    from .figures import trend_figure, waveform_figure

    lines = summary_lines(result, summary, identify)
    with PdfPages(path) as pdf:
        page = plt.figure(figsize=(8.27, 11.69))
        page.text(0.06, 0.96, "\n".join(lines), va="top", ha="left", family="monospace",
                  fontsize=7.5, wrap=True)
        pdf.savefig(page)
        plt.close(page)
        for make in (trend_figure, waveform_figure):
            fig = make(result)
            pdf.savefig(fig)
            plt.close(fig)
