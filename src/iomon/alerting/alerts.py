"""Alerts: sustained drops turned into one record per channel per episode.

An episode starts at the sweep where the drop has held in ``sustained_n`` of the last
``sustained_m`` valid sweeps (the moment a monitoring team would call it) and ends when the
channel has been back above the threshold for the same count. Rejected sweeps and setup
sweeps (before the ``Baseline`` marker) are skipped.

Scope, as a clinician reads it:

- ``focal``: the channel fell by the criterion relative to its controls (their median in the
  same sweep): the channel fell, its controls held;
- ``systemic``: the channel and its controls both fell by the criterion on their own
  baselines in the same sweeps (anaesthesia, blood pressure), unless the channel is clearly
  deeper than its controls (then focal);
- ``undetermined``: no control responds (a one-channel recording, or every other channel
  absent at baseline), or none has a valid sweep when the alert is called.

A decline every channel shares only in part, such as anaesthetic fade, is neither: a channel
that falls by the criterion on its own baseline while its controls fall by less, and not by
the criterion relative to them, is within its sweep-to-sweep variability around the shared
decline. It raises no alert; :func:`unexplained_drops` lists such episodes for the report's
notes. Threshold, latency and morphology episodes are ``systemic`` when most controls meet the
same criterion over the same sweeps (anaesthesia raises every threshold).

A preset with a sequential test (``drez-cusum``, :attr:`Criteria.sequential`) calls focal
amplitude drops differently: not by a fixed percentage held in n of m sweeps, but by a
one-sided CUSUM (Page 1954) of the log-likelihood ratio (Wald 1945) of each sweep's log ratio
to its controls, standardised against the channel's own self-starting reference (Hawkins
1987): the channel's own variability decides, so that a steady tibialis anterior is judged
more finely than a hand muscle (:func:`cusum_episodes`). Systemic, threshold, latency and
morphology alerts are as above.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np

from ..model.notes import Note
from .criteria import Criteria
from .kinds import Compared, amplitude_dropped, criterion_kinds

__all__ = ["CONTROL_SPAN", "DECLINE_WHY", "LOG_FLOOR_PERCENT", "MIN_LOG_SPREAD", "SEVERE_SHARE",
           "Alert", "alerting_rows", "called_window", "control_level", "cusum_episodes",
           "detect_alerts", "drop_evidence", "first_met", "focal_counts", "log_ratio",
           "reference_channels", "scope_notes", "scope_rules", "standardised",
           "sustained_episodes", "unexplained_drops", "UnexplainedDrop"]


@dataclass(frozen=True)
class Alert:
    """One alert episode on one channel (field names are those of ``alerts.json``).

    ``nadir_percent`` is the most abnormal value of the episode as % of baseline: the lowest
    amplitude (``amplitude``, ``loss``), the highest threshold (``threshold``), the longest
    latency (``latency``) or the fewest phases (``morphology``). ``controls_percent`` is the
    control channels' median of the same measure over the sweeps that called the alert (their
    real level, above 100 % when they rose; None when no control had a valid sweep).
    ``informational`` marks a focal alert outside the phases the preset watches (before
    lesioning, for ``drez``). ``threshold_rise_v`` is the largest rise of a ``threshold``
    episode over the baseline threshold, in volts. ``first_met_sweep`` and ``first_met_s``: the
    first of the sweeps that called the alert to meet its criterion on the channel's own
    baseline (where the change began; None when none did, as for a focal drop judged against
    the controls), see :func:`first_met`. ``event``: the number of the event it belongs to
    (:mod:`iomon.alerting.events`: one channel's overlapping alerts, or the overlapping
    systemic alerts of every channel). ``lesioning_level``: the root level being lesioned
    where its change began (its first-met sweep, else the sweep that called it; None outside
    a level's lesioning). ``lesioning_end_lead_s``: from there to the end of lesioning, s
    (negative: it began after; None without a lesioning phase). The last three are set by
    :func:`iomon.alerting.findings.find`. ``episode_sweeps`` and ``responding_sweeps``
    (amplitude and loss alerts): the valid sweeps of the episode (from the first that called it
    to its recovery) and those of them with a response; a ``loss`` is an episode where most
    of them have none.
    """

    channel: str
    criterion: str
    scope: str
    phase: str
    onset_sweep: int
    onset_s: float
    recovered: bool
    recovery_sweep: int | None
    recovery_s: float | None
    nadir_percent: float
    controls_percent: float | None
    informational: bool = False
    threshold_rise_v: float | None = None
    first_met_sweep: int | None = None
    first_met_s: float | None = None
    event: int | None = None
    lesioning_level: str | None = None
    lesioning_end_lead_s: float | None = None
    episode_sweeps: int | None = None
    responding_sweeps: int | None = None

    def as_dict(self) -> dict:
        """Plain dict for JSON outputs."""
        return asdict(self)


def sustained_episodes(dropped, n, m):
    """Start and end (indices into ``dropped``) of sustained episodes.

    Parameters
    ----------
    dropped : array of bool, shape (n_valid,)
        Whether each valid sweep, in time order, is below threshold.
    n, m : int
        ``n`` of the last ``m`` sweeps.

    Returns
    -------
    list of (int, int or None)
        Index where each episode was called and where its recovery was called (None if it
        lasted to the end).
    """
    dropped = np.asarray(dropped, bool)
    kernel = np.ones(m, int)
    # Number of dropped / not-dropped sweeps among the last m (fewer at the start).
    n_dropped = np.convolve(dropped.astype(int), kernel)[: dropped.size]
    n_normal = np.convolve((~dropped).astype(int), kernel)[: dropped.size]
    episodes = []
    in_episode, start = False, 0
    for i in range(dropped.size):
        if not in_episode and n_dropped[i] >= n and dropped[i]:
            in_episode, start = True, i
        elif in_episode and n_normal[i] >= n and not dropped[i]:
            episodes.append((start, i))
            in_episode = False
    if in_episode:
        episodes.append((start, None))
    return episodes


def reference_channels(channels, present, index):
    """Channels whose behaviour decides the scope of an episode on channel ``index``.

    The control channels present at baseline; without any, every other present channel.
    """
    others = [j for j in range(len(channels)) if j != index and present[j]]
    controls = [j for j in others if channels[j].role == "control"]
    return controls or others


#: Sweeps over which the controls' level is a running median (see :func:`control_level`).
#: One: each sweep is judged against the controls of the same sweep, which cancels the
#: sweep-to-sweep variability all muscles share (cortical excitability, anaesthetic depth) and
#: follows a sudden systemic drop without lag. Over 20 simulated cases per scenario, 1 gave 0
#: false focal alerts in stable cases against 0.03/h for 3 and 0.07/h for 5 sweeps
#: (benchmarks/scenario_suite.py).
CONTROL_SPAN = 1


#: During a systemic event, the share of the alert level (relative to the controls) a sweep
#: must fall to to count as a focal drop: 0.75, i.e. 37.5 % of the controls under a 50 %
#: criterion. Measured over 20 simulated cases each (benchmarks/scenario_suite.py): 0.5 missed
#: 8 of 40 legs losing a further 80 % during a blood-pressure drop (systemic_focal), 0.9 called
#: 3 false focal alerts in 20 systemic cases (systemic ok 0.85); 0.75 found every leg and kept
#: every systemic case systemic, also over 40 other seeds.
SEVERE_SHARE = 0.75


def control_level(percent, valid, channels, baseline_present, span):
    """The controls' level of each channel: shape (n_sweeps, n_channels), % of baseline.

    Per sweep, the median % of baseline of the channel's reference channels (see
    :func:`reference_channels`), then the median over the last ``span`` sweeps (1: the same
    sweep only). NaN where no reference channel has a valid sweep. Judging a channel against
    it, only declines count (see :func:`detect_alerts`); this is the real level, as reported.
    """
    n_sweeps, n_channels = percent.shape
    level = np.full((n_sweeps, n_channels), np.nan)
    usable = np.where(valid, percent, np.nan)
    for c in range(n_channels):
        refs = reference_channels(channels, baseline_present, c)
        if not refs:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # sweeps where no control is valid
            per_sweep = np.nanmedian(usable[:, refs], axis=1)
            windows = np.lib.stride_tricks.sliding_window_view(
                np.r_[np.full(span - 1, np.nan), per_sweep], span)
            level[:, c] = np.nanmedian(windows, axis=1)
    return level


def _shared_by_controls(met, valid, window, refs) -> bool:
    """Whether most control channels meet the same criterion in most of the same sweeps."""
    if not refs:
        return False
    counts = (met[np.ix_(window, refs)] & valid[np.ix_(window, refs)]).sum(axis=0)
    return bool(np.mean(counts * 2 > len(window)) >= 0.5)


def focal_counts(phases, criteria: Criteria) -> np.ndarray:
    """Sweeps at which a focal alert counts (elsewhere it is informational).

    Every sweep when the preset watches no phase, or when the case never reaches one (no
    lesioning markers): scoping needs the phases. Otherwise the sweeps in the watched phases,
    and with ``focal_until_end`` every sweep from the first of them on.
    """
    phases = np.asarray(phases).astype(str)
    if criteria.focal_phases is None:
        return np.ones(phases.size, bool)
    watched = np.isin(phases, criteria.focal_phases)
    if not watched.any():
        return np.ones(phases.size, bool)
    if criteria.focal_until_end:
        watched = np.arange(phases.size) >= np.flatnonzero(watched)[0]
    return watched


def _window(rows, start, m):
    """The rows of the ``m`` valid sweeps that called an episode starting at ``start``."""
    return rows[max(start - m + 1, 0): start + 1]


def _amplitude_streams(percent, level, drop, inclusive=True):
    """Per sweep x channel: the focal drop, the systemic drop and the channel's own drop.

    A rise of the controls (lighter anaesthesia) must not make a steady channel look dropped,
    so the channel is judged against their level capped at 100 %. ``inclusive`` as in
    :func:`iomon.alerting.criteria.amplitude_dropped`.
    """
    declines = np.minimum(level, 100.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = np.where(np.isfinite(declines), 100.0 * percent / declines, percent)
    # While the controls are themselves down to the alert level (a systemic event: blood
    # pressure, an anaesthetic bolus), a channel's shortfall against them is mostly their
    # noise and its own; a sweep then counts as a focal drop only when clearly deeper, at
    # SEVERE_SHARE of the alert level of its controls or below.
    controls_down = amplitude_dropped(declines, drop[None, :], inclusive)
    severe = amplitude_dropped(relative, 100.0 - SEVERE_SHARE * (100.0 - drop[None, :]),
                               inclusive)
    focal = amplitude_dropped(relative, drop[None, :], inclusive) & (~controls_down | severe)
    own = amplitude_dropped(percent, drop[None, :], inclusive)
    return focal, own & controls_down, own


#: Amplitudes are floored at this % of baseline before their log is taken, so that a lost
#: response (only noise left, or nothing) gives a finite, very low, log ratio.
LOG_FLOOR_PERCENT = 1.0


def log_ratio(percent, level):
    """Natural log of each sweep's amplitude over its controls' level.

    Parameters
    ----------
    percent, level : array of float, shape (n_sweeps, n_channels)
        % of baseline, and the controls' level (:func:`control_level`, NaN where no control
        has a valid sweep: there the channel's own baseline, 100 %, stands in).

    Returns
    -------
    array of float, shape (n_sweeps, n_channels)
        NaN where ``percent`` is NaN.
    """
    reference = np.where(np.isfinite(level), level, 100.0)
    with np.errstate(invalid="ignore"):
        return (np.log(np.maximum(percent, LOG_FLOOR_PERCENT))
                - np.log(np.maximum(reference, LOG_FLOOR_PERCENT)))


#: The spread (SD) of a channel's log ratio is never taken below this: amplitudes are measured
#: to about 1-3 % (README, "Agreement"), and a reference that never varied would make any
#: change infinitely significant.
MIN_LOG_SPREAD = 0.05


def standardised(value, reference):
    """A sweep's log ratio standardised against its reference (Hawkins 1987, self-starting).

    With the reference's mean and SD estimated from ``n`` sweeps, ``t = (value - mean) / (SD
    * sqrt(1 + 1/n))`` follows Student's t with ``n - 1`` degrees of freedom when the sweep
    comes from the same normal distribution; mapped through that distribution and back
    through the normal one it is exactly N(0, 1), whatever the unknown mean and spread. A
    short reference therefore weighs a low sweep less than a long one does, instead of
    raising false alarms on channels whose spread it happened to underestimate.

    Parameters
    ----------
    value : float
    reference : array of float, shape (n,), n >= 3

    Returns
    -------
    u : float
        The standardised value (negative: below the reference).
    scale : float
        ``SD * sqrt(1 + 1/n)``, the spread of a new sweep about the reference mean.
    """
    reference = np.asarray(reference, float)
    return _standardise(value, reference.size, float(reference.mean()),
                        float(reference.std(ddof=1)))


def _standardise(value, n, mean, sd):
    """:func:`standardised` from the reference's size, mean and SD (the CUSUM's running sums)."""
    from scipy import special

    scale = max(sd, MIN_LOG_SPREAD) * math.sqrt(1.0 + 1.0 / n)
    return float(special.ndtri(special.stdtr(n - 1, (value - mean) / scale))), scale


def drop_evidence(u, scale, drop_log):
    """Evidence of a drop in one sweep: the log-likelihood ratio of "dropped" to "at reference".

    The standardised sweep ``u`` is N(0, 1) at the reference and N(-d, 1) once the channel has
    dropped by ``drop_log`` (``d = drop_log / scale``); the log of the ratio of the two
    likelihoods (Wald 1945) is ``-d * u - d**2 / 2``: positive for a sweep nearer the dropped
    level than the reference.

    Parameters
    ----------
    u, scale : float
        From :func:`standardised`.
    drop_log : float
        The drop looked for, ``-ln(1 - drop / 100)`` (0.92 for a 60 % drop).
    """
    d = drop_log / scale
    return -d * u - d * d / 2.0


def cusum_episodes(ratio, drop_log, limit, n_reference):
    """Page's (1954) one-sided CUSUM on one channel's log ratio, self-starting (Hawkins 1987).

    The channel's first ``n_reference`` sweeps are its reference. From there each sweep is
    standardised against the reference (:func:`standardised`) and its evidence of a drop
    (:func:`drop_evidence`) is summed, the sum restarted at zero whenever it falls below; a
    drop is called when it reaches ``limit``. From there the same sum of the evidence against
    the drop calls the recovery, and the test starts afresh. A sweep joins the reference once
    the sum it was part of has come back to zero (it was stable): sweeps of an episode, or of
    the run of evidence that called it, never do. Each sweep's part in a sum is at most half
    the limit, so that no single sweep calls a drop (a single low sweep means little) nor a
    recovery.

    Parameters
    ----------
    ratio : array of float, shape (n_valid,)
        Natural log ratio of the channel to its controls (:func:`log_ratio`), in time order.
    drop_log : float
        The drop looked for (see :func:`drop_evidence`).
    limit : float
        The decision limit: ``ln(1 / rate)`` bounds the false alarms per sweep at ``rate``
        for normal log ratios (Lorden 1971).
    n_reference : int

    Returns
    -------
    list of (int, int, int or None)
        Per episode: where its evidence began to build (the sweep after the sum was last at
        zero), where it was called, and where its recovery was called (None: open at the end).
    """
    ratio = np.asarray(ratio, float)
    # The reference as running sums (count, sum, sum of squares): one pass, whatever its size.
    # Log ratios are of order 1, so the sums lose no precision that matters here.
    head = ratio[:n_reference]
    n, s1, s2 = head.size, float(head.sum()), float((head * head).sum())
    pending, episodes = [], []
    total, first, start = 0.0, n_reference, None
    for i in range(n_reference, ratio.size):
        mean = s1 / n
        sd = math.sqrt(max(s2 - n * mean * mean, 0.0) / (n - 1))
        evidence = drop_evidence(*_standardise(ratio[i], n, mean, sd), drop_log)
        if start is None:
            total = max(0.0, total + min(evidence, limit / 2))
            pending.append(ratio[i])
            if total == 0.0:
                n, s1, s2 = n + len(pending), s1 + sum(pending), s2 + sum(v * v for v in pending)
                pending, first = [], i + 1
            elif total >= limit:
                start, total, pending = i, 0.0, []
        else:
            total = max(0.0, total + min(-evidence, limit / 2))
            if total >= limit:
                episodes.append((first, start, i))
                total, first, start = 0.0, i + 1, None
    if start is not None:
        episodes.append((first, start, None))
    return episodes


def _median_or_none(values):
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    return None if values.size == 0 else float(np.median(values))


def alerting_rows(valid, setup, values, c):
    """Sweeps of channel ``c`` that can call or end an episode, in time order."""
    return np.flatnonzero(valid[:, c] & ~setup & np.isfinite(values[:, c]))


def called_window(valid, setup, c, onset_sweep, m) -> np.ndarray:
    """The sweeps that called an alert: channel ``c``'s last ``m`` valid sweeps to its onset.

    Setup sweeps are left out; a sweep without a value counts (it is valid).
    """
    rows = np.flatnonzero(valid[:, c] & ~setup)
    return rows[rows <= onset_sweep][-m:]


def first_met(met, valid, setup, c, onset_sweep, m) -> int | None:
    """The first sweep meeting a criterion among the sweeps that called an alert on it.

    An alert is called when the criterion has held in ``sustained_n`` of the last
    ``sustained_m`` valid sweeps; the change began at the first of those that met it on the
    channel's own baseline. None when none did (a focal drop judged against the controls, or
    by the sequential test).

    Parameters
    ----------
    met : array of bool, shape (n_sweeps, n_channels)
        The criterion on each channel's own baseline (a kind's ``Stream.met``).
    valid : array of bool, shape (n_sweeps, n_channels)
    setup : array of bool, shape (n_sweeps,)
    c, onset_sweep, m : int
        The alert's channel, the sweep that called it and the preset's ``sustained_m``.
    """
    window = called_window(valid, setup, c, onset_sweep, m)
    hits = window[np.asarray(met)[window, c]]
    return int(hits[0]) if hits.size else None


@dataclass(frozen=True)
class _Case:
    """What every alert of a case is called against (see :func:`detect_alerts`)."""

    channels: tuple
    onsets_s: np.ndarray
    phases: np.ndarray
    criteria: Criteria
    counts: np.ndarray
    valid: np.ndarray
    setup: np.ndarray
    baseline_present: np.ndarray

    def alert(self, c, kind, scope, rows, span, stream, controls, first=None) -> Alert:
        """The Alert of one episode: ``span`` is (start, end) into ``rows`` (end None: open).

        ``stream``: the kind's :class:`~iomon.alerting.kinds.Stream`. Its nadir is taken from
        ``first`` (into ``rows``; default: the first of the ``sustained_m`` sweeps that called
        it) to its recovery.
        """
        start, end = span
        if first is None:
            first = max(start - self.criteria.sustained_m + 1, 0)
        onset_row = rows[start]
        stop = rows[end] if end is not None else None
        episode_rows = rows[first: end]
        rise = stream.rise
        peak_rise = None if rise is None else round(float(np.nanmax(rise[episode_rows, c])), 1)
        began = first_met(stream.met, self.valid, self.setup, c, onset_row,
                          self.criteria.sustained_m)
        return Alert(
            channel=self.channels[c].name,
            criterion=kind,
            scope=scope,
            phase=str(self.phases[onset_row]),
            onset_sweep=int(onset_row),
            onset_s=float(self.onsets_s[onset_row]),
            recovered=stop is not None,
            recovery_sweep=None if stop is None else int(stop),
            recovery_s=None if stop is None else float(self.onsets_s[stop]),
            nadir_percent=round(float(stream.extreme(stream.value[episode_rows, c])), 1),
            controls_percent=None if controls is None else round(controls, 1),
            informational=scope != "systemic" and not self.counts[onset_row],
            threshold_rise_v=peak_rise,
            first_met_sweep=began,
            first_met_s=None if began is None else float(self.onsets_s[began]),
        )

    def channels_with_episodes(self, met, values):
        """(channel, its alerting rows, episode) for every sustained episode of ``met``."""
        for c in range(len(self.channels)):
            if not self.baseline_present[c]:
                continue
            rows = alerting_rows(self.valid, self.setup, values, c)
            for span in _episodes(met, rows, c, self.criteria):
                yield c, rows, span


def detect_alerts(compared: Compared, valid, channels, baseline_present, onsets_s, phases,
                  criteria: Criteria, setup=None) -> list[Alert]:
    """Alerts over a case, one per channel per episode of each criterion the preset applies.

    Parameters
    ----------
    compared : Compared
        Each sweep's measures beside its baseline, by name: ``percent`` (amplitude as % of
        each sweep's baseline, NaN where none), ``present`` (tells ``loss`` from
        ``amplitude``), and what the preset's other kinds test (their thresholds, latencies,
        phases...).
    valid : array of bool, shape (n_sweeps, n_channels)
        Not rejected.
    channels : sequence of Channel
    baseline_present : array of bool, shape (n_channels,)
        Channels absent at baseline never alert.
    onsets_s : array of float, shape (n_sweeps,)
    phases : array of str, shape (n_sweeps,)
    criteria : Criteria
    setup : array of bool, shape (n_sweeps,), optional
        Setup sweeps (before the baseline): measured, but they never call or end an episode.

    Returns
    -------
    list of Alert, in onset order
    """
    percent = np.asarray(compared.percent)
    setup = np.zeros(percent.shape[0], bool) if setup is None else np.asarray(setup, bool)
    if compared.muscles is None:
        compared = dataclasses.replace(compared, muscles=tuple(ch.muscle for ch in channels))
    # Phase scoping needs the phases: a case that never reaches a watched phase (no lesioning
    # markers) has every focal alert count.
    case = _Case(tuple(channels), np.asarray(onsets_s), np.asarray(phases), criteria,
                 focal_counts(phases, criteria), valid, setup, np.asarray(baseline_present))
    amplitude = criteria.kind("amplitude").test(compared, criteria)
    alerts = _amplitude_alerts(case, amplitude, compared.present)
    for kind in criteria.kinds():
        stream = kind.test(compared, criteria) if kind.generic else None
        if stream is not None:
            alerts += _criterion_alerts(case, kind.name, stream)
    return sorted(alerts, key=lambda a: (a.onset_sweep, a.channel, a.criterion))


def _amplitude_alerts(case: _Case, amplitude, present_sweep) -> list[Alert]:
    """Focal, systemic and undetermined amplitude (or loss) alerts.

    ``amplitude``: the amplitude kind's Stream (its value the % of baseline, its ``met`` the
    drop on the channel's own baseline).
    """
    criteria, percent = case.criteria, amplitude.value
    drop = criteria.drop_percent_for([ch.muscle for ch in case.channels])
    level = control_level(percent, case.valid, case.channels, case.baseline_present,
                          CONTROL_SPAN)
    focal_met, systemic_met, _ = _amplitude_streams(percent, level, drop,
                                                  criteria.drop_inclusive)
    m = criteria.sustained_m
    if criteria.sequential:
        focal, focal_met = _sequential_episodes(criteria, case.baseline_present, case.valid,
                                                case.setup, percent, level)
    else:
        focal = [(c, rows, (max(span[0] - m + 1, 0),) + tuple(span))
                 for c, rows, span in case.channels_with_episodes(focal_met, percent)]
    systemic = [(c, rows, (max(span[0] - m + 1, 0),) + tuple(span))
                for c, rows, span in case.channels_with_episodes(systemic_met, percent)]
    alerts = []
    for scope_of_stream, episodes in (("focal", focal), ("systemic", systemic)):
        for c, rows, (first, start, end) in episodes:
            window = rows[first: start + 1]
            if scope_of_stream == "systemic" and focal_met[window, c].mean() >= 0.5:
                continue  # the focal stream reports it
            controls = _median_or_none(level[window, c])
            scope = "undetermined" if controls is None else scope_of_stream
            dropped = amplitude_dropped(percent[window, c], drop[c], criteria.drop_inclusive)
            # Loss of response: most of the episode's sweeps hold none (a single sweep without
            # one in a 20 % drop is variability, not a loss). The sequential test can call a
            # drop on sweeps none of which is below the fixed level: that is an amplitude drop,
            # never a loss.
            episode = rows[first: end]
            responding = int(present_sweep[episode, c].sum())
            lost = dropped.any() and 2 * responding < episode.size
            alert = case.alert(c, "loss" if lost else "amplitude", scope, rows, (start, end),
                               amplitude, controls, first=first)
            alerts.append(dataclasses.replace(alert, episode_sweeps=int(episode.size),
                                              responding_sweeps=responding))
    return alerts


def _sequential_episodes(criteria, baseline_present, valid, setup, percent, level):
    """Focal episodes of the sequential test (:func:`cusum_episodes`) on every channel.

    Returns the episodes as (channel, its alerting rows, (first, start, end) into them), and
    which sweeps x channels are inside one (from the sweep that called it to its recovery).
    """
    ratio = log_ratio(percent, level)
    drop_log = -np.log1p(-criteria.cusum_drop_percent / 100.0)
    episodes, inside = [], np.zeros(percent.shape, bool)
    for c in np.flatnonzero(baseline_present):
        rows = alerting_rows(valid, setup, percent, c)
        for first, start, end in cusum_episodes(ratio[rows, c], drop_log, criteria.cusum_limit,
                                                criteria.cusum_reference_sweeps):
            episodes.append((int(c), rows, (first, start, end)))
            inside[rows[start: end], c] = True
    return episodes, inside


def _criterion_alerts(case: _Case, kind: str, stream) -> list[Alert]:
    """Alerts of a generic criterion kind (threshold, latency, morphology...) from its Stream.

    Scope: systemic when most controls meet the same criterion over the same sweeps.
    """
    met, value = stream.met, stream.value
    alerts = []
    for c, rows, span in case.channels_with_episodes(met, value):
        refs = reference_channels(case.channels, case.baseline_present, c)
        window = _window(rows, span[0], case.criteria.sustained_m)
        controls = None
        if refs:
            controls = _median_or_none(np.where(case.valid[np.ix_(window, refs)],
                                                value[np.ix_(window, refs)], np.nan))
        if controls is None:
            scope = "undetermined"
        elif _shared_by_controls(met, case.valid, window, refs):
            scope = "systemic"
        else:
            scope = "focal"
        alerts.append(case.alert(c, kind, scope, rows, span, stream, controls))
    return alerts


def _episodes(met, rows, c, criteria):
    """Sustained episodes of ``met`` on channel ``c`` over its alerting ``rows``."""
    if rows.size == 0:
        return []
    return sustained_episodes(met[rows, c], criteria.sustained_n, criteria.sustained_m)


@dataclass(frozen=True)
class UnexplainedDrop:
    """A drop by the criterion on the channel's own baseline that raised no alert.

    Its controls fell by less than the criterion, and the channel not by the criterion
    relative to them (see the module docstring). Values as in :class:`Alert`; ``why`` says
    why no alert was raised.
    """

    channel: str
    onset_sweep: int
    onset_s: float
    nadir_percent: float
    controls_percent: float | None
    why: str = ""

    def __post_init__(self):
        if not self.why:
            object.__setattr__(self, "why", DECLINE_WHY)


#: Why a decline below the criterion on the channel's own baseline raised no alert.
DECLINE_WHY = "a decline shared in part, within the channel's variability against its controls"


def unexplained_drops(percent, valid, channels, baseline_present, onsets_s, criteria,
                      setup=None) -> list[UnexplainedDrop]:
    """Sustained own-baseline drops that are neither focal nor systemic alerts.

    Same parameters as :func:`detect_alerts`; the report lists them so that a reader who
    applies the criterion to the channel alone sees why no alert was raised.
    """
    setup = np.zeros(percent.shape[0], bool) if setup is None else np.asarray(setup, bool)
    drop = criteria.drop_percent_for([ch.muscle for ch in channels])
    level = control_level(percent, valid, channels, baseline_present, CONTROL_SPAN)
    focal_met, systemic_met, own_met = _amplitude_streams(percent, level, drop,
                                                        criteria.drop_inclusive)
    inside = None
    if criteria.sequential:
        inside = _sequential_episodes(criteria, np.asarray(baseline_present, bool), valid,
                                      setup, percent, level)[1]
    found = []
    for c in range(len(channels)):
        if not baseline_present[c]:
            continue
        rows = alerting_rows(valid, setup, percent, c)
        for start, end in _episodes(own_met, rows, c, criteria):
            span = rows[max(start - criteria.sustained_m + 1, 0): end]
            focal = (inside[span, c].any() if inside is not None
                     else _episodes(focal_met, span, c, criteria))
            if focal or _episodes(systemic_met, span, c, criteria):
                continue
            window = _window(rows, start, criteria.sustained_m)
            controls = _median_or_none(level[window, c])
            if controls is None:
                continue  # without controls the focal stream alerts (undetermined)
            found.append(UnexplainedDrop(
                channels[c].name, int(rows[start]), float(onsets_s[rows[start]]),
                round(float(np.nanmin(percent[span, c])), 1), round(controls, 1)))
    return found


def scope_notes(channels, baseline_present) -> list[Note]:
    """What the report must say when no control channel can decide focal against systemic."""
    responding = [ch for ch, present in zip(channels, baseline_present) if present]
    if any(ch.role == "control" for ch in responding):
        return []
    if len(responding) > 1:
        return [Note("scope", "no control channel responds at baseline (roles come from the "
                              "sidecar's [case] side or a channel's role): each channel was "
                              "judged against the median of all the others")]
    if responding:
        return [Note("scope", "only one channel responds at baseline: with nothing to compare "
                              "it with, a drop cannot be told focal or systemic; its alerts are "
                              "reported with scope undetermined", responding[0].name)]
    return []


def _names(names) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def scope_rules(criteria: Criteria | None = None) -> list[str]:
    """How an alert's scope is decided, in words, from the constants the code uses.

    ``criteria``: the numbers of that preset; None: the rules every preset shares, with a
    50 % criterion as the example (``iomon criteria`` prints them once).
    """
    drop = 50.0 if criteria is None else criteria.amplitude_drop_percent
    level = 100.0 - drop
    severe = SEVERE_SHARE * level
    fixed = ("Focal: the channel fell by the criterion relative to its controls (their median "
             "in the same sweep, counted only where they declined): it fell, its controls held. "
             f"While the controls are themselves down to the alert level, a sweep counts only "
             f"at {SEVERE_SHARE:g} of the alert level relative to them ({severe:g} % of them "
             f"for a {drop:g} % criterion).")
    sequential = ("the sequential test found the channel's amplitude relative to its controls "
                  "(their median in the same sweep) dropped against its own reference: it "
                  "fell, its controls held. A systemic episode (below) whose sweeps lie mostly "
                  "in a focal one is left to the focal alert.")
    generic = [k.name for k in criterion_kinds() if k.generic]
    shared = (f"{_names(generic).capitalize()} alerts are systemic when most controls meet "
              "the same criterion over the same sweeps.")
    if criteria is None:
        return [f"{fixed} With a sequential test (a preset's cusum_drop_percent): {sequential}",
                "Systemic: the channel and its controls both fell by the criterion on their own "
                "baselines over the same sweeps (below the preset's alert level; blood "
                "pressure, anaesthesia).", _UNDETERMINED,
                "A channel that falls by the criterion while its controls fall by less, and "
                "not by the criterion relative to them (with a sequential test: without the "
                "test finding it dropped relative to them), is within its variability around a "
                "decline they share in part (fade): no alert, and the notes list it.", shared]
    unalerted = ("without the sequential test finding it dropped relative to them"
                 if criteria.sequential else "and not by the criterion relative to them")
    return [
        f"Focal: {sequential}" if criteria.sequential else fixed,
        "Systemic: the channel and its controls both fell by the criterion on their own "
        f"baselines over the same sweeps ({'at or ' if criteria.drop_inclusive else ''}below "
        f"{level:g} % for this criterion; blood pressure, anaesthesia).",
        _UNDETERMINED,
        f"A channel that falls by the criterion while its controls fall by less, {unalerted}, "
        "is within its variability around a decline they share in part (fade): no alert, "
        "and the notes list it.",
        shared,
    ]


_UNDETERMINED = ("Undetermined: no control responds, or none has a valid sweep when the alert "
                 "is called.")
