"""How a theatre acquires a case: sampling rate, stimulus train, amplifier, sweep window, files.

Monitoring systems differ, and a method that holds on one setting can fail on the next (a fixed
2 ms train exactly on the sample grid once hid a fault that called dead muscles alive). A
simulated case is therefore acquired with an :class:`Acquisition`, drawn per case by
:func:`draw_acquisition` as theatres differ:

- sampling rate 2-20 kHz;
- the train (DESIGN.md section 2): 1-9 pulses 1-5 ms apart (5 pulses 3-4 ms apart most often),
  same or alternating polarity, flat-topped pulses (50-500 µs) or spikes, each with an
  exponential tail; pulse sizes within a train differing up to 4x; or one magnetic pulse;
- the stimulator's and the amplifier's clocks are independent: every pulse lands anywhere
  between samples, up to a sample early or late against the nominal interval;
- the amplifier's input range: channels whose artefact exceeds it saturate through the train
  and recover over milliseconds after it (a saturated channel's tail outlasts the others');
- the export: a continuous recording with stimulus markers, or one file per sweep (inomed
  ISIS), whose window may start at the first pulse.

:data:`FIXED` is the setting every simulated case had before these draws (5 pulses 2 ms apart
on the sample grid, 5 kHz, no saturation); the shipped recordings keep it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["FIXED", "LAYOUTS", "Acquisition", "StimulusTrain", "draw_acquisition",
           "train_artefact"]

#: How a case is written: a continuous EDF+C with stimulus markers, or one EDF+D per sweep.
LAYOUTS = ("continuous", "sweep-files")


@dataclass(frozen=True)
class StimulusTrain:
    """The stimulus train a theatre delivers.

    Attributes
    ----------
    n_pulses : int
        1-9 (1 for a magnetic or single electrical pulse).
    isi_s : float
        Interval between pulses, s (1-5 ms).
    polarity : str
        ``"same"`` or ``"alternating"`` (each pulse of the opposite sign to the one before).
    width_s : float
        Flat top of each pulse, s (0: a spike).
    decay_s : float
        Time constant of each pulse's exponential tail, s.
    size_spread : float
        Largest over smallest pulse size within the train (1-4).
    magnetic : bool
        One biphasic magnetic pulse (``n_pulses`` 1) instead of electrical ones.
    """

    n_pulses: int = 5
    isi_s: float = 0.002
    polarity: str = "same"
    width_s: float = 0.0
    decay_s: float = 0.0003
    size_spread: float = 1.0
    magnetic: bool = False

    @property
    def duration_s(self) -> float:
        """From the first pulse to the end of the last one's flat top, s."""
        return (self.n_pulses - 1) * self.isi_s + self.width_s


@dataclass(frozen=True)
class Acquisition:
    """How a case is sampled, stimulated, amplified and exported.

    Attributes
    ----------
    sfreq : float
        Sampling rate, Hz.
    train : StimulusTrain
    jitter_samples : float
        Each pulse lands up to this many samples early or late against its nominal time
        (the stimulator's clock is not the amplifier's), and anywhere between samples.
    artefact_v : (float, float)
        Range of each channel's artefact size (V, log-uniform, random sign).
    input_range_v : float or None
        The amplifier's input range (±V around the electrode offset); None: no saturation.
    recovery_s : float
        Time constant over which a saturated channel recovers after the train, s.
    window_s : (float, float)
        The sweep window the export holds (s around the first pulse): for a continuous
        recording the sidecar's ``[recording] window_ms``; for one file per sweep, each file.
    layout : str
        One of :data:`LAYOUTS`.
    fixed : bool
        The setting every case had before draws existed (:data:`FIXED`): rendered as then, bit
        for bit.
    """

    sfreq: float = 5000.0
    train: StimulusTrain = StimulusTrain()
    jitter_samples: float = 0.0
    artefact_v: tuple[float, float] = (1e-3, 6e-3)
    input_range_v: float | None = None
    recovery_s: float = 0.001
    window_s: tuple[float, float] = (-0.010, 0.100)
    layout: str = "continuous"
    fixed: bool = False

    def to_dict(self) -> dict:
        """As in truth.json (times in s)."""
        out = asdict(self)
        out["train"] = asdict(self.train)
        return out


