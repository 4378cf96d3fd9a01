"""Onset latency of motor evoked potentials: where each response leaves its baseline.

Every method starts from one localisation of the response (:func:`localise`), which a
neurophysiologist would do by eye before placing a cursor: the response is the first excursion
well beyond the noise that is not something else, and its baseline is the signal just before
it, never the blanked artefact. What is something else:

- the remnant of the stimulus artefact after the blank, or a wave already under way when the
  response window opens: the search starts once it has died down, or follows it as a
  straight line while it decays slowly (a tail);
- a brief burst of interference (square waves, a spike) after which the signal returns to its
  baseline for :data:`RETURN_S`: skipped;
- a baseline step (an abrupt jump to a new level held for :data:`PLATEAU_S`): the new level
  becomes the baseline; so does a level the signal holds, off its baseline but short of the
  threshold, in the stretch the onset is traced back through (a small step, or the artefact's
  remnant just after the blank).

The onset itself is then placed by one of :data:`ONSET_METHODS`: the threshold method (Hodges
& Bui 1996; the default, it agrees best with published onsets of real MEPs), the
Teager-Kaiser energy operator (Li, Zhou & Aruin 2007; Solnik et al. 2010) or the
maximum-likelihood change point (Staude & Wolf 1999; Staude et al. 2001). An onset earlier
than the muscle can respond (:func:`earliest_onsets`) is re-examined from there; where no
later onset exists it is kept and flagged, and the case's notes say so (:func:`onset_notes`).

Arrays are (n_sweeps, n_channels, n_samples) in volts and seconds, as in
:mod:`iomon.processing.measures`. Most sweeps need none of the special cases: they are
measured all at once; the few that might (an excursion at the window's start, a return to the
baseline or a plateau after the first excursion, a long trace-back, an implausibly early
onset) are examined one by one, by the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model.muscles import MUSCLES

__all__ = ["CHANGEPOINT_PRE_S", "CHANGEPOINT_SPAN_S", "DEFAULT_ONSET_METHOD",
           "EARLIEST_MARGIN_S", "FLAT_PEAK_K", "FLAT_RMS_K", "JUMP_S", "LEVEL_SPAN_S",
           "ONSET_BAND_K", "ONSET_HOLD_S", "ONSET_K", "ONSET_METHODS", "ONSET_PEAK_SHARE",
           "PLATEAU_S", "RETURN_S", "SETTLE_S", "TKEO_H", "Localised", "QuietFigures",
           "earliest_onsets", "localise", "measured_span", "onset_changepoint", "onset_notes",
           "onset_tkeo", "robust_noise", "teager_kaiser", "tkeo_own", "tkeo_threshold",
           "window_counts"]

#: The onset methods ``[processing] onset_method`` may name, and the default: the one that
#: agrees best with the onsets published for real MEPs (benchmarks/real_mep_agreement.py).
ONSET_METHODS = ("threshold", "tkeo", "changepoint")
DEFAULT_ONSET_METHOD = "threshold"

#: A response is an excursion beyond this many noise SD from its baseline...
ONSET_K = 5.0
#: ... held this long (s)...
ONSET_HOLD_S = 0.0005
#: ... and beyond this share of the sweep's peak-to-peak: in a very quiet recording (noise
#: below 1 µV) slow background fluctuations of a few µV cross 5 SD long before the response.
ONSET_PEAK_SHARE = 0.02
#: The onset is traced back to where the signal was last within this many noise SD of its
#: baseline (or on its other side). 2.5 SD is MEPFeatX's 3 mean absolute deviations of the
#: background; with 2 SD the slow wander of the quiet, smooth real MEPs of MEPFeatX's
#: tibialis subject ID02 led the trace-back early (benchmarks/real_mep_agreement.py: 85 %
#: within 1 ms there, 95 % with 2.5 SD); choosing among 2, 2.5 and 3 SD leaving one subject
#: out does as well as 2.5 SD (README, "Agreement").
ONSET_BAND_K = 2.5
#: The baseline level is the median of the samples this long before the response window (s);
#: where that span would reach into the blanked artefact or before the stimulus, it is the
#: pre-stimulus level, 0 (the remnant of the artefact lingers a little after the blank).
LEVEL_SPAN_S = 0.003
#: An excursion after which the signal is back at its baseline for this long (s) before the
#: largest deflection of the window was interference, not the response.
RETURN_S = 0.002
#: An abrupt jump (reached within :data:`JUMP_S` of leaving the baseline) to a level held this
#: long (s) is a baseline step. Shorter plateaus are not asked for: the tops of real MEPs'
#: slow phases pass for them (MEPFeatX's tibialis ID02: 65 % within 1 ms with 1.5 ms, 75 %
#: with 2 ms, 95 % with 3 ms).
PLATEAU_S = 0.003
JUMP_S = 0.0005
#: Interference or a step is over within this long after its first excursion (s).
SETTLE_S = 0.010
#: "At a level" / "back at the baseline": residuals within this rms and this peak, in noise SD.
FLAT_RMS_K = 1.5
FLAT_PEAK_K = 3.5
#: A level held off the baseline in the traced-back stretch is a flat stretch this long (s, and
#: at least 6 samples).
FLAT_S = 0.001
_FLAT_MIN_SAMPLES = 6
#: The earliest plausible onset of a muscle: this much before the earliest of its typical
#: onsets (s). Latency scales with height and the spread between adults is 1-2 ms (SD); the
#: typical ranges are themselves spans of the normal.
EARLIEST_MARGIN_S = 0.002
#: TKEO onset threshold: the pre-stimulus energy mean plus this many of its SD. 8 since the
#: statistics come from the noise window alone (15 with those of a whole-sweep filter, which
#: the stimulus inflated): median onset error on simulated cases 0.11 / 0.22 / 0.45 ms at
#: 5 / 10 / 20 µV noise, against 0.11 / 0.24 / 0.56 ms before.
TKEO_H = 8.0
#: The change point is sought from this long before the threshold onset (s) to the first peak
#: within this long after the threshold crossing (s): Staude et al.'s two steps, a detector
#: then the maximum-likelihood estimate near it.
CHANGEPOINT_PRE_S = 0.003
CHANGEPOINT_SPAN_S = 0.002


def robust_noise(quiet) -> np.ndarray:
    """Noise SD of each sweep from its filtered noise window, robustly: 1.4826 x the MAD.

    A burst of interference over part of the window (square waves, a spike) moves the median
    absolute deviation little and the standard deviation a lot; for Gaussian noise both are
    the same.

    Parameters
    ----------
    quiet : array of float, shape (n_sweeps, n_channels, n_quiet)

    Returns
    -------
    array of float, shape (n_sweeps, n_channels), V; NaN with fewer than 5 samples.
    """
    quiet = np.asarray(quiet, float)
    if quiet.shape[-1] < 5:
        return np.full(quiet.shape[:2], np.nan)
    median = np.median(quiet, axis=-1, keepdims=True)
    return 1.4826 * np.median(np.abs(quiet - median), axis=-1)


@dataclass(frozen=True)
class QuietFigures:
    """What each sweep's filtered noise window tells, without the window itself.

    Both figures are a sweep's own, so they can be taken chunk by chunk as sweeps are
    conditioned and the windows (a tenth of the sweeps' size) let go: hours of sweeps then
    hold two numbers per sweep and channel. Index it as an array of (n_sweeps, n_channels).

    Attributes
    ----------
    robust : array of float, shape (n_sweeps, n_channels), or None
        :func:`robust_noise`, V; None when the windows hold fewer than 5 samples.
    energy : array of float, shape (n_sweeps, n_channels), or None
        The TKEO threshold of each sweep alone (:func:`tkeo_own`), V^2; None likewise.
    """

    robust: np.ndarray | None
    energy: np.ndarray | None

    @classmethod
    def of(cls, quiet) -> QuietFigures:
        """The figures of noise windows, shape (n_sweeps, n_channels, n_quiet)."""
        quiet = np.asarray(quiet, float)
        if quiet.shape[-1] < 5:
            return cls(None, None)
        return cls(robust_noise(quiet), tkeo_own(quiet))

    @classmethod
    def concatenate(cls, parts) -> QuietFigures:
        """The figures of consecutive chunks of sweeps, as one."""
        parts = list(parts)
        if parts[0].robust is None:
            return cls(None, None)
        return cls(np.concatenate([p.robust for p in parts]),
                   np.concatenate([p.energy for p in parts]))

    def __getitem__(self, key) -> QuietFigures:
        if self.robust is None:
            return self
        return QuietFigures(self.robust[key], self.energy[key])


def earliest_onsets(muscles) -> np.ndarray:
    """The earliest plausible onset per channel (s): NaN for an unknown muscle.

    Parameters
    ----------
    muscles : sequence of str or None
    """
    return np.array([MUSCLES[m].onset_s[0] - EARLIEST_MARGIN_S if m in MUSCLES else np.nan
                     for m in muscles], dtype=float)


@dataclass(frozen=True)
class Localised:
    """Where each sweep's response starts from and the threshold onset (n_sweeps, n_channels).

    Attributes
    ----------
    crossing : array of int
        First sample of the response's held excursion beyond the threshold, -1 without one.
    onset : array of int
        First sample out of the baseline's band (the threshold onset's sample), -1 without.
    onset_s : array of float
        Threshold onset time, s, interpolated between samples where the signal crosses the
        band; NaN without one.
    start : array of int
        First sample of the stretch the onset may lie in (after any interference or step).
    level, slope, t_ref : array of float
        The baseline at the onset: ``level + slope * (t - t_ref)`` (V, V/s, s).
    earliest : array of bool
        The onset lies before the muscle's earliest plausible onset, and re-examining from
        there found no later one.
    threshold : array of float
        The excursion threshold used, V.
    """

    crossing: np.ndarray
    onset: np.ndarray
    onset_s: np.ndarray
    start: np.ndarray
    level: np.ndarray
    slope: np.ndarray
    t_ref: np.ndarray
    earliest: np.ndarray
    threshold: np.ndarray

    def baseline(self, times) -> np.ndarray:
        """The baseline at every sample, shape (n_sweeps, n_channels, n_samples), V."""
        return self.level[..., None] + self.slope[..., None] * (times - self.t_ref[..., None])


def _first_true(mask, axis=-1):
    """Index of the first True along ``axis``, -1 where there is none."""
    index = np.argmax(mask, axis=axis)
    return np.where(mask.any(axis=axis), index, -1)


def _last_true(mask, axis=-1):
    """Index of the last True along ``axis``, -1 where there is none."""
    n = mask.shape[axis]
    index = n - 1 - np.argmax(np.flip(mask, axis=axis), axis=axis)
    return np.where(mask.any(axis=axis), index, -1)


def _held(above, hold):
    """Samples that start a run of ``hold`` True samples along the last axis."""
    if hold <= 1:
        return above.copy()
    if above.shape[-1] < hold:
        return np.zeros_like(above)
    runs = window_counts(above, hold) == hold
    pad = np.zeros(above.shape[:-1] + (hold - 1,), bool)
    return np.concatenate([runs, pad], axis=-1)


def window_counts(mask, n):
    """How many of ``mask[..., j:j + n]`` are True, for every j that leaves n samples.

    One cumulative sum (integers, exact) rather than n passes over the data.
    """
    total = np.zeros(mask.shape[:-1] + (mask.shape[-1] + 1,), np.int32)
    np.cumsum(mask, axis=-1, dtype=np.int32, out=total[..., 1:])
    return total[..., n:] - total[..., :-n]


def _rolling_sum(values, n):
    """Sum over ``values[..., j:j + n]`` for every j (NaN where the stretch runs past the end)."""
    total = np.concatenate([np.zeros(values.shape[:-1] + (1,)), np.cumsum(values, axis=-1)],
                           axis=-1)
    out = np.full(values.shape, np.nan)
    if n <= values.shape[-1]:
        out[..., :values.shape[-1] - n + 1] = total[..., n:] - total[..., :-n]
    return out


@dataclass(frozen=True)
class _Rules:
    """The rules in samples for one sampling rate."""

    hold: int
    level: int
    back: int
    plateau: int
    jump: int
    settle: int
    flat: int

    @classmethod
    def at(cls, sfreq):
        def n(seconds, least=1):
            return max(int(round(seconds * sfreq)), least)
        return cls(hold=n(ONSET_HOLD_S), level=n(LEVEL_SPAN_S, 3), back=n(RETURN_S, 3),
                   plateau=n(PLATEAU_S, 4), jump=n(JUMP_S, 2), settle=n(SETTLE_S),
                   flat=n(FLAT_S, _FLAT_MIN_SAMPLES))


def measured_span(times, windows, sfreq) -> slice:
    """The samples of a sweep that measuring it in ``windows`` reads: a slice of ``times``.

    Every rule here reads a channel's samples from its level span before the window's start
    (:data:`LEVEL_SPAN_S`; a Teager-Kaiser energy or a turn at the start reads the sample
    before) to the window's end and a little beyond: a return to the baseline held
    :data:`RETURN_S`, a TKEO share over :data:`ONSET_HOLD_S` (one sample of energy further),
    the change point's :data:`CHANGEPOINT_SPAN_S`, a turn's next sample. Measuring the sweeps
    cut to this span gives every measure bit for bit (indices relative to the cut, times as
    they were; the area summed over the sweep's whole length, as
    :func:`~iomon.processing.measures.measure` does), at a fraction of the work where the
    windows cover part of the sweep (an hour's simulated case: 11-66 ms of a -10 to 100 ms
    sweep, 55 % of its samples).

    Windows not all finite, or one ending before it starts, leave the whole sweep (what such
    a channel reads is its last sample, or the samples before its start).
    """
    windows = np.asarray(windows, float)
    n = times.size
    if (windows.size == 0 or not np.all(np.isfinite(windows))
            or np.any(windows[:, 1] < windows[:, 0])):
        return slice(0, n)
    rules = _Rules.at(sfreq)
    first = int(np.searchsorted(times, windows[:, 0], side="left").min())
    last = int(np.searchsorted(times, windows[:, 1], side="right").max()) - 1
    before = rules.level + 2
    after = max(rules.back, rules.hold + 1, max(int(round(CHANGEPOINT_SPAN_S * sfreq)), 2)) + 2
    return slice(max(0, first - before), min(n, last + after + 1))


def _near(x, reference, sigma) -> bool:
    """``x`` stays with ``reference`` within the noise (rms and peak, :data:`FLAT_RMS_K`)."""
    r = x - reference
    return bool(r.size >= 3 and np.sqrt(np.mean(r * r)) <= FLAT_RMS_K * sigma
                and np.all(np.abs(r) <= FLAT_PEAK_K * sigma))


def _line(t, x):
    """Least-squares line through (t, x): (level at t_ref, slope, t_ref)."""
    t_ref = float(t.mean())
    slope = float(np.dot(t - t_ref, x - x.mean()) / max(np.dot(t - t_ref, t - t_ref), 1e-300))
    return float(x.mean()), slope, t_ref


def _trace_back_1d(d, t, c, lo, band):
    """One sweep's onset, traced back from its crossing ``c`` over ``d``, its baseline removed.

    The onset is the sample after the last one in [lo, c) within the band of the baseline (or
    on its other side), its time interpolated where ``d`` crosses the band. Returns (onset
    sample, onset time, whether a sample in the band was found); without one, the onset is
    ``lo``.
    """
    side = 1.0 if d[c] >= 0 else -1.0
    quiet = (np.abs(d[lo:c]) <= band) | (d[lo:c] * side < 0)
    if not quiet.any():
        return lo, float(t[lo]), False
    j = lo + int(np.flatnonzero(quiet)[-1])
    k = j + 1
    near, far = d[j] * side, d[k] * side
    fraction = (band - near) / (far - near) if near <= band < far else 1.0
    return k, float(t[j] + fraction * (t[k] - t[j])), True


def _first_excursion(d, s, end, threshold, hold):
    """First sample in [s, end] starting a held excursion of |d| beyond ``threshold``, or -1."""
    above = np.abs(d[s:end + 1]) > threshold
    held = _held(above, hold)
    hit = np.flatnonzero(held)
    return s + int(hit[0]) if hit.size else -1


def _transient(x, base, c, s, peak, sigma, band, rules):
    """What ends the excursion at ``c`` before the main deflection at ``peak``, if anything.

    ("step", u, level) when it jumped (within :data:`JUMP_S` of leaving the band) to a level
    held from u; ("back", u, None) when the signal is back at its baseline from u, the
    excursion smaller than the main deflection; None when it runs on into the response.
    """
    last = min(c + rules.hold + rules.settle, peak - rules.plateau)
    big = abs(x[peak] - base[peak])
    left = c
    while left > s and abs(x[left - 1] - base[left - 1]) > band:
        left -= 1
    for u in range(left + 1, min(left + rules.jump, last) + 1):
        level = float(np.median(x[u:u + rules.plateau]))
        if _near(x[u:u + rules.plateau], level, sigma):
            return "step", u, level
    for u in range(c + 1, last + 1):
        back = slice(u, u + rules.back)
        if (_near(x[back], base[back], sigma)
                and np.max(np.abs(x[c:u] - base[c:u])) < big):
            return "back", u, None
    return None


def _grow_line(t, x, u, limit, band, least):
    """The longest stretch from ``u`` (at most to ``limit``) a straight line fits within ``band``.

    Returns (end, level, slope, t_ref), or None if shorter than ``least`` samples.
    """
    if limit - u < least:
        return None
    end, best = u + least, None
    while True:
        fit = _line(t[u:end], x[u:end])
        if np.any(np.abs(x[u:end] - fit[0] - fit[1] * (t[u:end] - fit[2])) > band):
            break
        best = (end,) + fit
        if end >= limit:
            break
        end = min(limit, end + max(1, (end - u) // 4))
    return best


def _locate(x, t, s, end, base, threshold, band, sigma, peak, rules):
    """The response's excursion in one sweep, past artefact remnants, tails, interference, steps.

    Returns (crossing, search start, baseline); the crossing is -1 without a response.
    """
    turned = trended = levelled = False
    for _ in range(8):
        c = _first_excursion(x - base, s, end, threshold, rules.hold)
        if c < 0:
            return -1, s, base
        if c <= s + rules.hold and not levelled:
            levelled = True
            for u in range(s, min(s + rules.settle, peak - rules.plateau) + 1):
                level = float(np.median(x[u:u + rules.plateau]))
                if _near(x[u:u + rules.plateau], level, sigma):
                    # Flat at another level before the main deflection: a step before the
                    # window, or an offset the artefact's remnant settles to after the blank.
                    break
            else:
                level = None
            if level is not None:
                s, base = u, np.full_like(x, level)
                continue
        if c <= s + rules.hold and not turned:
            turned = True
            d = np.abs(x[s:peak] - base[s:peak])
            inside = np.flatnonzero(d <= band)
            j = int(inside[0]) if inside.size else int(np.argmin(d)) if d.size else 0
            n = rules.jump
            decaying = d.size >= 2 * n and np.median(d[:n]) - np.median(d[n:2 * n]) > sigma
            if decaying and j > 0 and d[j] < d[0] - band and np.max(d[:j + 1]) <= d[0] + band:
                s += j  # a remnant that dies down: search from where it has
                continue
        if c <= s + rules.hold and not trended:
            trended = True
            grown = _grow_line(t, x, s, peak, band, rules.plateau)
            if grown is not None:  # a slow tail: it is the baseline, as a straight line
                stop, level, slope, t_ref = grown
                base = level + slope * (t - t_ref)
                s = max(s, stop - rules.plateau // 2)
                continue
        if c >= peak - rules.plateau:
            return c, s, base
        ended = _transient(x, base, c, s, peak, sigma, band, rules)
        if ended is None:
            return c, s, base
        _, s, level = ended
        if level is not None:
            base = np.full_like(x, level)
    return c, s, base


def _small_step(x, base, lo, c, n, sigma):
    """The latest level the signal held in [lo, c) away from its baseline, if any.

    A stretch of ``n`` samples flat within the noise, out of the baseline's band, that drifts
    along its length by less than a third of its distance from the baseline (a ramp is not a
    level). A step too small to be an excursion, or what is left of the artefact just after
    the blank, puts the signal there before the response starts. Returns (first sample at the
    level, the level) or None.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    if c - lo < n:
        return None
    stretches = sliding_window_view(x[lo:c], n)
    level = np.median(stretches, axis=-1)
    r = stretches - level[:, None]
    flat = ((np.sqrt(np.mean(r * r, axis=-1)) <= FLAT_RMS_K * sigma)
            & np.all(np.abs(r) <= FLAT_PEAK_K * sigma, axis=-1))
    ramp = np.arange(n) - (n - 1) / 2
    drift = np.abs(stretches @ ramp) / np.dot(ramp, ramp) * (n - 1)  # change along a stretch
    away = np.abs(level - base[lo:c - n + 1])
    held = np.flatnonzero(flat & (away > ONSET_BAND_K * sigma) & (3 * drift < away))
    if held.size == 0:
        return None
    j = int(held[-1])
    return lo + j, float(level[j])


