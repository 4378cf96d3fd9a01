"""Measures of each response: amplitude, latencies, area, duration, phases, presence.

Pure functions on conditioned sweeps of shape (n_sweeps, n_channels, n_samples) in volts; every
result has shape (n_sweeps, n_channels), in SI units (V, s, V*s), NaN where undefined.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..model.muscles import MUSCLES
from .onsets import (
    DEFAULT_ONSET_METHOD,
    LEVEL_SPAN_S,
    ONSET_K,
    ONSET_METHODS,
    QuietFigures,
    earliest_onsets,
    localise,
    measured_span,
    onset_changepoint,
    onset_tkeo,
    tkeo_threshold,
)

__all__ = ["CHUNK_BYTES", "LEVEL_SPAN_S", "PRESENCE_FLOOR_V", "PRESENCE_NOISE_FACTOR",
           "count_phases", "count_turns", "local_level", "measure", "Measurements",
           "refine_windows", "response_windows", "sweep_chunks"]

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


@dataclass(frozen=True)
class Measurements:
    """Per sweep x channel measures (arrays of shape (n_sweeps, n_channels)).

    Attributes
    ----------
    amplitude : peak-to-peak in the response window, V.
    onset_latency : s after the stimulus, NaN without a response, by the onset method asked
        for (:data:`~iomon.processing.onsets.ONSET_METHODS`; the threshold method by default).
    onset_latency_tkeo : s, by the Teager-Kaiser energy method
        (:func:`~iomon.processing.onsets.onset_tkeo`), whatever the method asked for.
    peak_latency : s of the largest absolute deflection, NaN without a response.
    area : rectified area from onset to offset, V*s.
    duration : offset - onset, s.
    n_phases : number of phases (sign changes + 1 of the deflections above threshold).
    n_turns : number of turns (local extrema above threshold) between onset and offset.
    snr_db : peak-to-peak amplitude against the peak-to-peak of a sinusoid of the noise's rms
        (2 sqrt 2 rms), in dB.
    noise : pre-stimulus noise, V: the standard deviation of the band-passed noise window.
    present : whether a response stands out from the noise.
    onset_early : the onset lies before the muscle can respond
        (:func:`~iomon.processing.onsets.earliest_onsets`) and looking again from there found
        no later one (see :func:`~iomon.processing.onsets.onset_notes`).
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
    onset_early: np.ndarray


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


def _last_true(mask, axis=-1):
    """Index of the last True along ``axis``, -1 where there is none."""
    n = mask.shape[axis]
    index = n - 1 - np.argmax(np.flip(mask, axis=axis), axis=axis)
    return np.where(mask.any(axis=axis), index, -1)


def count_turns(data, onset, offset, threshold):
    """Number of turns: local extrema between onset and offset whose size exceeds threshold."""
    return _turns(data, _beyond_in_span(data, onset, offset, threshold), onset)


def count_phases(data, onset, offset, threshold):
    """Number of phases between onset and offset: sign changes of the supra-threshold signal + 1.

    Deflections smaller than ``threshold`` (V, per sweep x channel) do not count as phases, so
    noise riding on a baseline crossing is not mistaken for one.
    """
    return _phases(data, _beyond_in_span(data, onset, offset, threshold), onset)


def _beyond_in_span(data, onset, offset, threshold):
    """Samples from onset to offset whose size exceeds ``threshold``.

    What turns and phases count: the measures make it once for both.
    """
    sample = np.arange(data.shape[-1])
    span = (sample >= onset[..., None]) & (sample <= offset[..., None])
    return (np.abs(data) > threshold[..., None]) & span


def _turns(data, beyond, onset):
    """:func:`count_turns` given :func:`_beyond_in_span`."""
    slope = np.diff(data, axis=-1)
    extremum = np.zeros(data.shape, bool)
    extremum[..., 1:-1] = slope[..., :-1] * slope[..., 1:] < 0
    return np.where(onset >= 0, (extremum & beyond).sum(axis=-1), 0)


