"""A case series from a batch: one row per case, the series' statistics and the alert audit.

The row of a case (:func:`cohort_row`) joins the sidecar's ``[clinical]`` facts to what the
monitoring found, counted by event as every output counts it (:mod:`iomon.alerting.events`:
one channel's overlapping alerts, or the overlapping systemic alerts of every channel); the
statistics (:func:`cohort_statistics`) are those a DREZ case series publishes (age, sex, pain
before and after, relief, analgesics, complications); the audit (:func:`alert_audit`) scores
each criteria preset against the new deficits the sidecars record, with Wilson 95 %
confidence intervals (Wilson, J Am Stat Assoc 1927;22:209-212).

A case counts as **alert-positive** under a preset when it raised at least one focal or
undetermined event in the phases the preset watches (informational and systemic events do
not count: they do not point at the surgery); under the stricter rule, only when such an
event did not recover before the end of the recording (a reversible alert is one the team
saw recover). The audit scores both rules per case, and per side and limb against the
sidecar's ``deficit_limbs``; for the true positives it gives the lead time, from where the
first such event began (its first-met sweep) to the end of lesioning, in minutes of the
surgery (a simulated case's file time times its compression).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from ..model.annotations import lesioning_span

__all__ = ["AUDIT_COLUMNS", "CLINICAL_KEYS", "COHORT_COLUMNS", "RECORD_FORMAT", "RULES",
           "UNITS", "alert_audit", "at_risk_trend", "cohort_row", "cohort_statistics",
           "csv_text", "preset_record", "write_cohort_files"]

#: The layout of a case's cohort record (its batch.json "cohort" and "presets"): part of the
#: key that lets a rerun skip a case, so that records of another layout are made again.
RECORD_FORMAT = 2
#: The sidecar's clinical facts, in the order the cohort table gives them.
CLINICAL_KEYS = ("sex", "age", "etiology", "surgery_date", "vas_pre", "vas_post",
                 "analgesics_post", "complications", "new_deficit", "deficit_limbs")
#: cohort.csv's columns.
COHORT_COLUMNS = ("case_id", "recording", "synthetic", "sex", "age", "etiology", "side",
                  "levels", "surgery_date", "vas_pre", "vas_post", "vas_reduction_percent",
                  "analgesics_post", "complications", "new_deficit", "deficit_limbs",
                  "criteria", "n_sweeps", "n_rejected_sweeps", "channels_at_risk",
                  "channels_alerted", "events_focal", "focal_recovered", "focal_unrecovered",
                  "events_undetermined", "events_systemic", "events_informational",
                  "alert_episodes", "lead_time_min", "final_percent_at_risk_leg")
#: The positivity rules the audit scores (key in a preset record, words).
RULES = (("any", "a focal event"), ("unrecovered", "an unrecovered focal event"))
#: What the audit scores: cases, or each side and limb of a case.
UNITS = ("case", "side and limb")
#: audit.csv's columns.
AUDIT_COLUMNS = ("criteria", "unit", "positive_if", "n", "tp", "fp", "tn", "fn", "sensitivity",
                 "sensitivity_ci_low", "sensitivity_ci_high", "specificity",
                 "specificity_ci_low", "specificity_ci_high", "lead_time_median_min",
                 "lead_time_low_min", "lead_time_high_min")
#: Events that make a case alert-positive in the audit.
POSITIVE_SCOPES = ("focal", "undetermined")


# ------------------------------------------------------------------------------ per case
def _at_risk_channels(result) -> list[int]:
    """The ipsilateral leg's test channels that responded at baseline (the DREZ's worry)."""
    side = result.case.side
    return [c for c, ch in enumerate(result.sweeps.channels)
            if ch.role == "test" and ch.limb == "lower" and (side is None or ch.side == side)
            and result.baseline.present[c]]


def _scale(result) -> float:
    """How many times faster than the surgery the case's file runs (1: a real recording)."""
    simulation = result.simulation
    return 1.0 if simulation is None or not simulation.time_compression else float(
        simulation.time_compression)


def _lead_min(result, events) -> float | None:
    """Minutes of surgery from where the first of ``events`` began to the end of lesioning."""
    leads = [a.lesioning_end_lead_s for e in events for a in e.alerts
             if a.lesioning_end_lead_s is not None]
    return None if not leads else round(max(leads) * _scale(result) / 60.0, 2)