def _examine(x, t, s0, end, level0, sigma, threshold, earliest_at, rules):
    """Localise one sweep's response by every rule.

    Returns (crossing, onset, onset_s, start, level, slope, t_ref, early), or None without a
    response.
    """
    band = ONSET_BAND_K * sigma
    peak = s0 + int(np.argmax(np.abs(x[s0:end + 1] - level0)))

    def find(s, base):
        c, s, base = _locate(x, t, s, end, base, threshold, band, sigma, peak, rules)
        if c < 0:
            return None
        k, tau, found = _trace_back_1d(x - base, t, c, s, band)
        if k <= s + 1 and c > s + 1:
            # Out of the band from the start of the search: a deflection that decays before
            # the response begins is not its onset.
            d = np.abs(x[s:c] - base[s:c])
            j = int(np.argmin(d))
            if d[j] < d[0] - band:
                s += j
                k, tau, found = _trace_back_1d(x - base, t, c, s, band)
        step = _small_step(x, base, k, c, rules.flat, sigma)
        if step is not None:
            s, new_level = step
            base = np.full_like(x, new_level)
            k, tau, found = _trace_back_1d(x - base, t, c, s, band)
        return c, k, tau, s, base, found

    result = find(s0, np.full_like(x, level0))
    if result is None:
        return None
    early = False
    if earliest_at is not None and result[1] < earliest_at:
        # Too early for the muscle: look again from the earliest plausible onset, with the
        # baseline there; keep the first answer, flagged, unless a response starts later.
        again = None
        if earliest_at < peak:
            # The search starts a little before, so that an onset right at it is traced.
            from_ = max(s0, earliest_at - rules.jump)
            lo = max(s0, from_ - rules.level)
            level = float(np.median(x[lo:from_])) if from_ - lo >= 3 else level0
            again = find(from_, np.full_like(x, level))
        if again is not None and again[5] and again[1] >= earliest_at:
            result = again
        else:
            early = True
    c, k, tau, s, base, _ = result
    slope = float(base[k] - base[k - 1]) / float(t[k] - t[k - 1]) if k > 0 else 0.0
    return c, k, tau, s, float(base[k]), slope, float(t[k]), early


