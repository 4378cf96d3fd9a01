"""Cadwell Surgical Studio (IOMAX) "case data" JSON: a case read as its MEP trials.

The layout is that which public MATLAB code reads (repository ``jrmxn/mep_preproc_intraop``:
``ep_converters/convert_json_to_flatmat.m``, ``ep_converters/surgical_studio/
sp_surgical_studio_augment.m`` and ``+exc/t0_adjustments.m``, ``ep_converters/README.md``);
no Cadwell document or file was used. What iomon reads of it:

- ``Cases[0]``: ``StartDate`` (µs since the epoch), ``Events[]`` (``Timestamp`` in µs since
  the epoch, ``Message``) and ``Modes[]``;
- each mode: ``Name`` ("MEP", "L MEP", "R MEP", "Research MEP"...) and ``Trials[]`` or
  ``StreamingTrials[]``; modes whose name does not say MEP (SSEP, EEG, D-wave...) are left
  out with a note;
- each trial: ``Timestamp`` (µs since the epoch, its first sample), ``ActualRepRate`` (Hz),
  ``Stimuli.DiscreteStimuli[]`` and ``Traces[]``;
- each trace: ``Channel.Name``, ``TraceData`` (numbers), ``TraceDataLength``,
  ``TraceDataScalar`` (volts per number) and ``Sweep`` (s): the rate is ``TraceDataLength`` /
  ``Sweep``;
- the transcranial stimulator's entry of ``DiscreteStimuli`` (named "TCS..." or "... Cortical
  Module"; else the first): ``Train1PulseCount``, ``ElectricalPulses[]`` (``Intensity``,
  ``PulseWidth`` in s, ``Polarity``; the second pulse's ``Displacement``, s, is the pulse
  spacing), ``SensedVoltage`` (V), ``SensedCurrent`` (A), ``Outputs[]`` (``Usage``
  anode/cathode, ``Label``).

The pre-trigger delay is not in an exported JSON (that pipeline supplies it by hand, as a
sweep delay it stores in ``Stimuli.DataSweepTriggerDelayCustom``, s, negative before the
trigger): iomon reads that field where it is, else the sidecar's ``[recording]
stimulus_s``, else places the stimulus as for other episodic sweeps, and says which in a note.

Each trial is one sweep; the sweep table gains ``mode``, ``train_pulses``, ``train_isi_s``,
``pulse_width_s``, ``polarity``, ``set_intensity`` (the stimulator's ``Intensity``, whose unit
the layout does not state), ``sensed_current_a`` and ``rep_rate_hz``. The intensity iomon
uses (``stim_intensity``, V) is ``SensedVoltage``; the montage is the outputs' anode-cathode
labels, else the mode's name (left and right MEP modes then keep baselines of their own).
Events become annotations (phase markers, theatre events). Timestamps are POSIX times: clock
times are UTC.

What is parsed is bounded: the file's size, the number of cases' trials, traces and events,
each trace's length, every number finite; a nesting deeper than the JSON parser allows, a
wrong type or a missing field is one refusal naming the file and the field.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from pathlib import Path

import numpy as np

from ..model.annotations import Annotation
from ..model.errors import InputError
from .base import Reader, ReadOptions, Recording, assemble, check_rate, unique_names
from .episodes import Episode, stack_episodes

__all__ = ["READER", "read_cadwell"]

#: Largest case file read, bytes (JSON text of 1 GB holds about 150 million samples).
MAX_JSON_BYTES = 1 << 30
#: Most trials (all modes), traces per trial, samples per trace and events read.
MAX_TRIALS = 100_000
MAX_TRACES = 512
MAX_TRACE_SAMPLES = 1_000_000
MAX_EVENTS = 100_000
#: Modes whose trials are TcMEP sweeps.
MEP_MODE = re.compile(r"\b(tc-?mep|mep)\b", re.IGNORECASE)
#: The transcranial stimulator among a trial's stimuli.
TRANSCRANIAL = re.compile(r"\btcs|cortical|transcranial", re.IGNORECASE)


def _refuse_constant(name):
    raise InputError(f"holds {name}, which is not a number a recording can hold")


def _trace_arrays(table: dict) -> dict:
    """A parsed JSON object, its ``TraceData`` made an array at once (bounds the memory)."""
    data = table.get("TraceData")
    if isinstance(data, list):
        array = np.asarray(data) if all(type(v) in (int, float) for v in data[:64]) else None
        if array is not None and array.dtype.kind in "iuf" and array.ndim == 1:
            table["TraceData"] = array.astype(float)
    return table


def _load(path: Path) -> dict:
    """The JSON document, every trace's numbers an array; damage refused in one line."""
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise InputError(f"{size / 2**30:.1f} GB: larger than iomon reads as one case JSON "
                         f"({MAX_JSON_BYTES / 2**30:g} GB)", path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
        doc = json.loads(text, object_hook=_trace_arrays, parse_constant=_refuse_constant)
    except UnicodeDecodeError as err:
        raise InputError(f"not a Cadwell case JSON (not UTF-8 text at byte {err.start})",
                         path) from None
    except json.JSONDecodeError as err:
        raise InputError(f"damaged JSON: {err.msg} at line {err.lineno} column {err.colno}",
                         path) from None
    except RecursionError:
        raise InputError("damaged JSON: nested deeper than a case file is", path) from None
    except MemoryError:
        raise InputError("too large to parse in the memory available", path) from None
    except InputError as err:
        raise InputError(err.reason, path) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("Cases"), list) or not doc["Cases"]:
        raise InputError("not a Cadwell case JSON (no Cases list at its top)", path)
    return doc


