"""Figures of a case: MEP trends and stacked waveforms (matplotlib, Agg backend).

Each function takes a :class:`~iomon.pipeline.CaseResult` and returns a matplotlib Figure, so a
case-report author can restyle or save it at any size; :func:`save_figures` writes the PNGs the
report uses.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..threshold import intensity_varies

__all__ = ["save_figures", "trend_figure", "waveform_figure"]

_FOCAL = "#c0392b"
_SYSTEMIC = "#d68910"
_LESIONING = "#f5cba7"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _shade_phases(ax, result):
    for phase in result.phases:
        if phase.name == "lesioning":
            ax.axvspan(phase.start_s, phase.end_s, color=_LESIONING, alpha=0.6, lw=0,
                       label="lesioning")


def trend_figure(result):
    """% of baseline per channel against time, lesioning shaded, alerts marked.

    Channels absent at baseline are drawn in µV (their noise level), marked as such. When the
    stimulus intensity varies, a first panel shows it: a rising threshold is read there.
    """
    plt = _pyplot()
    channels = result.sweeps.channels
    n = len(channels)
    table = result.sweeps.table
    onsets = table["onset_s"].to_numpy()
    intensity = table["stim_intensity"].to_numpy(dtype=float)
    varied = intensity_varies(intensity)
    rows = n + int(varied)
    fig, axes = plt.subplots(rows, 1, figsize=(10, 1.25 * rows + 1.0), sharex=True,
                             squeeze=False)
    if varied:
        ax = axes[0, 0]
        _shade_phases(ax, result)
        ax.step(onsets, intensity, where="post", color="0.25", lw=1.0)
        units = {u for u in table["stim_unit"].to_numpy().astype(str) if u}
        ax.set_ylabel(f"stim. ({'/'.join(sorted(units)) or '?'})", fontsize=8)
        ax.set_title("stimulus intensity", fontsize=9, loc="left")
        ax.tick_params(labelsize=8)
    threshold = result.criteria.threshold_percent
    for c, (ax, channel) in enumerate(zip(axes[int(varied):, 0], channels)):
        _shade_phases(ax, result)
        valid = ~result.rejected[:, c]
        if result.baseline.present[c]:
            values = result.percent[:, c]
            ax.axhline(100, color="0.6", lw=0.8)
            ax.axhline(threshold, color=_FOCAL, lw=0.8, ls="--")
            ax.plot(onsets[valid], values[valid], "o-", ms=2.5, lw=0.8, color="#1f4e79")
            top = np.nanmax(values[valid]) if np.isfinite(values[valid]).any() else 150
            ax.set_ylim(0, max(150.0, min(top * 1.05, 400.0)))
            ax.set_ylabel("% base", fontsize=8)
        else:
            values = result.measurements.amplitude[:, c] * 1e6
            ax.plot(onsets[valid], values[valid], ".", ms=2.5, color="0.5")
            ax.set_ylabel("µV", fontsize=8)
            ax.text(0.99, 0.85, "absent at baseline: not alerted", transform=ax.transAxes,
                    ha="right", va="top", fontsize=8, color="0.3")
        if (~valid).any():
            ax.plot(onsets[~valid], np.zeros((~valid).sum()), "x", ms=4, color="0.4",
                    clip_on=False)
        for alert in result.alerts:
            if alert.channel != channel.name:
                continue
            color = _FOCAL if alert.scope == "focal" else _SYSTEMIC
            end = alert.recovery_s if alert.recovered else onsets[-1]
            # Informational alerts (outside the watched phases) are drawn fainter, dashed.
            faint = alert.informational
            ax.axvspan(alert.onset_s, end, color=color, alpha=0.08 if faint else 0.18, lw=0)
            ax.axvline(alert.onset_s, color=color, lw=1.2, ls="--" if faint else "-")
            if alert.threshold_rise_v is not None:
                ax.text(alert.onset_s, 0.92, f" threshold +{alert.threshold_rise_v:g} V",
                        transform=ax.get_xaxis_transform(), fontsize=7, color=color,
                        va="top")
        ax.set_title(f"{channel.name}  ({channel.muscle or 'muscle ?'}, "
                     f"{channel.side or 'side ?'}, {channel.role or 'role ?'})",
                     fontsize=9, loc="left")
        ax.tick_params(labelsize=8)
    axes[-1, 0].set_xlabel("time since start of recording (s)")
    fig.suptitle(f"{result.case.id}: MEP amplitude trend, criterion {result.criteria.name} "
                 f"(dashed: {threshold:g} % of baseline; x: rejected sweep)", fontsize=10)
    fig.tight_layout()
    return fig


def waveform_figure(result, max_sweeps=40):
    """Stacked conditioned waveforms per channel, baseline sweeps in blue, alerted in red."""
    plt = _pyplot()
    channels = result.sweeps.channels
    n_sweeps = result.sweeps.n_sweeps
    step = max(1, int(np.ceil(n_sweeps / max_sweeps)))
    shown = np.arange(0, n_sweeps, step)
    ms = result.sweeps.times * 1e3
    n_cols = min(4, len(channels))
    n_rows = int(np.ceil(len(channels) / n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(2.6 * n_cols, 0.11 * len(shown) * n_rows
                                                        + 1.6 * n_rows), squeeze=False)
    alerted = np.zeros(result.percent.shape, bool)
    for alert in result.alerts:
        c = result.sweeps.ch_names.index(alert.channel)
        end = alert.recovery_sweep if alert.recovered else n_sweeps
        alerted[alert.onset_sweep:end, c] = True
    for c, channel in enumerate(channels):
        ax = axes[c // n_cols, c % n_cols]
        traces = result.conditioned[shown, c] * 1e6
        valid = ~result.rejected[shown, c]
        spacing = np.nanpercentile(np.ptp(traces[valid], axis=-1), 75) if valid.any() else 1.0
        spacing = max(float(spacing), 20.0)
        for row, (i, trace) in enumerate(zip(shown, traces)):
            color = ("0.75" if result.rejected[i, c] else "#1f77b4"
                     if result.baseline.sweeps[i, c] else _FOCAL if alerted[i, c] else "0.15")
            ax.plot(ms, trace - row * spacing, lw=0.5, color=color)
        lo, hi = result.windows[c] * 1e3
        ax.axvspan(lo, hi, color="0.9", lw=0, zorder=0)
        if np.all(np.isfinite(result.artefact_s[c])):
            ax.axvspan(result.artefact_s[c, 0] * 1e3, result.artefact_s[c, 1] * 1e3,
                       color="#fdebd0", lw=0, zorder=0)
        ax.set_title(channel.name, fontsize=9)
        ax.set_yticks([])
        ax.set_xlabel("ms", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.text(0.98, 0.01, f"{spacing:.0f} µV/row", transform=ax.transAxes, ha="right",
                fontsize=7, color="0.4")
    for k in range(len(channels), n_rows * n_cols):
        axes[k // n_cols, k % n_cols].axis("off")
    fig.suptitle(f"{result.case.id}: stacked sweeps (every {step}; first at top; blue baseline, "
                 "red alerted, grey rejected; shaded: response window, artefact)", fontsize=9)
    fig.tight_layout()
    return fig


def save_figures(result, folder: Path, dpi: int = 110) -> dict[str, Path]:
    """Write the report's PNGs into ``folder``; returns name -> path."""
    plt = _pyplot()
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, make in (("trend", trend_figure), ("waveforms", waveform_figure)):
        fig = make(result)
        path = folder / f"{name}.png"
        fig.savefig(path, dpi=dpi)
        plt.close(fig)
        paths[name] = path
    return paths