#: The one setting of every simulated case before acquisition was drawn.
FIXED = Acquisition(fixed=True)

#: Sampling rates IONM systems record TcMEP at, Hz (whole numbers: EDF records of 1 s).
RATES_HZ = (2000.0, 3000.0, 4000.0, 5000.0, 6400.0, 8000.0, 10000.0, 12800.0, 16000.0, 20000.0)
#: Sweep windows seen in exports, s around the first pulse (inomed ISIS: 0 to 150 ms).
WINDOWS_S = ((-0.010, 0.100), (-0.020, 0.080), (-0.005, 0.095), (0.0, 0.100), (0.0, 0.150))
#: Intervals between pulses (s) and the longest train drawn (s): 9 pulses 5 ms apart would
#: outlast the leg muscles' responses, and no team monitors so.
TRAIN_ISI_S = (0.001, 0.005)
MAX_TRAIN_S = 0.024
#: Amplifier input ranges, V (inomed exports: ±2.5 and ±5 mV).
INPUT_RANGES_V = (2.5e-3, 5e-3)


def draw_acquisition(rng: np.random.Generator, layout: str | None = None) -> Acquisition:
    """An acquisition as one theatre's system might record a case.

    Parameters
    ----------
    rng : numpy.random.Generator
        Its own stream (drawing must not move the case's other draws).
    layout : str, optional
        Force one of :data:`LAYOUTS`; by default drawn (a third of cases one file per sweep).
    """
    sfreq = float(rng.choice(RATES_HZ))
    if rng.random() < 0.1:
        train = StimulusTrain(1, 0.002, "same", 0.0, float(rng.uniform(0.0002, 0.0006)),
                              1.0, magnetic=True)
    else:
        common = rng.random() < 0.5  # 5 pulses 3-4 ms apart: the usual train
        n_pulses = 5 if common else int(rng.integers(1, 10))
        longest = min(TRAIN_ISI_S[1], MAX_TRAIN_S / max(n_pulses - 1, 1))
        isi = float(rng.uniform(0.003, 0.004) if common else rng.uniform(TRAIN_ISI_S[0],
                                                                           longest))
        train = StimulusTrain(n_pulses, isi, str(rng.choice(["same", "alternating"])),
                              float(rng.choice([0.0, rng.uniform(0.00005, 0.0005)])),
                              float(rng.uniform(0.0001, 0.001)),
                              float(rng.uniform(1.0, 4.0)))
    saturates = rng.random() < 0.5
    window = WINDOWS_S[int(rng.integers(len(WINDOWS_S)))]
    return Acquisition(
        sfreq=sfreq, train=train, jitter_samples=1.0,
        artefact_v=(3e-4, 1e-2),
        input_range_v=float(rng.choice(INPUT_RANGES_V)) if saturates else None,
        recovery_s=float(rng.uniform(0.0005, 0.003)),
        window_s=window,
        layout=layout or ("sweep-files" if rng.random() < 1 / 3 else "continuous"))


def pulse_times(acquisition: Acquisition, n_sweeps: int, rng: np.random.Generator
                ) -> np.ndarray:
    """Each pulse's time from the sweep's stimulus sample, s: shape (n_sweeps, n_pulses).

    The train starts anywhere within the sample its marker points to (the stimulator's clock
    is not the amplifier's), and every pulse is up to ``jitter_samples`` early or late against
    the nominal interval.
    """
    train = acquisition.train
    nominal = np.arange(train.n_pulses) * train.isi_s
    if acquisition.fixed:
        return np.tile(nominal, (n_sweeps, 1))
    dt = 1.0 / acquisition.sfreq
    start = rng.uniform(-0.5 * dt, 0.5 * dt, (n_sweeps, 1))
    jitter = rng.uniform(-1.0, 1.0, (n_sweeps, train.n_pulses)) * acquisition.jitter_samples * dt
    jitter[:, 0] = 0.0
    return nominal[None, :] + start + jitter


