"""The cohort report of a batch: the series' statistics, table, audit and figures.

One content model (:class:`CohortContent`) printed as a self-contained HTML page and as an A4
PDF with the case reports' renderer; the figures (pain before and after per patient, alerts
per case, the at-risk leg through the case) are drawn once and kept as PNG and SVG in
``cohort-figures/``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from .content import Table
from .figures import COLOURS, FigureFile
from .figures.common import WIDTH_IN, pyplot

__all__ = ["CohortContent", "alerts_figure", "pain_figure", "trend_figure",
           "write_cohort_report"]


@dataclass(frozen=True)
class CohortContent:
    """Everything the cohort report says, in reading order.

    ``monitoring_note`` says what the monitoring table counts; ``synthetic`` is the mark every
    page of a series with simulated cases carries ("" for none).
    """

    title: str
    statistics: Table
    patients: Table
    monitoring: Table
    audit: Table
    failures: Table
    figures: tuple[FigureFile, ...]
    methods: tuple[str, ...]
    footer: str
    monitoring_note: str = ""
    synthetic: str = ""


# ------------------------------------------------------------------------------ figures
def _spread(values, gap: float) -> np.ndarray:
    """Label positions near ``values`` but at least ``gap`` apart (their order kept)."""
    values = np.asarray(values, float)
    order = np.argsort(values, kind="stable")
    placed = values[order].copy()
    for i in range(1, placed.size):
        placed[i] = max(placed[i], placed[i - 1] + gap)
    placed -= max(0.0, (placed[-1] - values[order][-1]) / 2) if placed.size else 0.0
    out = np.empty_like(placed)
    out[order] = placed
    return out


def pain_figure(rows):
    """Pain score before and after surgery per patient, and each patient's reduction."""
    plt = pyplot()
    pairs = [(r["case_id"], r["vas_pre"], r["vas_post"]) for r in rows
             if r.get("vas_pre") is not None and r.get("vas_post") is not None]
    fig, (ax, bars) = plt.subplots(1, 2, figsize=(WIDTH_IN, 3.0),
                                   gridspec_kw={"width_ratios": (1.1, 1.0)})
    fig.subplots_adjust(left=0.08, right=0.98, top=0.93, bottom=0.14, wspace=0.45)
    for _, before, after in pairs:
        ax.plot([0, 1], [before, after], color=COLOURS["measure"], alpha=0.55, marker="o",
                markersize=3.5, linewidth=1)
    for (case_id, _, after), y in zip(pairs, _spread([p[2] for p in pairs], 0.55)):
        ax.annotate(case_id, (1, after), xytext=(1.08, y), textcoords="data", va="center",
                    fontsize=7, color="#333333")
    if pairs:
        means = np.mean([[p[1], p[2]] for p in pairs], axis=0)
        ax.plot([0, 1], means, color=COLOURS["final"], linewidth=2.2, marker="s",
                markersize=5, label=f"mean, n = {len(pairs)}")
        ax.legend(loc="lower left", frameon=False)
    ax.set_xticks([0, 1], ["before", "after surgery"])
    ax.set_xlim(-0.2, 1.35)
    ax.set_ylim(-0.5, 10.5)
    ax.set_ylabel("pain score (VAS 0-10)")
    reduction = [100.0 * (b - a) / b if b else np.nan for _, b, a in pairs]
    ax_y = np.arange(len(pairs))
    bars.barh(ax_y, reduction, color=COLOURS["measure"], height=0.65)
    bars.set_yticks(ax_y, [p[0] for p in pairs])
    bars.invert_yaxis()
    bars.set_xlim(0, 100)
    bars.set_xlabel("pain reduction, % of the score before")
    for axis in (ax, bars):
        axis.spines[["top", "right"]].set_visible(False)
    return fig