def _phases(data, beyond, onset):
    """:func:`count_phases` given :func:`_beyond_in_span`."""
    # The supra-threshold samples in the span, in order: a change is a sample whose sign
    # differs from the previous such sample of its sweep, however far back (across gaps).
    pair, at = np.nonzero(beyond.reshape(-1, data.shape[-1]))
    positive = data.reshape(-1, data.shape[-1])[pair, at] > 0
    change = (pair[1:] == pair[:-1]) & (positive[1:] != positive[:-1])
    changes = np.bincount(pair[1:][change], minlength=onset.size).reshape(onset.shape)
    return np.where(onset >= 0, changes + 1, 0)


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
            presence_v=PRESENCE_FLOOR_V, presence_ratio=PRESENCE_NOISE_FACTOR,
            onset_method=DEFAULT_ONSET_METHOD, not_before=None, muscles=None):
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
        Noise level per channel used for presence (and the onset's thresholds without
        ``quiet``); by default the median over sweeps of ``noise``, which one noisy sweep
        cannot inflate.
    quiet : array of float, shape (n_sweeps, n_channels, n_quiet), or QuietFigures, optional
        The filtered noise windows (or their figures, taken as the sweeps were conditioned).
        With them the onset's thresholds are judged on their robust SD
        (:func:`~iomon.processing.onsets.robust_noise`, the channel's level the median over
        sweeps), which a burst of interference in the window does not inflate, and the
        Teager-Kaiser onset is measured; without them, on ``noise`` and no TKEO.
    presence_v : float
        Smallest peak-to-peak amplitude of a response, V.
    presence_ratio : float
        A response must also exceed this many times the channel's noise, peak to peak.
    onset_method : str
        One of :data:`~iomon.processing.onsets.ONSET_METHODS`: how ``onset_latency`` is
        placed (duration and area run from it).
    not_before : array of float, shape (n_channels,), optional
        End of each channel's blanked artefact, s (NaN: none): no onset or baseline on it.
    muscles : sequence of str or None, optional
        Each channel's muscle: an onset earlier than it can respond is looked at again.

    Returns
    -------
    Measurements

    Notes
    -----
    Sweeps are measured :data:`CHUNK_BYTES` at a time (every measure but the channel's noise
    level and TKEO threshold, set first from all sweeps, is a sweep's own), so the temporaries
    are a few copies of a chunk, not of hours of sweeps.
    """
    if onset_method not in ONSET_METHODS:
        raise ValueError(f"onset_method must be one of {ONSET_METHODS}, got {onset_method!r}")
    noise = np.asarray(noise, float)
    figures = (quiet if isinstance(quiet, QuietFigures) or quiet is None
               else QuietFigures.of(quiet))
    own = figures.robust if figures is not None and figures.robust is not None else noise
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a channel without any noise figure
        if noise_sd is None:
            noise_sd = np.nanmedian(noise, axis=0)
        own_sd = np.nanmedian(own, axis=0) if own is not noise else np.asarray(noise_sd)
    energy = None if figures is None else tkeo_threshold(figures)
    common = dict(times=times, sfreq=sfreq, windows=windows,
                  noise_sd=np.asarray(noise_sd, float), own_sd=np.asarray(own_sd, float),
                  presence_v=presence_v, presence_ratio=presence_ratio,
                  onset_method=onset_method, not_before=not_before,
                  earliest=None if muscles is None else earliest_onsets(muscles))
    # Only the samples the windows' measures read (bit for bit the same measures), in chunks
    # of float64 whatever the sweeps are held as (the pipeline holds float32). The chunks are
    # those of the whole sweeps: a chunk's sweeps share some sums' starting sample.
    span = measured_span(times, windows, sfreq)
    common["times"] = times[span]
    common["cut"] = (span.start, times.size - span.stop)
    parts = [_measure_sweeps(np.asarray(data[part][..., span], float), noise[part], own[part],
                             None if energy is None else energy[part], **common)
             for part in sweep_chunks(data.shape)]
    return Measurements(**{name: np.concatenate([getattr(p, name) for p in parts])
                           for name in Measurements.__dataclass_fields__})


#: Bytes of sweeps (as float64) conditioned or measured at a time. The temporaries are a few
#: times this (the band-pass pads each sweep to three times its length) and stay in the
#: processor's cache and the allocator's free memory from chunk to chunk. Measured on 15
#: minutes of 16 channels at 10 kHz (433 sweeps): conditioning 1.1 CPU s in 1 MB chunks,
#: 1.8 s in 8 MB chunks (and 2 s more in the kernel with chunks of 36 MB, mapped afresh each
#: time); 0.5 MB chunks cost more again in calls.
CHUNK_BYTES = 1 << 20


def sweep_chunks(shape) -> list[slice]:
    """Consecutive slices of sweeps over an array of ``shape``, each :data:`CHUNK_BYTES` or less.

    ``shape``: (n_sweeps, ...) of the sweeps' array. At least one sweep per slice; one slice,
    empty, when there are no sweeps.
    """
    n_sweeps, per_sweep = int(shape[0]), int(np.prod(shape[1:], dtype=np.int64))
    size = max(1, CHUNK_BYTES // (8 * max(per_sweep, 1)))
    return [slice(i, min(i + size, n_sweeps)) for i in range(0, max(n_sweeps, 1), size)]


def _measure_sweeps(data, noise, own, energy, times, sfreq, windows, noise_sd, own_sd,
                    presence_v, presence_ratio, onset_method, not_before,
                    earliest, cut=(0, 0)) -> Measurements:
    """:func:`measure` on some of the sweeps, the channel-wide figures given.

    ``data`` and ``times`` may be the sweeps cut to :func:`measured_span`, ``cut`` the samples
    left out before and after.
    """
    # A sweep noisier than its channel's usual is judged against its own noise: for presence
    # the smaller of its SD (what 12 times was set against) and its robust SD, so that a burst
    # in the noise window cannot hide a response; the robust SD for the onset's thresholds.
    sigma = np.fmax(noise_sd[None, :], np.fmin(noise, own))
    robust = np.fmax(own_sd[None, :], own)
    in_window = (times[None, :] >= windows[:, :1]) & (times[None, :] <= windows[:, 1:])
    masked = np.where(in_window[None], data, np.nan)
    with np.errstate(invalid="ignore"):
        amplitude = np.nanmax(masked, axis=-1) - np.nanmin(masked, axis=-1)
    del masked

    loc = localise(data, times, sfreq, windows, robust, amplitude, not_before, earliest)
    floor = np.maximum(presence_v, presence_ratio * sigma)
    present = (amplitude >= floor) & (loc.crossing >= 0)
    # Thresholds apply around each response's baseline (the level before it, or the line of
    # a tail it rides on), not around zero.
    centred = data - loc.baseline(times)
    onset_energy = (np.full(data.shape[:2], -1) if energy is None else
                    onset_tkeo(data, times, sfreq, loc, energy, centred))
    if onset_method == "threshold":
        onset, onset_s = loc.onset, loc.onset_s
    else:
        onset = (onset_energy if onset_method == "tkeo" and energy is not None
                 else onset_changepoint(data, times, sfreq, loc, robust)
                 if onset_method == "changepoint" else loc.onset)
        onset_s = times[np.maximum(onset, 0)]
    onset = np.where(present, onset, -1)
    above = (np.abs(centred) > loc.threshold[..., None]) & in_window[None]
    offset = np.where(present, np.maximum(_last_true(above), onset), -1)
    del above
    sample = np.arange(data.shape[-1])
    span = (sample >= onset[..., None]) & (sample <= offset[..., None]) & present[..., None]
    weighted = np.abs(data) * span
    if any(cut):  # summed over the whole sweep's length, zeros where it was cut: NumPy sums
        # pairwise, and a shorter row would group, and round, the same values otherwise
        weighted = np.pad(weighted, [(0, 0), (0, 0), cut])
    area = np.sum(weighted, axis=-1) / sfreq
    del weighted
    del span
    peak_index = np.argmax(np.where(in_window[None], np.abs(data), -np.inf), axis=-1)
    first = (np.full(data.shape[1], -1) if earliest is None else
             np.array([np.searchsorted(times, e) if np.isfinite(e) else -1 for e in earliest]))
    beyond = _beyond_in_span(centred, onset, offset, ONSET_K * sigma)
    nan = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        snr_db = 20 * np.log10(amplitude / (2 * np.sqrt(2) * sigma))
    return Measurements(
        amplitude=amplitude,
        onset_latency=np.where(present, onset_s, nan),
        onset_latency_tkeo=np.where(present & (onset_energy >= 0),
                                    times[np.maximum(onset_energy, 0)], nan),
        peak_latency=np.where(present, times[peak_index], nan),
        area=np.where(present, area, nan),
        duration=np.where(present, times[np.maximum(offset, 0)] - onset_s, nan),
        n_phases=_phases(centred, beyond, onset),
        n_turns=_turns(centred, beyond, onset),
        snr_db=snr_db,
        noise=noise,
        present=present,
        onset_early=present & (onset < first[None, :]),
    )