def _limbs(result) -> dict[str, list[int]]:
    """The monitored limbs ("left lower"...): channels with a side and limb that responded."""
    out: dict[str, list[int]] = {}
    for c, ch in enumerate(result.sweeps.channels):
        if ch.side and ch.limb and result.baseline.present[c]:
            out.setdefault(f"{ch.side} {ch.limb}", []).append(c)
    return out


def preset_record(result) -> dict:
    """One preset's events on a case, counted, and whether the case is alert-positive.

    Per positivity rule (:data:`RULES`): the case, and each monitored limb, positive or not,
    with the lead time of its first such event (minutes of surgery to the end of lesioning).
    """
    events = result.events
    counted = [e for e in events if not e.informational]
    focal = [e for e in counted if e.scope == "focal"]
    positive = {"any": [e for e in counted if e.scope in POSITIVE_SCOPES]}
    positive["unrecovered"] = [e for e in positive["any"] if not e.recovered]
    names = result.sweeps.ch_names
    limbs = {}
    for limb, channels in _limbs(result).items():
        mine = {names[c] for c in channels}
        limbs[limb] = {rule: {"positive": bool(hits := [e for e in found
                                                        if mine & set(e.channels)]),
                              "lead_time_min": _lead_min(result, hits)}
                       for rule, found in positive.items()}
    return {
        "criteria": result.criteria.name,
        "events_focal": len(focal),
        "focal_recovered": sum(e.recovered for e in focal),
        "focal_unrecovered": sum(not e.recovered for e in focal),
        "events_systemic": sum(e.scope == "systemic" for e in counted),
        "events_undetermined": sum(e.scope == "undetermined" for e in counted),
        "events_informational": len(events) - len(counted),
        "alert_episodes": len(result.alerts),
        "channels_alerted": len({c for e in positive["any"] for c in e.channels}),
        "positive": bool(positive["any"]),
        "rules": {rule: {"positive": bool(found), "lead_time_min": _lead_min(result, found)}
                  for rule, found in positive.items()},
        "limbs": limbs,
    }


def cohort_row(result, recording: str) -> dict:
    """A case's row of cohort.csv: its clinical facts and what its monitoring found."""
    clinical = result.case.clinical
    record = preset_record(result)
    at_risk = _at_risk_channels(result)
    final = result.final_percent()[at_risk]
    final = final[np.isfinite(final)]
    pre, post = clinical.get("vas_pre"), clinical.get("vas_post")
    row = {"case_id": result.case.id, "recording": recording,
           "synthetic": result.simulation is not None}
    row.update({key: clinical.get(key) for key in CLINICAL_KEYS})
    if row["deficit_limbs"] is not None:
        row["deficit_limbs"] = "; ".join(row["deficit_limbs"])
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
        "lead_time_min": record["rules"]["any"]["lead_time_min"],
        "final_percent_at_risk_leg": (round(float(np.median(final)), 1) if final.size
                                      else None),
    })
    row.update({k: record[k] for k in ("channels_alerted", "events_focal", "focal_recovered",
                                       "focal_unrecovered", "events_systemic",
                                       "events_undetermined", "events_informational",
                                       "alert_episodes")})
    return {column: row[column] for column in COHORT_COLUMNS}


def at_risk_trend(result) -> dict | None:
    """The at-risk leg's amplitude through the case, for the cohort's trend figure.

    Per valid monitoring sweep, the median % of baseline of the at-risk channels, against
    minutes of surgery from the start of lesioning (a simulated case's file time times its
    compression). None without a lesioning phase or an at-risk channel.
    """
    span = lesioning_span(result.phases)
    channels = _at_risk_channels(result)
    if span is None or not channels:
        return None
    values = np.where(result.rejected[:, channels], np.nan, result.percent[:, channels])
    keep = ~result.setup & np.isfinite(values).any(axis=1)
    with np.errstate(all="ignore"):
        median = np.nanmedian(values[keep], axis=1)
    scale = _scale(result) / 60.0
    minutes = (result.sweeps.column("onset_s")[keep] - span[0]) * scale
    return {"channels": [result.sweeps.ch_names[c] for c in channels],
            "lesioning_min": round((span[1] - span[0]) * scale, 3),
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
        ("Cases with a focal event", _share(sum(r["events_focal"] > 0 for r in rows),
                                            len(rows))),
        ("... all of them recovered (reversible)",
         _share(sum(r["events_focal"] > 0 and not r["focal_unrecovered"] for r in rows),
                len(rows))),
        ("... one unrecovered at the end",
         _share(sum(r["focal_unrecovered"] > 0 for r in rows), len(rows))),
        ("Cases with a systemic event", _share(sum(r["events_systemic"] > 0 for r in rows),
                                               len(rows))),
    ]