def _span_indices(times, windows, not_before):
    """Per channel: first sample of the search, last of the window, first real one after t = 0.

    The search starts in the window and after the blank, whose samples up to its end are
    interpolated; the baseline level may be taken from the first real sample on.
    """
    blank = (np.full(len(windows), -np.inf) if not_before is None else
             np.where(np.isfinite(not_before), not_before, -np.inf))
    after_blank = np.searchsorted(times, blank, side="right")
    start = np.maximum(np.searchsorted(times, windows[:, 0], side="left"), after_blank)
    end = np.searchsorted(times, windows[:, 1], side="right") - 1
    real = np.maximum(np.searchsorted(times, 0.0, side="left"), after_blank)
    return np.minimum(start, times.size - 1), end, real


def _levels(data, start, real, rules):
    """Median of each sweep over the span before its channel's search start.

    0 (the pre-stimulus level) where that span reaches back before the stimulus or into the
    blanked artefact, whose remnant lingers after the blank.
    """
    level = np.zeros(data.shape[:2])
    for c, (s, r) in enumerate(zip(start, real)):
        if s - rules.level >= r:
            level[:, c] = np.median(data[:, c, s - rules.level:s], axis=-1)
    return level


def localise(data, times, sfreq, windows, sigma, amplitude, not_before=None,
             earliest=None) -> Localised:
    """Localise every sweep's response and place its threshold onset (Hodges & Bui 1996).

    The response is the first excursion beyond :data:`ONSET_K` noise SD and
    :data:`ONSET_PEAK_SHARE` of the peak-to-peak, held :data:`ONSET_HOLD_S`, that is not an
    artefact remnant, a tail, interference or a step (see the module's notes); the onset is
    traced back from it to where the signal was last within :data:`ONSET_BAND_K` SD of its
    baseline, as Hodges & Bui (1996, Electroencephalogr Clin Neurophysiol 101:511-519) hold
    the crossing and then look back for where it began.

    Parameters
    ----------
    data : array of float, shape (n_sweeps, n_channels, n_samples)
        Conditioned sweeps, V.
    times : array of float, shape (n_samples,)
    sfreq : float
    windows : array of float, shape (n_channels, 2)
        Response window per channel, s.
    sigma : array of float, shape (n_sweeps, n_channels)
        Noise SD, V.
    amplitude : array of float, shape (n_sweeps, n_channels)
        Peak-to-peak in the window, V.
    not_before : array of float, shape (n_channels,), optional
        End of each channel's blanked artefact, s (NaN: nothing blanked): no onset and no
        baseline sample on the blank or its interpolation.
    earliest : array of float, shape (n_channels,), optional
        Earliest plausible onset per channel, s (NaN: unknown; see :func:`earliest_onsets`).

    Returns
    -------
    Localised
    """
    rules = _Rules.at(sfreq)
    n = data.shape[-1]
    start, end, real = _span_indices(times, windows, not_before)
    level = _levels(data, start, real, rules)
    sample = np.arange(n)
    in_window = (sample >= start[:, None]) & (sample <= end[:, None])
    d = data - level[..., None]
    threshold = np.maximum(ONSET_K * sigma, ONSET_PEAK_SHARE * amplitude)
    band = ONSET_BAND_K * sigma
    magnitude = np.abs(d)
    crossing = _first_true(_held((magnitude > threshold[..., None]) & in_window, rules.hold))
    peak = np.argmax(np.where(in_window, magnitude, -np.inf), axis=-1)
    found = crossing >= 0
    onset, onset_s = _trace_back(d, times, crossing, start, band)
    slow = found & _unusual(d, sigma, crossing, onset, start, peak, rules, times, earliest)
    loc = dict(crossing=crossing, onset=onset, onset_s=onset_s,
               start=np.broadcast_to(start, crossing.shape).copy(), level=level,
               slope=np.zeros(crossing.shape), t_ref=np.zeros(crossing.shape),
               earliest=np.zeros(crossing.shape, bool), threshold=threshold)
    earliest_at = (None if earliest is None else
                   [None if not np.isfinite(e) else int(np.searchsorted(times, e))
                    for e in earliest])
    for i, c in zip(*np.nonzero(slow)):
        out = _examine(data[i, c], times, int(start[c]), int(end[c]), float(level[i, c]),
                       float(sigma[i, c]), float(threshold[i, c]),
                       None if earliest_at is None else earliest_at[c], rules)
        if out is None:
            loc["crossing"][i, c], loc["onset"][i, c], loc["onset_s"][i, c] = -1, -1, np.nan
            continue
        for key, value in zip(("crossing", "onset", "onset_s", "start", "level", "slope",
                               "t_ref", "earliest"), out):
            loc[key][i, c] = value
    return Localised(**loc)