def alerts_figure(rows):
    """Events per case by scope (focal ones split into recovered and unrecovered), stacked."""
    plt = pyplot()
    kinds = (("focal_unrecovered", "focal, unrecovered", COLOURS["focal"], None),
             ("focal_recovered", "focal, recovered", "#EBAA80", "////"),
             ("events_undetermined", "undetermined", COLOURS["undetermined"], None),
             ("events_systemic", "systemic", COLOURS["systemic"], None),
             ("events_informational", "informational", "#BBBBBB", None))
    ids = [r["case_id"] for r in rows]
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 0.6 + 0.22 * max(len(rows), 3)))
    fig.subplots_adjust(left=0.1, right=0.72, top=0.96, bottom=0.5 / fig.get_figheight())
    left = np.zeros(len(rows))
    for key, label, colour, hatch in kinds:
        counts = np.array([r[key] for r in rows], float)
        ax.barh(np.arange(len(rows)), counts, left=left, color=colour, label=label,
                height=0.7, hatch=hatch, edgecolor="white" if hatch else None, lw=0)
        left += counts
    for y, r in enumerate(rows):
        if r["new_deficit"]:
            ax.annotate("new deficit", (left[y], y), xytext=(4, 0), textcoords="offset points",
                        va="center", fontsize=7, color=COLOURS["focal"])
    ax.set_yticks(np.arange(len(rows)), ids)
    ax.invert_yaxis()
    ax.set_xlabel("events (a change counted once, whatever its channels and criteria)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlim(0, max(float(left.max(initial=0)) * 1.3, 1.0))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def trend_figure(trends, rows):
    """The at-risk leg's amplitude against minutes of surgery from lesioning start, per case.

    Minutes of the surgery each case stands for: a simulated case's file time is multiplied
    by its time compression (:func:`iomon.batch.cohort.at_risk_trend`).
    """
    plt = pyplot()
    deficit = {r["case_id"]: bool(r["new_deficit"]) for r in rows}
    shown = [(case_id, t) for case_id, t in trends if t and t["time_min"]]
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 3.0))
    fig.subplots_adjust(left=0.1, right=0.74, top=0.95, bottom=0.15)
    ends = []
    for case_id, trend in shown:
        colour = COLOURS["focal"] if deficit.get(case_id) else COLOURS["measure"]
        ax.plot(trend["time_min"], trend["percent"], color=colour, linewidth=1, alpha=0.75)
        ends.append((trend["time_min"][-1], trend["percent"][-1], case_id, colour))
    label_y = _spread([e[1] for e in ends], 7.0)
    for (x, _, case_id, colour), y in zip(ends, label_y):
        ax.annotate(case_id, (x, y), xytext=(4, 0), textcoords="offset points", va="center",
                    fontsize=6.5, color=colour, annotation_clip=False)
    if shown:
        ax.axvspan(0, float(np.median([t["lesioning_min"] for _, t in shown])),
                   color=COLOURS["phase"], zorder=0, label="lesioning\n(median length)")
    ax.plot([], [], color=COLOURS["measure"], label="no new deficit")
    ax.plot([], [], color=COLOURS["focal"], label="new deficit")
    ax.axhline(100, color="#777777", linewidth=0.6, linestyle=":")
    ax.set_xlabel(TREND_AXIS)
    ax.set_ylabel("at-risk leg, % of baseline")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", bbox_to_anchor=(1.06, 1.0), frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


#: The trend figure's time axis, as its axis and its caption both say it.
TREND_AXIS = "minutes of surgery from the start of lesioning"


def _save_figures(rows, trends, folder: Path, dpi: int = 150) -> list[FigureFile]:
    plt = pyplot()
    folder.mkdir(parents=True, exist_ok=True)
    wanted = []
    if any(r.get("vas_pre") is not None and r.get("vas_post") is not None for r in rows):
        wanted.append(("pain", lambda: pain_figure(rows), "Pain before and after surgery",
                       "Pain score (visual analogue scale, 0-10) of each patient before and "
                       "after surgery, from the sidecars' [clinical] vas_pre and vas_post; "
                       "black: the series' mean."))
    if rows:
        wanted.append(("alerts", lambda: alerts_figure(rows), "Events per case",
                       "Events per case under the primary criteria, by scope: each change "
                       "counted once (one channel's overlapping alerts, whatever their "
                       "criterion; the overlapping systemic alerts of every channel), as each "
                       "case's report and alerts.json count them. Focal events recovered "
                       "(hatched) or not by the end of the recording; informational: outside "
                       "the phases the criteria watch."))
    if any(t for _, t in trends):
        wanted.append(("trend", lambda: trend_figure(trends, rows), "The at-risk leg across "
                       "cases", "Per case, the median % of baseline of the ipsilateral leg "
                       "channels that responded at baseline, per valid sweep, against "
                       f"{TREND_AXIS} (a simulated case's file time times its time "
                       "compression); vermillion: cases with a new deficit."))
    made = []
    for name, make, title, caption in wanted:
        fig = make()
        png, svg = folder / f"{name}.png", folder / f"{name}.svg"
        fig.savefig(png, dpi=dpi, metadata={"Software": None})
        fig.savefig(svg, metadata={"Date": None})
        plt.close(fig)
        made.append(FigureFile(name, png, svg, title, caption))
    return made


