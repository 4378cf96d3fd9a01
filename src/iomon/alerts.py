"""Alerts: sustained drops turned into one record per channel per episode.

An episode starts at the sweep where the drop has held in ``sustained_n`` of the last
``sustained_m`` valid sweeps (the moment a monitoring team would call it) and ends when the
channel has been back above the threshold for the same count. Rejected sweeps are skipped.
Its scope is ``systemic`` when the control channels fell too over the same sweeps, ``focal``
otherwise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .criteria import Criteria, amplitude_dropped


@dataclass(frozen=True)
class Alert:
    """One alert episode on one channel (field names are those of ``alerts.json``)."""

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


def episode_scope(channel_percent, controls_percent, criteria: Criteria) -> str:
    """Focal or systemic, from the channel's and the controls' median over the same sweeps.

    The channel's level is taken relative to the controls' (a drop the controls share is no
    evidence of a surgical cause): the episode is ``focal`` when the channel, divided by the
    controls, still meets the criterion's threshold, and ``systemic`` when the controls' own
    fall accounts for the drop (blood pressure, anaesthesia, fade). Without controls it is
    ``focal``: the team must judge.
    """
    if controls_percent is None or not np.isfinite(controls_percent):
        return "focal"
    relative = 100.0 * channel_percent / max(controls_percent, 1e-9)
    return "focal" if relative <= criteria.threshold_percent else "systemic"


def detect_alerts(percent, present_sweep, valid, channels, baseline_present, onsets_s,
                  phases, criteria: Criteria) -> list[Alert]:
    """Alerts over a case.

    Parameters
    ----------
    percent : array of float, shape (n_sweeps, n_channels)
        Amplitude as % of baseline (NaN where no baseline).
    present_sweep : array of bool, shape (n_sweeps, n_channels)
        Whether each sweep holds a response (for telling ``loss`` from ``amplitude``).
    valid : array of bool, shape (n_sweeps, n_channels)
        Not rejected.
    channels : sequence of Channel
    baseline_present : array of bool, shape (n_channels,)
        Channels absent at baseline never alert.
    onsets_s : array of float, shape (n_sweeps,)
    phases : array of str, shape (n_sweeps,)
    criteria : Criteria

    Returns
    -------
    list of Alert, in onset order
    """
    n, m = criteria.sustained_n, criteria.sustained_m
    dropped_all = amplitude_dropped(percent, criteria)
    alerts = []
    for c, channel in enumerate(channels):
        if not baseline_present[c]:
            continue
        rows = np.flatnonzero(valid[:, c] & np.isfinite(percent[:, c]))
        if rows.size == 0:
            continue
        refs = reference_channels(channels, baseline_present, c)
        for start, end in sustained_episodes(dropped_all[rows, c], n, m):
            onset_row = rows[start]
            window = rows[max(start - m + 1, 0): start + 1]
            stop = rows[end] if end is not None else None
            episode_rows = rows[max(start - m + 1, 0): end]
            nadir = float(np.nanmin(percent[episode_rows, c]))
            controls = None
            if refs:
                ref_values = np.where(valid[np.ix_(window, refs)],
                                      percent[np.ix_(window, refs)], np.nan)
                if np.isfinite(ref_values).any():
                    controls = float(np.nanmedian(ref_values))
            scope = episode_scope(float(np.nanmedian(percent[window, c])), controls, criteria)
            lost = not present_sweep[window, c][dropped_all[window, c]].any()
            alerts.append(Alert(
                channel=channel.name,
                criterion="loss" if lost else "amplitude",
                scope=scope,
                phase=str(phases[onset_row]),
                onset_sweep=int(onset_row),
                onset_s=float(onsets_s[onset_row]),
                recovered=stop is not None,
                recovery_sweep=None if stop is None else int(stop),
                recovery_s=None if stop is None else float(onsets_s[stop]),
                nadir_percent=round(nadir, 1),
                controls_percent=None if controls is None else round(controls, 1),
            ))
    return sorted(alerts, key=lambda a: (a.onset_sweep, a.channel))
