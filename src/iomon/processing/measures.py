"""Measures of each response: amplitude, latencies, area, duration, phases, presence.

Pure functions on conditioned sweeps of shape (n_sweeps, n_channels, n_samples) in volts; every
result has shape (n_sweeps, n_channels), in SI units (V, s, V*s), NaN where undefined.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model.muscles import MUSCLES

__all__ = ["CHUNK_SWEEPS", "LEVEL_SPAN_S", "ONSET_BAND_K", "ONSET_HOLD_S", "ONSET_K",
           "ONSET_PEAK_SHARE", "PRESENCE_FLOOR_V", "PRESENCE_NOISE_FACTOR", "TKEO_H",
           "count_phases", "count_turns", "local_level", "measure", "Measurements",
           "onset_threshold", "onset_tkeo", "refine_windows", "response_windows", "sweep_chunks",
           "teager_kaiser", "tkeo_threshold"]

#: Absolute floor of a response's peak-to-peak amplitude (V); MEP presence criteria in the
#: literature use 20-50 µV.
PRESENCE_FLOOR_V = 30e-6
#: A response must exceed this many times the noise SD, peak to peak. 12 with the noise of the
#: noise window alone, which is about 0.75 of the pre-stimulus rms of a whole-sweep zero-phase
#: filter (inflated by the filter running backwards and by its padding) against which 10 was
#: set: detection of small responses stays where it was (simulated threshold tracking: 55 of 56
#: recoveries right with 12 as with the old 10, 51 with 10; responses of 100 µV and more
#: found at 20 µV noise: 97.8 % against 97.4 %).
PRESENCE_NOISE_FACTOR = 12.0
#: Onset threshold in pre-stimulus standard deviations, and how long it must be held (s).
ONSET_K = 5.0
ONSET_HOLD_S = 0.0005
#: ... and the share of the sweep's peak-to-peak the excursion must also reach: in a very quiet
#: recording (noise below 1 µV) slow background fluctuations of a few µV cross 5 SD long
#: before the response does.
ONSET_PEAK_SHARE = 0.02
#: The onset is traced back to where the signal was last inside this many noise SD around its
#: level, or on the other side of it. Measured (benchmarks/real_mep_agreement.py and
#: measure_validation.py): with 1.5 SD slow drifts of a very quiet channel led the trace back
#: by up to 6 ms on real MEPs (70 % within 1 ms of MEPFeatX); 2 SD gives 90.5 % and the best
#: simulated onsets; 2.5 SD (MEPFeatX's 3 mean absolute deviations) also 90.5 %, but later
#: simulated onsets.
ONSET_BAND_K = 2.0


@dataclass(frozen=True)
class Measurements:
    """Per sweep x channel measures (arrays of shape (n_sweeps, n_channels)).

    Attributes
    ----------
    amplitude : peak-to-peak in the response window, V.
    onset_latency : s after the stimulus, NaN without a response (threshold method,
        :func:`onset_threshold`).
    onset_latency_tkeo : s, by the Teager-Kaiser energy method (:func:`onset_tkeo`).
    peak_latency : s of the largest absolute deflection, NaN without a response.
    area : rectified area from onset to offset, V*s.
    duration : offset - onset, s.
    n_phases : number of phases (sign changes + 1 of the deflections above threshold).
    n_turns : number of turns (local extrema above threshold) between onset and offset.
    snr_db : peak-to-peak amplitude against the peak-to-peak of a sinusoid of the noise's rms
        (2 sqrt 2 rms), in dB.
    noise : pre-stimulus noise, V: the standard deviation of the band-passed noise window.
    present : whether a response stands out from the noise.
    """

    amplitude: np.ndarray
    onset_latency: np.ndarray
    onset_latency_tkeo: np.ndarray
    peak_latency: np.ndarray
    area: np.ndarray
    duration: np.ndarray
    n_phases: np.ndarray
    n_turns: np.ndarray
    snr_db: np.ndarray
    noise: np.ndarray
    present: np.ndarray


def response_windows(muscles, times, not_before_s, margin_before_s=0.004, span_after_s=0.030):
    """Response window (start_s, end_s) per channel from the muscle's expected onset.

    A known muscle's window runs from ``margin_before_s`` before its earliest expected onset to
    ``span_after_s`` after its latest, never before ``not_before_s`` (the end of the blanked
    artefact); an unknown muscle's window is everything after ``not_before_s``.

    Parameters
    ----------
    muscles : sequence of str or None
    times : array of float, shape (n_samples,)
    not_before_s : float or array of float, shape (n_channels,)

    Returns
    -------
    array of float, shape (n_channels, 2)
    """
    end_of_sweep = float(times[-1])
    floors = np.broadcast_to(np.asarray(not_before_s, float), (len(muscles),))
    windows = []
    for muscle, floor in zip(muscles, floors):
        if muscle in MUSCLES:
            early, late = MUSCLES[muscle].onset_s
            start, end = early - margin_before_s, late + span_after_s
        else:
            start, end = floor, end_of_sweep
        windows.append((max(start, floor), min(end, end_of_sweep)))
    return np.array(windows, dtype=float).reshape(len(muscles), 2)


def refine_windows(average, times, sfreq, windows, noise_sd, n_averaged, before_s=0.005,
                   after_s=0.015):
    """Narrow each channel's window to its baseline response, with margins.

    The average of a channel's baseline sweeps shows where its response lies far more clearly
    than any one sweep; the window becomes [onset - ``before_s``, offset + ``after_s``] of that
    average, inside the original window. The margins leave room for the latency to grow and the
    response to widen during the case. Channels without a response in their average keep their
    window.

    Parameters
    ----------
    average : array of float, shape (n_channels, n_samples)
        Mean of each channel's baseline sweeps.
    times : array of float, shape (n_samples,)
    sfreq : float
    windows : array of float, shape (n_channels, 2)
    noise_sd : array of float, shape (n_channels,)
        Noise of single sweeps; that of the average is smaller by sqrt(n_averaged).
    n_averaged : array of int, shape (n_channels,)

    Returns
    -------
    array of float, shape (n_channels, 2)
    """
    sigma = np.asarray(noise_sd, float) / np.sqrt(np.maximum(n_averaged, 1))
    # The average's noise floor is lower, but presence still needs the absolute floor.
    m = measure(average[None], times, sfreq, windows, sigma[None], noise_sd=sigma)
    refined = windows.copy()
    found = m.present[0] & (np.asarray(n_averaged) > 0)
    onset = m.onset_latency[0]
    # The response ends where the average last exceeds a tenth of its peak (as MEPFeatX's
    # end point): the noise threshold alone would follow slow tails to the window's end.
    centred = average - local_level(average[None], times, windows)[0][:, None]
    in_window = (times[None, :] >= windows[:, :1]) & (times[None, :] <= windows[:, 1:])
    magnitude = np.where(in_window, np.abs(centred), 0.0)
    large = magnitude > np.maximum(0.1 * magnitude.max(axis=-1), ONSET_K * sigma)[:, None]
    offset = times[np.maximum(_last_true(large), 0)]
    refined[found, 0] = np.maximum(windows[found, 0], onset[found] - before_s)
    refined[found, 1] = np.minimum(windows[found, 1], offset[found] + after_s)
    return refined


def _first_true(mask, axis=-1):
    """Index of the first True along ``axis``, -1 where there is none."""
    index = np.argmax(mask, axis=axis)
    return np.where(mask.any(axis=axis), index, -1)


def _last_true(mask, axis=-1):
    """Index of the last True along ``axis``, -1 where there is none."""
    n = mask.shape[axis]
    index = n - 1 - np.argmax(np.flip(mask, axis=axis), axis=axis)
    return np.where(mask.any(axis=axis), index, -1)


def onset_threshold(data, in_window, sigma, sfreq, k=ONSET_K, hold_s=ONSET_HOLD_S,
                    floor=None, band_k=ONSET_BAND_K):
    """Onset as the start of the first excursion beyond ``k`` SD of the noise, held ``hold_s``.

    After Hodges & Bui (1996, Electroencephalogr Clin Neurophysiol 101:511-519): the threshold
    crossing must be sustained to count, and the onset is then traced back to where the signal
    left the noise band (``band_k`` SD), which removes most of the delay a high threshold adds.

    Parameters
    ----------
    data : array of float, shape (n_sweeps, n_channels, n_samples)
        Centred on the level before each window (see :func:`local_level`).
    in_window : array of bool, shape (n_channels, n_samples)
        Samples of each channel's response window.
    sigma : array of float, shape (n_sweeps, n_channels) or broadcastable
        Noise standard deviation, V.
    sfreq : float
    k, hold_s : float
    floor : array of float, shape (n_sweeps, n_channels), optional
        The excursion must also exceed this (V; see :data:`ONSET_PEAK_SHARE`).
    band_k : float

    Returns
    -------
    onset_index, offset_index : array of int, shape (n_sweeps, n_channels)
        Sample index of onset and of the last supra-threshold sample; -1 where none.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    magnitude = np.abs(data)
    threshold = k * np.asarray(sigma)[..., None]
    if floor is not None:
        threshold = np.maximum(threshold, np.asarray(floor)[..., None])
    above = (magnitude > threshold) & in_window[None]
    hold = max(int(round(hold_s * sfreq)), 1)
    held = sliding_window_view(above, hold, axis=-1).all(axis=-1)
    held = np.concatenate([held, np.zeros(above.shape[:2] + (hold - 1,), bool)], axis=-1)
    crossing = _first_true(held)
    n = data.shape[-1]
    sample = np.arange(n)
    # Trace back from the crossing to the last sample inside the noise band.
    band = band_k * np.asarray(sigma)[..., None]
    # A steep response can jump across the band between two samples: a sample on the other
    # side of the level counts as having left the response too.
    at_crossing = np.take_along_axis(data, np.maximum(crossing, 0)[..., None], axis=-1)
    other_side = np.sign(data) * np.sign(at_crossing) < 0
    quiet = ((magnitude <= band) | other_side) & (sample < crossing[..., None])
    last_quiet = _last_true(quiet)
    window_start = _first_true(in_window)[None, :]
    onset = np.where(last_quiet >= 0, np.maximum(last_quiet + 1, window_start), crossing)
    onset = np.where(crossing >= 0, np.minimum(onset, crossing), -1)
    offset = _last_true(above)
    return onset, offset


