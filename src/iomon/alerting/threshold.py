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

import numpy as np

__all__ = ["baseline_thresholds", "intensity_varies", "reference_sweeps",
           "threshold_brackets", "thresholds_for", "track_thresholds"]


def intensity_varies(intensity) -> bool:
    """Whether the known intensities take more than one value (else no threshold shows)."""
    intensity = np.asarray(intensity, float)
    return np.unique(intensity[np.isfinite(intensity)]).size > 1


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
    only where some sweeps fail and others respond). Returns ``(thresholds, note)``:
    thresholds is None when the criterion cannot run, note None when there is nothing to say.
    """
    intensity = table["stim_intensity"].to_numpy(dtype=float)
    known = np.isfinite(intensity)
    units = set(table["stim_unit"].to_numpy().astype(str)[known])
    skipped = "the threshold-elevation criterion was not applied"
    if not known.any():
        return None, f"{skipped}: the recording gives no stimulus intensities"
    if units - {"V", ""}:
        return None, (f"{skipped}: the stimulus intensities are in "
                      f"{', '.join(sorted(units))}, the criterion is in volts")
    if not intensity_varies(intensity):
        return None, (f"{skipped}: the stimulus intensity never changed, so no threshold "
                      "can be told")
    note = ("the stimulus intensities give no unit: the threshold criterion took them as "
            "volts") if "" in units else None
    from ..processing.baseline import baseline_epochs

    onsets = table["onset_s"].to_numpy(dtype=float)
    epoch = baseline_epochs(onsets, rebaselines)
    chosen = np.any([e.baseline.sweeps.any(axis=1) for e in baselines.entries], axis=0)
    groups = np.array([f"{m}|{k}" for m, k in zip(table["montage"].to_numpy(), epoch)])
    return track_thresholds(intensity, present, valid, groups,
                            reference_sweeps(epoch, chosen)), note