def wilson_interval(successes: int, n: int) -> tuple[float, float] | None:
    """Wilson score 95 % interval of a proportion (None when ``n`` is 0)."""
    if n == 0:
        return None
    from scipy.stats import binomtest

    ci = binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def _pairs(manifests, name: str, unit: str, rule: str) -> list[tuple[bool, bool, float]]:
    """(alert-positive, deficit, lead time) of every case, or limb, that can be scored.

    A case is scored when its sidecar records ``new_deficit``; its limbs when it also records
    ``deficit_limbs`` (or has no deficit: no limb has one).
    """
    out = []
    for manifest in manifests:
        clinical = manifest.get("clinical") or manifest["cohort"]
        deficit = clinical.get("new_deficit")
        record = next((p for p in manifest["presets"] if p["criteria"] == name), None)
        if deficit is None or record is None:
            continue
        if unit == "case":
            found = record["rules"][rule]
            out.append((found["positive"], bool(deficit), found["lead_time_min"]))
            continue
        limbs = _deficit_limbs(clinical, deficit)
        if limbs is None:
            continue
        for limb, rules in sorted(record["limbs"].items()):
            found = rules[rule]
            out.append((found["positive"], limb in limbs, found["lead_time_min"]))
    return out


def _deficit_limbs(clinical: dict, deficit) -> set | None:
    """The limbs with a new deficit (empty without one; None when the sidecar does not say)."""
    limbs = clinical.get("deficit_limbs")
    if isinstance(limbs, str):  # as cohort.csv holds them
        limbs = [v.strip() for v in limbs.split(";") if v.strip()]
    if not deficit:
        return set()
    return None if not limbs else set(limbs)


def alert_audit(manifests: list[dict], preset_names) -> list[dict]:
    """Per preset, unit and rule: its alerts scored against the new deficits.

    Per case (cases whose sidecar records ``new_deficit``) and per side and limb (cases that
    also record ``deficit_limbs``), positive for a focal (or undetermined) event, or only for
    one that did not recover; sensitivity and specificity with Wilson 95 % intervals; the
    median and range of the true positives' lead time (minutes of surgery from where the
    first such event began to the end of lesioning).
    """
    rows = []
    for name in preset_names:
        for unit in UNITS:
            for rule, words in RULES:
                pairs = _pairs(manifests, name, unit, rule)
                rows.append(_scored(name, unit, words, pairs))
    return rows


def _scored(name, unit, words, pairs) -> dict:
    tp = sum(p and d for p, d, _ in pairs)
    fp = sum(p and not d for p, d, _ in pairs)
    tn = sum(not p and not d for p, d, _ in pairs)
    fn = sum(not p and d for p, d, _ in pairs)
    row = {"criteria": name, "unit": unit, "positive_if": words, "n": len(pairs),
           "tp": tp, "fp": fp, "tn": tn, "fn": fn}
    for label, hits, n in (("sensitivity", tp, tp + fn), ("specificity", tn, tn + fp)):
        interval = wilson_interval(hits, n)
        row[label] = round(hits / n, 3) if n else None
        row[f"{label}_ci_low"] = None if interval is None else round(interval[0], 3)
        row[f"{label}_ci_high"] = None if interval is None else round(interval[1], 3)
    leads = [lead for p, d, lead in pairs if p and d and lead is not None]
    row["lead_time_median_min"] = round(float(np.median(leads)), 2) if leads else None
    row["lead_time_low_min"] = min(leads) if leads else None
    row["lead_time_high_min"] = max(leads) if leads else None
    return row


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