#: TKEO onset threshold: the pre-stimulus mean plus this many of its standard deviations. 8
#: since the statistics come from the noise window alone (15 with those of a whole-sweep
#: filter, which the stimulus inflated): median onset error on simulated cases 0.11 / 0.22 /
#: 0.45 ms at 5 / 10 / 20 µV noise, against 0.11 / 0.24 / 0.56 ms before.
TKEO_H = 8.0


def teager_kaiser(data):
    """Teager-Kaiser energy operator along the last axis: x[n]^2 - x[n-1] x[n+1]."""
    out = np.zeros_like(data)
    out[..., 1:-1] = data[..., 1:-1] ** 2 - data[..., :-2] * data[..., 2:]
    return out


def tkeo_threshold(quiet, h=TKEO_H):
    """Each channel's TKEO onset threshold: pre-stimulus energy mean + ``h`` SD (sweep medians).

    Parameters
    ----------
    quiet : array of float, shape (n_sweeps, n_channels, n_quiet) or None
        The filtered noise window of every sweep (see
        :func:`iomon.processing.conditioning.sweep_noise`).

    Returns
    -------
    array of float, shape (n_channels,), or None without noise windows of 5 samples or more.
    """
    if quiet is None or quiet.shape[-1] < 5:
        return None
    quiet_energy = teager_kaiser(quiet)[..., 1:-1]
    mean = np.median(quiet_energy.mean(axis=-1), axis=0)
    spread = np.median(quiet_energy.std(axis=-1), axis=0)
    return mean + h * spread


