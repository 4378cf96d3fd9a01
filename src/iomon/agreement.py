"""Agreement of iomon's measures with features another tool published for the same sweeps.

Used against MEPFeatX (Tervo et al., NeuromodulationUEF/MEPFeatX), whose reference data give,
for real TMS MEPs, one feature row per trial: ``Amplitude`` (µV, peak to peak), ``Latency``
(ms, onset) and more; a row of zeros marks a trial without an MEP (below 50 µV), NaN one whose
features could not be extracted. ``tests/test_real_meps.py`` asserts the targets and
``benchmarks/real_mep_agreement.py`` prints the table.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Agreement", "agreement", "by_method", "mepfeatx_sidecar", "pooled", "read_features"]


@dataclass(frozen=True)
class Agreement:
    """How one channel's measures compare with published features, over the published MEPs.

    Attributes
    ----------
    n_meps : int
        Trials with a published MEP (non-zero, finite amplitude).
    amplitude_error : array of float
        Per MEP, |iomon - published| / published peak-to-peak (NaN where iomon rejected it).
    onset_error_ms : dict of str to array of float
        Per onset method (``[processing] onset_method``), |iomon - published| onset latency,
        ms (NaN where none); the analysis's own method first.
    present : array of bool
        Per MEP, whether iomon called a response present (and kept the sweep).
    rejected : array of bool
        Per MEP, whether iomon rejected the sweep.
    amplitude_uv : array of float
        Per MEP, the published peak-to-peak amplitude, µV.
    """

    n_meps: int
    amplitude_error: np.ndarray
    onset_error_ms: dict
    present: np.ndarray
    rejected: np.ndarray
    amplitude_uv: np.ndarray

    def amplitude_percentile(self, q: float) -> float:
        """A percentile of the amplitude error in %, rejected MEPs counting as 100 %."""
        return float(np.percentile(np.nan_to_num(self.amplitude_error, nan=1.0), q) * 100)

    def onset_within(self, ms: float, method: str | None = None, low_uv: float = 0.0,
                     high_uv: float = np.inf) -> float:
        """Share of MEPs whose onset is within ``ms`` of the published one.

        By ``method`` (default: the analysis's own), over the MEPs of ``low_uv`` to ``high_uv``
        published amplitude; NaN when there are none.
        """
        error = self.onset_error_ms[method or next(iter(self.onset_error_ms))]
        sized = (self.amplitude_uv >= low_uv) & (self.amplitude_uv < high_uv)
        if not sized.any():
            return float("nan")
        return float(np.mean(np.nan_to_num(error[sized], nan=np.inf) <= ms))


def read_features(path: str | Path):
    """A MEPFeatX feature table (CSV) as a pandas DataFrame, one row per trial."""
    import pandas as pd

    return pd.read_csv(path)


def agreement(result, features, channel: int = 0) -> Agreement:
    """Compare one channel of an analysed case with a feature table of the same trials.

    Parameters
    ----------
    result : CaseResult
        Its sweeps in the trials' order. Its onsets are compared under its own onset method;
        the Teager-Kaiser onset every analysis reports is compared as ``"tkeo"`` too.
    features : pandas.DataFrame
        ``Amplitude`` (µV) and ``Latency`` (ms) per trial.
    channel : int
    """
    amplitude = features["Amplitude"].to_numpy(dtype=float)
    latency = features["Latency"].to_numpy(dtype=float)
    if amplitude.size != result.sweeps.n_sweeps:
        raise ValueError(f"{amplitude.size} feature rows for {result.sweeps.n_sweeps} sweeps")
    meps = np.isfinite(amplitude) & (amplitude > 0)
    m = result.measurements
    rejected = result.rejected[meps, channel]
    measured = np.where(rejected, np.nan, m.amplitude[meps, channel] * 1e6)
    onsets = {result.settings.onset_method: m.onset_latency, "tkeo": m.onset_latency_tkeo}
    return Agreement(
        n_meps=int(meps.sum()),
        amplitude_error=np.abs(measured - amplitude[meps]) / amplitude[meps],
        onset_error_ms={k: np.where(rejected, np.nan,
                                    np.abs(v[meps, channel] * 1e3 - latency[meps]))
                        for k, v in onsets.items()},
        present=m.present[meps, channel] & ~rejected,
        rejected=rejected,
        amplitude_uv=amplitude[meps],
    )


def by_method(agreements) -> Agreement:
    """Agreements of one case analysed under several onset methods, as one.

    The first's amplitudes, presence and rejections (they do not depend on the method) and
    every method's onsets, each under its own name.
    """
    agreements = list(agreements)
    errors = {}
    for a in agreements:
        first = next(iter(a.onset_error_ms))
        errors.setdefault(first, a.onset_error_ms[first])
    for a in agreements:
        for k, v in a.onset_error_ms.items():
            errors.setdefault(k, v)
    return dataclasses.replace(agreements[0], onset_error_ms=errors)


def pooled(agreements) -> Agreement:
    """Several subjects' agreements as one, MEP by MEP."""
    agreements = list(agreements)
    return Agreement(
        n_meps=sum(a.n_meps for a in agreements),
        amplitude_error=np.concatenate([a.amplitude_error for a in agreements]),
        onset_error_ms={k: np.concatenate([a.onset_error_ms[k] for a in agreements])
                        for k in agreements[0].onset_error_ms},
        present=np.concatenate([a.present for a in agreements]),
        rejected=np.concatenate([a.rejected for a in agreements]),
        amplitude_uv=np.concatenate([a.amplitude_uv for a in agreements]),
    )


def mepfeatx_sidecar(case_id: str, muscle: str, variable: str = "meps") -> str:
    """The case sidecar a user writes to read a MEPFeatX subject file.

    MEPFeatX stores each subject's sweeps as ``meps`` (samples x trials, µV) at 3 kHz with the
    first sample at -50 ms, one muscle per file.
    """
    return (f'[case]\nid = "{case_id}"\n\n[tabular]\ndata_variable = "{variable}"\n'
            'layout = "samples,sweeps"\nsfreq_hz = 3000\nfirst_sample_ms = -50\n\n'
            f'[[channels]]\nname = "channel 1"\nmuscle = "{muscle}"\n')
