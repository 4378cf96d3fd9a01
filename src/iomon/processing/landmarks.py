"""Onsets and peaks placed by hand in review, put into the measures.

A reviewer who sees a detected onset in the wrong place (a slow rise the threshold method
found late, a polyphasic response whose first phase is small) moves the marker; the analysis
then takes the hand-placed latency for that sweep x channel and recomputes what rests on it:
the response's duration and area (from the onset to the offset the detector found), its phases
and turns, and presence (a placed onset says "there is a response here"). The amplitude is the
window's peak to peak and does not change. Detected values stay available beside the manual
ones (the review shows both).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..model.errors import InputError
from .measures import Measurements, count_phases, count_turns, local_level
from .onsets import ONSET_K, ONSET_PEAK_SHARE

__all__ = ["ManualMark", "apply_landmarks", "marks_from_landmarks"]


@dataclasses.dataclass(frozen=True)
class ManualMark:
    """One hand-placed marker on a sweep x channel (indices), latencies in s or None."""

    sweep: int
    channel: int
    onset_s: float | None = None
    peak_s: float | None = None


def _merged(marks) -> dict[tuple[int, int], ManualMark]:
    """The marks per sweep x channel, later ones overriding earlier onsets and peaks."""
    out: dict[tuple[int, int], ManualMark] = {}
    for mark in marks:
        key = (mark.sweep, mark.channel)
        old = out.get(key, ManualMark(*key))
        out[key] = ManualMark(*key, mark.onset_s if mark.onset_s is not None else old.onset_s,
                              mark.peak_s if mark.peak_s is not None else old.peak_s)
    return out


def apply_landmarks(measurements: Measurements, data, times, sfreq, windows, noise_sd,
                    marks) -> Measurements:
    """Measurements with the hand-placed onsets and peaks put in.

    Parameters
    ----------
    measurements : Measurements
        As :func:`iomon.processing.measures.measure` returned them for ``data``.
    data : array of float, shape (n_sweeps, n_channels, n_samples)
        The conditioned sweeps, V.
    times : array of float, shape (n_samples,)
        s after the stimulus.
    sfreq : float
    windows : array of float, shape (n_channels, 2)
        The response windows the measures used, s.
    noise_sd : array of float, shape (n_channels,)
        The channel noise levels the measures used, V.
    marks : sequence of ManualMark
        Latencies within the sweep (the caller checks); a later mark of a sweep x channel
        overrides an earlier one.

    Returns
    -------
    Measurements
        New arrays; ``measurements`` is left as it was. With no marks, ``measurements`` itself.
    """
    merged = _merged(marks)
    if not merged:
        return measurements
    out = {name: np.array(getattr(measurements, name))
           for name in Measurements.__dataclass_fields__}
    for (s, c), mark in merged.items():
        if mark.onset_s is not None:
            sweep = np.asarray(data[s:s + 1], float)  # float64, however the sweeps are held
            _put_onset(out, sweep, s, c, mark.onset_s, times, sfreq, windows,
                       float(np.fmax(noise_sd[c], out["noise"][s, c])))
        if mark.peak_s is not None:
            out["peak_latency"][s, c] = times[_index(times, mark.peak_s)]
    return Measurements(**out)


def _index(times, at_s: float) -> int:
    """The sample nearest ``at_s``."""
    return int(np.argmin(np.abs(np.asarray(times) - at_s)))


def _put_onset(out: dict, sweep, s: int, c: int, onset_s: float, times, sfreq, windows,
               sigma: float) -> None:
    """Set one sweep x channel's onset and recompute duration, area, phases and turns.

    ``sweep``: shape (1, n_channels, n_samples). The offset is the last sample beyond the
    detector's threshold in the window (as :func:`iomon.processing.measures.measure` finds it),
    never before the onset.
    """
    onset = _index(times, onset_s)
    centred = sweep - local_level(sweep, times, windows)[..., None]
    x = centred[0, c]
    in_window = (times >= windows[c, 0]) & (times <= windows[c, 1])
    threshold = max(ONSET_K * sigma, ONSET_PEAK_SHARE * float(out["amplitude"][s, c]))
    above = np.flatnonzero((np.abs(x) > threshold) & in_window)
    offset = max(int(above[-1]) if above.size else onset, onset)
    on, off, limit = np.array([[onset]]), np.array([[offset]]), np.array([[ONSET_K * sigma]])
    out["onset_latency"][s, c] = times[onset]
    out["duration"][s, c] = (offset - onset) / sfreq
    out["area"][s, c] = np.abs(sweep[0, c, onset:offset + 1]).sum() / sfreq
    out["n_phases"][s, c] = count_phases(x[None, None], on, off, limit)[0, 0]
    out["n_turns"][s, c] = count_turns(x[None, None], on, off, limit)[0, 0]
    out["present"][s, c] = True
    if not np.isfinite(out["peak_latency"][s, c]):
        # A response the detector missed: its peak is the window's largest deflection, as
        # the detector takes it.
        peak = np.argmax(np.where(in_window, np.abs(sweep[0, c]), -np.inf))
        out["peak_latency"][s, c] = times[peak]


def marks_from_landmarks(landmarks, ch_names, n_sweeps: int, times, source=None
                         ) -> list[ManualMark]:
    """The sidecar's landmarks as indexed marks, each checked against the recording.

    Parameters
    ----------
    landmarks : sequence of objects with ``channel``, ``sweep``, ``onset_s``, ``peak_s``
        :class:`iomon.case.sidecar.Landmark`.
    ch_names : sequence of str
    n_sweeps : int
    times : array of float, shape (n_samples,)
        s after the stimulus.
    source : Path, optional
        The sidecar, named in errors.

    Raises
    ------
    InputError
        A channel the recording lacks, a sweep beyond its last, a latency outside the sweep.
    """
    names = list(ch_names)
    out = []
    for k, mark in enumerate(landmarks):
        where = f"landmarks[{k}]"
        if mark.channel not in names:
            raise InputError(f"{where} names channel {mark.channel!r}, which the recording "
                             f"lacks (channels: {', '.join(names)})", source)
        if mark.sweep >= n_sweeps:
            raise InputError(f"{where} names sweep {mark.sweep}, but the recording has "
                             f"{n_sweeps} (0 to {n_sweeps - 1})", source)
        for key, value in (("onset_ms", mark.onset_s), ("peak_ms", mark.peak_s)):
            if value is not None and not 0.0 < value <= float(times[-1]):
                raise InputError(f"{where}.{key} = {value * 1e3:g} lies outside the sweep "
                                 f"after the stimulus (0 to {times[-1] * 1e3:g} ms)", source)
        out.append(ManualMark(mark.sweep, names.index(mark.channel), mark.onset_s, mark.peak_s))
    return out