def onset_tkeo(data, in_window, quiet, sfreq, h=TKEO_H, hold_s=ONSET_HOLD_S, threshold=None):
    """Onset by thresholding the Teager-Kaiser energy of the signal.

    After Li, Zhou & Aruin (2007, Ann Biomed Eng 35:1532-1538) and Solnik et al. (2010, Eur J
    Appl Physiol 110:489-498): the operator responds to the instantaneous amplitude *and*
    frequency of a burst, so a motor unit volley stands out from slower noise and hum earlier
    than on the raw signal. The threshold is the channel's pre-stimulus TKEO mean plus ``h``
    standard deviations (medians over sweeps, :func:`tkeo_threshold`), held for ``hold_s``.

    Parameters
    ----------
    data : array of float, shape (n_sweeps, n_channels, n_samples)
    in_window : array of bool, shape (n_channels, n_samples)
    quiet : array of float, shape (n_sweeps, n_channels, n_quiet)
        The filtered noise window of each sweep (see
        :func:`iomon.processing.conditioning.sweep_noise`).
    sfreq, h, hold_s : float
    threshold : array of float, shape (n_channels,), optional
        Given when ``data`` is a part of the sweeps whose ``quiet`` set it (then ``quiet`` is
        not used).

    Returns
    -------
    array of int, shape (n_sweeps, n_channels)
        Sample index of onset, -1 where none.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    if threshold is None:
        threshold = tkeo_threshold(quiet, h)
    if threshold is None:
        return np.full(data.shape[:2], -1)
    above = (teager_kaiser(data) > threshold[None, :, None]) & in_window[None]
    hold = max(int(round(hold_s * sfreq)), 1)
    # Energy dips at the zero crossings inside a burst; half the samples held suffice.
    held = sliding_window_view(above, hold, axis=-1).mean(axis=-1) >= 0.5
    held &= above[..., :held.shape[-1]]
    return _first_true(held)


def count_turns(data, onset, offset, threshold):
    """Number of turns: local extrema between onset and offset whose size exceeds threshold."""
    sample = np.arange(data.shape[-1])
    slope = np.diff(data, axis=-1)
    extremum = np.zeros(data.shape, bool)
    extremum[..., 1:-1] = slope[..., :-1] * slope[..., 1:] < 0
    span = (sample >= onset[..., None]) & (sample <= offset[..., None])
    big = np.abs(data) > threshold[..., None]
    return np.where(onset >= 0, (extremum & span & big).sum(axis=-1), 0)


def count_phases(data, onset, offset, threshold):
    """Number of phases between onset and offset: sign changes of the supra-threshold signal + 1.

    Deflections smaller than ``threshold`` (V, per sweep x channel) do not count as phases, so
    noise riding on a baseline crossing is not mistaken for one.
    """
    n = data.shape[-1]
    sample = np.arange(n)
    span = (sample >= onset[..., None]) & (sample <= offset[..., None])
    signs = np.where(np.abs(data) > threshold[..., None], np.sign(data), 0.0) * span
    # Carry the last non-zero sign forward so that a change is counted once, across gaps.
    index = np.where(signs != 0, sample, 0)
    np.maximum.accumulate(index, axis=-1, out=index)
    carried = np.take_along_axis(signs, index, axis=-1)
    changes = (carried[..., 1:] * carried[..., :-1] < 0).sum(axis=-1)
    return np.where(onset >= 0, changes + 1, 0)


#: Span before each response window whose median is the level onsets are measured from (s).
LEVEL_SPAN_S = 0.003


def local_level(data, times, windows, span_s=LEVEL_SPAN_S):
    """Median of each sweep over the ``span_s`` before its channel's window (after t = 0).

    Where that span is empty (a window starting right after the stimulus), the level is 0, the
    pre-stimulus level the offset removal already set.

    Returns
    -------
    array of float, shape (n_sweeps, n_channels)
    """
    level = np.zeros(data.shape[:2])
    for c, (start, _) in enumerate(windows):
        span = (times >= max(start - span_s, 0.0)) & (times < start)
        if span.sum() >= 3:
            level[:, c] = np.median(data[:, c][..., span], axis=-1)
    return level


def measure(data, times, sfreq, windows, noise, noise_sd=None, quiet=None,
            presence_v=PRESENCE_FLOOR_V, presence_ratio=PRESENCE_NOISE_FACTOR):
    """Measure every sweep x channel.

    Parameters
    ----------
    data : array of float, shape (n_sweeps, n_channels, n_samples)
        Conditioned sweeps, V.
    times : array of float, shape (n_samples,)
    sfreq : float
    windows : array of float, shape (n_channels, 2)
        Response window per channel, s (see :func:`response_windows`).
    noise : array of float, shape (n_sweeps, n_channels)
        Pre-stimulus noise of each sweep, V (see :func:`iomon.processing.conditioning.sweep_noise`).
    noise_sd : array of float, shape (n_channels,), optional
        Noise level per channel used for thresholds; by default the median over sweeps of
        ``noise``, which one noisy sweep cannot inflate.
    quiet : array of float, shape (n_sweeps, n_channels, n_quiet), optional
        The filtered noise windows, for the Teager-Kaiser onset; without them it is not
        measured.
    presence_v : float
        Smallest peak-to-peak amplitude of a response, V.
    presence_ratio : float
        A response must also exceed this many times the channel's noise, peak to peak.

    Returns
    -------
    Measurements

    Notes
    -----
    Sweeps are measured :data:`CHUNK_SWEEPS` at a time (every measure but the channel's noise
    level and TKEO threshold, set first from all sweeps, is a sweep's own), so the temporaries
    are a few copies of a chunk, not of hours of sweeps.
    """
    noise = np.asarray(noise, float)
    if noise_sd is None:
        with np.errstate(invalid="ignore"):
            noise_sd = np.nanmedian(noise, axis=0) if np.isfinite(noise).any() \
                else np.full(data.shape[1], np.nan)
    in_window = (times[None, :] >= windows[:, :1]) & (times[None, :] <= windows[:, 1:])
    common = dict(times=times, sfreq=sfreq, windows=windows, in_window=in_window,
                  noise_sd=np.asarray(noise_sd, float), energy_threshold=tkeo_threshold(quiet),
                  presence_v=presence_v, presence_ratio=presence_ratio)
    parts = [_measure_sweeps(data[part], noise[part], **common)
             for part in sweep_chunks(data.shape[0])]
    return Measurements(**{name: np.concatenate([getattr(p, name) for p in parts])
                           for name in Measurements.__dataclass_fields__})


#: Sweeps measured (and conditioned, :func:`iomon.processing.conditioning.condition`) at a time.
CHUNK_SWEEPS = 256


def sweep_chunks(n_sweeps, size=None) -> list[slice]:
    """Consecutive slices of ``size`` (:data:`CHUNK_SWEEPS`) sweeps or fewer over ``n_sweeps``.

    One slice, empty, when there are no sweeps.
    """
    size = size or CHUNK_SWEEPS
    return [slice(i, min(i + size, n_sweeps)) for i in range(0, max(n_sweeps, 1), size)]


def _measure_sweeps(data, noise, times, sfreq, windows, in_window, noise_sd, energy_threshold,
                    presence_v, presence_ratio) -> Measurements:
    """:func:`measure` on some of the sweeps, the channel-wide figures given."""
    # A sweep noisier than its channel's usual is judged against its own noise.
    sigma = np.fmax(noise_sd[None, :], noise)
    masked = np.where(in_window[None], data, np.nan)
    with np.errstate(invalid="ignore"):
        amplitude = np.nanmax(masked, axis=-1) - np.nanmin(masked, axis=-1)
    del masked

    # Thresholds are applied around the level just before each window, not around zero: a slow
    # offset left by the artefact or by background activity would otherwise cross them at the
    # window's first sample.
    centred = data - local_level(data, times, windows)[..., None]
    onset, offset = onset_threshold(centred, in_window, sigma, sfreq,
                                    floor=ONSET_PEAK_SHARE * amplitude)
    onset_energy = (np.full(data.shape[:2], -1) if energy_threshold is None else
                    onset_tkeo(data, in_window, None, sfreq, threshold=energy_threshold))
    floor = np.maximum(presence_v, presence_ratio * sigma)
    present = (amplitude >= floor) & (onset >= 0)
    onset = np.where(present, onset, -1)
    offset = np.where(present, np.maximum(offset, onset), -1)

    sample = np.arange(data.shape[-1])
    span = (sample >= onset[..., None]) & (sample <= offset[..., None]) & present[..., None]
    area = np.sum(np.abs(data) * span, axis=-1) / sfreq
    del span
    peak_index = np.argmax(np.where(in_window[None], np.abs(data), -np.inf), axis=-1)
    nan = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        snr_db = 20 * np.log10(amplitude / (2 * np.sqrt(2) * sigma))
    return Measurements(
        amplitude=amplitude,
        onset_latency=np.where(present, times[np.maximum(onset, 0)], nan),
        onset_latency_tkeo=np.where(present & (onset_energy >= 0),
                                    times[np.maximum(onset_energy, 0)], nan),
        peak_latency=np.where(present, times[peak_index], nan),
        area=np.where(present, area, nan),
        duration=np.where(present, (offset - onset) / sfreq, nan),
        n_phases=count_phases(centred, onset, offset, ONSET_K * sigma),
        n_turns=count_turns(centred, onset, offset, ONSET_K * sigma),
        snr_db=snr_db,
        noise=noise,
        present=present,
    )
