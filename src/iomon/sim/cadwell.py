"""Writing a simulated case as a Cadwell Surgical Studio "case data" JSON.

No Cadwell file was available: the layout is that which public MATLAB code reads (repository
``jrmxn/mep_preproc_intraop``, ``ep_converters/convert_json_to_flatmat.m`` and
``ep_converters/surgical_studio/sp_surgical_studio_augment.m``; see :mod:`iomon.io.cadwell`).
Every field written is one that code reads; values iomon does not read (filters, gains) are
written as that code expects them to be.
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

import numpy as np

from ..model.annotations import is_stimulus
from ..model.errors import InputError
from .writing import RECORDING_START, sweep_windows

__all__ = ["write_cadwell_json"]

#: POSIX time of the simulated recording's start, µs (its clock read as UTC).
_START_US = int((RECORDING_START - datetime.datetime(1970, 1, 1)).total_seconds()) * 1_000_000
#: Volts per stored number: 0.1 µV, as a 16-bit amplifier with a ±3.3 mV range stores them.
_SCALAR_V = 1e-7


def _stimulus(intensity_v: float, n_pulses: int, isi_s: float, montage=("C3", "C4")) -> dict:
    """The transcranial stimulator's entry of a trial's ``Stimuli.DiscreteStimuli``."""
    pulses = [{"Intensity": float(intensity_v), "PulseWidth": 5e-05, "Polarity": "Normal",
               "Biphasic": "false", "Displacement": float(k * isi_s)} for k in range(n_pulses)]
    return {"Name": "TCS-9 Stimulator at Cortical Module", "Train1PulseCount": n_pulses,
            "SensedVoltage": float(intensity_v), "SensedCurrent": float(intensity_v) / 400.0,
            "ElectricalPulses": pulses,
            "Outputs": [{"Usage": "Anode", "Label": montage[0], "OutputNumber": 1},
                        {"Usage": "Cathode", "Label": montage[1], "OutputNumber": 2}]}


def _trial(stamp_us: int, names, window_v, sfreq: float, stimulus: dict, delay_s) -> dict:
    """One trial: its traces (numbers times TraceDataScalar are volts) and its stimulus."""
    n = window_v.shape[1]
    traces = [{"Timestamp": stamp_us,
               "Channel": {"Name": name, "HighCut": 3000, "LowCut": 10, "Notch": 0},
               "Sweep": n / sfreq, "TraceDataLength": n, "TraceDataScalar": _SCALAR_V,
               "TraceData": np.round(row / _SCALAR_V).astype(int).tolist()}
              for name, row in zip(names, window_v)]
    stimuli = {"DiscreteStimuli": [stimulus]}
    if delay_s is not None:
        stimuli["DataSweepTriggerDelayCustom"] = float(delay_s)
    return {"Timestamp": stamp_us, "ActualRepRate": 0.0, "RequestedRepRate": 0.0,
            "Stimuli": stimuli, "Traces": traces}


def write_cadwell_json(sim, path: str | Path, window_s=(-0.010, 0.100), *,
                       modes=("MEP",), delay_in_file: bool = False,
                       other_mode: bool = False) -> Path:
    """Write a simulated case as a Cadwell Surgical Studio case JSON, one trial per stimulus.

    Each trial's ``Timestamp`` is its first sample (POSIX µs, the recording starting at
    2024-01-01 08:00:00 read as UTC); ``StartDate`` the recording's start; the phase and
    ``Baseline`` markers become ``Events``.

    Parameters
    ----------
    sim : SimulatedCase
    path : str or Path
        Written under a temporary name and renamed.
    window_s : (float, float)
        Each trial's sweep around its stimulus, s.
    modes : sequence of str
        Mode names the trials go to in turn ("L MEP", "R MEP" alternate their trials).
    delay_in_file : bool
        Write the pre-trigger delay as ``Stimuli.DataSweepTriggerDelayCustom`` (what the
        research pipeline adds by hand); an export from Surgical Studio lacks it.
    other_mode : bool
        Add an "SSEP Upper" mode of one trial at another rate (a case holds other modalities).

    Returns
    -------
    Path
    """
    path = Path(path)
    sfreq, onsets = sim.sfreq, np.asarray(sim.truth.sweeps.onset_s, float)
    first = int(round(window_s[0] * sfreq))
    n_samples = int(round((window_s[1] - window_s[0]) * sfreq))
    starts = np.round(onsets * sfreq).astype(int) + first
    if n_samples < 2 or starts[0] < 0 or starts[-1] + n_samples > sim.plan.n_samples:
        raise InputError(f"the sweep window {window_s} s does not fit the simulated recording")
    names = [ch.name for ch in sim.channels]
    train = sim.truth.train
    delay = first / sfreq if delay_in_file else None
    trials = {name: [] for name in modes}
    for k, window in sweep_windows(sim, starts, n_samples):
        stimulus = _stimulus(sim.truth.sweeps.intensity_v[k], int(train["pulses"]),
                             train["isi_ms"] / 1e3)
        stamp = _START_US + int(round(starts[k] / sfreq * 1e6))
        trials[modes[k % len(modes)]].append(_trial(stamp, names, window, sfreq, stimulus,
                                                    delay))
    all_modes = [{"Name": name, "Trials": trials[name]} for name in modes]
    if other_mode:
        ssep = np.zeros((2, 300))
        all_modes.insert(0, {"Name": "SSEP Upper", "Trials": [
            _trial(_START_US + 1000, ["Cz'-Fz", "C4'-Fz"], ssep, 3000.0,
                   _stimulus(0.02, 1, 0.0, ("Median L+", "Median L-")), None)]})
    events = [{"Timestamp": _START_US + int(round(a.onset_s * 1e6)), "Message": a.text}
              for a in sim.annotations if not is_stimulus(a.text)]
    doc = {"Cases": [{"StartDate": _START_US, "PatientID": "SIM001",
                      "HardwareType": "cadwell-iomax", "Events": events, "Modes": all_modes}]}
    tmp = path.with_name(f".{path.name}.partial")
    try:
        tmp.write_text(json.dumps(doc), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