def pulse_sizes(train: StimulusTrain, rng: np.random.Generator) -> np.ndarray:
    """Relative size and sign of each pulse (the largest 1), shape (n_pulses,)."""
    sizes = np.exp(rng.uniform(0.0, np.log(train.size_spread), train.n_pulses))
    sizes /= sizes.max()
    if train.polarity == "alternating":
        sizes *= (-1.0) ** np.arange(train.n_pulses)
    return sizes


#: The fixed setting's artefact: each pulse decays with this time constant, and a small tail
#: of alternating sign (share of the pulse, time constant) follows it.
_FIXED_TAIL = (0.02, 0.001)


def _fixed_artefact(local_t, train: StimulusTrain) -> np.ndarray:
    """The artefact of :data:`FIXED` (peak 1), exactly as every case had it before draws."""
    artefact = np.zeros_like(local_t)
    for k in range(train.n_pulses):
        dt = local_t - k * train.isi_s
        after = dt >= 0
        artefact[after] += (np.exp(-dt[after] / train.decay_s)
                            + _FIXED_TAIL[0] * np.exp(-dt[after] / _FIXED_TAIL[1]) * (-1) ** k)
    return artefact


def _pulse(dt, train: StimulusTrain) -> np.ndarray:
    """One pulse of size 1 starting at ``dt`` = 0 (s): flat top, then an exponential tail.

    A magnetic pulse is one cycle of a damped sine (about 0.3 ms) with its tail.
    """
    out = np.zeros_like(dt)
    if train.magnetic:
        cycle = (dt >= 0) & (dt < 0.0003)
        out[cycle] = np.sin(2 * np.pi * dt[cycle] / 0.0003)
        tail = dt >= 0.0003
        out[tail] = -0.1 * np.exp(-(dt[tail] - 0.0003) / train.decay_s)
        return out
    top = (dt >= 0) & (dt < train.width_s)
    out[top] = 1.0
    tail = dt >= train.width_s
    out[tail] = np.exp(-(dt[tail] - train.width_s) / train.decay_s)
    return out


def train_artefact(local_t, acquisition: Acquisition, times=None, sizes=None) -> np.ndarray:
    """The artefact of one sweep's train at times ``local_t`` (s from the stimulus sample).

    Parameters
    ----------
    local_t : array of float, shape (n_samples,)
    acquisition : Acquisition
    times : array of float, shape (n_pulses,), optional
        Where each pulse lands (:func:`pulse_times`); default on the nominal grid.
    sizes : array of float, shape (n_pulses,), optional
        Relative size and sign of each pulse (:func:`pulse_sizes`); default all 1.

    Returns
    -------
    array of float, shape (n_samples,)
        The artefact, its largest pulse of size 1.
    """
    train = acquisition.train
    if acquisition.fixed:
        return _fixed_artefact(local_t, train)
    times = np.arange(train.n_pulses) * train.isi_s if times is None else times
    sizes = np.ones(train.n_pulses) if sizes is None else sizes
    artefact = np.zeros_like(local_t)
    for at, size in zip(times, sizes):
        artefact += size * _pulse(local_t - at, train)
    return artefact


def recovery_tail(local_t, acquisition: Acquisition, end_s: float) -> np.ndarray:
    """How a saturated channel comes back after the train ends at ``end_s`` (size 1)."""
    dt = local_t - end_s
    out = np.zeros_like(local_t)
    after = dt >= 0
    out[after] = np.exp(-dt[after] / acquisition.recovery_s)
    return out
