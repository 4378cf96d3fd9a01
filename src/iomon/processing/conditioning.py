"""Conditioning of sweeps before measurement: offsets, stimulus artefact, band-pass, rejection.

Every function takes and returns arrays of shape (n_sweeps, n_channels, n_samples) in volts,
with time on the last axis, and works on all sweeps and channels at once.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import numpy as np

from ..model.errors import InputError

__all__ = ["ARTEFACT_MARGINS_S", "ARTEFACT_SWEEPS", "DEFAULT_ARTEFACT_S", "DEFAULT_BAND_HZ",
           "DEFAULT_NOISE_WINDOW_S", "FIRST_PULSE_S", "JITTER_SAMPLES", "LATE_REFERENCE_SHARE",
           "MAINS_HARMONICS",
           "MAX_TRAIN_PULSES", "MIN_BOTH_ENDS_S", "MIN_LATE_FIT_S", "MIN_REFERENCE_SAMPLES",
           "NOISE_REJECT_RATIO", "NOISE_REJECT_SHARE", "PRE_STIMULUS_GUARD_S", "PULSE_MAX_S",
           "PULSE_SIZE_RANGE", "PULSE_SLOPE_RATIO", "REASONS", "TAIL_LIMIT_V", "TAIL_MAX_S",
           "TAIL_NOISE_K", "TAIL_SMOOTH_S", "TRAIN_ISI_S", "Train", "artefact_deciders",
           "artefact_windows", "bandpass", "blank_artefact", "check_band", "clipped_sweeps",
           "condition", "detect_mains", "find_train", "first_pulse", "hum_fits",
           "noise_window_mask", "plan_artefact", "pre_stimulus_mask", "rail_end", "rail_samples",
           "raw_faults", "reference_mask", "reject_sweeps", "remove_mains", "remove_offset",
           "sizes_after", "slope_ratio", "spread_sweeps", "sweep_noise", "tail_end", "zero_phase"]

#: Default IONM band for TcMEP (Hz). The 2 Hz high-pass edge was chosen by measurement
#: (benchmarks/real_mep_agreement.py --band-sweep): on real TMS MEPs a 10 Hz edge shaved up
#: to 12 % off broad (40 ms) tibialis MEPs, 2 Hz left them within 1 %; the offset, the mains
#: fit and the level taken just before each response window deal with drift.
DEFAULT_BAND_HZ = (2.0, 1500.0)
#: Pre-stimulus samples closer than this to the stimulus are not used as "noise" (s).
PRE_STIMULUS_GUARD_S = 0.001
#: Default window of the pre-stimulus noise, s (clipped to the sweep).
DEFAULT_NOISE_WINDOW_S = (-0.010, -PRE_STIMULUS_GUARD_S)
#: Hum is only fitted when at least this much of the sweep follows the responses (s)...
MIN_LATE_FIT_S = 0.015
#: ... or when this much precedes the stimulus and this much follows the responses (s): quiet
#: samples at both ends of the sweep anchor the drift polynomial fitted beside the hum, and
#: 50 Hz is told from the cubic by the ends' distance (an export of -20 to 80 ms).
MIN_BOTH_ENDS_S = (0.010, 0.002)
#: Rejection reasons, as written in the outputs: ``"no response window"`` where the stimulus
#: artefact covers the channel's whole response window (a long train) or the sweep ends before
#: it (the channel cannot be measured, which is not a missing response).
REASONS = ("", "nan", "flat", "clipped", "noisy baseline", "no response window")
#: A sweep whose noise exceeds this many times its channel's median is rejected...
NOISE_REJECT_RATIO = 5.0
#: ... when that noise is also more than this share of the channel's typical peak-to-peak
#: (its responses' size): noise a twentieth of a response moves its peaks by about 10 %,
#: less does not disturb the measures. Real MEPs of several mV exported with filter ringing
#: before the stimulus (MEPFeatX's ID10_1: 8-16 µV against a usual 1.5 µV) are thereby kept,
#: electrocautery (hundreds of µV) is not.
NOISE_REJECT_SHARE = 0.05

# What a stimulus can be. Transcranial electrical trains have up to 9 pulses 1-5 ms apart
# (DESIGN.md section 2 and the IONM literature: 3-7 pulses, 2-4 ms, with margins); a
# magnetic stimulus is one pulse. The stimulator's clock is not the amplifier's: every pulse
# lands up to a sample early or late. A response can look as steep as an artefact at a low
# sampling rate, so only what chains from the stimulus at artefact strength is the train.
#: Most pulses in a train.
MAX_TRAIN_PULSES = 9
#: Shortest and longest interval between the pulses of a train, s.
TRAIN_ISI_S = (0.001, 0.005)
#: Where the first pulse may lie relative to the marked stimulus time, s (a marker written a
#: little before or after the train, rounding to samples).
FIRST_PULSE_S = (-0.001, 0.002)
#: The steep part of one pulse's artefact lasts at most this long, s (a flat top of up to
#: 0.5 ms and its edges).
PULSE_MAX_S = 0.002
#: Samples this much steeper than the channel's quiet signal are artefact candidates.
PULSE_SLOPE_RATIO = 20.0
#: Pulses of one train differ in size up to 4x, and sampling at a random phase of each edge
#: changes its sampled steepness up to 4x more: a later pulse is at least the first one's
#: steepness over this. Responses are smooth on the scale of a sample and fall below it.
PULSE_SIZE_RANGE = 16.0
#: Blanked before the first pulse and at least this long after the steep part of the last
#: one, s.
ARTEFACT_MARGINS_S = (0.0005, 0.0015)
#: Blanked when no artefact is visible, s: nothing responds this early.
DEFAULT_ARTEFACT_S = (-0.0005, 0.002)
#: After the train a channel's artefact decays (and a saturated amplifier recovers): the blank
#: lasts until the channel's median sweep is back within this much of its quiet level, V (a
#: quarter of the smallest response iomon calls present, so that no tail can be one)...
TAIL_LIMIT_V = 7.5e-6
#: ... or within this many standard deviations of that median's noise, whichever is larger.
TAIL_NOISE_K = 3.0
#: How long after the train a channel's tail is followed at most, s.
TAIL_MAX_S = 0.030
#: The median sweep is smoothed over this long (s) to follow the tail.
TAIL_SMOOTH_S = 0.0003


def pre_stimulus_mask(times) -> np.ndarray:
    """Samples before the stimulus (minus a 1 ms guard), shape (n_samples,)."""
    return np.asarray(times) < -PRE_STIMULUS_GUARD_S


#: Fewest samples of a quiet reference (before the stimulus) to measure a channel's level by.
MIN_REFERENCE_SAMPLES = 8
#: Without them (sweeps exported from the first pulse), the sweep's last share is the reference.
LATE_REFERENCE_SHARE = 0.3


def reference_mask(times) -> np.ndarray:
    """Where a channel is quiet: before the stimulus, else the last 30 % of the sweep.

    Sweeps that start at the stimulus have no pre-stimulus samples; their end, long after the
    latest response of most muscles, is the quietest part they hold.
    """
    times = np.asarray(times)
    pre = pre_stimulus_mask(times)
    if pre.sum() >= MIN_REFERENCE_SAMPLES:
        return pre
    span = times[-1] - max(times[0], 0.0)
    return times >= times[-1] - LATE_REFERENCE_SHARE * span


def noise_window_mask(times, window_s=DEFAULT_NOISE_WINDOW_S) -> np.ndarray:
    """Samples of the noise window ``[start, end]`` (s), shape (n_samples,)."""
    times = np.asarray(times)
    return (times >= window_s[0]) & (times <= window_s[1])


@dataclass(frozen=True)
class Train:
    """A stimulus train found in the data.

    Attributes
    ----------
    first_s : float
        Start of the first pulse's artefact, s relative to the stimulus.
    end_s : float
        End of the steep part of the last pulse's artefact, s.
    n_pulses : int
        Pulses found (1 for a magnetic stimulus or a single electrical pulse). Pulses closer
        than the sampling resolves are counted from the train's length.
    isi_s : float or None
        Interval between pulses, s; None for one pulse.
    """

    first_s: float
    end_s: float
    n_pulses: int
    isi_s: float | None

    @property
    def blank_s(self) -> tuple[float, float]:
        """The span to blank at least: the train with its margins."""
        return (self.first_s - ARTEFACT_MARGINS_S[0], self.end_s + ARTEFACT_MARGINS_S[1])


#: Each pulse lands up to a sample early or late, so a step is looked for this many samples
#: either side of where it lands in the other sweeps.
JITTER_SAMPLES = 1


def _dilate(values, k):
    """The largest of each sample and its ``k`` neighbours either side, along the last axis."""
    out = values.copy()
    for shift in range(1, k + 1):
        np.maximum(out[..., shift:], values[..., :-shift], out=out[..., shift:])
        np.maximum(out[..., :-shift], values[..., shift:], out=out[..., :-shift])
    return out


def slope_ratio(data, times) -> np.ndarray:
    """How much steeper than its quiet signal each channel is, sample by sample.

    The median over sweeps of the absolute first difference (the largest within
    :data:`JITTER_SAMPLES` either side, as pulses land a sample early or late from sweep to
    sweep), divided by its median where the channel is quiet (:func:`reference_mask`): one
    number per channel and sample step,
    independent of the channel's unit and gain, so that channels of any size can be pooled.
    Entry ``j`` is the step from sample ``j`` to ``j + 1``.

    Parameters
    ----------
    data : array of float, shape (n_sweeps, n_channels, n_samples)
    times : array of float, shape (n_samples,)

    Returns
    -------
    array of float, shape (n_channels, n_samples - 1)
    """
    steps = _dilate(np.abs(np.diff(data, axis=-1)), JITTER_SAMPLES)
    # nanmedian is several times slower than median: only where there are gaps to skip.
    slope = (np.median(steps, axis=0) if np.isfinite(steps).all()
             else np.nanmedian(steps, axis=0))
    quiet = reference_mask(times)[1:]
    reference = slope[:, quiet] if quiet.sum() >= 3 else slope
    level = np.median(reference, axis=-1, keepdims=True)
    level = np.where(np.isfinite(level) & (level > 0), level, np.finfo(float).tiny)
    return slope / level


def _runs(hits, times, widened=0):
    """Runs of consecutive steep steps: (start_s, end_s, first step, last step) each.

    A step from sample j to j + 1 starts a run at j + 1 and ends one at j. ``widened``: the
    steps were looked for this many samples either side (:func:`slope_ratio`), so each run is
    narrowed back by as much (to its middle step if shorter).
    """
    index = np.flatnonzero(hits)
    if index.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(index) > 1)
    firsts = index[np.r_[0, breaks + 1]]
    lasts = index[np.r_[breaks, index.size - 1]]
    out = []
    for a, b in zip(firsts, lasts):
        a, b = (a + widened, b - widened) if b - a >= 2 * widened else ((a + b) // 2,) * 2
        out.append((float(times[a + 1]), float(max(times[b], times[a + 1])), int(a), int(b)))
    return out


def _chain(ratio, times, runs, first, sfreq, weak):
    """The steep stretches that follow the first pulse as a train, and the pulses' interval.

    A stretch at artefact strength (``runs``) chains on within one pulse interval of the
    last: until two pulses have shown the interval, the longest one a stimulator uses; then
    the interval seen, with a tolerance for pulses a sample off the grid. Where the train's
    grid predicts the next pulse, a steep sample (``ratio`` above ``weak``) within that
    tolerance is one too, however weak the stretch it is part of. The train ends where
    neither continues it, or where no stimulator's train could reach.

    Returns
    -------
    starts : list of float
        Each pulse's start, s.
    end : float
        End of the train's last steep stretch, s.
    isi : float or None
    """
    tolerance = 2.0 / sfreq + 0.0002
    reach = first[0] + (MAX_TRAIN_PULSES - 1) * TRAIN_ISI_S[1] + PULSE_MAX_S + tolerance
    starts, end, isi = [first[0]], first[1], None
    later = [r for r in runs if r[0] > first[1]]
    while True:
        following = next((r for r in later if r[0] > end), None)
        gap_limit = (TRAIN_ISI_S[1] if isi is None else isi) + tolerance
        if following is not None and following[0] - end <= gap_limit and following[0] <= reach:
            end = following[1]
            if following[0] - starts[-1] >= TRAIN_ISI_S[0] - tolerance:
                starts.append(following[0])
        elif isi is not None and starts[-1] + isi <= reach:
            near = (times[1:] >= starts[-1] + isi - tolerance) & (
                times[1:] <= starts[-1] + isi + tolerance) & (times[1:] > end)
            if not near.any() or ratio[near].max() <= weak:
                break
            at = int(np.flatnonzero(near)[np.argmax(ratio[near])])
            starts.append(float(times[at + 1]))
            end = max(end, float(times[at + 1]))
        else:
            break
        if len(starts) >= 2:
            isi = float(np.median(np.diff(starts)))
    return starts, end, isi


def _pulse_count(starts, end, isi) -> int:
    """Pulses in the train: one per start found, and those merged into a longer stretch."""
    if isi is None:  # one pulse, or pulses merged into one stretch
        return 1 if end - starts[0] <= PULSE_MAX_S else 2
    merged = max(0, int(round((end - starts[-1]) / isi - 0.3)))
    return min(MAX_TRAIN_PULSES, len(starts) + merged)


def find_train(ratio, times, sfreq, threshold=PULSE_SLOPE_RATIO) -> Train | None:
    """The stimulus train in one slope-ratio profile, or None when no artefact is visible.

    The first pulse must lie at the stimulus (:data:`FIRST_PULSE_S`). The train is what
    follows it at artefact strength (at least the first pulse's steepness over
    :data:`PULSE_SIZE_RANGE`), each steep stretch within one pulse interval of the one
    before (1-5 ms, then the interval the pulses showed, a sample of jitter allowed), and
    pulses half as steep as ``threshold`` where the train's grid predicts them, at most
    :data:`MAX_TRAIN_PULSES` intervals from the first. Pulses that merge (a fast train
    at a low sampling rate) are one stretch; whatever is steep beyond a gap longer than the
    train's interval (a large early response, an artefact of a conditioning stimulus) is
    never taken for the stimulus.

    Parameters
    ----------
    ratio : array of float, shape (n_samples - 1,)
        See :func:`slope_ratio`.
    times : array of float, shape (n_samples,)
    sfreq : float
    threshold : float
        How many times steeper than the quiet signal a pulse is.
    """
    ratio = np.asarray(ratio)
    times = np.asarray(times)
    first = _first_pulse(_runs(ratio > threshold, times, JITTER_SAMPLES), ratio, times, sfreq)
    if first is None:
        return None
    start, peak = first
    strong = max(threshold, peak / PULSE_SIZE_RANGE)
    runs = [r for r in _runs(ratio > strong, times, JITTER_SAMPLES) if r[1] >= start]
    head = (runs[0] if runs and runs[0][0] <= max(start, FIRST_PULSE_S[1])
            else (start, start, 0, 0))
    starts, end, isi = _chain(ratio, times, runs, head, sfreq, threshold / 2)
    return Train(max(start, FIRST_PULSE_S[0]), end, _pulse_count(starts, end, isi), isi)


def _first_pulse(runs, ratio, times, sfreq):
    """The first pulse: (start s, steepness), or None.

    A steep run at the stimulus (:data:`FIRST_PULSE_S`); in a sweep exported from about the
    first pulse, which may begin on it with no step into it, the sweep's first sample when
    steep pulses follow within one interval.
    """
    for run in runs:
        if run[0] <= FIRST_PULSE_S[1] and run[1] >= FIRST_PULSE_S[0]:
            return run[0], float(ratio[run[2]:run[3] + 1].max())
    if runs and times[0] > FIRST_PULSE_S[0] and (
            runs[0][0] - times[0] <= TRAIN_ISI_S[1] + 2.0 / sfreq):
        return float(times[0]), float(ratio[runs[0][2]:runs[0][3] + 1].max())
    return None


def rail_samples(channel) -> np.ndarray:
    """Where a saturated amplifier holds the channel at a rail, shape (n_samples,) of bool.

    Most sweeps sit at their maximum or minimum there, two samples or more in a row (a
    channel that is flat throughout has no rail).

    Parameters
    ----------
    channel : array of float, shape (n_sweeps, n_samples)
    """
    top, bottom = channel.max(axis=-1, keepdims=True), channel.min(axis=-1, keepdims=True)
    rail = ((channel == top) | (channel == bottom)) & (top > bottom)
    paired = np.zeros_like(rail)
    paired[:, 1:] = rail[:, 1:] & rail[:, :-1]
    paired[:, :-1] |= paired[:, 1:]
    return paired.mean(axis=0) >= 0.5


def rail_end(channel, start, sfreq) -> int:
    """The last sample of a rail (:func:`rail_samples`) that follows sample ``start``, or -1.

    Only a rail that goes on from where the train ends (gaps under half a millisecond)
    counts: a response's peak is not one.

    Parameters
    ----------
    channel : array of float, shape (n_sweeps, n_samples)
    start : int
    sfreq : float
    """
    held = np.flatnonzero(rail_samples(channel)[start:])
    gap = max(1, int(round(0.0005 * sfreq)))
    if held.size == 0 or held[0] > gap:
        return -1
    breaks = np.flatnonzero(np.diff(held) > gap)
    return int(start + (held[breaks[0]] if breaks.size else held[-1]))


def tail_end(median_sweep, times, start, limit) -> float:
    """Where a channel's artefact tail has decayed: first back within ``limit`` of zero.

    Followed from the largest deflection within :data:`PULSE_MAX_S` of sample ``start`` (the
    last pulse's top) on: the first sample within ``limit`` (V) of the quiet
    level (0), or, should the channel rise again before that (a response starting while the
    tail is still large), the lowest point before the rise: the blank never covers a
    response that can be told from the tail.

    Parameters
    ----------
    median_sweep : array of float, shape (n_samples,)
        The channel's median over sweeps, its quiet level at 0.
    times : array of float, shape (n_samples,)
    start : int
    limit : float

    Returns
    -------
    float
        Time of that sample, s.
    """
    # Smoothed over a fraction of a millisecond: at high sampling rates the median sweep still
    # jumps from sample to sample by more than the tail falls.
    width = max(1, int(round(TAIL_SMOOTH_S / (times[1] - times[0]))))
    magnitude = np.abs(np.convolve(median_sweep, np.ones(width) / width, mode="same"))
    stop = min(magnitude.size, int(np.searchsorted(times, times[start] + TAIL_MAX_S)))
    # The last pulse may still be rising or on its flat top: follow the tail from its peak.
    top = int(np.searchsorted(times, times[start] + PULSE_MAX_S))
    start += int(np.argmax(magnitude[start:max(top, start + 1)]))
    lowest, at = np.inf, start
    for j in range(start, stop):
        if magnitude[j] <= limit:
            return float(times[j])
        if magnitude[j] < lowest:
            lowest, at = magnitude[j], j
        elif magnitude[j] > lowest + max(limit, 0.5 * lowest):
            return float(times[at])
    return float(times[min(stop, magnitude.size) - 1])


#: Sweeps the artefact's statistics are taken from (spread over the case): medians over this
#: many sweeps are as steady as over thousands, and an hour's case costs what a short one does.
ARTEFACT_SWEEPS = 256


def spread_sweeps(n_sweeps: int, most: int) -> np.ndarray:
    """Indices of at most ``most`` sweeps spread evenly over ``n_sweeps`` (all when fewer)."""
    if n_sweeps <= most:
        return np.arange(n_sweeps)
    return np.unique(np.linspace(0, n_sweeps - 1, most).round().astype(int))


def artefact_windows(data, times, sfreq, deciders=None):
    """The span to blank on each channel, from the stimulus train seen in the data.

    The train is found (see :func:`find_train`) in the median slope ratio of the channels that
    may decide it, EMG channels (``deciders``). Each channel is then blanked from the train's
    start until its own artefact is over: through any later pulses at its own artefact
    strength, through the samples where its amplifier sat at a rail, and until its median
    sweep is back within :data:`TAIL_LIMIT_V` (or :data:`TAIL_NOISE_K` of that median's noise)
    of its quiet level (:func:`tail_end`), at least :data:`ARTEFACT_MARGINS_S` past the
    train. Sweeps that start within :data:`FIRST_PULSE_S` of the stimulus are blanked from
    their first sample. Channels that do not decide it (respiratory belts, pressure, unknown signals
    beside EMG) take the common span. Without a visible train, :data:`DEFAULT_ARTEFACT_S`.
    Every statistic is taken over at most :data:`ARTEFACT_SWEEPS` sweeps spread over the case.

    Parameters
    ----------
    data : array of float, shape (n_sweeps, n_channels, n_samples)
    times : array of float, shape (n_samples,)
    sfreq : float
    deciders : array of bool, shape (n_channels,), optional
        Channels whose artefact counts; default all.

    Returns
    -------
    windows : array of float, shape (n_channels, 2)
        Start and end of the blank per channel, s.
    train : Train or None
        The train found over the deciding channels.
    """
    n_channels = data.shape[1]
    deciders = np.ones(n_channels, bool) if deciders is None else np.asarray(deciders, bool)
    if not deciders.any():
        deciders = np.ones(n_channels, bool)
    # The artefact is the same in every sweep: its statistics (medians over sweeps) come from
    # at most ARTEFACT_SWEEPS spread over the case, whatever its length.
    data = data[spread_sweeps(data.shape[0], ARTEFACT_SWEEPS)]
    # Channel by channel (each channel's ratio is its own): temporaries of one channel's sweeps.
    ratio = np.concatenate([
        _steepness(np.where(np.isfinite(part), part, 0.0), times)
        for part in np.split(data, n_channels, axis=1)])
    train = find_train(np.median(ratio[deciders], axis=0), times, sfreq)
    common = train.blank_s if train is not None else DEFAULT_ARTEFACT_S
    windows = np.tile(np.asarray(common, float), (n_channels, 1))
    if times[0] > FIRST_PULSE_S[0]:
        # Sweeps exported from about the first pulse: it may land before their first sample,
        # which then holds artefact without a step into it.
        windows[:, 0] = times[0]
    # Without a visible train the stimulus is the train (a single pulse on which a sweep
    # exported from the stimulus begins): a saturated channel's recovery is followed all the
    # same.
    reference = train if train is not None else Train(0.0, 0.0, 1, None)
    for c in np.flatnonzero(deciders):
        windows[c, 1] = max(windows[c, 1], _channel_artefact_end(
            data[:, c], ratio[c], times, sfreq, reference))
    return windows, train


def _steepness(channel, times) -> np.ndarray:
    """One channel's slope ratio, its rails counted as steep as its steepest step.

    A saturated amplifier sits still at its rail while the train goes on: the pulses it hides
    are artefact all the same.

    Parameters
    ----------
    channel : array of float, shape (n_sweeps, 1, n_samples)

    Returns
    -------
    array of float, shape (1, n_samples - 1)
    """
    ratio = slope_ratio(remove_offset(channel, times), times)
    rail = rail_samples(channel[:, 0])
    stepped = rail[1:] | rail[:-1]
    if stepped.any():
        ratio[0, stepped] = np.maximum(ratio[0, stepped], ratio[0].max())
    return ratio


def _channel_artefact_end(channel, ratio, times, sfreq, train) -> float:
    """Where one channel's artefact ends, s: its own pulses, rails and tail (see above).

    Parameters
    ----------
    channel : array of float, shape (n_sweeps, n_samples)
    ratio : array of float, shape (n_samples - 1,)
        The channel's slope ratio.
    """
    finite = np.where(np.isfinite(channel), channel, 0.0)
    own = find_train(ratio, times, sfreq)
    end = train.end_s if own is None else max(train.end_s, own.end_s)
    at_least = end + ARTEFACT_MARGINS_S[1]
    start = int(np.searchsorted(times, end))
    start = max(start, rail_end(finite, min(start, times.size - 1), sfreq) + 1)
    if start >= times.size:
        return float(times[-1])
    quiet = reference_mask(times)
    centred = finite - np.median(finite[:, quiet], axis=-1, keepdims=True)
    median_sweep = np.median(centred, axis=0)
    spread = 1.4826 * np.median(np.abs(centred[:, quiet] - np.median(centred[:, quiet])))
    # The median of n sweeps is about 1.25 / sqrt(n) times as noisy as one sweep.
    limit = max(TAIL_LIMIT_V, TAIL_NOISE_K * 1.25 * spread / np.sqrt(channel.shape[0]))
    return max(at_least, tail_end(median_sweep, times, start, limit))


def first_pulse(data, sfreq, threshold=PULSE_SLOPE_RATIO):
    """Time (s from the sweep start) of the first stimulus pulse in episodic sweeps, or None.

    For sweeps that do not record when the stimulus was: the first step anywhere in the sweep
    that is ``threshold`` times steeper than the channel's typical step (median over sweeps,
    pooled over channels by their median).
    """
    slope = np.nanmedian(np.abs(np.diff(np.where(np.isfinite(data), data, 0.0), axis=-1)),
                         axis=0)
    level = np.median(slope, axis=-1, keepdims=True)
    level = np.where(level > 0, level, np.finfo(float).tiny)
    hits = np.flatnonzero(np.median(slope / level, axis=0) > threshold)
    return None if hits.size == 0 else float((hits[0] + 1) / sfreq)


def remove_offset(data, times) -> np.ndarray:
    """Subtract each sweep's median where it is quiet (the electrode offset).

    Before the stimulus; in sweeps that start at the stimulus, their last 30 %
    (:func:`reference_mask`).
    """
    return data - np.median(data[..., reference_mask(times)], axis=-1, keepdims=True)


def blank_artefact(data, times, windows) -> np.ndarray:
    """Replace each channel's samples in its ``[start, end]`` by a straight line.

    Interpolating before filtering keeps the artefact's energy out of the band-pass, which
    would otherwise smear it into the response window.

    Parameters
    ----------
    data : array of float, shape (n_sweeps, n_channels, n_samples)
    times : array of float, shape (n_samples,)
    windows : array of float, shape (n_channels, 2) or (2,)
        The span to blank per channel (one span for all), s; NaN: nothing.
    """
    out = np.array(data, copy=True)
    _blank_in_place(out, times, windows)
    return out


def _blank_in_place(out, times, windows) -> None:
    """:func:`blank_artefact` on ``out`` itself."""
    windows = np.broadcast_to(np.asarray(windows, float), (out.shape[1], 2))
    # The first and last sample in each span (times increase); none where a bound is NaN.
    firsts = np.searchsorted(times, windows[:, 0], side="left")
    lasts = np.searchsorted(times, windows[:, 1], side="right") - 1
    for c, (first, last) in enumerate(zip(firsts.tolist(), lasts.tolist())):
        if first > last or np.isnan(windows[c]).any():
            continue
        after = min(last + 1, times.size - 1)
        # A blank from the sweep's first sample (sweeps exported from the first pulse) holds
        # the value after it: the samples before it are artefact too.
        before = first - 1 if first > 0 else after
        weight = (np.arange(first, last + 1) - before) / max(after - before, 1)
        # The ends are read before the span is written (a blank from the first sample holds
        # the value after it).
        out[:, c, first:last + 1] = (out[:, c, before, None] * (1 - weight)
                                     + out[:, c, after, None] * weight)


def bandpass(data, sfreq, band_hz=DEFAULT_BAND_HZ, order=2) -> np.ndarray:
    """Zero-phase Butterworth band-pass (second-order sections, forward and backward).

    The sweep is padded by odd reflection over its whole length, so a short sweep does not
    ring at its edges for a low high-pass edge. ``band_hz=None`` leaves the data as they are
    (exports the vendor already filtered).
    """
    if band_hz is None:
        return np.array(data, dtype=float, copy=True)
    check_band(band_hz, sfreq)
    design = (order, float(band_hz[0]), float(band_hz[1]), float(sfreq))
    # Copies of the cached design: SciPy's filter wants it writable.
    return zero_phase(_butter_bandpass(*design).copy(), np.asarray(data), data.shape[-1] - 1,
                      zi=_steady_state(*design).copy())


def zero_phase(sos, data, padlen: int, zi=None) -> np.ndarray:
    """``scipy.signal.sosfiltfilt(sos, data, padtype="odd", padlen=padlen)``, bit for bit.

    Along the last axis. The backward pass stops at the first sample kept instead of running
    on through the padding before it, whose values SciPy computes and then drops (a sixth of
    the filtering when the sweep is padded by its length on both sides), and the padded copy
    is built in place: 13-15 % less time than SciPy's on chunks of sweeps. ``zi``:
    ``scipy.signal.sosfilt_zi(sos)``, when the caller has it.
    """
    from scipy.signal import sosfilt, sosfilt_zi

    shape, n = data.shape, data.shape[-1]
    if n <= padlen:  # as SciPy refuses it
        raise ValueError(f"The length of the input vector x must be greater than padlen, which "
                         f"is {padlen}.")
    rows = data.reshape(-1, n)
    # The odd extension, as scipy.signal's odd_ext computes it.
    extended = np.empty((rows.shape[0], n + 2 * padlen), np.result_type(rows, np.float64))
    extended[:, padlen:padlen + n] = rows
    if padlen:
        np.subtract(2 * rows[:, :1], rows[:, padlen:0:-1], out=extended[:, :padlen])
        np.subtract(2 * rows[:, -1:], rows[:, -2:-padlen - 2:-1], out=extended[:, padlen + n:])
    # The steady state for a unit step, scaled by each row's first value.
    zi = (sosfilt_zi(sos) if zi is None else zi)[:, None, :]
    forward, _ = sosfilt(sos, extended, axis=-1, zi=zi * extended[None, :, :1])
    backward = forward[:, :padlen - 1:-1] if padlen else forward[:, ::-1]
    backward = np.ascontiguousarray(backward)  # from the last sample down to the first kept
    filtered, _ = sosfilt(sos, backward, axis=-1, zi=zi * backward[None, :, :1])
    return filtered[:, :-n - 1:-1].reshape(shape)


@functools.lru_cache(maxsize=16)
def _butter_bandpass(order: int, low_hz: float, high_hz: float, sfreq: float) -> np.ndarray:
    """The band-pass's second-order sections, designed once per case (read-only: copy it).

    Sweeps are filtered a chunk at a time, twice each (the sweep and its noise window): the
    design took a tenth of the filtering time when made for every call.
    """
    from scipy.signal import butter

    sos = butter(order, [low_hz, high_hz], btype="bandpass", fs=sfreq, output="sos")
    sos.flags.writeable = False
    return sos


@functools.lru_cache(maxsize=16)
def _steady_state(order: int, low_hz: float, high_hz: float, sfreq: float) -> np.ndarray:
    """``sosfilt_zi`` of :func:`_butter_bandpass`'s design, once per case (read-only)."""
    from scipy.signal import sosfilt_zi

    zi = sosfilt_zi(_butter_bandpass(order, low_hz, high_hz, sfreq).copy())
    zi.flags.writeable = False
    return zi


def check_band(band_hz, sfreq) -> None:
    """Refuse band edges that are not 0 < low < high < Nyquist."""
    low, high = band_hz
    nyquist = sfreq / 2.0
    if not 0 < low < high:
        raise InputError(f"band must satisfy 0 < low < high, got {list(band_hz)}")
    if high >= nyquist:
        raise InputError(f"the band's upper edge ({high:g} Hz) must be below the Nyquist "
                         f"frequency ({nyquist:g} Hz) of the {sfreq:g} Hz recording")


def sweep_noise(data, times, sfreq, band_hz, window_s=DEFAULT_NOISE_WINDOW_S):
    """The pre-stimulus noise of every sweep, from its noise window alone.

    The window is cut out first and band-passed on its own, so nothing outside it (the
    stimulus artefact, a response, a conditioning stimulus before the window) can reach the
    noise figure: a zero-phase filter over the whole sweep would carry a large response
    backwards into the pre-stimulus samples.

    Parameters
    ----------
    data : array of float, shape (n_sweeps, n_channels, n_samples)
        Sweeps with the offset (and hum) removed, not yet filtered.
    times : array of float, shape (n_samples,)
    sfreq : float
    band_hz : tuple of float or None
    window_s : tuple of float

    Returns
    -------
    quiet : array of float, shape (n_sweeps, n_channels, n_window_samples)
        The filtered noise window.
    noise : array of float, shape (n_sweeps, n_channels)
        Its standard deviation, V (NaN without a window).
    """
    mask = noise_window_mask(times, window_s)
    if mask.sum() < 3:
        empty = np.zeros(data.shape[:2] + (0,))
        return empty, np.full(data.shape[:2], np.nan)
    quiet = bandpass(data[..., mask], sfreq, band_hz)
    return quiet, quiet.std(axis=-1)


def sizes_after(conditioned, times, after_s) -> np.ndarray:
    """Every sweep's peak-to-peak after its channel's artefact, V.

    Their median over sweeps is the channel's typical size, which :func:`reject_sweeps` holds
    a noisy sweep's noise against.

    Returns
    -------
    array of float, shape (n_sweeps, n_channels)
        NaN on channels with fewer than 2 samples after the artefact.
    """
    out = np.full(conditioned.shape[:2], np.nan)
    for c, start in enumerate(np.broadcast_to(after_s, out.shape[1:])):
        first = int(np.searchsorted(times, start, side="right"))  # times increase
        if times.size - first >= 2:
            out[:, c] = np.ptp(conditioned[:, c, first:], axis=-1)
    return out


def reject_sweeps(raw, noise, noise_ratio=NOISE_REJECT_RATIO, flat_v=1e-7, clip_run_s=0.001,
                  sfreq=None, typical=None, share=NOISE_REJECT_SHARE, quiet=None, times=None,
                  artefact_s=None, faults=None):
    """Decide which sweep x channel pairs cannot be measured, and why.

    Parameters
    ----------
    raw : array of float, shape (n_sweeps, n_channels, n_samples), or None
        Sweeps before filtering (clipping and flat lines are seen there); None with
        ``faults``.
    noise : array of float, shape (n_sweeps, n_channels)
        Pre-stimulus noise of each sweep (see :func:`sweep_noise`).
    noise_ratio : float
        A sweep whose pre-stimulus noise exceeds this many times the channel's median is
        rejected as contaminated (electrocautery and other bursts)...
    typical : array of float, shape (n_channels,), optional
        ... when the noise also exceeds ``share`` of the channel's typical peak-to-peak (the
        median over sweeps of :func:`sizes_after`); without it, whatever its size.
    flat_v : float
        Peak-to-peak below this (V) over the whole sweep is a flat line.
    clip_run_s : float
        A run at the sweep's extreme value lasting this long is amplifier clipping.
    sfreq : float
        Sampling rate (Hz), needed for ``clip_run_s``.
    quiet : array of float, shape (n_sweeps, n_channels, n_quiet), or QuietFigures, optional
        The filtered noise windows (see :func:`sweep_noise`) or their figures. Given, the noise
        judged is their robust SD (:func:`iomon.processing.onsets.robust_noise`, 1.4826 x the
        median absolute deviation), sweep and channel alike: a brief burst of interference or a
        step inside an otherwise clean window does not make it noisy, noise throughout the
        window (electrocautery) does. Another lab's small MEPs (56-84 µV) were rejected by the
        standard deviation of such windows.
    times : array of float, shape (n_samples,), optional
    artefact_s : array of float, shape (n_channels, 2), optional
        Each channel's blanked artefact (s; NaN: none): an amplifier that saturates during
        the stimulus train is not clipping what is measured, so clipping is looked for
        outside it.
    faults : array of str, shape (n_sweeps, n_channels), optional
        What :func:`raw_faults` found in ``raw``, when the raw sweeps were looked at chunk by
        chunk as they were read (then ``raw``, ``flat_v``, ``clip_run_s``, ``sfreq``, ``times``
        and ``artefact_s`` are not used).

    Returns
    -------
    rejected : array of bool, shape (n_sweeps, n_channels)
    reason : array of str, shape (n_sweeps, n_channels)
        One of :data:`REASONS` (``""`` where kept).
    """
    reason = np.full(np.shape(noise), "", dtype=object)
    if quiet is not None:
        from .onsets import QuietFigures

        robust = (quiet if isinstance(quiet, QuietFigures) else QuietFigures.of(quiet)).robust
        noise = noise if robust is None else robust
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a channel without any noise figure
        usual = np.nanmedian(noise, axis=0, keepdims=True)
        noisy = noise > noise_ratio * usual
        if typical is not None:
            noisy &= noise > share * np.asarray(typical, float)[None, :]
    reason[noisy] = "noisy baseline"
    if faults is None:
        from .measures import sweep_chunks

        faults = np.concatenate([raw_faults(raw[part], sfreq, times, artefact_s, flat_v,
                                            clip_run_s) for part in sweep_chunks(raw.shape)])
    found = faults != ""  # what the raw sweeps show outranks their noise
    reason[found] = faults[found]
    return reason != "", reason.astype(str)


def raw_faults(raw, sfreq=None, times=None, artefact_s=None, flat_v=1e-7,
               clip_run_s=0.001) -> np.ndarray:
    """What the raw sweeps show that rules a sweep x channel out, before any filtering.

    ``"nan"`` (a sample that is not a number), else ``"flat"`` (peak-to-peak under
    ``flat_v``), else ``"clipped"`` (a run of ``clip_run_s`` at the extreme value, outside
    the blanked artefact; looked for only with ``sfreq``), else ``""``. Every verdict is a
    sweep's own, so sweeps can be judged a chunk at a time as they are read.

    Parameters
    ----------
    raw : array of float, shape (n_sweeps, n_channels, n_samples)
    sfreq, times, artefact_s, flat_v, clip_run_s
        As for :func:`reject_sweeps`.

    Returns
    -------
    array of str, shape (n_sweeps, n_channels)
    """
    faults = np.full(raw.shape[:2], "", dtype=object)
    if sfreq is not None:
        run = max(int(round(clip_run_s * sfreq)), 2)
        faults[clipped_sweeps(raw, run, _outside(raw.shape, times, artefact_s))] = "clipped"
    # One pass each for the largest and smallest sample: a NaN or an infinity in a sweep
    # makes one of them not finite (NumPy's max and min propagate NaN).
    top, bottom = raw.max(axis=-1), raw.min(axis=-1)
    with np.errstate(invalid="ignore"):
        faults[top - bottom < flat_v] = "flat"
    faults[~(np.isfinite(top) & np.isfinite(bottom))] = "nan"
    return faults.astype(str)


def _outside(shape, times, artefact_s):
    """Samples outside each channel's blanked artefact: bool (n_channels, n_samples), or None.

    None when there is no artefact to leave out (every sample counts).
    """
    if times is None or artefact_s is None:
        return None
    outside = np.ones(shape[1:], bool)
    for c, (start, end) in enumerate(np.asarray(artefact_s, float)):
        if np.isfinite(start):
            outside[c] &= ~((times >= start) & (times <= end))
    return outside


def clipped_sweeps(raw, run, outside=None) -> np.ndarray:
    """Sweep x channel pairs that stay at their extreme value for ``run`` samples or more.

    Parameters
    ----------
    raw : array of float, shape (n_sweeps, n_channels, n_samples)
    run : int
    outside : array of bool, shape (n_channels, n_samples), optional
        The samples to look at (default all): an amplifier saturated by the stimulus train
        is not clipping what is measured, so the blanked artefact is left out, neither an
        extreme nor part of a run.

    Returns
    -------
    array of bool, shape (n_sweeps, n_channels)
    """
    from .onsets import window_counts

    clipped = np.zeros(raw.shape[:2], bool)
    if raw.shape[-1] < run:
        return clipped
    mask = np.ones(raw.shape[1:], bool) if outside is None else np.asarray(outside, bool)
    for extreme in _masked_extremes(raw, mask):
        at = (raw == extreme[..., None]) & mask
        # A run of `run` samples at the extreme needs `run` of them at all: only the few
        # sweeps with that many (a clipped amplifier, a flat line) are searched for the run.
        many = np.count_nonzero(at, axis=-1) >= run
        if many.any():
            clipped[many] |= (window_counts(at[many], run) >= run).any(axis=-1)
    return clipped


def _masked_extremes(raw, mask):
    """Largest and smallest sample of each sweep x channel among ``mask``'s samples.

    Reduced over the mask's runs of samples as views (a channel's blank is one run left out),
    without a masked copy of the sweeps; NaN where one is NaN, as np.max gives it. -inf and
    +inf where a channel has no sample.
    """
    top = np.full(raw.shape[:2], -np.inf)
    bottom = np.full(raw.shape[:2], np.inf)
    padded = np.zeros((mask.shape[0], mask.shape[1] + 2), bool)
    padded[:, 1:-1] = mask
    changes = padded[:, 1:] != padded[:, :-1]  # where each run of kept samples starts and ends
    for c in range(mask.shape[0]):
        edges = np.flatnonzero(changes[c])
        for a, b in zip(edges[::2].tolist(), edges[1::2].tolist()):
            np.maximum(top[:, c], raw[:, c, a:b].max(axis=-1), out=top[:, c])
            np.minimum(bottom[:, c], raw[:, c, a:b].min(axis=-1), out=bottom[:, c])
    return top, bottom


#: Degree of the polynomial fitted beside the hum (offset, slope and the curvature of slow
#: electrode drift over a sweep); it is not subtracted.
_DRIFT_DEGREE = 3
#: ... and when the quiet samples lie at one end of the sweep only (an export that starts at
#: the stimulus: 15-25 ms after the responses). Over one or two mains cycles a cubic and the
#: 50 Hz sinusoid are nearly collinear, so the fit traded one for the other and subtracted a
#: "hum" of tens of µV from the whole sweep: measured on simulated 3 kHz sweeps of 0-100 ms
#: with 5 µV of noise, the noise after the responses read 11-16 µV with the cubic, 4.3-4.8 µV
#: with a line (which is what drift is over 20 ms).
_ONE_END_DRIFT_DEGREE = 1


def detect_mains(signals, sfreq, min_ratio=4.0):
    """Mains frequency (50 or 60 Hz) from a stretch of continuous recording, or None.

    The Welch spectrum (0.5 s segments, 2 Hz resolution) of each channel is compared at 50
    and 60 Hz with its median over the 20 Hz around; the frequency standing out more, summed
    over channels, wins if it stands out ``min_ratio``-fold. Sweeps alone are too short to tell
    the two apart reliably.

    Parameters
    ----------
    signals : array of float, shape (n_channels, n_samples)
        At least 0.5 s of recording free of stimuli (see :func:`iomon.io.quiet_stretch`).
    sfreq : float
    """
    from scipy.signal import welch

    segment = int(0.5 * sfreq)
    if signals.shape[-1] < segment or sfreq < 200:
        return None
    freqs, power = welch(signals, fs=sfreq, nperseg=segment, axis=-1)
    scores = {}
    for mains in (50.0, 60.0):
        peak = (freqs >= mains - 1) & (freqs <= mains + 1)
        around = (np.abs(freqs - mains) <= 10) & ~((freqs >= mains - 2) & (freqs <= mains + 2))
        ratio = power[:, peak].max(axis=-1) / np.maximum(np.median(power[:, around], axis=-1),
                                                        np.finfo(float).tiny)
        scores[mains] = float(np.sum(ratio))
    best = max(scores, key=scores.get)
    return best if scores[best] / signals.shape[0] >= min_ratio else None


def _mains_design(times, mains_hz, n_harmonics=3, reference=None, drift_degree=_DRIFT_DEGREE):
    centre, half = reference if reference is not None else (times.mean(), np.ptp(times) / 2)
    tau = (times - centre) / half
    columns = [tau ** d for d in range(drift_degree + 1)]
    for k in range(1, n_harmonics + 1):
        phase = 2 * np.pi * k * mains_hz * times
        columns += [np.sin(phase), np.cos(phase)]
    return np.stack(columns, axis=-1)


#: Harmonics of the mains frequency fitted and subtracted with it (50, 100 and 150 Hz).
MAINS_HARMONICS = 3


def remove_mains(data, times, fit_mask, mains_hz=None, n_harmonics=MAINS_HARMONICS,
                 drift_degree=_DRIFT_DEGREE):
    """Subtract mains hum (and its harmonics) fitted where there is no response.

    A notch filter rings for longer than a 100 ms sweep lasts, so the hum is instead fitted by
    least squares, one sine and cosine per harmonic plus a cubic for the drift, on the samples
    of ``fit_mask`` (before the stimulus and after the responses), and subtracted from the
    whole sweep. All sweeps and channels share one design matrix, so this is one solve.

    Parameters
    ----------
    data : array of float, shape (n_sweeps, n_channels, n_samples)
    times : array of float, shape (n_samples,)
    fit_mask : array of bool, shape (n_samples,)
        Samples free of artefact and response.
    mains_hz : float
        50 or 60 (see :func:`detect_mains`).
    n_harmonics : int
    drift_degree : int
        Degree of the drift polynomial fitted beside the hum: a cubic where ``fit_mask`` holds
        samples at both ends of the sweep, a line where it holds the end after the responses
        only (:data:`_ONE_END_DRIFT_DEGREE`).

    Returns
    -------
    cleaned : array of float, same shape as ``data``
    mains_hz : float
    """
    hum = _hum(data, times, fit_mask, float(mains_hz), n_harmonics, drift_degree)
    return data - hum.T.reshape(data.shape), float(mains_hz)


def _hum(data, times, fit_mask, frequency, n_harmonics, drift_degree) -> np.ndarray:
    """The hum :func:`remove_mains` subtracts: shape (n_samples, n_sweeps x n_channels)."""
    times, fit_mask = np.asarray(times), np.asarray(fit_mask)
    fit, sweep = _hum_operators((times.tobytes(), times.dtype.str),
                                (fit_mask.tobytes(), fit_mask.dtype.str), float(frequency),
                                int(n_harmonics), int(drift_degree))
    flat = data[..., fit_mask].reshape(-1, times[fit_mask].size).T
    return sweep @ (fit @ flat)


@functools.lru_cache(maxsize=8)
def _hum_operators(times, fit_mask, frequency, n_harmonics, drift_degree):
    """The hum's least-squares fit and its design over the sweep, once per case (read-only).

    One pseudo-inverse for every sweep and channel (the least-squares solution, as lstsq's,
    without solving the same system once per right-hand side); only the hum's rows are
    needed: the fitted drift polynomial is not hum and stays. ``times`` and ``fit_mask`` come
    as (bytes, dtype), the key every chunk of a case shares.
    """
    times, fit_mask = (np.frombuffer(values, dtype) for values, dtype in (times, fit_mask))
    reference = (times.mean(), np.ptp(times) / 2)  # one polynomial scale for fit and sweep
    drift = drift_degree + 1
    design = _mains_design(times[fit_mask], frequency, n_harmonics, reference, drift_degree)
    fit = np.linalg.pinv(design)[drift:]
    sweep = _mains_design(times, frequency, n_harmonics, reference, drift_degree)[:, drift:]
    fit.flags.writeable = sweep.flags.writeable = False
    return fit, sweep


def condition(data, times, sfreq, band_hz, artefact_s, mains_hz=None, quiet_after_s=None,
              noise_window_s=DEFAULT_NOISE_WINDOW_S):
    """Offset removal, artefact blanking, mains removal and band-pass, in that order.

    Hum is subtracted before filtering: the filter's edge transients would otherwise bend the
    sinusoid near the ends of the sweep, where the pre-stimulus noise is measured. The noise
    is measured on the noise window alone (see :func:`sweep_noise`).

    Parameters
    ----------
    data : array of float, shape (n_sweeps, n_channels, n_samples)
    times : array of float, shape (n_samples,)
    sfreq : float
    band_hz : tuple of float or None
        None: no band-pass.
    artefact_s : array of float, shape (n_channels, 2) or (2,), or None
        Span to blank per channel (see :func:`artefact_windows`); None: no blanking.
    mains_hz : float or None
        50 or 60; None or 0 to leave hum in.
    quiet_after_s : float or None
        After this time no channel holds a response; the hum is fitted there and before the
        stimulus. None (or too short a span) leaves hum in.
    noise_window_s : tuple of float

    Returns
    -------
    conditioned : array of float, same shape
    mains_hz : float or None
        The mains frequency removed, None if none was.
    quiet : array of float, shape (n_sweeps, n_channels, n_window_samples)
        The filtered noise window of every sweep.
    noise : array of float, shape (n_sweeps, n_channels)
        Pre-stimulus noise (standard deviation), V.

    Notes
    -----
    Every step is a sweep's own, so sweeps are conditioned
    :data:`~iomon.processing.measures.CHUNK_BYTES` at a time: the temporaries (the filter pads each
    sweep to three times its length) stay a few copies of a chunk, not of hours of sweeps.
    """
    from .measures import sweep_chunks

    conditioned = np.empty(data.shape)
    quiet, noise, removed = [], [], None
    for part in sweep_chunks(data.shape):
        conditioned[part], removed, quiet_part, noise_part = _condition_sweeps(
            data[part], times, sfreq, band_hz, artefact_s, mains_hz, quiet_after_s,
            noise_window_s)
        quiet.append(quiet_part)
        noise.append(noise_part)
    return conditioned, removed, np.concatenate(quiet), np.concatenate(noise)


def hum_fits(late_s: float, early_s: float) -> bool:
    """Whether hum can be fitted from quiet spans this long after the responses and before.

    Spans in s, after the responses and before the stimulus; see :data:`MIN_LATE_FIT_S`,
    :data:`MIN_BOTH_ENDS_S`.
    """
    return late_s >= MIN_LATE_FIT_S or (early_s >= MIN_BOTH_ENDS_S[0]
                                        and late_s >= MIN_BOTH_ENDS_S[1])


def _condition_sweeps(data, times, sfreq, band_hz, artefact_s, mains_hz, quiet_after_s,
                      noise_window_s):
    """:func:`condition` of some of the sweeps."""
    # NaN samples (a sweep rejected as "nan") count as 0; the arrays below are this
    # function's own, changed in place.
    finite = data if np.isfinite(data).all() else np.where(np.isfinite(data), data, 0.0)
    clean = remove_offset(finite, times)
    if artefact_s is not None:
        _blank_in_place(clean, times, artefact_s)
        fit_before = float(np.min(np.asarray(artefact_s)[..., 0]))
    else:
        fit_before = 0.0
    removed = None
    if mains_hz and quiet_after_s is not None:
        late, early = times > quiet_after_s, times < fit_before
        late_s, early_s = late.sum() / sfreq, early.sum() / sfreq
        if hum_fits(late_s, early_s):
            # Under 2 ms before the stimulus, every quiet sample follows the responses.
            one_end = early_s < MIN_BOTH_ENDS_S[1]
            clean, removed = remove_mains(
                clean, times, late | early, mains_hz,
                drift_degree=_ONE_END_DRIFT_DEGREE if one_end else _DRIFT_DEGREE)
    quiet, noise = sweep_noise(clean, times, sfreq, band_hz, noise_window_s)
    return bandpass(clean, sfreq, band_hz), removed, quiet, noise


def artefact_deciders(channels) -> np.ndarray:
    """Channels whose stimulus artefact decides the blanked span: EMG channels.

    Channels of a known muscle; without any, every channel whose label does not name another
    signal (respiration, pressure, ECG, trigger...); without any such, all.
    """
    from ..model.muscles import looks_like_emg

    emg = [looks_like_emg(ch.name, ch.muscle) for ch in channels]
    known = np.array([e is True for e in emg])
    if known.any():
        return known
    unknown = np.array([e is None for e in emg])
    return unknown if unknown.any() else np.ones(len(channels), bool)


def plan_artefact(data, times, sfreq, channels, setting):
    """The span to blank per channel, the train found, and notes on responses it may hide.

    Parameters
    ----------
    data : array of float, shape (n_sweeps, n_channels, n_samples)
    times : array of float, shape (n_samples,)
    sfreq : float
    channels : sequence of Channel
    setting : tuple of float, "none" or None
        The resolved ``artefact_s`` setting (None: find it in the data).

    Returns
    -------
    windows : array of float, shape (n_channels, 2)
        NaN where nothing is blanked.
    train : Train or None
    notes : list of str
    """
    from ..model.muscles import MUSCLES

    n = len(channels)
    if setting == "none":
        return np.full((n, 2), np.nan), None, []
    if setting is not None:
        return np.tile(np.asarray(setting, float), (n, 1)), None, []
    windows, train = artefact_windows(data, times, sfreq, artefact_deciders(channels))
    notes = []
    for ch, (_, end) in zip(channels, windows):
        if ch.muscle in MUSCLES and end > MUSCLES[ch.muscle].onset_s[0]:
            notes.append(f"the stimulus artefact was blanked to {end * 1e3:.1f} ms on {ch.name}, "
                         f"into its expected response (from {MUSCLES[ch.muscle].onset_s[0] * 1e3:g}"
                         " ms): an early response there is hidden (set [processing] artefact_ms "
                         "to change the span)")
    return windows, train, notes