# ------------------------------------------------------------------------------ content
def _text(value, unit: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}{unit}"
    return f"{value}{unit}" if str(value) else "–"


def _patients_table(rows) -> Table:
    """The clinical facts, one row per case (rows of cases with a new deficit marked)."""
    columns = ("Case", "Sex", "Age", "Etiology", "Side", "Surgery", "VAS before → after "
               "(reduction)", "Analgesics after", "Complications", "New deficit")
    body = []
    for r in rows:
        vas = (f"{_text(r['vas_pre'])} → {_text(r['vas_post'])}"
               if r["vas_pre"] is not None or r["vas_post"] is not None else "–")
        if r["vas_reduction_percent"] is not None:
            vas += f" ({r['vas_reduction_percent']:.0f} %)"
        body.append((r["case_id"], _text(r["sex"]), _text(r["age"]), _text(r["etiology"]),
                     _text(r["side"]), _text(r["surgery_date"]), vas,
                     _text(r["analgesics_post"]), _text(r["complications"]),
                     _text(r["new_deficit"])))
    widths_mm = (12, 9, 10, 25, 12, 21, 24, 19, 28, 14)
    return Table(columns, tuple(body), tuple("focal" if r["new_deficit"] else "" for r in rows),
                 tuple(w / sum(widths_mm) for w in widths_mm))


def _monitoring_table(rows) -> Table:
    """What the monitoring found, one row per case, counted by event."""
    columns = ("Case", "Criteria", "Sweeps (rejected)", "At-risk channels",
               "Focal events (recovered, unrecovered)", "Undetermined events",
               "Systemic events", "Lead time, min", "At-risk leg, final % of baseline")
    body = tuple((r["case_id"], r["criteria"], f"{r['n_sweeps']} ({r['n_rejected_sweeps']})",
                  str(r["channels_at_risk"]),
                  f"{r['events_focal']} ({r['focal_recovered']}, {r['focal_unrecovered']})",
                  str(r["events_undetermined"]), str(r["events_systemic"]),
                  _text(r["lead_time_min"]), _text(r["final_percent_at_risk_leg"]))
                 for r in rows)
    widths_mm = (13, 17, 18, 16, 26, 24, 17, 16, 25)
    return Table(columns, body, tuple("focal" if r["new_deficit"] else "" for r in rows),
                 tuple(w / sum(widths_mm) for w in widths_mm))


def _audit_table(audit) -> Table:
    def proportion(row, key):
        if row[key] is None:
            return "–"
        return (f"{100 * row[key]:.0f} % ({100 * row[key + '_ci_low']:.0f}-"
                f"{100 * row[key + '_ci_high']:.0f} %)")

    def lead(row):
        if row["lead_time_median_min"] is None:
            return "–"
        return (f"{row['lead_time_median_min']:g} ({row['lead_time_low_min']:g} to "
                f"{row['lead_time_high_min']:g})")

    columns = ("Criteria", "Scored per", "Positive if", "n", "TP", "FP", "TN", "FN",
               "Sensitivity (95 % CI)", "Specificity (95 % CI)",
               "Lead time of the TP, min: median (range)")
    body = tuple((a["criteria"], a["unit"], a["positive_if"], str(a["n"]), str(a["tp"]),
                  str(a["fp"]), str(a["tn"]), str(a["fn"]), proportion(a, "sensitivity"),
                  proportion(a, "specificity"), lead(a)) for a in audit)
    widths_mm = (16, 15, 22, 7, 7, 7, 7, 7, 25, 25, 24)
    return Table(columns, body, (), tuple(w / sum(widths_mm) for w in widths_mm))


#: What the monitoring table's counts mean (under the table, in HTML and PDF alike).
MONITORING_NOTE = (
    "Vermillion case ids: a new deficit after surgery. Events count each change once (one "
    "channel's overlapping alerts, whatever their criterion; the overlapping systemic alerts "
    "of every channel), as each case's report and alerts.json count them, in the phases the "
    "criteria watch; a focal event is recovered (reversible) when it came back above the "
    "criterion before the end of the recording. Lead time: from where the first focal event "
    "began (its first-met sweep) to the end of lesioning, in minutes of surgery (negative: it "
    "began after).")


