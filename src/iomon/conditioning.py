"""Conditioning of sweeps before measurement: offsets, stimulus artefact, band-pass, rejection.

Every function takes and returns arrays of shape (n_sweeps, n_channels, n_samples) in volts,
with time on the last axis, and works on all sweeps and channels at once.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError

#: Default IONM band for TcMEP (Hz).
DEFAULT_BAND_HZ = (10.0, 1500.0)
#: Pre-stimulus samples closer than this to the stimulus are not used as "noise" (s).
PRE_STIMULUS_GUARD_S = 0.001
#: Hum is only fitted when at least this much of the sweep follows the responses (s).
MIN_LATE_FIT_S = 0.015
#: Rejection reasons, as written in the outputs.
REASONS = ("", "nan", "flat", "clipped", "noisy baseline")


def pre_stimulus_mask(times) -> np.ndarray:
    """Samples before the stimulus (minus a 1 ms guard), shape (n_samples,)."""
    return np.asarray(times) < -PRE_STIMULUS_GUARD_S


def find_stimulus_train(data, times, sfreq, search_s=(-0.001, 0.030), ratio=20.0):
    """Find the first and last pulse of the stimulus train from the artefact in the data.

    The artefact is the steepest thing in a TcMEP sweep: the median over sweeps and channels of
    the absolute first difference is compared with its pre-stimulus level, and the samples that
    exceed it ``ratio``-fold inside ``search_s`` are taken as pulses.

    Parameters
    ----------
    data : array of float, shape (n_sweeps, n_channels, n_samples)
    times : array of float, shape (n_samples,)
        Seconds relative to the stimulus.
    sfreq : float
        Sampling rate in Hz.
    search_s : tuple of float
        Where to look for pulses.
    ratio : float
        How many times steeper than the pre-stimulus signal a pulse is.

    Returns
    -------
    first_s, last_s : float or None
        Times of the first and last pulse; None when no artefact is found.
    """
    slope = np.nanmedian(np.abs(np.diff(data, axis=-1)), axis=(0, 1))
    mid_times = times[1:]
    pre = slope[mid_times < -PRE_STIMULUS_GUARD_S]
    level = np.median(pre) if pre.size else np.median(slope)
    if not np.isfinite(level) or level <= 0:
        level = np.finfo(float).tiny
    search = (mid_times >= search_s[0]) & (mid_times <= search_s[1])
    hits = np.flatnonzero(search & (slope > ratio * level))
    if hits.size == 0:
        return None, None
    # A jump between samples j and j+1 belongs to the pulse at j+1 when it rises and to the
    # pulse at j when it falls back: first and last pulse are read accordingly.
    return float(mid_times[hits[0]]), float(times[hits[-1]])


def remove_offset(data, times) -> np.ndarray:
    """Subtract each sweep's pre-stimulus median (the electrode offset)."""
    pre = pre_stimulus_mask(times)
    if not pre.any():
        return data - np.median(data, axis=-1, keepdims=True)
    return data - np.median(data[..., pre], axis=-1, keepdims=True)


def blank_artefact(data, times, start_s, end_s) -> np.ndarray:
    """Replace the samples in [start_s, end_s] by a straight line between their neighbours.

    Interpolating before filtering keeps the artefact's energy out of the band-pass, which
    would otherwise smear it into the response window.
    """
    inside = (times >= start_s) & (times <= end_s)
    if not inside.any():
        return data.copy()
    first, last = np.flatnonzero(inside)[[0, -1]]
    before, after = max(first - 1, 0), min(last + 1, times.size - 1)
    out = data.copy()
    weight = (np.arange(first, last + 1) - before) / max(after - before, 1)
    out[..., first:last + 1] = (data[..., before, None] * (1 - weight)
                                + data[..., after, None] * weight)
    return out


def bandpass(data, sfreq, band_hz=DEFAULT_BAND_HZ, order=2) -> np.ndarray:
    """Zero-phase Butterworth band-pass (second-order sections, forward and backward).

    The sweep is padded by odd reflection over its whole length, so a 100 ms sweep does not
    ring at its edges for a 10 Hz high-pass.
    """
    from scipy.signal import butter, sosfiltfilt

    low, high = band_hz
    nyquist = sfreq / 2.0
    if not 0 < low < high:
        raise InputError(f"band must satisfy 0 < low < high, got {band_hz}")
    if high >= nyquist:
        raise InputError(f"the band's upper edge ({high:g} Hz) must be below the Nyquist "
                         f"frequency ({nyquist:g} Hz) of the {sfreq:g} Hz recording")
    sos = butter(order, [low, high], btype="bandpass", fs=sfreq, output="sos")
    return sosfiltfilt(sos, data, axis=-1, padtype="odd", padlen=data.shape[-1] - 1)


