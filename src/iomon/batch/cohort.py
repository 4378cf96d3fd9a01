"""A case series from a batch: one row per case, the series' statistics and the alert audit.

The row of a case (:func:`cohort_row`) joins the sidecar's ``[clinical]`` facts to what the
monitoring found; the statistics (:func:`cohort_statistics`) are those a DREZ case series
publishes (age, sex, pain before and after, relief, analgesics, complications); the audit
(:func:`alert_audit`) scores each criteria preset against the new deficits the sidecars record,
with Wilson 95 % confidence intervals (Wilson, J Am Stat Assoc 1927;22:209-212).

A case counts as **alert-positive** under a preset when it raised at least one focal or
undetermined alert in the phases the preset watches (informational and systemic alerts do not
count: they do not point at the surgery).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

__all__ = ["AUDIT_COLUMNS", "CLINICAL_KEYS", "COHORT_COLUMNS", "alert_audit", "at_risk_trend",
           "cohort_row", "cohort_statistics", "csv_text", "preset_record",
           "write_cohort_files"]

#: The sidecar's clinical facts, in the order the cohort table gives them.
CLINICAL_KEYS = ("sex", "age", "etiology", "surgery_date", "vas_pre", "vas_post",
                 "analgesics_post", "complications", "new_deficit")
#: cohort.csv's columns.
COHORT_COLUMNS = ("case_id", "recording", "sex", "age", "etiology", "side", "levels",
                  "surgery_date", "vas_pre", "vas_post", "vas_reduction_percent",
                  "analgesics_post", "complications", "new_deficit", "criteria", "n_sweeps",
                  "n_rejected_sweeps", "channels_at_risk", "channels_alerted", "alerts_focal",
                  "alerts_systemic", "alerts_undetermined", "alerts_informational",
                  "focal_unrecovered", "final_percent_at_risk_leg")
#: audit.csv's columns.
AUDIT_COLUMNS = ("criteria", "n_cases", "tp", "fp", "tn", "fn", "sensitivity",
                 "sensitivity_ci_low", "sensitivity_ci_high", "specificity",
                 "specificity_ci_low", "specificity_ci_high")
#: Alerts that make a case alert-positive in the audit.
POSITIVE_SCOPES = ("focal", "undetermined")


# ------------------------------------------------------------------------------ per case
def _at_risk_channels(result) -> list[int]:
    """The ipsilateral leg's test channels that responded at baseline (the DREZ's worry)."""
    side = result.case.side
    return [c for c, ch in enumerate(result.sweeps.channels)
            if ch.role == "test" and ch.limb == "lower" and (side is None or ch.side == side)
            and result.baseline.present[c]]


def preset_record(result) -> dict:
    """One preset's alerts on a case, counted, and whether the case is alert-positive."""
    counted = [a for a in result.alerts if not a.informational]
    focal = [a for a in counted if a.scope == "focal"]
    return {
        "criteria": result.criteria.name,
        "alerts_focal": len(focal),
        "alerts_systemic": sum(a.scope == "systemic" for a in counted),
        "alerts_undetermined": sum(a.scope == "undetermined" for a in counted),
        "alerts_informational": len(result.alerts) - len(counted),
        "focal_unrecovered": sum(not a.recovered for a in focal),
        "channels_alerted": len({a.channel for a in counted if a.scope in POSITIVE_SCOPES}),
        "positive": any(a.scope in POSITIVE_SCOPES for a in counted),
    }


