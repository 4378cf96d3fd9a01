"""Baseline: the reference each later sweep is compared with.

The baseline of a channel is the median over its first ``n_sweeps`` valid sweeps that start at
or after the ``Baseline`` annotation (or the start of the case) and before lesioning. The median
is robust to the one odd sweep that TcMEP variability produces; the spread (median absolute
deviation) is reported beside it.

A response depends on how it was evoked, so baselines are kept per stimulation montage and
intensity: a sweep is compared with the baseline of its own montage and intensity when there is
one, else with the baseline of its montage at the intensity used most at baseline (an intensity
raised later, to chase a rising threshold, is judged against the original baseline). An explicit
re-baselining from a given time starts a new set of baselines, taken from the first valid
sweeps from that time on; every baseline used is listed in the outputs (the audit trail).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from ..model.annotations import LESIONING, POST
from ..model.errors import InputError

__all__ = ["DEFAULT_BASELINE_SWEEPS", "Baseline", "BaselineChoice", "BaselineEntry",
           "BaselineSet", "ChosenBaseline", "Rebaseline", "baseline_epochs", "baseline_sweeps",
           "baseline_values", "compute_baseline", "percent_of_reference"]

DEFAULT_BASELINE_SWEEPS = 10


@dataclass(frozen=True)
class Baseline:
    """Per-channel reference values (arrays of shape (n_channels,)).

    Attributes
    ----------
    sweeps : array of bool, shape (n_sweeps, n_channels)
        Which sweeps formed each channel's baseline.
    amplitude : median peak-to-peak amplitude, V (NaN when no valid sweep).
    amplitude_mad : median absolute deviation of the amplitude, V.
    present : True where most baseline sweeps hold a response.
    values : dict of str to array of float, shape (n_channels,)
        Every other measure compared with baseline, by its name in
        :class:`~iomon.processing.measures.Measurements`: the median over the baseline sweeps
        that hold a response, NaN where the channel is absent at baseline.
    """

    sweeps: np.ndarray
    amplitude: np.ndarray
    amplitude_mad: np.ndarray
    present: np.ndarray
    values: dict = field(default_factory=dict)

    def value(self, name: str) -> np.ndarray:
        """The baseline of measure ``name`` (``amplitude``, ``present`` or one of ``values``).

        A measure the baseline was not computed for is NaN on every channel.
        """
        if name in ("amplitude", "amplitude_mad", "present"):
            return getattr(self, name)
        if name in self.values:
            return self.values[name]
        return np.full(self.present.shape, np.nan)

    @property
    def onset_latency(self) -> np.ndarray:
        """Median onset latency of the present responses, s."""
        return self.value("onset_latency")

    @property
    def n_phases(self) -> np.ndarray:
        """Median number of phases of the present responses."""
        return self.value("n_phases")


@dataclass(frozen=True)
class Rebaseline:
    """An explicit re-baselining: from ``at_s`` on, sweeps are compared with a new baseline.

    Attributes
    ----------
    at_s : float
        Seconds since the start of the recording.
    reason : str
        Why (written into the audit trail), e.g. "after repositioning of the leg electrodes".
    reviewer, time : str or None
        Who asked for it in review and when (ISO 8601); None when not said.
    """

    at_s: float
    reason: str = ""
    reviewer: str | None = None
    time: str | None = None


def compute_baseline(measures, present, chosen) -> Baseline:
    """Reference values over the chosen sweeps.

    Parameters
    ----------
    measures : dict of str to array of float, shape (n_sweeps, n_channels)
        The measures compared with baseline, by name; ``amplitude`` (V) is required. The
        amplitude's baseline is the median over every chosen sweep (a response or not); every
        other measure's is the median over the chosen sweeps that hold a response.
    present : array of bool, shape (n_sweeps, n_channels)
        Whether each sweep holds a response.
    chosen : array of bool, shape (n_sweeps, n_channels)
        The baseline sweeps of each channel.
    """
    with warnings.catch_warnings():
        # All-NaN columns are channels without a valid baseline sweep: they get NaN, quietly.
        warnings.simplefilter("ignore", RuntimeWarning)
        amp = np.where(chosen, measures["amplitude"], np.nan)
        median = np.nanmedian(amp, axis=0)
        mad = np.nanmedian(np.abs(amp - median), axis=0)
        medians = {name: np.nanmedian(np.where(chosen & present, values, np.nan), axis=0)
                   for name, values in measures.items() if name != "amplitude"}
        n_chosen = chosen.sum(axis=0)
        n_present = (chosen & present).sum(axis=0)
    base_present = (n_chosen > 0) & (2 * n_present > n_chosen)
    return Baseline(chosen, median, mad, base_present,
                    {name: np.where(base_present, values, np.nan)
                     for name, values in medians.items()})


@dataclass(frozen=True)
class ChosenBaseline:
    """One baseline's sweeps, before anything is measured: when, why, for which stimulation.

    Attributes
    ----------
    start_s : float
    reason : str
    montage : str
    intensity : float
        NaN when unknown.
    sweeps : array of bool, shape (n_sweeps, n_channels)
        The sweeps that form it, per channel.
    """

    start_s: float
    reason: str
    montage: str
    intensity: float
    sweeps: np.ndarray


@dataclass(frozen=True)
class BaselineChoice:
    """Which sweeps form each baseline of a case, and which baseline each sweep is compared with.

    Decided from validity, phase, montage and intensity alone, never from a measure (see
    :func:`baseline_sweeps`); :func:`baseline_values` then computes the values.

    Attributes
    ----------
    entries : tuple of ChosenBaseline
        The first is the case's main baseline (first epoch, most used montage and intensity).
    assignment : array of int, shape (n_sweeps,)
        Index into ``entries`` for each sweep.
    """

    entries: tuple
    assignment: np.ndarray

    @property
    def main(self) -> np.ndarray:
        """The sweeps of the main baseline, shape (n_sweeps, n_channels)."""
        return self.entries[0].sweeps

    @property
    def chosen(self) -> np.ndarray:
        """Sweeps that form any baseline on some channel, shape (n_sweeps,)."""
        return np.any([e.sweeps.any(axis=1) for e in self.entries], axis=0)


@dataclass(frozen=True)
class BaselineEntry:
    """One baseline of the audit trail: when, why, for which montage and intensity, values."""

    start_s: float
    reason: str
    montage: str
    intensity: float
    baseline: Baseline


@dataclass(frozen=True)
class BaselineSet:
    """Every baseline of a case and which one each sweep is compared with.

    Attributes
    ----------
    entries : list of BaselineEntry
        The first entry is the case's main baseline (first epoch, most used montage and
        intensity).
    assignment : array of int, shape (n_sweeps,)
        Index into ``entries`` for each sweep.
    """

    entries: list
    assignment: np.ndarray

    @property
    def main(self) -> Baseline:
        """The baseline reported per channel in the summary."""
        return self.entries[0].baseline

    def reference(self, name: str) -> np.ndarray:
        """A per-channel baseline value laid out per sweep: shape (n_sweeps, n_channels).

        ``name`` as for :meth:`Baseline.value`.
        """
        values = np.stack([e.baseline.value(name) for e in self.entries])
        return values[self.assignment]


def baseline_epochs(onsets_s, rebaselines=()) -> np.ndarray:
    """Index of each sweep's baseline epoch: 0 before the first re-baselining, k after the k-th."""
    onsets_s = np.asarray(onsets_s, float)
    epoch_of = np.zeros(onsets_s.size, int)
    for k, at in enumerate(sorted(r.at_s for r in rebaselines), start=1):
        epoch_of[onsets_s >= at] = k
    return epoch_of