def _field(table, key: str, kinds, where: str, path, required=True):
    """``table[key]`` checked to be of ``kinds`` (numbers finite); None when absent and allowed."""
    if not isinstance(table, dict):
        raise InputError(f"{where} is not an object", path)
    value = table.get(key)
    if value is None:
        if required:
            raise InputError(f"{where} has no {key}", path)
        return None
    number = kinds in (float, int)
    if number and isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise InputError(f"{where}.{key} is {value!r}: not a finite number", path)
        return value
    if not number and isinstance(value, kinds):
        return value
    raise InputError(f"{where}.{key} has the wrong type ({type(value).__name__})", path)


def _bounded(items, limit: int, what: str, where: str, path) -> list:
    if not isinstance(items, list):
        raise InputError(f"{where} is not a list", path)
    if len(items) > limit:
        raise InputError(f"{where} holds {len(items)} {what}: more than iomon reads ({limit})",
                         path)
    return items


def _traces(trial, where: str, path):
    """A trial's traces: channel names, rate and samples in volts (n_traces, n_samples)."""
    traces = _bounded(_field(trial, "Traces", list, where, path), MAX_TRACES, "traces",
                      f"{where}.Traces", path)
    if not traces:
        raise InputError(f"{where} has no traces", path)
    names, rows, rates = [], [], set()
    for k, trace in enumerate(traces):
        at = f"{where}.Traces[{k}]"
        channel = _field(_field(trace, "Channel", dict, at, path), "Name", str,
                         f"{at}.Channel", path)
        data = trace.get("TraceData")
        if not isinstance(data, np.ndarray):
            raise InputError(f"{at}.TraceData is not a list of numbers", path)
        length = _field(trace, "TraceDataLength", int, at, path)
        if not 2 <= data.size <= MAX_TRACE_SAMPLES or length != data.size:
            raise InputError(f"{at}: TraceDataLength {length} for {data.size} numbers", path)
        if not np.isfinite(data).all():
            raise InputError(f"{at}.TraceData holds a number that is not finite", path)
        sweep_s = _field(trace, "Sweep", float, at, path)
        rates.add(check_rate(length / sweep_s if sweep_s > 0 else math.nan,
                             f"{at} (TraceDataLength / Sweep)", path))
        rows.append(data * _field(trace, "TraceDataScalar", float, at, path))
        names.append(channel.strip() or f"trace {k + 1}")
    if len(rates) > 1 or len({r.size for r in rows}) > 1:
        raise InputError(f"{where}: its traces differ in sampling rate or length", path)
    return unique_names(names, []), rates.pop(), np.vstack(rows)