def cohort_row(result, recording: str) -> dict:
    """A case's row of cohort.csv: its clinical facts and what its monitoring found."""
    clinical = result.case.clinical
    record = preset_record(result)
    at_risk = _at_risk_channels(result)
    final = result.final_percent()[at_risk]
    final = final[np.isfinite(final)]
    pre, post = clinical.get("vas_pre"), clinical.get("vas_post")
    row = {"case_id": result.case.id, "recording": recording}
    row.update({key: clinical.get(key) for key in CLINICAL_KEYS})
    row.update({
        "side": result.case.side,
        "levels": " ".join(result.case.levels),
        "vas_reduction_percent": (round(100.0 * (pre - post) / pre, 1)
                                  if pre is not None and post is not None and pre > 0
                                  else None),
        "criteria": record["criteria"],
        "n_sweeps": result.sweeps.n_sweeps,
        "n_rejected_sweeps": int(result.rejected.all(axis=1).sum()),
        "channels_at_risk": len(at_risk),
        "final_percent_at_risk_leg": (round(float(np.median(final)), 1) if final.size
                                      else None),
    })
    row.update({k: record[k] for k in ("channels_alerted", "alerts_focal", "alerts_systemic",
                                       "alerts_undetermined", "alerts_informational",
                                       "focal_unrecovered")})
    return {column: row[column] for column in COHORT_COLUMNS}


def at_risk_trend(result) -> dict | None:
    """The at-risk leg's amplitude through the case, for the cohort's trend figure.

    Per valid monitoring sweep, the median % of baseline of the at-risk channels, against
    minutes from the start of lesioning (recording time). None without a lesioning phase or
    an at-risk channel.
    """
    lesioning = next((p for p in result.phases if p.name == "lesioning"), None)
    channels = _at_risk_channels(result)
    if lesioning is None or not channels:
        return None
    values = np.where(result.rejected[:, channels], np.nan, result.percent[:, channels])
    keep = ~result.setup & np.isfinite(values).any(axis=1)
    with np.errstate(all="ignore"):
        median = np.nanmedian(values[keep], axis=1)
    minutes = (result.sweeps.column("onset_s")[keep] - lesioning.start_s) / 60.0
    return {"channels": [result.sweeps.ch_names[c] for c in channels],
            "lesioning_min": round((lesioning.end_s - lesioning.start_s) / 60.0, 3),
            "time_min": [round(float(t), 3) for t in minutes],
            "percent": [round(float(v), 1) for v in median]}


# ------------------------------------------------------------------------------ the series
def _known(rows, key):
    return [r[key] for r in rows if r.get(key) is not None]


def _share(count: int, n: int) -> str:
    return f"{count} of {n} ({100.0 * count / n:.0f} %)" if n else "not recorded"


def _mean_sd(values) -> str:
    if not values:
        return "not recorded"
    values = np.asarray(values, float)
    sd = f" ± {values.std(ddof=1):.1f}" if values.size > 1 else ""
    return f"{values.mean():.1f}{sd} (n = {values.size})"


def _counts(values) -> str:
    if not values:
        return "not recorded"
    names, counts = np.unique([str(v) for v in values], return_counts=True)
    order = sorted(zip(-counts, names))
    return ", ".join(f"{name} {-count}" for count, name in order)


def cohort_statistics(rows: list[dict]) -> list[tuple[str, str]]:
    """The series' summary statistics as (label, value) lines, from the cohort rows.

    Means are given ± one standard deviation, with the number of cases that record the fact.
    """
    ages = _known(rows, "age")
    reductions = _known(rows, "vas_reduction_percent")
    after = _known(rows, "vas_post")
    analgesics = _known(rows, "analgesics_post")
    complications = [c for c in _known(rows, "complications") if c.strip()]
    deficits = _known(rows, "new_deficit")
    return [
        ("Cases", str(len(rows))),
        ("Age, years", f"mean {np.mean(ages):.1f}, range {min(ages):g}-{max(ages):g} "
                       f"(n = {len(ages)})" if ages else "not recorded"),
        ("Sex", _counts(_known(rows, "sex"))),
        ("Side", _counts(_known(rows, "side"))),
        ("Etiology", _counts(_known(rows, "etiology"))),
        ("Pain before (VAS 0-10)", _mean_sd(_known(rows, "vas_pre"))),
        ("Pain after (VAS 0-10)", _mean_sd(after)),
        ("Pain reduction per case", f"mean {np.mean(reductions):.0f} %, range "
                                    f"{min(reductions):.0f}-{max(reductions):.0f} % "
                                    f"(n = {len(reductions)})" if reductions
         else "not recorded"),
        ("Complete relief (VAS 0 after)", _share(sum(v == 0 for v in after), len(after))),
        ("Off analgesics after surgery", _share(sum(not v for v in analgesics),
                                                len(analgesics))),
        ("Complications", _counts(complications) if complications else
         ("none recorded" if _known(rows, "complications") else "not recorded")),
        ("New neurological deficit", _share(sum(deficits), len(deficits))),
        ("Cases with a focal alert", _share(sum(r["alerts_focal"] > 0 for r in rows),
                                            len(rows))),
        ("Cases with an unrecovered focal alert",
         _share(sum(r["focal_unrecovered"] > 0 for r in rows), len(rows))),
        ("Cases with a systemic alert", _share(sum(r["alerts_systemic"] > 0 for r in rows),
                                               len(rows))),
    ]