def baseline_sweeps(valid, onsets_s, phases, montages, intensities, start_s=None,
                    n_sweeps=DEFAULT_BASELINE_SWEEPS, rebaselines=()) -> BaselineChoice:
    """The sweeps of every baseline of a case, per epoch (re-baselining), montage and intensity.

    Which sweeps form a baseline follows from validity, phase, montage and intensity alone, so
    they are chosen before anything is measured (the response windows are narrowed on their
    average) and each sweep is measured once.

    Parameters
    ----------
    valid : array of bool, shape (n_sweeps, n_channels)
    onsets_s : array of float, shape (n_sweeps,)
    phases, montages : array of str, shape (n_sweeps,)
    intensities : array of float, shape (n_sweeps,) (NaN when unknown)
    start_s : float, optional
        The ``Baseline`` annotation.
    n_sweeps : int
    rebaselines : sequence of Rebaseline

    Returns
    -------
    BaselineChoice
    """
    onsets_s = np.asarray(onsets_s, float)
    intensities = np.asarray(intensities, float)
    montages = np.asarray(montages).astype(str)
    keys = np.array([f"{m}|{'' if np.isnan(i) else f'{i:g}'}"
                     for m, i in zip(montages, intensities)])
    epochs = [(start_s, "case baseline", False)] + [
        (r.at_s, r.reason or "re-baselined", True) for r in sorted(rebaselines,
                                                                   key=lambda r: r.at_s)]
    epoch_of = baseline_epochs(onsets_s, rebaselines)
    entries, assignment = [], np.full(onsets_s.size, -1)
    for k, (at, reason, explicit) in enumerate(epochs):
        in_epoch = epoch_of == k
        if not in_epoch.any():
            continue
        eligible = in_epoch.copy()
        if not explicit:
            # The case baseline comes before lesioning and from the Baseline marker on.
            eligible &= ~np.isin(np.asarray(phases), [LESIONING, POST])
        if at is not None:
            eligible &= onsets_s >= at
        # Groups in order of use at baseline: the most used one is the epoch's main baseline.
        counts = {}
        for key in keys[eligible]:
            counts[key] = counts.get(key, 0) + 1
        groups = sorted(counts, key=lambda g: -counts[g])
        first_entry = len(entries)
        for key in groups:
            candidates = valid & ((keys == key) & eligible)[:, None]
            montage, intensity = key.split("|")
            entries.append(ChosenBaseline(
                float(onsets_s[eligible & (keys == key)].min()) if at is None else float(at),
                reason, montage, float(intensity) if intensity else float("nan"),
                candidates & (np.cumsum(candidates, axis=0) <= n_sweeps)))
        if len(entries) == first_entry:
            continue
        # Each sweep: its own group's baseline, else its montage's main one, else the epoch's.
        by_key = {key: first_entry + e for e, key in enumerate(groups)}
        by_montage = {}
        for key in groups:
            by_montage.setdefault(key.split("|")[0], by_key[key])
        epoch_rows = np.flatnonzero(in_epoch)
        assignment[epoch_rows] = [by_key.get(keys[i], by_montage.get(montages[i], first_entry))
                                  for i in epoch_rows]
    if not entries:
        raise InputError("no valid sweep before lesioning to form a baseline (add a "
                         "[[rebaseline]] to the sidecar to take one later)")
    # Sweeps before the first eligible baseline sweep of an epoch still need a reference.
    assignment[assignment < 0] = 0
    return BaselineChoice(tuple(entries), assignment)


def baseline_values(choice: BaselineChoice, measures, present) -> BaselineSet:
    """The values of every chosen baseline.

    Parameters
    ----------
    choice : BaselineChoice
        From :func:`baseline_sweeps`.
    measures : dict of str to array of float, shape (n_sweeps, n_channels)
        The measures compared with baseline, by name (``amplitude`` required; see
        :func:`compute_baseline`).
    present : array of bool, shape (n_sweeps, n_channels)

    Returns
    -------
    BaselineSet
    """
    return BaselineSet([BaselineEntry(e.start_s, e.reason, e.montage, e.intensity,
                                      compute_baseline(measures, present, e.sweeps))
                        for e in choice.entries], choice.assignment)


def percent_of_reference(amplitude, baselines: BaselineSet) -> np.ndarray:
    """Amplitude as % of each sweep's own baseline; NaN where that baseline has no response."""
    reference = baselines.reference("amplitude")
    with np.errstate(invalid="ignore", divide="ignore"):
        percent = 100.0 * amplitude / reference
    return np.where(baselines.reference("present"), percent, np.nan)