def _stimulator(trial, where: str, path) -> dict:
    """What the transcranial stimulator's entry says of a trial's stimulus."""
    stimuli = _field(trial, "Stimuli", dict, where, path, required=False) or {}
    entries = _bounded(stimuli.get("DiscreteStimuli", []), MAX_TRACES, "stimuli",
                       f"{where}.Stimuli.DiscreteStimuli", path)
    entries = [e for e in entries if isinstance(e, dict)]
    facts = {"train_pulses": math.nan, "train_isi_s": math.nan, "pulse_width_s": math.nan,
             "polarity": "", "set_intensity": math.nan, "sensed_current_a": math.nan,
             "voltage": math.nan, "montage": "",
             "delay_s": _field(stimuli, "DataSweepTriggerDelayCustom", float, f"{where}.Stimuli",
                               path, required=False)}
    if not entries:
        return facts
    entry = next((e for e in entries if TRANSCRANIAL.search(str(e.get("Name", "")))),
                 entries[0])
    at = f"{where}.Stimuli"
    facts["train_pulses"] = _field(entry, "Train1PulseCount", float, at, path, required=False)
    facts["voltage"] = _field(entry, "SensedVoltage", float, at, path, required=False)
    facts["sensed_current_a"] = _field(entry, "SensedCurrent", float, at, path,
                                       required=False)
    pulses = [p for p in _bounded(entry.get("ElectricalPulses", []), 1000, "pulses", at, path)
              if isinstance(p, dict)]
    if pulses:
        facts["set_intensity"] = _field(pulses[0], "Intensity", float, at, path, required=False)
        facts["pulse_width_s"] = _field(pulses[0], "PulseWidth", float, at, path,
                                        required=False)
        facts["polarity"] = str(pulses[0].get("Polarity", "") or "")
    if len(pulses) > 1:
        facts["train_isi_s"] = _field(pulses[1], "Displacement", float, at, path,
                                      required=False)
    facts["montage"] = _montage(entry.get("Outputs", []))
    return {k: (math.nan if v is None else v) for k, v in facts.items()}


def _montage(outputs) -> str:
    """"anode-cathode" from a stimulator's outputs' labels; "" when they do not say."""
    if not isinstance(outputs, list):
        return ""
    roles = {}
    for output in outputs[:16]:
        if isinstance(output, dict) and isinstance(output.get("Label"), str):
            roles.setdefault(str(output.get("Usage", "")).lower(), output["Label"].strip())
    if roles.get("anode") and roles.get("cathode"):
        return f"{roles['anode']}-{roles['cathode']}"
    return ""


def _mep_trials(case, path, notes) -> list:
    """(mode name, index, trial) of the modes that record MEPs; the others noted."""
    modes = _bounded(_field(case, "Modes", list, "Cases[0]", path), 1000, "modes",
                     "Cases[0].Modes", path)
    kept, left_out, total = [], [], 0
    for m, mode in enumerate(modes):
        where = f"Cases[0].Modes[{m}]"
        name = str(_field(mode, "Name", str, where, path)).strip()
        key = "Trials" if "Trials" in mode else "StreamingTrials"
        trials = _bounded(_field(mode, key, list, where, path, required=False) or [],
                          MAX_TRIALS, "trials", f"{where}.{key}", path)
        total += len(trials)
        if total > MAX_TRIALS:
            raise InputError(f"holds more than {MAX_TRIALS} trials", path)
        if MEP_MODE.search(name):
            kept += [(name, f"{where}.{key}[{t}]", trial) for t, trial in enumerate(trials)]
        else:
            left_out.append(f"{name} ({len(trials)} trial{'s' if len(trials) != 1 else ''})")
    if left_out:
        notes.append("modes that do not record MEPs were left out: " + ", ".join(left_out))
    if not kept:
        raise InputError("no trial in a mode that records MEPs (modes named MEP, L MEP, R MEP, "
                         f"TcMEP...; this file's: {', '.join(left_out) or 'none'})", path)
    return kept


def _episodes(kept, path):
    """An Episode and the samples of every MEP trial, in time order (timestamps in µs)."""
    described = []
    for mode, where, trial in kept:
        stamp = _field(trial, "Timestamp", float, where, path)
        names, sfreq, data = _traces(trial, where, path)
        facts = _stimulator(trial, where, path)
        rate = _field(trial, "ActualRepRate", float, where, path, required=False)
        described.append((stamp, where, mode, names, sfreq, data, facts, rate))
    described.sort(key=lambda d: d[0])
    for a, b in zip(described, described[1:]):
        if b[0] == a[0]:
            raise InputError(f"{a[1]} and {b[1]} have the same Timestamp", path)
    return described


