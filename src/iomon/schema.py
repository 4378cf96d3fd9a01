"""The output schema: every column of measurements.csv, every key of alerts.json and summary.json.

Each column and key is one :class:`Field` with its meaning and unit, defined once here. The
outputs are checked against it (:func:`check_document`, :func:`check_table`, run by the tests
on what iomon writes), :meth:`iomon.results.CaseResult.alerts_table` takes its columns from
it, and the README's tables are generated from it (:func:`markdown`; ``python -m
iomon.schema README.md`` rewrites them between their markers, a test checks they match).

Units: times since the recording's start in s, within a sweep in ms, amplitudes in µV, as %
of baseline in %, stimulation in V (or the recording's ``stim_unit``). A number that is
unknown or not finite is ``null`` in JSON and empty in the CSV.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ALERT", "ALERTS", "MEASUREMENTS", "README_TABLES", "SUMMARY", "Field",
           "check_document", "check_table", "markdown", "readme_tables", "update_readme"]


@dataclass(frozen=True)
class Field:
    """One column or key of an output file.

    Attributes
    ----------
    name : str
    meaning : str
    unit : str
        "s", "ms", "µV", "%", "V", "Hz"... or "" (a count, a name, a flag).
    kind : str
        "integer", "number", "text", "boolean", "list" (of ``items``' records when they are
        given), "object" (with ``items`` as its keys; ``open``: any keys) or "map" (keyed by a
        name, each value a record of ``items``).
    null : bool
        May be null (unknown).
    optional : bool
        May be absent.
    items : tuple of Field
    open : bool
        An object whose keys are free (``[clinical]``), or that may hold keys beyond
        ``items`` (the criteria of a registered kind).
    """

    name: str
    meaning: str
    unit: str = ""
    kind: str = "number"
    null: bool = False
    optional: bool = False
    items: tuple[Field, ...] = ()
    open: bool = False


def _f(name, meaning, unit="", kind="number", **kwargs) -> Field:
    return Field(name, meaning, unit, kind, **kwargs)


#: The columns of measurements.csv, in order: one row per sweep x channel.
MEASUREMENTS = (
    _f("sweep", "sweep number, from 0 in time order", kind="integer"),
    _f("time_s", "the sweep's stimulus, since the start of the recording", "s"),
    _f("phase", "the surgical phase of the sweep", kind="text"),
    _f("channel", "channel name as in the recording", kind="text"),
    _f("amplitude_uv", "peak-to-peak amplitude in the response window; empty when rejected",
       "µV"),
    _f("onset_latency_ms", "onset after the stimulus (threshold method); empty without a "
       "response", "ms"),
    _f("peak_latency_ms", "largest deflection after the stimulus", "ms"),
    _f("area_uv_ms", "rectified area from onset to offset", "µV·ms"),
    _f("duration_ms", "offset minus onset", "ms"),
    _f("n_phases", "phases of the response (0 when rejected or absent)", kind="integer"),
    _f("percent_of_baseline", "amplitude as % of the sweep's baseline", "%"),
    _f("present", "a response stands out from the noise (and the sweep is valid)",
       kind="boolean"),
    _f("rejected", "the sweep is rejected on this channel (noise, clipping, flat, missing "
       "values, or a review edit)", kind="boolean"),
    _f("stim_intensity", "stimulus intensity, in stim_unit; empty when unknown"),
    _f("stim_unit", "unit of stim_intensity (V, mA) or empty", kind="text"),
    _f("reject_reason", "why it was rejected: nan, flat, clipped, noisy baseline, no response "
       "window (the artefact covers it or the sweep misses it), or \"excluded: ...\" for a "
       "review edit", kind="text"),
    _f("noise_uv", "noise (SD of the band-passed noise window)", "µV"),
    _f("onset_latency_tkeo_ms", "onset by the Teager-Kaiser energy method", "ms"),
    _f("n_turns", "turns of the response between onset and offset", kind="integer"),
    _f("snr_db", "amplitude against the noise (peak-to-peak of a sinusoid of its rms)", "dB"),
    _f("baseline_id", "which baseline the sweep is compared with (summary.json baselines)",
       kind="integer"),
    _f("baseline_sweep", "the sweep is one of its channel's baseline sweeps", kind="boolean"),
    _f("setup", "the sweep is before the Baseline marker: measured, never alerted",
       kind="boolean"),
)

#: The keys of one alert in alerts.json (and the columns of CaseResult.alerts_table()).
ALERT = (
    _f("channel", "the channel that alerted", kind="text"),
    _f("criterion", "the criterion kind, as `iomon criteria` lists them (built in: amplitude, "
       "loss, threshold, latency, morphology)", kind="text"),
    _f("scope", "focal (the channel fell, its controls held), systemic (its controls fell "
       "too) or undetermined (no control to compare with)", kind="text"),
    _f("phase", "the phase of the sweep that called the alert", kind="text"),
    _f("onset_sweep", "the sweep that called it (the criterion held in sustained_n of the "
       "last sustained_m valid sweeps)", kind="integer"),
    _f("onset_s", "that sweep's time since the start of the recording", "s"),
    _f("recovered", "the channel recovered (above the criterion as long) before the end",
       kind="boolean"),
    _f("recovery_sweep", "the sweep that called the recovery", kind="integer", null=True),
    _f("recovery_s", "its time since the start of the recording", "s", null=True),
    _f("nadir_percent", "the most abnormal value of the episode as % of baseline (lowest "
       "amplitude, highest threshold or latency, fewest phases)", "%"),
    _f("controls_percent", "the controls' median of the same measure over the sweeps that "
       "called it", "%", null=True),
    _f("informational", "a focal or undetermined alert outside the phases the preset "
       "watches", kind="boolean"),
    _f("threshold_rise_v", "threshold alerts: the largest rise over the baseline threshold",
       "V", null=True),
    _f("first_met_sweep", "the first of the sweeps that called it to meet the criterion on "
       "the channel's own baseline: where the change began (null when none did)",
       kind="integer", null=True),
    _f("first_met_s", "that sweep's time since the start of the recording", "s", null=True),
    _f("event", "the event it belongs to, numbered from 1 as the events began: one channel's "
       "overlapping alerts (focal, undetermined), or the overlapping systemic alerts of every "
       "channel", kind="integer"),
    _f("lesioning_level", "the root level being lesioned where its change began (first_met "
       "sweep, else onset_sweep): `Lesioning C6` markers or a sidecar phase's level; null "
       "outside a level's lesioning", kind="text", null=True),
    _f("lesioning_end_lead_s", "from where its change began to the end of lesioning (negative: "
       "it began after; null without lesioning); in a simulated case, file seconds (times "
       "[simulation] time_compression for the surgery's)", "s", null=True),
    _f("episode_sweeps", "amplitude and loss alerts: the valid sweeps of the episode, from the "
       "first that called it to its recovery (null for other criteria)", kind="integer",
       null=True),
    _f("responding_sweeps", "those of them with a response (present); a loss is an episode "
       "where most have none", kind="integer", null=True),
)

#: The keys of alerts.json.
ALERTS = (
    _f("case_id", "the case", kind="text"),
    _f("criteria", "the criteria preset that ran", kind="text"),
    _f("iomon_version", "the iomon that wrote it", kind="text"),
    _f("alerts", "one record per alert episode, in onset order",
       kind="list", items=ALERT),
)

_CRITERIA_DETAIL = (
    _f("name", "preset name", kind="text"),
    _f("citation", "where its numbers come from", kind="text"),
    _f("amplitude_drop_percent", "the amplitude drop that alerts", "%"),
    _f("drop_inclusive", "a drop of exactly the criterion alerts (\"70 % or more\")",
       kind="boolean"),
    _f("sustained_n", "sweeps of the last sustained_m that must meet it", kind="integer"),
    _f("sustained_m", "the sweeps looked back over", kind="integer"),
    _f("latency_increase_percent", "onset latency increase that alerts", "%", null=True),
    _f("threshold_rise_v", "threshold rise that alerts", "V", null=True),
    _f("phase_loss", "phases lost that alert", kind="integer", null=True),
    _f("focal_phases", "phases in which focal alerts count (null: all)", kind="list",
       null=True),
    _f("focal_until_end", "focal alerts count from the first such phase to the end",
       kind="boolean"),
    _f("muscle_drop_percent", "per-muscle amplitude drops that replace the preset's", "%",
       kind="object", open=True),
    _f("note", "the author's remark (a custom file's description)", kind="text"),
    _f("cusum_drop_percent", "sequential test: the drop relative to the controls looked for",
       "%", optional=True),
    _f("cusum_false_alarm_rate", "sequential test: false alarms tolerated per sweep",
       optional=True),
    _f("cusum_reference_sweeps", "sequential test: sweeps that start the reference",
       kind="integer", optional=True),
    _f("rule", "the preset's rules in words", kind="text"),
)

_SETTINGS = (
    _f("band_hz", "band-pass used (null: none)", "Hz", kind="list", null=True),
    _f("artefact", "how the artefact span was decided: found in the data, set, none, or the "
       "default span", kind="text"),
    _f("artefact_blanked_ms", "widest span blanked over the channels", "ms", kind="list",
       null=True),
    _f("stimulus_pulses", "pulses of the train found in the data", kind="integer", null=True),
    _f("stimulus_isi_ms", "their spacing", "ms", null=True),
    _f("noise_window_ms", "where the noise of each sweep is measured", "ms", kind="list"),
    _f("noise_window_source", "where that window came from: before the stimulus, after the "
       "responses (sweeps exported from the stimulus) or [processing] noise_window_ms",
       kind="text"),
    _f("onset_method", "how onsets were placed: threshold, tkeo or changepoint", kind="text"),
    _f("presence_uv", "a response must exceed this...", "µV"),
    _f("presence_noise_ratio", "... and this many times the noise"),
    _f("baseline_sweeps", "valid sweeps per baseline", kind="integer"),
    _f("mains_removed_hz", "the mains hum removed (null: none)", "Hz", null=True),
    _f("sfreq_hz", "sampling rate", "Hz"),
    _f("sweep_window_ms", "first and last sample of a sweep around the stimulus", "ms",
       kind="list"),
)

#: Who made a review edit and when (present only when the sidecar says: `iomon review` writes
#: both).
_BY = (_f("reviewer", "who made it", kind="text", optional=True),
       _f("time", "when (ISO 8601)", kind="text", optional=True))

_REVIEW_EDITS = (
    _f("exclusions", "the sidecar's [[exclude]] entries as applied", kind="list", items=(
        _f("reason", "why", kind="text"),
        _f("channel", "the channel (null: every channel)", kind="text", null=True),
        _f("sweeps", "sweep numbers named", kind="list"),
        _f("from_s", "from this time", "s", null=True),
        _f("to_s", "to this time", "s", null=True),
        _f("n_channel_sweeps", "channel-sweeps it excluded", kind="integer"), *_BY)),
    _f("rebaselines", "the sidecar's [[rebaseline]] entries", kind="list", items=(
        _f("at_s", "from this time on, a new baseline", "s"),
        _f("reason", "why", kind="text"), *_BY)),
    _f("events", "the sidecar's theatre events", kind="list", items=(
        _f("at_s", "when", "s"),
        _f("text", "what happened", kind="text"),
        _f("kind", "intervention, surgeon informed, blood pressure, anaesthesia, position or "
           "other (absent: not said)", kind="text", optional=True), *_BY)),
    _f("landmarks", "onsets and peaks placed by hand in review ([[landmarks]])", kind="list",
       items=(
           _f("channel", "the channel", kind="text"),
           _f("sweep", "the sweep (from 0)", kind="integer"),
           _f("onset_ms", "onset placed, after the stimulus", "ms", null=True),
           _f("peak_ms", "peak placed, after the stimulus", "ms", null=True), *_BY)),
    _f("signoffs", "sign-offs in review ([[signoff]])", kind="list", items=(
        _f("reviewer", "who signed off", kind="text"),
        _f("time", "when (ISO 8601)", kind="text"))),
)

_CHANNEL = (
    _f("name", "as in the recording", kind="text"),
    _f("muscle", "muscle code (null: unknown)", kind="text", null=True),
    _f("side", "left or right (null: unknown)", kind="text", null=True),
    _f("limb", "upper or lower (null: unknown)", kind="text", null=True),
    _f("role", "test (at risk) or control (null: unknown)", kind="text", null=True),
    _f("baseline_present", "a response in most baseline sweeps (else never alerted)",
       kind="boolean"),
    _f("baseline_amplitude_uv", "median baseline amplitude (null when absent)", "µV",
       null=True),
    _f("baseline_latency_ms", "median baseline onset latency", "ms", null=True),
    _f("baseline_n_sweeps", "sweeps that formed its main baseline", kind="integer"),
    _f("final_percent_of_baseline", "median % of baseline of its last 3 valid sweeps", "%",
       null=True),
    _f("response_window_ms", "where its response is measured", "ms", kind="list"),
    _f("artefact_blanked_ms", "the stimulus artefact blanked (null: nothing blanked)", "ms",
       kind="list", null=True),
)

_BASELINE = (
    _f("id", "its number (measurements.csv baseline_id)", kind="integer"),
    _f("start_s", "from when", "s"),
    _f("reason", "case baseline, or why it was re-baselined", kind="text"),
    _f("montage", "the stimulation montage it is for", kind="text"),
    _f("intensity", "the intensity it is for (null: unknown)", null=True),
    _f("n_sweeps_compared", "sweeps compared with it", kind="integer"),
    _f("channels", "per channel name", kind="map", items=(
        _f("present", "a response at baseline", kind="boolean"),
        _f("amplitude_uv", "median amplitude", "µV", null=True),
        _f("n_sweeps", "sweeps that formed it", kind="integer"))),
)

#: The keys of summary.json.
SUMMARY = (
    _f("case_id", "the case ([case] id, else the recording's name)", kind="text"),
    _f("iomon_version", "the iomon that wrote it", kind="text"),
    _f("input", "the recording's file name", kind="text"),
    _f("input_sha256", "its SHA-256 (null when not computed)", kind="text", null=True),
    _f("format", "its format as the reader names it", kind="text"),
    _f("reader", "the reader (and library) that read it", kind="text"),
    _f("criteria", "the criteria preset that ran", kind="text"),
    _f("criteria_detail", "every value of the preset (keys of registered criterion kinds "
       "beside them)", kind="object", items=_CRITERIA_DETAIL, open=True),
    _f("settings", "every processing value used", kind="object", items=_SETTINGS),
    _f("side", "side of the avulsion and of the lesioning", kind="text", null=True),
    _f("levels", "avulsed levels", kind="list"),
    _f("procedure", "the procedure as the sidecar names it", kind="text", null=True),
    _f("recording_start_time", "clock time of the recording's start (HH:MM:SS)",
       kind="text", null=True),
    _f("clinical", "the sidecar's [clinical] table as written", kind="object", open=True),
    _f("simulation", "a synthetic case (null: a real recording)", kind="object", null=True,
       items=(
           _f("time_compression", "the file runs this many times faster than the surgery it "
              "stands for (null: not stated)", null=True),
           _f("scenario", "the simulated scenario", kind="text", null=True),
           _f("seed", "its random seed", kind="integer", null=True),
           _f("source", "how iomon knows: the sidecar's [simulation], or the recording's "
              "header naming iomon.simulate as its equipment", kind="text"))),
    _f("review_edits", "the sidecar's review edits as applied", kind="object",
       items=_REVIEW_EDITS),
    _f("n_sweeps", "sweeps in the recording", kind="integer"),
    _f("n_setup_sweeps", "sweeps before the Baseline marker", kind="integer"),
    _f("n_rejected", "sweeps rejected on every channel", kind="integer"),
    _f("n_rejected_channel_sweeps", "channel-sweeps rejected or excluded in all",
       kind="integer"),
    _f("phases", "the surgical phases", kind="list", items=(
        _f("name", "phase name", kind="text"),
        _f("level", "the root level lesioned in a lesioning sub-phase (`Lesioning C6` markers, "
           "or a sidecar phase's level)", kind="text", null=True),
        _f("start_s", "start", "s"),
        _f("end_s", "end", "s"),
        _f("n_sweeps", "sweeps in it", kind="integer"))),
    _f("channels", "one record per channel, in the recording's order", kind="list",
       items=_CHANNEL),
    _f("baselines", "every baseline used (the audit trail)", kind="list", items=_BASELINE),
    _f("n_alerts", "alerts in alerts.json", kind="integer"),
    _f("n_events", "events they tell of (alerts.json's event numbers): a change counted once, "
       "whatever the criteria and, for a systemic event, the channels that alerted",
       kind="integer"),
    _f("notes", "what the analysis has to say beside its numbers", kind="list"),
)

_TYPES = {"integer": (int,), "number": (int, float), "text": (str,), "boolean": (bool,),
          "list": (list,), "object": (dict,), "map": (dict,)}


def check_document(document: dict, fields, where: str = "") -> list[str]:
    """What in a JSON document departs from its schema (an empty list: nothing).

    Every key must be in ``fields`` (unless its object is open), every field present (unless
    optional), and every value of its kind (or null where allowed).
    """
    problems = []
    named = {f.name: f for f in fields}
    for key in document:
        if key not in named:
            problems.append(f"{where}{key}: not in the schema")
    for f in fields:
        if f.name not in document:
            if not f.optional:
                problems.append(f"{where}{f.name}: missing")
            continue
        problems += _check_value(document[f.name], f, f"{where}{f.name}")
    return problems


def _check_value(value, f: Field, where: str) -> list[str]:
    if value is None:
        return [] if f.null else [f"{where}: null, not allowed"]
    kinds = _TYPES[f.kind]
    if not isinstance(value, kinds) or (f.kind in ("integer", "number")
                                        and isinstance(value, bool)):
        return [f"{where}: {type(value).__name__}, expected {f.kind}"]
    if f.kind == "list" and f.items:
        return [p for k, item in enumerate(value)
                for p in check_document(item, f.items, f"{where}[{k}].")]
    if f.kind == "map":
        return [p for key, item in value.items()
                for p in check_document(item, f.items, f"{where}[{key}].")]
    if f.kind == "object" and f.items:
        if f.open:
            known = {i.name for i in f.items}
            value = {k: v for k, v in value.items() if k in known}
        return check_document(value, f.items, f"{where}.")
    return []


def check_table(frame, fields=MEASUREMENTS) -> list[str]:
    """What in a table read back from measurements.csv departs from the schema.

    The columns must be the fields' names in order; integer and boolean columns must hold
    only such values, number columns numbers (empty where unknown).
    """
    import pandas as pd

    names = [f.name for f in fields]
    if list(frame.columns) != names:
        return [f"columns {list(frame.columns)}, expected {names}"]
    problems = []
    for f in fields:
        column = frame[f.name]
        ok = {"integer": pd.api.types.is_integer_dtype, "boolean": pd.api.types.is_bool_dtype,
              "number": pd.api.types.is_numeric_dtype}.get(f.kind)
        if ok is not None and not (ok(column) or (f.kind == "number" and column.isna().all())):
            problems.append(f"{f.name}: {column.dtype}, expected {f.kind}")
    return problems


def markdown(fields, title: str = "key") -> str:
    """A Markdown table of fields (records in a list or map as their own rows, dotted)."""
    rows = [f"| {title} | unit | meaning |", "|---|---|---|"]

    def add(items, prefix):
        for f in items:
            meaning = f.meaning + (" (may be null)" if f.null and "null" not in f.meaning
                                   else "") + (" (only when set)" if f.optional else "")
            rows.append(f"| `{prefix}{f.name}` | {f.unit} | {meaning} |")
            if f.items:
                step = "[]." if f.kind == "list" else "{name}." if f.kind == "map" else "."
                add(f.items, f"{prefix}{f.name}{step}")

    add(fields, "")
    return "\n".join(rows)


#: The README's generated tables: marker name -> (fields, heading of the first column).
README_TABLES = {"measurements.csv": (MEASUREMENTS, "column"), "alerts.json": (ALERTS, "key"),
                 "summary.json": (SUMMARY, "key")}


def readme_tables(text: str) -> str:
    """``text`` with every generated table between its markers written afresh."""
    for name, (fields, title) in README_TABLES.items():
        pattern = re.compile(rf"(<!-- schema: {re.escape(name)} -->\n)(?:.*?\n)??"
                             r"(<!-- /schema -->)", re.S)
        text = pattern.sub(lambda m, f=fields, t=title: m.group(1) + markdown(f, t) + "\n"
                           + m.group(2), text)
    return text


def update_readme(path) -> bool:
    """Rewrite the generated tables of a README; whether anything changed."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    new = readme_tables(text)
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":  # pragma: no cover
    import sys

    for name in sys.argv[1:] or ["README.md"]:
        print(f"{name}: {'updated' if update_readme(name) else 'up to date'}")