def build_cohort_content(rows, statistics, audit, failures, figures) -> CohortContent:
    """The cohort report's content from the batch's rows, statistics, audit and failures."""
    primary = rows[0]["criteria"] if rows else (audit[0]["criteria"] if audit else "–")
    by_case = [a for a in audit if a["unit"] == "case"]
    n_known = by_case[0]["n"] if by_case else 0
    by_limb = [a for a in audit if a["unit"] != "case"]
    n_limbs = by_limb[0]["n"] if by_limb else 0
    synthetic = sum(bool(r.get("synthetic")) for r in rows)
    methods = (
        f"Every case was analysed by iomon {__version__} as `iomon analyze` does, with the "
        f"criteria preset {primary}; its outputs and report are in the folder named after "
        "the case. Clinical facts are the sidecars' [clinical] tables as written (–: not "
        "recorded).",
        "The at-risk leg is the ipsilateral lower-limb test channels that responded at "
        "baseline; its final % is the median over them of each channel's last 3 valid sweeps "
        "as % of baseline.",
        "Alert audit: a case is alert-positive under a preset when it raised a focal or "
        "undetermined event in the phases the preset watches (informational and systemic "
        "events do not count), or, under the stricter rule, only when such an event had not "
        "recovered by the end of the recording; scored against the sidecar's new_deficit "
        f"({n_known} case(s) record it). Per side and limb, each monitored limb of a case "
        "(left or right, upper or lower: channels that responded at baseline) is positive "
        "when an event on one of its channels is, and scored against the sidecar's "
        f"deficit_limbs ({n_limbs} limb(s) of cases that record it, or record no deficit). "
        "Every preset is applied to the same measurements. The lead time of a true positive "
        "runs from where its first event began to the end of lesioning. Intervals: Wilson "
        "score 95 % (Wilson, J Am Stat Assoc 1927;22:209-212).",
    )
    if synthetic:
        methods += (f"{synthetic} of the {len(rows)} case(s) are synthetic (iomon simulate; "
                    "cohort.csv's synthetic column): their times are on the surgical clock "
                    "they stand for.",)
    failed = Table(("Case", "Path", "Reason"),
                   tuple((f["case_id"], f["path"], f["reason"]) for f in failures), (),
                   (0.12, 0.28, 0.6))
    mark = (("SYNTHETIC SERIES" if synthetic == len(rows) else
             f"{synthetic} SYNTHETIC CASE(S)") + ": simulated, not patients' recordings"
            if synthetic else "")
    return CohortContent(
        title=f"Case series: {len(rows)} case(s)" + (f", {len(failures)} failed"
                                                     if failures else "")
        + (f" ({mark})" if mark else ""),
        statistics=Table(("Characteristic", "Value"), tuple(statistics), (), (0.4, 0.6)),
        patients=_patients_table(rows), monitoring=_monitoring_table(rows),
        audit=_audit_table(audit), failures=failed,
        figures=tuple(figures), methods=methods,
        footer=f"iomon {__version__}, cohort report (research software, not a medical device)",
        monitoring_note=MONITORING_NOTE, synthetic=mark)


def render_cohort_html(content: CohortContent) -> str:
    """The cohort report as one self-contained HTML page."""
    import base64

    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("iomon.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]))
    images = {f.name: base64.b64encode(Path(f.png).read_bytes()).decode("ascii")
              for f in content.figures}
    return env.get_template("cohort.html.j2").render(c=content, images=images)


def write_cohort_report(out_dir: Path, rows, statistics, audit, failures, trends) -> None:
    """Write cohort.html, cohort.pdf and cohort-figures/ into ``out_dir``, each whole or not."""
    from .outputs import move_into_place, staging_folder
    from .pdf import write_cohort_pdf

    out_dir = Path(out_dir)
    staging = staging_folder(out_dir, "cohort")
    try:
        figures = _save_figures(rows, trends, staging / "cohort-figures")
        content = build_cohort_content(rows, statistics, audit, failures, figures)
        (staging / "cohort.html").write_text(render_cohort_html(content), encoding="utf-8")
        write_cohort_pdf(content, staging / "cohort.pdf")
        move_into_place(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