def _trace_back(d, times, crossing, start, band):
    """Vectorised :func:`_trace_back_1d` from each sweep's crossing: (onset sample, time)."""
    n = d.shape[-1]
    sample = np.arange(n)
    at_crossing = np.take_along_axis(d, np.maximum(crossing, 0)[..., None], axis=-1)
    side = np.where(at_crossing >= 0, 1.0, -1.0)
    quiet = (((np.abs(d) <= band[..., None]) | (d * side < 0))
             & (sample >= start[:, None]) & (sample < crossing[..., None]))
    last = _last_true(quiet)
    onset = np.where(last >= 0, last + 1, np.broadcast_to(start, crossing.shape))
    onset = np.where(crossing >= 0, np.minimum(onset, crossing), -1)
    j = np.maximum(np.where(last >= 0, last, onset), 0)
    k = np.maximum(onset, 0)
    near = np.take_along_axis(d, j[..., None], axis=-1)[..., 0] * side[..., 0]
    far = np.take_along_axis(d, k[..., None], axis=-1)[..., 0] * side[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where((last >= 0) & (near <= band) & (band < far),
                            (band - near) / (far - near), 1.0)
    onset_s = np.where(last >= 0, times[j] + fraction * (times[k] - times[j]), times[k])
    return onset, np.where(crossing >= 0, onset_s, np.nan)


def _unusual(d, sigma, crossing, onset, start, peak, rules, times, earliest):
    """Sweeps that one of the special rules might change; the others keep the plain onset."""
    start = np.broadcast_to(start, crossing.shape)
    unusual = (crossing <= start + rules.hold) | (onset <= start + 1)
    unusual |= crossing - onset >= rules.flat
    if earliest is not None:
        first = np.array([np.searchsorted(times, e) if np.isfinite(e) else -1
                          for e in earliest])
        unusual |= onset < first
    # A return to the baseline, or a plateau just after leaving the band, before the main
    # deflection: necessary conditions of _transient (rms within the noise), looked for in
    # the sweeps not yet set aside and the samples they concern only.
    last = np.minimum(crossing + rules.hold + rules.settle, peak - rules.plateau)
    todo = (crossing >= 0) & ~unusual & (crossing < last)
    if not todo.any():
        return unusual
    lo = int(start[todo].min())
    hi = min(d.shape[-1], int(last[todo].max()) + max(rules.back, rules.plateau) + 1)
    part, spread_ok = d[..., lo:hi][todo], (FLAT_RMS_K * sigma[todo])[:, None] ** 2
    u = np.arange(lo, hi)
    back = _rolling_sum(part * part, rules.back) / rules.back <= spread_ok
    mean = _rolling_sum(part, rules.plateau) / rules.plateau
    flat = _rolling_sum(part * part, rules.plateau) / rules.plateau - mean * mean <= spread_ok
    c, s, end = crossing[todo][:, None], start[todo][:, None], last[todo][:, None]
    in_band = (np.abs(part) <= (ONSET_BAND_K * sigma[todo])[:, None]) & (u >= s) & (u < c)
    left = np.maximum(_last_true(in_band) + lo + 1, s[:, 0])[:, None]  # left the band here
    possible = (((u > c) & (u <= end) & back)
                | ((u > left) & (u <= left + rules.jump) & (u <= end) & flat))
    unusual[todo] = possible.any(axis=-1)
    return unusual


def teager_kaiser(data):
    """Teager-Kaiser energy operator along the last axis: x[n]^2 - x[n-1] x[n+1]."""
    out = np.zeros_like(data)
    out[..., 1:-1] = data[..., 1:-1] ** 2 - data[..., :-2] * data[..., 2:]
    return out


def tkeo_threshold(quiet, h=TKEO_H):
    """TKEO onset threshold of each sweep: its pre-stimulus energy mean + ``h`` SD.

    Parameters
    ----------
    quiet : array of float, shape (n_sweeps, n_channels, n_quiet), QuietFigures or None
        The filtered noise window of every sweep (see
        :func:`iomon.processing.conditioning.sweep_noise`), or its figures.

    Returns
    -------
    array of float, shape (n_sweeps, n_channels), V^2, or None without noise windows of 5
    samples or more. A sweep is held to the larger of its own threshold and its channel's
    (the median over sweeps), as it is to its own noise.
    """
    own = quiet.energy if isinstance(quiet, QuietFigures) else tkeo_own(quiet, h)
    if own is None:
        return None
    return np.fmax(own, np.nanmedian(own, axis=0))


def tkeo_own(quiet, h=TKEO_H):
    """Each sweep's own TKEO threshold (:func:`tkeo_threshold` before the channel's median).

    Returns
    -------
    array of float, shape (n_sweeps, n_channels), V^2, or None (``quiet`` None or under 5
    samples).
    """
    if quiet is None or quiet.shape[-1] < 5:
        return None
    energy = teager_kaiser(quiet)[..., 1:-1]
    return energy.mean(axis=-1) + h * energy.std(axis=-1)


def onset_tkeo(data, times, sfreq, loc: Localised, threshold, centred=None):
    """Onset where the Teager-Kaiser energy of the response first exceeds its threshold.

    After Li, Zhou & Aruin (2007, Ann Biomed Eng 35:1532-1538) and Solnik et al. (2010, Eur J
    Appl Physiol 110:489-498): the operator responds to the instantaneous amplitude *and*
    frequency of a burst, so a motor unit volley stands out from slower noise and hum. The
    energy of the signal less its baseline must exceed the threshold for half the samples of
    :data:`ONSET_HOLD_S`, searched from where the response may start (after any artefact
    remnant, interference or step, :func:`localise`) to its threshold crossing, which is the
    onset when the energy does not rise before.

    Parameters
    ----------
    data : array of float, shape (n_sweeps, n_channels, n_samples)
    times : array of float, shape (n_samples,)
    sfreq : float
    loc : Localised
    threshold : array of float, shape (n_sweeps, n_channels)
        See :func:`tkeo_threshold`.
    centred : array of float, shape (n_sweeps, n_channels, n_samples), optional
        ``data`` less ``loc.baseline(times)``, when the caller has it already.

    Returns
    -------
    array of int, shape (n_sweeps, n_channels): onset sample, -1 without a response.
    """
    energy = teager_kaiser(data - loc.baseline(times) if centred is None else centred)
    above = energy > threshold[..., None]
    hold = _Rules.at(sfreq).hold
    # Energy dips at the zero crossings inside a burst; half the samples held suffice.
    share = 2 * window_counts(above, hold) >= hold
    held = np.zeros_like(above)
    held[..., :share.shape[-1]] = share & above[..., :share.shape[-1]]
    sample = np.arange(data.shape[-1])
    held &= (sample >= loc.start[..., None]) & (sample <= loc.crossing[..., None])
    first = _first_true(held)
    return np.where(loc.crossing < 0, -1, np.where(first >= 0, first, loc.crossing))


def onset_changepoint(data, times, sfreq, loc: Localised, sigma):
    """Onset as the maximum-likelihood change point from the baseline's noise to the response.

    After Staude & Wolf (1999, Med Eng Phys 21:449-467) and Staude et al. (2001, EURASIP J
    Appl Signal Process 2001:67-81), whose statistically optimal estimator of the onset of a
    motor response is this one: before the change the signal is its baseline level (estimated)
    plus noise of the known pre-stimulus SD; after it, its deviations from that level have a
    variance of their own (estimated). The change point maximising the likelihood is sought,
    as in their two-step scheme, near a detection: from :data:`CHANGEPOINT_PRE_S` before the
    threshold onset (never before where the response may start) to the first peak within
    :data:`CHANGEPOINT_SPAN_S` of the threshold crossing.

    Parameters
    ----------
    data : array of float, shape (n_sweeps, n_channels, n_samples)
    times : array of float, shape (n_samples,)
    sfreq : float
    loc : Localised
    sigma : array of float, shape (n_sweeps, n_channels)
        Noise SD, V.

    Returns
    -------
    array of int, shape (n_sweeps, n_channels): onset sample, -1 without a response.
    """
    n = data.shape[-1]
    pre = max(int(round(CHANGEPOINT_PRE_S * sfreq)), 3)
    span = max(int(round(CHANGEPOINT_SPAN_S * sfreq)), 2)
    found = loc.crossing >= 0
    first = np.where(found, np.maximum(loc.start, loc.onset - pre), 0)
    # The end: the largest deviation from the baseline within `span` after the crossing.
    ahead = np.minimum(np.maximum(loc.crossing, 0)[..., None] + np.arange(span + 1), n - 1)
    deviation = np.abs(np.take_along_axis(data, ahead, axis=-1)
                       - (loc.level[..., None] + loc.slope[..., None]
                          * (times[ahead] - loc.t_ref[..., None])))
    last = ahead[..., 0] + np.argmax(deviation, axis=-1)
    length = np.where(found, last - first + 1, 0)
    width = max(int(length.max(initial=0)), 1)
    index = np.minimum(first[..., None] + np.arange(width), n - 1)
    inside = np.arange(width) < length[..., None]
    z = np.where(inside, np.take_along_axis(data, index, axis=-1), 0.0) \
        / np.where(sigma > 0, sigma, np.inf)[..., None]
    total = np.concatenate([np.zeros(z.shape[:-1] + (1,)), np.cumsum(z, axis=-1)], axis=-1)
    total2 = np.concatenate([np.zeros(z.shape[:-1] + (1,)), np.cumsum(z * z, axis=-1)], axis=-1)
    j = np.arange(width + 1)                              # change at j: [0, j) and [j, length)
    m = length[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total / np.maximum(j, 1)
        before = total2 - j * mean ** 2                   # residuals about the baseline level
        n_after = m - j
        end_sum = np.take_along_axis(total, length[..., None], axis=-1)
        end_sum2 = np.take_along_axis(total2, length[..., None], axis=-1)
        after = (end_sum2 - total2) - 2 * mean * (end_sum - total) + n_after * mean ** 2
        likelihood = -0.5 * before - 0.5 * n_after * (
            np.log(np.maximum(after / np.maximum(n_after, 1), 1e-12)) + 1)
    likelihood = np.where((j >= 3) & (j <= m - 2), likelihood, -np.inf)
    best = first + np.argmax(likelihood, axis=-1)
    usable = found & (length >= 5)
    return np.where(usable, best, np.where(found, loc.onset, -1))


def onset_notes(early, names, muscles) -> list[str]:
    """The notes on onsets earlier than their muscle can respond, one per channel.

    Parameters
    ----------
    early : array of bool, shape (n_sweeps, n_channels)
        Measured (present, valid) sweeps whose onset is implausibly early.
    names, muscles : sequence of str
    """
    notes = []
    for c, (name, muscle) in enumerate(zip(names, muscles)):
        sweeps = np.flatnonzero(early[:, c])
        if sweeps.size == 0 or muscle not in MUSCLES:
            continue
        low, high = (v * 1e3 for v in MUSCLES[muscle].onset_s)
        listed = ", ".join(str(s) for s in sweeps[:10]) + (", ..." if sweeps.size > 10 else "")
        notes.append(f"{name}: the onset of {sweeps.size} sweep{'s' if sweeps.size > 1 else ''}"
                     f" ({listed}) lies before {low - EARLIEST_MARGIN_S * 1e3:g} ms, earlier "
                     f"than a {MUSCLES[muscle].name} responds (typically {low:g}-{high:g} ms); "
                     "looked at again from there, no later onset was found: check these "
                     "sweeps' onsets by eye")
    return notes