def reject_sweeps(raw, filtered, times, noise_ratio=5.0, flat_v=1e-7, clip_run_s=0.001,
                  sfreq=None):
    """Decide which sweep x channel pairs cannot be measured, and why.

    Parameters
    ----------
    raw : array of float, shape (n_sweeps, n_channels, n_samples)
        Sweeps before filtering (clipping and flat lines are seen there).
    filtered : array of float, same shape
        Band-passed sweeps (pre-stimulus noise is judged there).
    times : array of float, shape (n_samples,)
    noise_ratio : float
        A sweep whose pre-stimulus rms exceeds this many times the channel's median is
        rejected as contaminated (electrocautery and other bursts).
    flat_v : float
        Peak-to-peak below this (V) over the whole sweep is a flat line.
    clip_run_s : float
        A run at the sweep's extreme value lasting this long is amplifier clipping.
    sfreq : float
        Sampling rate (Hz), needed for ``clip_run_s``.

    Returns
    -------
    rejected : array of bool, shape (n_sweeps, n_channels)
    reason : array of str, shape (n_sweeps, n_channels)
        One of :data:`REASONS` (``""`` where kept).
    """
    reason = np.full(raw.shape[:2], "", dtype=object)
    pre = pre_stimulus_mask(times)
    noise = np.sqrt(np.mean(filtered[..., pre] ** 2, axis=-1)) if pre.any() \
        else np.full(raw.shape[:2], np.nan)
    typical = np.nanmedian(noise, axis=0, keepdims=True)
    reason[noise > noise_ratio * typical] = "noisy baseline"

    if sfreq is not None:
        run = max(int(round(clip_run_s * sfreq)), 2)
        top = raw == raw.max(axis=-1, keepdims=True)
        bottom = raw == raw.min(axis=-1, keepdims=True)
        clipped = np.zeros(raw.shape[:2], bool)
        for at_extreme in (top, bottom):
            # A run of `run` consecutive samples at the extreme: a moving sum reaches `run`.
            counts = np.cumsum(at_extreme, axis=-1, dtype=np.int32)
            window = counts[..., run - 1:] - np.concatenate(
                [np.zeros(counts.shape[:2] + (1,), np.int32), counts[..., :-run]], axis=-1)
            clipped |= (window >= run).any(axis=-1)
        reason[clipped] = "clipped"
    reason[np.ptp(raw, axis=-1) < flat_v] = "flat"
    reason[~np.isfinite(raw).all(axis=-1)] = "nan"
    return reason != "", reason.astype(str)


#: Degree of the polynomial fitted beside the hum (offset, slope and the curvature of slow
#: electrode drift over a sweep); it is not subtracted.
_DRIFT_DEGREE = 3


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


def _mains_design(times, mains_hz, n_harmonics=3, reference=None):
    centre, half = reference if reference is not None else (times.mean(), np.ptp(times) / 2)
    tau = (times - centre) / half
    columns = [tau ** d for d in range(_DRIFT_DEGREE + 1)]
    for k in range(1, n_harmonics + 1):
        phase = 2 * np.pi * k * mains_hz * times
        columns += [np.sin(phase), np.cos(phase)]
    return np.stack(columns, axis=-1)


def remove_mains(data, times, fit_mask, mains_hz=None, n_harmonics=3):
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

    Returns
    -------
    cleaned : array of float, same shape as ``data``
    mains_hz : float
    """
    fit_times = times[fit_mask]
    reference = (times.mean(), np.ptp(times) / 2)  # one polynomial scale for fit and sweep
    flat = data[..., fit_mask].reshape(-1, fit_times.size).T
    frequency = float(mains_hz)
    design = _mains_design(fit_times, frequency, n_harmonics, reference)
    coef, *_ = np.linalg.lstsq(design, flat, rcond=None)
    # Keep the fitted drift polynomial out of the subtraction: it is not hum.
    drift = _DRIFT_DEGREE + 1
    hum = _mains_design(times, frequency, n_harmonics, reference)[:, drift:] @ coef[drift:]
    return data - hum.T.reshape(data.shape), frequency


def artefact_window(data, times, sfreq):
    """The span to blank: first pulse - 0.5 ms to last pulse + 1.5 ms, found in the data.

    Without a visible artefact, the first 2 ms after the stimulus.
    """
    centred = remove_offset(np.where(np.isfinite(data), data, 0.0), times)
    first, last = find_stimulus_train(centred, times, sfreq)
    if first is None:
        return (-0.0005, 0.002)
    return (first - 0.0005, last + 0.0015)


def condition(data, times, sfreq, band_hz, artefact_s, mains_hz=None, quiet_after_s=None):
    """Offset removal, artefact blanking, mains removal and band-pass, in that order.

    Hum is subtracted before filtering: the filter's edge transients would otherwise bend the
    sinusoid near the ends of the sweep, where the pre-stimulus noise is measured.

    Parameters
    ----------
    data : array of float, shape (n_sweeps, n_channels, n_samples)
    times : array of float, shape (n_samples,)
    sfreq : float
    band_hz : tuple of float
    artefact_s : tuple of float
        Window to blank (see :func:`artefact_window`).
    mains_hz : float or None
        50 or 60; None or 0 to leave hum in.
    quiet_after_s : float or None
        After this time no channel holds a response; the hum is fitted there and before the
        stimulus. None (or too short a span) leaves hum in.

    Returns
    -------
    conditioned : array of float, same shape
    mains_hz : float or None
        The mains frequency removed, None if none was.
    """
    clean = np.where(np.isfinite(data), data, 0.0)
    blanked = blank_artefact(remove_offset(clean, times), times, *artefact_s)
    removed = None
    if mains_hz and quiet_after_s is not None:
        late = times > quiet_after_s
        if late.sum() / sfreq >= MIN_LATE_FIT_S:
            blanked, removed = remove_mains(blanked, times, late | (times < artefact_s[0]),
                                            mains_hz)
    return bandpass(blanked, sfreq, band_hz), removed
