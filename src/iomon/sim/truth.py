"""What a simulated case injected: the ground truth, typed, and its JSON file.

``<stem>.truth.json`` beside a simulated recording holds :meth:`Truth.to_dict`;
:func:`read_truth` reads it back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["ChannelTruth", "Event", "SweepTruth", "Truth", "read_truth"]


@dataclass(frozen=True)
class ChannelTruth:
    """One channel: its facts, whether it responds, its expected baseline values.

    ``baseline_amplitude_uv`` is the median peak-to-peak at baseline (None where the channel
    gives no response), ``onset_latency_ms`` its mean onset latency, ``cv`` its sweep-to-sweep
    coefficient of variation.
    """

    name: str
    muscle: str
    side: str
    limb: str
    role: str
    present: bool
    baseline_amplitude_uv: float | None
    onset_latency_ms: float
    cv: float

    def to_dict(self) -> dict:
        """As in truth.json."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class Event:
    """An injected change.

    Attributes
    ----------
    kind : str
        ``focal``, ``loss`` (to nothing), ``systemic``, ``fade`` or ``threshold``.
    channels : tuple of str
        The channels it affects.
    start_nominal_s, end_nominal_s : float
        On the surgical clock.
    start_s, end_s : float
        In the file (the surgical clock divided by the time compression).
    recovers : bool
    level : float or None
        Share of the amplitude left during it (amplitude events).
    rise_v : float or None
        Threshold rise at the end (threshold events).
    """

    kind: str
    channels: tuple[str, ...]
    start_nominal_s: float
    end_nominal_s: float
    start_s: float
    end_s: float
    recovers: bool
    level: float | None = None
    rise_v: float | None = None

    def to_dict(self) -> dict:
        """As in truth.json (``level`` or ``rise_v``, whichever applies)."""
        out = {"kind": self.kind, "channels": list(self.channels),
               "start_nominal_s": self.start_nominal_s, "end_nominal_s": self.end_nominal_s}
        if self.rise_v is not None:
            out["rise_v"] = self.rise_v
        else:
            out["level"] = self.level
        out.update(recovers=self.recovers, start_s=self.start_s, end_s=self.end_s)
        return out


@dataclass(frozen=True)
class SweepTruth:
    """What each sweep was (arrays of shape (n_sweeps,)).

    Its time in the file and on the surgical clock (s), its intensity (V), the injected rise
    of the ipsilateral leg threshold (V), its surgical phase, and whether cautery contaminated
    it.
    """

    onset_s: np.ndarray
    nominal_s: np.ndarray
    intensity_v: np.ndarray
    threshold_rise_v: np.ndarray
    surgical_phase: tuple[str, ...]
    contaminated: np.ndarray

    def to_dict(self) -> dict:
        """As in truth.json."""
        return {"onset_s": self.onset_s.tolist(), "nominal_s": self.nominal_s.tolist(),
                "intensity_v": self.intensity_v.tolist(),
                "threshold_rise_v": self.threshold_rise_v.tolist(),
                "surgical_phase": list(self.surgical_phase),
                "contaminated": self.contaminated.tolist()}


@dataclass(frozen=True)
class Truth:
    """Everything a simulated case injected.

    Attributes
    ----------
    scenario, description : str
    seed : int
    sfreq, time_compression, mains_hz, noise_uv_rms : float
        The simulation's settings.
    case : dict
        ``id``, ``side`` and avulsed ``levels``.
    train : dict
        The stimulus train: ``pulses`` and ``isi_ms``.
    phases_nominal_s : dict of str to (float, float)
        Surgical phases on the surgical clock.
    baseline_marker_s : float
        Where the ``Baseline`` annotation is, s in the file.
    channels : tuple of ChannelTruth
    events : tuple of Event
    sweeps : SweepTruth
    amplitude_uv : array of float, shape (n_sweeps, n_channels)
        Injected peak-to-peak of every response, µV; NaN where there is none.
    onset_latency_ms : array of float, shape (n_sweeps, n_channels)
    n_phases : array of int, shape (n_sweeps, n_channels)
    focal_channels : tuple of str
        Channels that should raise a focal alert (a focal drop, loss or threshold rise on a
        channel that responds).
    systemic_expected : bool
        Whether a systemic alert is expected.
    """

    scenario: str
    description: str
    seed: int
    sfreq: float
    time_compression: float
    mains_hz: float
    noise_uv_rms: float
    case: dict
    train: dict
    phases_nominal_s: dict
    baseline_marker_s: float
    channels: tuple[ChannelTruth, ...]
    events: tuple[Event, ...]
    sweeps: SweepTruth
    amplitude_uv: np.ndarray = field(repr=False)
    onset_latency_ms: np.ndarray = field(repr=False)
    n_phases: np.ndarray = field(repr=False)
    focal_channels: tuple[str, ...] = ()
    systemic_expected: bool = False

    def to_dict(self) -> dict:
        """The content of ``<stem>.truth.json``."""
        return {
            "scenario": self.scenario, "description": self.description, "seed": self.seed,
            "sfreq": self.sfreq, "time_compression": self.time_compression,
            "mains_hz": self.mains_hz, "noise_uv_rms": self.noise_uv_rms, "case": self.case,
            "train": self.train,
            "phases_nominal_s": {k: list(v) for k, v in self.phases_nominal_s.items()},
            "baseline_marker_s": self.baseline_marker_s,
            "channels": [c.to_dict() for c in self.channels],
            "events": [e.to_dict() for e in self.events],
            "sweeps": self.sweeps.to_dict(),
            "amplitude_uv": [[None if np.isnan(v) else float(v) for v in row]
                             for row in self.amplitude_uv],
            "onset_latency_ms": self.onset_latency_ms.tolist(),
            "n_phases": self.n_phases.tolist(),
            "expected": {"focal_channels": list(self.focal_channels),
                         "systemic": self.systemic_expected},
        }


def read_truth(path: str | Path) -> Truth:
    """A ``.truth.json`` file as a :class:`Truth`."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    sweeps = doc["sweeps"]
    return Truth(
        scenario=doc["scenario"], description=doc["description"], seed=doc["seed"],
        sfreq=doc["sfreq"], time_compression=doc["time_compression"],
        mains_hz=doc["mains_hz"], noise_uv_rms=doc["noise_uv_rms"], case=doc["case"],
        train=doc["train"],
        phases_nominal_s={k: tuple(v) for k, v in doc["phases_nominal_s"].items()},
        baseline_marker_s=doc["baseline_marker_s"],
        channels=tuple(ChannelTruth(**c) for c in doc["channels"]),
        events=tuple(Event(**{**e, "channels": tuple(e["channels"])}) for e in doc["events"]),
        sweeps=SweepTruth(*(np.asarray(sweeps[k]) for k in (
            "onset_s", "nominal_s", "intensity_v", "threshold_rise_v")),
            tuple(sweeps["surgical_phase"]), np.asarray(sweeps["contaminated"], bool)),
        amplitude_uv=np.array(doc["amplitude_uv"], dtype=float),
        onset_latency_ms=np.asarray(doc["onset_latency_ms"], float),
        n_phases=np.asarray(doc["n_phases"], int),
        focal_channels=tuple(doc["expected"]["focal_channels"]),
        systemic_expected=doc["expected"]["systemic"],
    )