def wilson_interval(successes: int, n: int) -> tuple[float, float] | None:
    """Wilson score 95 % interval of a proportion (None when ``n`` is 0)."""
    if n == 0:
        return None
    from scipy.stats import binomtest

    ci = binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def alert_audit(manifests: list[dict], preset_names) -> list[dict]:
    """Per preset: its alerts scored against ``new_deficit``, with Wilson 95 % intervals.

    Only cases whose sidecar records ``new_deficit`` are counted.
    """
    rows = []
    for name in preset_names:
        pairs = []
        for manifest in manifests:
            deficit = manifest["cohort"].get("new_deficit")
            record = next((p for p in manifest["presets"] if p["criteria"] == name), None)
            if deficit is not None and record is not None:
                pairs.append((record["positive"], deficit))
        tp = sum(p and d for p, d in pairs)
        fp = sum(p and not d for p, d in pairs)
        tn = sum(not p and not d for p, d in pairs)
        fn = sum(not p and d for p, d in pairs)
        row = {"criteria": name, "n_cases": len(pairs), "tp": tp, "fp": fp, "tn": tn, "fn": fn}
        for label, hits, n in (("sensitivity", tp, tp + fn), ("specificity", tn, tn + fp)):
            interval = wilson_interval(hits, n)
            row[label] = round(hits / n, 3) if n else None
            row[f"{label}_ci_low"] = None if interval is None else round(interval[0], 3)
            row[f"{label}_ci_high"] = None if interval is None else round(interval[1], 3)
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------ files
def _cell(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def csv_text(rows: list[dict], columns) -> str:
    """Rows as CSV text with the given columns (empty cell: not recorded)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buffer.getvalue()


def write_cohort_files(summary, preset_names) -> None:
    """cohort.csv, audit.csv, failures.csv and the cohort report of a finished batch.

    Each file is written whole or not at all; nothing in them depends on the clock or on the
    order the cases finished in.
    """
    from ..report.cohort import write_cohort_report
    from ..report.outputs import write_atomic

    out_dir = Path(summary.out_dir)
    manifests = [o.manifest for o in summary.outcomes
                 if o.status != "failed" and o.manifest is not None]
    rows = [m["cohort"] for m in manifests]
    audit = alert_audit(manifests, preset_names)
    failures = [{"case_id": o.case_id, "path": o.relative, "reason": o.reason}
                for o in summary.failed]
    write_atomic(out_dir / "cohort.csv", csv_text(rows, COHORT_COLUMNS))
    write_atomic(out_dir / "audit.csv", csv_text(audit, AUDIT_COLUMNS))
    write_atomic(out_dir / "failures.csv", csv_text(failures, ("case_id", "path", "reason")))
    write_cohort_report(out_dir, rows, cohort_statistics(rows), audit, failures,
                        [(m["case_id"], m.get("trend")) for m in manifests])
