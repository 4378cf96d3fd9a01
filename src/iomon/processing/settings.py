"""Processing settings: how sweeps are conditioned and measured.

They come from three places, the first that gives a value winning: :class:`Settings` passed
to :func:`iomon.pipeline.analyze` in Python, the case sidecar's ``[processing]`` table, and
the defaults below. Every value used is recorded in summary.json and the report's methods.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from ..model.errors import InputError
from .baseline import DEFAULT_BASELINE_SWEEPS
from .conditioning import DEFAULT_BAND_HZ, DEFAULT_NOISE_WINDOW_S
from .measures import PRESENCE_FLOOR_V, PRESENCE_NOISE_FACTOR
from .onsets import DEFAULT_ONSET_METHOD, ONSET_METHODS

__all__ = ["NONE", "SIDECAR_KEYS", "resolve", "Resolved", "Settings", "settings_from_sidecar"]

#: ``band_hz`` / ``artefact_s`` value that turns the step off.
NONE = "none"
#: Sidecar key of each setting (the sidecar states times in ms and amplitudes in µV).
SIDECAR_KEYS = {"band_hz": "band_hz", "artefact_s": "artefact_ms",
                "noise_window_s": "noise_window_ms", "presence_v": "presence_uv",
                "presence_noise_ratio": "presence_noise_ratio",
                "baseline_sweeps": "baseline_sweeps", "onset_method": "onset_method"}


#: Largest magnitude of a number in [processing] (Hz, ms, µV or a ratio): beyond is a typo.
_LARGEST = 1e6


def _is_number(value) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value) and abs(value) <= _LARGEST
    except OverflowError:  # an integer too large for a float
        return False


def _span(value, key):
    """A [start, end] pair of finite numbers with start < end, as a tuple of float."""
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(_is_number(v) for v in value) or not value[0] < value[1]):
        raise InputError(f"processing.{key} must be [start, end] with start < end, "
                         f"got {value!r}")
    return (float(value[0]), float(value[1]))


@dataclass(frozen=True)
class Settings:
    """Processing settings; None means "from the sidecar, else the default".

    Attributes
    ----------
    band_hz : tuple of float, "none" or None
        Band-pass edges, Hz; ``"none"`` for exports the vendor already filtered. Default
        2-1500 Hz, the upper edge lowered to 45 % of the sampling rate below 3.33 kHz.
    artefact_s : tuple of float, "none" or None
        Span to blank around the stimulus, s; ``"none"`` for no blanking. Default: found in
        the data from the stimulus train (see :func:`iomon.conditioning.artefact_windows`).
    noise_window_s : tuple of float or None
        Where the noise is measured, s: before the stimulus, or after it in a span without
        artefact or response (sweeps exported from the first pulse). Default -10 to -1 ms,
        clipped to the sweep; sweeps without that much before the stimulus measure it after
        the latest response window instead (see :func:`iomon.pipeline.noise_window`).
    presence_v : float or None
        Smallest peak-to-peak amplitude of a response, V (default 30 µV,
        :data:`~iomon.processing.measures.PRESENCE_FLOOR_V`).
    presence_noise_ratio : float or None
        A response must also exceed this many times the noise, peak to peak (default 12,
        :data:`~iomon.processing.measures.PRESENCE_NOISE_FACTOR`).
    baseline_sweeps : int or None
        Valid sweeps that form each channel's baseline (default 10).
    onset_method : str or None
        How onset latency is placed: ``"threshold"`` (Hodges & Bui 1996, the default),
        ``"tkeo"`` (Teager-Kaiser energy, Li, Zhou & Aruin 2007) or ``"changepoint"``
        (maximum-likelihood change point, Staude & Wolf 1999); see
        :mod:`iomon.processing.onsets`.
    mains_hz : float or None
        Mains frequency to remove (50 or 60); 0 to leave hum alone; None to take it from the
        sidecar's ``[recording] mains_hz`` or from the recording.
    rebaselines : tuple of Rebaseline
        Explicit re-baselinings, added to those of the case sidecar.
    """

    band_hz: tuple[float, float] | str | None = None
    artefact_s: tuple[float, float] | str | None = None
    noise_window_s: tuple[float, float] | None = None
    presence_v: float | None = None
    presence_noise_ratio: float | None = None
    baseline_sweeps: int | None = None
    onset_method: str | None = None
    mains_hz: float | None = None
    rebaselines: tuple = ()

    def __post_init__(self):
        for key in ("band_hz", "artefact_s"):
            value = getattr(self, key)
            if value is None or value == NONE:
                continue
            span = _span(value, SIDECAR_KEYS[key])
            if key == "band_hz" and span[0] <= 0:
                raise InputError(f"processing.band_hz edges must be > 0 Hz, got {list(value)}")
            object.__setattr__(self, key, span)
        if self.noise_window_s is not None:
            span = _span(self.noise_window_s, "noise_window_ms")
            if span[0] < 0 < span[1]:
                raise InputError("processing.noise_window_ms must lie before the stimulus or "
                                 "after it, not across it (the stimulus artefact is no noise), "
                                 f"got {[v * 1e3 for v in self.noise_window_s]} ms")
            object.__setattr__(self, "noise_window_s", span)
        for key in ("presence_v", "presence_noise_ratio"):
            value = getattr(self, key)
            if value is not None and (not _is_number(value) or value < 0):
                raise InputError(f"processing.{SIDECAR_KEYS[key]} must be a number >= 0, "
                                 f"got {value!r}")
        if self.baseline_sweeps is not None and (
                isinstance(self.baseline_sweeps, bool) or not isinstance(self.baseline_sweeps, int)
                or not 1 <= self.baseline_sweeps <= 1000):
            raise InputError("processing.baseline_sweeps must be a whole number from 1 to 1000, "
                             f"got {self.baseline_sweeps!r}")
        if isinstance(self.onset_method, str):
            object.__setattr__(self, "onset_method", self.onset_method.strip().lower())
        if self.onset_method is not None and self.onset_method not in ONSET_METHODS:
            raise InputError("processing.onset_method must be one of "
                             f"{', '.join(repr(m) for m in ONSET_METHODS)}, "
                             f"got {self.onset_method!r}")

    def over(self, other: Settings) -> Settings:
        """These settings, with the values left unset here taken from ``other``."""
        values = {f.name: getattr(self, f.name) for f in fields(self)
                  if f.name != "rebaselines" and getattr(self, f.name) is None}
        values = {k: getattr(other, k) for k in values}
        return replace(self, **values, rebaselines=tuple(other.rebaselines)
                       + tuple(self.rebaselines))


def settings_from_sidecar(table: dict) -> Settings:
    """Settings from a sidecar's ``[processing]`` table (ms and µV as written there).

    Raises
    ------
    InputError
        A key that is unknown or a value of the wrong type or range; the message names it
        (the caller adds the file).
    """
    known = set(SIDECAR_KEYS.values())
    unknown = sorted(set(table) - known)
    if unknown:
        raise InputError(f"unknown key {unknown[0]!r} in [processing] (expected: "
                         f"{', '.join(sorted(known))})")
    values = {}
    for key, sidecar_key in SIDECAR_KEYS.items():
        if sidecar_key not in table:
            continue
        value = table[sidecar_key]
        if key in ("band_hz", "artefact_s") and isinstance(value, str):
            if value.lower() != NONE:
                raise InputError(f"processing.{sidecar_key} must be [start, end] or \"none\", "
                                 f"got {value!r}")
            values[key] = NONE
            continue
        if key in ("artefact_s", "noise_window_s"):
            span = _span(value, sidecar_key)
            value = (span[0] / 1e3, span[1] / 1e3)
        elif key == "presence_v":
            if not _is_number(value):
                raise InputError(f"processing.presence_uv must be a number >= 0, got {value!r}")
            value = value * 1e-6
        values[key] = value
    return Settings(**values)


@dataclass(frozen=True)
class Resolved:
    """The settings an analysis used, every value decided.

    Attributes
    ----------
    band_hz : tuple of float or None
        None: no band-pass.
    artefact_s : tuple of float, "none" or None
        As set; None: found in the data.
    noise_window_s : tuple of float or None
        None: the sweeps hold too little before the stimulus; the pipeline places the window
        after the responses (:func:`iomon.pipeline.noise_window`).
    noise_window_source : str
        Where the noise window came from: ``"before the stimulus"``, ``"after the
        responses"`` or ``"[processing] noise_window_ms"``.
    presence_v, presence_noise_ratio : float
    baseline_sweeps : int
    onset_method : str
    mains_hz : float or None
        As asked for (None: from the sidecar or the recording).
    rebaselines : tuple of Rebaseline
    notes : tuple of str
        What the resolution changed (an upper band edge lowered, a window clipped).
    """

    band_hz: tuple[float, float] | None
    artefact_s: tuple[float, float] | str | None
    noise_window_s: tuple[float, float] | None
    presence_v: float
    presence_noise_ratio: float
    baseline_sweeps: int
    mains_hz: float | None
    rebaselines: tuple
    notes: tuple[str, ...] = ()
    noise_window_source: str = "before the stimulus"
    onset_method: str = DEFAULT_ONSET_METHOD


#: Fewest samples a noise window holds.
MIN_NOISE_SAMPLES = 5


def resolve(settings: Settings, sidecar: Settings, times, sfreq, where=None,
            sidecar_path=None) -> Resolved:
    """Decide every setting for sweeps of ``times`` at ``sfreq``, and check it fits them.

    Parameters
    ----------
    settings : Settings
        From Python (wins).
    sidecar : Settings
        From the case sidecar's ``[processing]``.
    times : array of float, shape (n_samples,)
    sfreq : float
    where, sidecar_path : Path, optional
        Named in errors: the recording, and the sidecar for values that came from it.
    """
    chosen = settings.over(sidecar)
    notes = []

    def source(key):
        return sidecar_path if getattr(settings, key) is None and sidecar_path else where

    first, last = float(times[0]), float(times[-1])
    band = chosen.band_hz
    if band is None:
        band = (DEFAULT_BAND_HZ[0], min(DEFAULT_BAND_HZ[1], 0.45 * sfreq))
        if band[1] < DEFAULT_BAND_HZ[1]:
            notes.append(f"the band-pass upper edge was lowered to {band[1]:g} Hz for the "
                         f"{sfreq:g} Hz sampling rate")
    elif band == NONE:
        band = None
    elif band[1] >= sfreq / 2:
        raise InputError(f"processing.band_hz: the upper edge ({band[1]:g} Hz) must be below "
                         f"the Nyquist frequency ({sfreq / 2:g} Hz) of the {sfreq:g} Hz "
                         "recording", source("band_hz"))
    artefact = chosen.artefact_s
    if isinstance(artefact, tuple) and (artefact[1] - artefact[0] >= last - first
                                        or artefact[1] <= first or artefact[0] >= last):
        raise InputError(f"processing.artefact_ms [{artefact[0] * 1e3:g}, "
                         f"{artefact[1] * 1e3:g}] does not fit inside the sweeps "
                         f"({first * 1e3:g} to {last * 1e3:g} ms)", source("artefact_s"))
    window = chosen.noise_window_s or DEFAULT_NOISE_WINDOW_S
    clipped = (max(window[0], first), min(window[1], last))
    fits = ((times >= clipped[0]) & (times <= clipped[1])).sum() >= MIN_NOISE_SAMPLES
    origin = "[processing] noise_window_ms" if chosen.noise_window_s else "before the stimulus"
    if chosen.noise_window_s is not None and not fits:
        raise InputError(f"processing.noise_window_ms [{window[0] * 1e3:g}, "
                         f"{window[1] * 1e3:g}] holds fewer than {MIN_NOISE_SAMPLES} samples "
                         f"of the sweeps ({first * 1e3:g} to {last * 1e3:g} ms)",
                         source("noise_window_s"))
    if not fits:  # sweeps exported from the stimulus on: measured after the responses
        clipped, origin = None, "after the responses"
    elif chosen.noise_window_s is not None and clipped != window:
        notes.append(f"the noise window was clipped to the sweeps ({first * 1e3:g} to "
                     f"{last * 1e3:g} ms)")
    return Resolved(
        band_hz=band,
        artefact_s=artefact,
        noise_window_s=clipped,
        presence_v=PRESENCE_FLOOR_V if chosen.presence_v is None else float(chosen.presence_v),
        presence_noise_ratio=(PRESENCE_NOISE_FACTOR if chosen.presence_noise_ratio is None
                              else float(chosen.presence_noise_ratio)),
        baseline_sweeps=(DEFAULT_BASELINE_SWEEPS if chosen.baseline_sweeps is None
                         else chosen.baseline_sweeps),
        onset_method=chosen.onset_method or DEFAULT_ONSET_METHOD,
        mains_hz=chosen.mains_hz,
        rebaselines=tuple(chosen.rebaselines),
        notes=tuple(notes),
        noise_window_source=origin,
    )