def _zero_us(case, described, events, path) -> float:
    """The recording's start, µs since the epoch: StartDate, or the first thing it holds."""
    start = _field(case, "StartDate", float, "Cases[0]", path, required=False)
    earliest = min([d[0] for d in described] + [t for t, _ in events])
    return earliest if start is None or start > earliest else start


def _events(case, path) -> list:
    """(Timestamp µs, Message) of every event."""
    events = _bounded(case.get("Events", []) or [], MAX_EVENTS, "events", "Cases[0].Events",
                      path)
    out = []
    for k, event in enumerate(events):
        where = f"Cases[0].Events[{k}]"
        message = _field(event, "Message", str, where, path, required=False)
        if message and message.strip():
            out.append((_field(event, "Timestamp", float, where, path), message.strip()))
    return out


def _delay_notes(described, options, notes) -> list:
    """The stimulus sample of each trial from the file's delay, and a note on the rule used."""
    delays = [d[6]["delay_s"] for d in described]
    if all(np.isfinite(delays)):
        notes.append("the stimulus is placed by each trial's DataSweepTriggerDelayCustom")
        return [int(round(-delay * d[4])) for delay, d in zip(delays, described)]
    if options.stimulus_s is not None:
        notes.append(f"the JSON does not hold the pre-trigger delay: the sidecar's [recording] "
                     f"stimulus_s ({options.stimulus_s:g} s) places the stimulus")
    else:
        notes.append("the JSON does not hold the pre-trigger delay and the sidecar sets no "
                     "[recording] stimulus_s: the stimulus is placed as in other episodic "
                     "sweeps (a note says where)")
    return [None] * len(described)


def read_cadwell(path: str | Path, options: ReadOptions | None = None) -> Recording:
    """Read a Cadwell Surgical Studio case JSON (see the module docstring)."""
    path = Path(path)
    options = options or ReadOptions()
    notes = []
    case = _field(_load(path), "Cases", list, "the file", path)[0]
    if not isinstance(case, dict):
        raise InputError("Cases[0] is not an object", path)
    described = _episodes(_mep_trials(case, path, notes), path)
    events = _events(case, path)
    zero = _zero_us(case, described, events, path)
    indices = _delay_notes(described, options, notes)
    episodes = []
    for (stamp, where, mode, names, sfreq, data, facts, rate), index in zip(described, indices):
        columns = {"mode": mode, "rep_rate_hz": math.nan if rate is None else rate}
        columns.update({k: facts[k] for k in ("train_pulses", "train_isi_s", "pulse_width_s",
                                              "polarity", "set_intensity", "sensed_current_a")})
        volts = facts["voltage"]
        episodes.append(Episode(where, (stamp - zero) / 1e6, sfreq, tuple(names),
                                data.shape[1], index, volts, "V" if np.isfinite(volts) else "",
                                facts["montage"] or mode, columns))

    def read_one(i, names, first, n_samples):
        _, _, _, own, _, data, _, _ = described[i]
        return data[[own.index(name) for name in names], first:first + n_samples]

    stacked = stack_episodes(episodes, read_one, options, path, "trials", notes)
    notes.append("clock times are UTC: the file's timestamps are POSIX times without the "
                 "theatre's time zone")
    annotations = [Annotation((t - zero) / 1e6, 0.0, text) for t, text in events]
    start = datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=zero)
    return assemble(path, "Cadwell Surgical Studio case JSON", "iomon Cadwell JSON reader",
                    stacked.data, stacked.times, stacked.sfreq, stacked.names, stacked.stimuli,
                    max(stacked.end_s, max((a.onset_s for a in annotations), default=0.0)),
                    annotations=annotations, notes=notes, start=start,
                    columns=stacked.columns)


def _sniff(head: bytes, suffix: str) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") and b'"Cases"' in head


def _claims(path: Path) -> bool:
    """A JSON file is a Cadwell case when ``"Cases"`` opens it (within its first 64 kB)."""
    with Path(path).open("rb") as f:
        head = f.read(1 << 16)
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") and b'"Cases"' in head


READER = Reader("cadwell", "Cadwell Surgical Studio case JSON", (".json",), read_cadwell,
                _sniff, claims=_claims)
