"""Stimulation threshold of each channel, followed from the per-sweep intensity.

The threshold of a muscle is the lowest stimulus intensity that evokes a response in it
(Calancie et al. 1998). A sweep tells one fact about it: a response at intensity I means the
threshold is at most I; none means it is above I. At each sweep, the most recent sweeps that
agree with a single threshold (every response at a higher intensity than every failure) bracket
the current threshold between the highest intensity that failed (``lower``) and the lowest that
evoked a response (``upper``). An older sweep that disagrees with the newer ones is out of date:
the threshold has moved since.

The baseline threshold is the lowest intensity that evoked a response before the end of the
baseline (the ramp-up before the ``Baseline`` marker included): an upper bound, so a rise
measured against it is never overstated by it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..model.notes import Note
from ..model.sweeps import intensity_varies

__all__ = ["ThresholdRise", "Thresholds", "baseline_thresholds", "controls_rise",
           "intensity_varies", "reference_sweeps", "rise_bracket", "threshold_brackets",
           "thresholds_for", "track_thresholds"]


@dataclass(frozen=True)
class ThresholdRise:
    """What the threshold brackets say of one ``threshold`` alert, V.

    Attributes
    ----------
    channel : str
    onset_sweep : int
        The alert's (with ``channel``, which alert it is).
    bracket : tuple of (float, float, float) or None
        ``(lower, upper, baseline)`` at the sweep of the episode's largest rise: the threshold
        is above ``lower`` and at most ``upper``; ``baseline`` is the baseline threshold. None
        when the brackets do not give the alert's rise (its point value then stands).
    controls_rise_v : float or None
        The median threshold rise of the channel's controls over the sweeps that called the
        alert (None: no control with a bracketed threshold there).
    """

    channel: str
    onset_sweep: int
    bracket: tuple[float, float, float] | None
    controls_rise_v: float | None


@dataclass(frozen=True)
class Thresholds:
    """The stimulation thresholds the threshold criterion followed, and its alerts' rises.

    Attributes
    ----------
    lower, upper, baseline : array of float, shape (n_sweeps, n_channels)
        The bracket of each channel's threshold at each sweep and its baseline threshold, V
        (see :func:`track_thresholds`); NaN where a sweep is not used.
    rises : tuple of ThresholdRise
        One per ``threshold`` alert, in the alerts' order.
    """

    lower: np.ndarray
    upper: np.ndarray
    baseline: np.ndarray
    rises: tuple = ()

    def rise_of(self, alert) -> ThresholdRise | None:
        """The ThresholdRise of a ``threshold`` alert (None for any other)."""
        return next((r for r in self.rises if alert.criterion == "threshold"
                     and (r.channel, r.onset_sweep) == (alert.channel, alert.onset_sweep)),
                    None)


def threshold_brackets(intensity, present):
    """Bounds on a channel's threshold at each of its sweeps.

    Parameters
    ----------
    intensity : array of float, shape (n,)
        Stimulus intensity of one channel's valid sweeps of one montage, in time order.
    present : array of bool, shape (n,)
        Whether each sweep evoked a response.

    Returns
    -------
    lower, upper : array of float, shape (n,)
        The threshold is above ``lower`` (-inf: no failure in the agreeing sweeps) and at most
        ``upper`` (+inf: no response in them).
    """
    intensity = np.asarray(intensity, float)
    present = np.asarray(present, bool)
    lower = np.full(intensity.size, -np.inf)
    upper = np.full(intensity.size, np.inf)
    low, high = -np.inf, np.inf
    for i in range(intensity.size):
        if present[i] and intensity[i] > low:
            high = min(high, intensity[i])
        elif not present[i] and intensity[i] < high:
            low = max(low, intensity[i])
        else:
            # This sweep contradicts the bracket: the threshold has moved. Keep the longest run
            # of recent sweeps that agree with each other.
            low, high = -np.inf, np.inf
            for j in range(i, -1, -1):
                if present[j]:
                    if intensity[j] <= low:
                        break
                    high = min(high, intensity[j])
                else:
                    if intensity[j] >= high:
                        break
                    low = max(low, intensity[j])
        lower[i], upper[i] = low, high
    return lower, upper


def baseline_thresholds(intensity, present, valid, reference):
    """Lowest intensity that evoked each channel over the reference sweeps (NaN: none did).

    Parameters
    ----------
    intensity : array of float, shape (n_sweeps,)
    present, valid : array of bool, shape (n_sweeps, n_channels)
    reference : array of bool, shape (n_sweeps,)
    """
    evoked = present & valid & np.asarray(reference, bool)[:, None] & np.isfinite(
        np.asarray(intensity, float))[:, None]
    values = np.where(evoked, np.asarray(intensity, float)[:, None], np.inf)
    lowest = values.min(axis=0, initial=np.inf)
    return np.where(np.isfinite(lowest), lowest, np.nan)


def track_thresholds(intensity, present, valid, groups, reference):
    """Threshold brackets and baseline thresholds of every channel at every sweep.

    Sweeps are followed separately per group (stimulation montage, baseline epoch): a threshold
    depends on how the stimulus is given, and a re-baselining starts afresh.

    Parameters
    ----------
    intensity : array of float, shape (n_sweeps,)
        NaN where unknown (such sweeps tell nothing).
    present, valid : array of bool, shape (n_sweeps, n_channels)
    groups : array, shape (n_sweeps,)
        Label of each sweep's group.
    reference : array of bool, shape (n_sweeps,)
        The sweeps that set each group's baseline threshold.

    Returns
    -------
    lower, upper, baseline : array of float, shape (n_sweeps, n_channels)
        NaN where the sweep is not used (rejected, intensity unknown).
    """
    intensity = np.asarray(intensity, float)
    groups = np.asarray(groups)
    reference = np.asarray(reference, bool)
    shape = np.shape(present)
    lower, upper, baseline = (np.full(shape, np.nan) for _ in range(3))
    for group in np.unique(groups):
        in_group = groups == group
        base = baseline_thresholds(intensity, present, valid, reference & in_group)
        for c in range(shape[1]):
            rows = np.flatnonzero(in_group & valid[:, c] & np.isfinite(intensity))
            lower[rows, c], upper[rows, c] = threshold_brackets(intensity[rows],
                                                                present[rows, c])
            baseline[rows, c] = base[c]
    return lower, upper, baseline


def reference_sweeps(epoch, chosen) -> np.ndarray:
    """Sweeps that set the baseline thresholds: per epoch, up to its last baseline sweep.

    Parameters
    ----------
    epoch : array of int, shape (n_sweeps,)
        Baseline epoch of each sweep (see :func:`iomon.processing.baseline.baseline_epochs`).
    chosen : array of bool, shape (n_sweeps,)
        Sweeps that formed an amplitude baseline.
    """
    epoch = np.asarray(epoch)
    chosen = np.asarray(chosen, bool)
    reference = np.zeros(epoch.size, bool)
    for k in np.unique(epoch):
        rows = np.flatnonzero(epoch == k)
        picked = np.flatnonzero(chosen[rows])
        if picked.size:
            reference[rows[: picked[-1] + 1]] = True
    return reference


def thresholds_for(table, present, valid, baselines, rebaselines):
    """Threshold brackets for the threshold criterion, and a note for the report.

    The criterion is in volts: it needs intensities, in volts, that vary (a threshold shows
    only where some sweeps fail and others respond). ``table``: the sweep table's columns
    (:attr:`~iomon.model.sweeps.Sweeps.table`, or a mapping of its column names to arrays).
    Returns ``(thresholds, note)``: thresholds (:class:`Thresholds`) is None when the
    criterion cannot run, note (a :class:`~iomon.model.notes.Note`) None when there is
    nothing to say.
    """
    intensity = np.asarray(table["stim_intensity"], dtype=float)
    known = np.isfinite(intensity)
    units = set(np.asarray(table["stim_unit"]).astype(str)[known])
    skipped = "the threshold-elevation criterion was not applied"
    if not known.any():
        return None, Note("threshold", f"{skipped}: the recording gives no stimulus intensities")
    if units - {"V", ""}:
        return None, Note("threshold", f"{skipped}: the stimulus intensities are in "
                                       f"{', '.join(sorted(units))}, the criterion is in volts")
    if not intensity_varies(intensity):
        return None, Note("threshold", f"{skipped}: the stimulus intensity never changed, so "
                                       "no threshold can be told")
    note = Note("threshold", "the stimulus intensities give no unit: the threshold criterion "
                             "took them as volts") if "" in units else None
    from ..processing.baseline import baseline_epochs

    onsets = np.asarray(table["onset_s"], dtype=float)
    epoch = baseline_epochs(onsets, rebaselines)
    chosen = np.any([e.baseline.sweeps.any(axis=1) for e in baselines.entries], axis=0)
    groups = np.array([f"{m}|{k}" for m, k in zip(np.asarray(table["montage"]), epoch)])
    return Thresholds(*track_thresholds(intensity, present, valid, groups,
                                        reference_sweeps(epoch, chosen))), note


def rise_bracket(thresholds: Thresholds, met, c, alert, sustained_m, n_sweeps):
    """The bracket of a threshold alert's largest rise, at the sweep that showed it.

    Parameters
    ----------
    thresholds : Thresholds
    met : array of bool, shape (n_sweeps, n_channels)
        Sweeps where the threshold criterion is met.
    c : int
        The alert's channel.
    alert : Alert
    sustained_m : int
        The preset's ``sustained_m``: the bracket is looked for from that many sweeps before
        the alert was called to its recovery.
    n_sweeps : int

    Returns
    -------
    tuple of (lower, upper, baseline) or None
        None when the brackets do not give the alert's rise (then the point value stands).
    """
    lower, upper, base = (t[:, c] for t in (thresholds.lower, thresholds.upper,
                                            thresholds.baseline))
    stop = alert.recovery_sweep if alert.recovered else n_sweeps
    rows = np.arange(max(alert.onset_sweep - sustained_m, 0), stop)
    raised = rows[met[rows, c]]
    if not raised.size:
        return None
    row = raised[np.argmax(upper[raised] - base[raised])]
    if not math.isclose(upper[row] - base[row], alert.threshold_rise_v, abs_tol=0.05):
        return None
    return float(lower[row]), float(upper[row]), float(base[row])


def controls_rise(thresholds: Thresholds, window, refs, valid) -> float | None:
    """The median threshold rise of the control channels ``refs`` over the sweeps ``window``.

    Parameters
    ----------
    thresholds : Thresholds
    window : array of int
        The sweeps that called an alert.
    refs : list of int
        Its channel's controls.
    valid : array of bool, shape (n_sweeps, n_channels)

    Returns
    -------
    float or None
        V; None when no control has a bracketed threshold in those sweeps.
    """
    rise = (thresholds.upper - thresholds.baseline)[np.ix_(window, refs)][
        valid[np.ix_(window, refs)]]
    rise = rise[np.isfinite(rise)]
    return float(np.median(rise)) if rise.size else None
