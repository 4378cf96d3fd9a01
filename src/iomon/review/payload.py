"""What the review page is sent: the case's state, one sweep, one channel's stacked sweeps.

Plain JSON-ready dicts built from a :class:`~iomon.review.session.ReviewSession`. Voltages in
µV and latencies in ms at this edge (the page's units), rounded to what the eye can tell;
times of sweeps and events in s since the recording's start. Nothing here decides a finding:
the words (header, conclusion, alert table) are the report's content model's.
"""

from __future__ import annotations

import numpy as np

from ..case.sidecar import EVENT_KINDS
from .session import _clean

__all__ = ["stack_payload", "state_payload", "sweep_payload"]

#: Per sweep x channel status codes sent to the page.
VALID, REJECTED, EXCLUDED = "0", "1", "2"


def _status(result) -> list[str]:
    """Per channel a string with one character per sweep: valid, rejected or excluded."""
    reason = np.char.startswith(result.reject_reason.astype(str), "excluded")
    codes = np.where(result.rejected, np.where(reason, EXCLUDED, REJECTED), VALID)
    return ["".join(codes[:, c]) for c in range(codes.shape[1])]


def _table(table) -> dict:
    return {"columns": list(table.columns), "rows": [list(r) for r in table.rows],
            "styles": list(table.styles)}


def _trends(session) -> dict:
    """The per-channel trends: % of baseline, onset and peak latency, threshold."""
    result = session.result
    m = result.measurements
    present = m.present
    trends = {
        "amplitude": [_clean(result.percent[:, c], 1) for c in range(present.shape[1])],
        "onset": [_clean(np.where(present[:, c], m.onset_latency[:, c] * 1e3, np.nan), 2)
                  for c in range(present.shape[1])],
        "peak": [_clean(np.where(present[:, c], m.peak_latency[:, c] * 1e3, np.nan), 2)
                 for c in range(present.shape[1])],
    }
    if result.thresholds is not None:  # the brackets the threshold criterion followed
        upper = np.asarray(result.thresholds.upper, float)
        trends["threshold"] = [_clean(upper[:, c], 0) for c in range(upper.shape[1])]
    return trends


def state_payload(session) -> dict:
    """Everything the page draws that is not a single sweep's samples."""
    result, content, clock = session.result, session.content, session.facts.clock
    table = result.sweeps.table
    onsets = table["onset_s"].to_numpy(float)
    times = result.sweeps.times
    start = clock.start
    from ..report.content import recording_markers

    return {
        "version": session.version,
        "case_id": result.case.id,
        "recording": session.path.name,
        "sidecar": str(session.sidecar),
        "out": str(session.out),
        "criteria": result.criteria.name,
        "start_clock_s": (None if start is None else
                          start.hour * 3600 + start.minute * 60 + start.second),
        "time_scale": clock.scale,
        "synthetic": content.synthetic,
        "header": [list(row) for row in content.header],
        "conclusion": list(content.conclusion),
        "alerts_heading": content.alerts_heading,
        "alerts_table": _table(content.alerts),
        "review_edits": list(content.review_edits),
        "notes": list(content.notes),
        "channels": [{"name": ch.name, "muscle": ch.muscle, "side": ch.side, "role": ch.role,
                      "baseline_present": bool(result.baseline.present[c]),
                      "window_ms": _clean(result.windows[c] * 1e3, 2)}
                     for c, ch in enumerate(result.sweeps.channels)],
        "sweeps": {"onset_s": _clean(onsets, 3),
                   "clock": [clock.text(s, True) for s in onsets],
                   "phase": [str(p) for p in result.sweep_phase],
                   "setup": [bool(s) for s in result.setup],
                   "intensity": _clean(table["stim_intensity"].to_numpy(float), 1),
                   "unit": [str(u) for u in table["stim_unit"]]},
        "times": {"first_ms": round(float(times[0]) * 1e3, 4),
                  "step_ms": round(1e3 / result.sweeps.sfreq, 6), "n": int(times.size)},
        "status": _status(result),
        "trends": _trends(session),
        "phases": [{"name": p.name, "start_s": p.start_s, "end_s": p.end_s}
                   for p in result.phases],
        "alerts": [{"channel": a.channel, "criterion": a.criterion, "scope": a.scope,
                    "informational": a.informational, "onset_sweep": a.onset_sweep,
                    "onset_s": a.onset_s, "recovered": a.recovered,
                    "recovery_sweep": a.recovery_sweep,
                    "end_s": (a.recovery_s if a.recovered else float(onsets.max()))}
                   for a in result.alerts],
        # Numbered as the report numbers them: the recording's markers and the sidecar's
        # theatre events in one series.
        "events": [{"n": m.number, "at_s": m.at_s, "text": m.text, "kind": m.kind,
                    "source": m.source} for m in session.facts.events],
        "markers": [{"at_s": s, "text": t} for s, t in recording_markers(result)][:200],
        "rebaselines": [{"at_s": r.at_s, "reason": r.reason}
                        for r in result.settings.rebaselines],
        "landmarks": _landmarks(result),
        "log": session.log(),
        "event_kinds": list(EVENT_KINDS),
        "timings_ms": {k: round(v * 1e3, 1) for k, v in session.timings.items()
                       if k.endswith("_s")},
    }


def _landmarks(result) -> dict:
    """The hand-placed markers in force, per "sweep:channel" (later ones override)."""
    out: dict[str, dict] = {}
    for mark in result.case.landmarks:
        key = f"{mark.sweep}:{mark.channel}"
        old = out.get(key, {})
        out[key] = {"onset_ms": (round(mark.onset_s * 1e3, 3) if mark.onset_s is not None
                                 else old.get("onset_ms")),
                    "peak_ms": (round(mark.peak_s * 1e3, 3) if mark.peak_s is not None
                                else old.get("peak_ms"))}
    return out


def _check_sweep(result, n: int) -> int:
    if not 0 <= n < result.sweeps.n_sweeps:
        raise IndexError(f"sweep {n} does not exist (0 to {result.sweeps.n_sweeps - 1})")
    return n


def sweep_payload(session, n: int) -> dict:
    """One sweep: every channel's trace, its baseline sweep, detected and manual markers."""
    result = session.result
    n = _check_sweep(result, n)
    m, detected = result.measurements, session.detected
    entry = int(result.baselines.assignment[n])
    manual = _landmarks(result)
    channels = []
    for c, name in enumerate(result.sweeps.ch_names):
        base = int(session._baseline_rows[entry, c])
        present = bool(m.present[n, c])
        channels.append({
            "data": _clean(result.conditioned[n, c] * 1e6, 1),
            "base": None if base < 0 else _clean(result.conditioned[base, c] * 1e6, 1),
            "base_sweep": None if base < 0 else base,
            "detected": {"onset_ms": _ms(detected.onset_latency[n, c], detected.present[n, c]),
                         "peak_ms": _ms(detected.peak_latency[n, c], detected.present[n, c])},
            "manual": manual.get(f"{n}:{name}"),
            "amplitude_uv": _clean([m.amplitude[n, c] * 1e6], 1)[0],
            "percent": _clean([result.percent[n, c]], 1)[0],
            "onset_ms": _ms(m.onset_latency[n, c], present),
            "peak_ms": _ms(m.peak_latency[n, c], present),
            "duration_ms": _ms(m.duration[n, c], present),
            "n_phases": int(m.n_phases[n, c]) if present else None,
            "present": present,
            "rejected": bool(result.rejected[n, c]),
            "reason": str(result.reject_reason[n, c]),
        })
    table = result.sweeps.table
    return {"version": session.version, "sweep": n,
            "montage": str(table["montage"].iloc[n]),
            "baseline": {"id": entry, "reason": result.baselines.entries[entry].reason},
            "channels": channels}


def _ms(value, present) -> float | None:
    return _clean([value * 1e3], 2)[0] if present else None


def stack_payload(session, channel: int, last: int, count: int = 40) -> dict:
    """One channel's sweeps up to ``last`` (at most ``count`` of them), for a stacked view."""
    result = session.result
    last = _check_sweep(result, last)
    if not 0 <= channel < result.sweeps.n_channels:
        raise IndexError(f"channel {channel} does not exist")
    count = int(np.clip(count, 1, 200))
    rows = range(max(0, last - count + 1), last + 1)
    clock = session.facts.clock
    onsets = result.sweeps.column("onset_s")
    return {"version": session.version, "channel": channel,
            "sweeps": [{"sweep": s, "clock": clock.text(float(onsets[s]), True),
                        "rejected": bool(result.rejected[s, channel]),
                        "data": _clean(result.conditioned[s, channel] * 1e6, 1)}
                       for s in rows]}
