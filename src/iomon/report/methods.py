"""The methods text of a report, generated from the settings used and the code's constants.

Both report renderers (HTML and PDF) print these paragraphs, so what a report says was done is
what the code did: every number comes from the case's settings record or from the constant the
processing uses.
"""

from __future__ import annotations

from ..processing import conditioning, onsets

__all__ = ["methods_paragraphs"]


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:g}"


def _conditioning(settings: dict) -> str:
    window = settings["sweep_window_ms"]
    text = (f"Sweeps were cut {window[0]:g} to {window[1]:g} ms around each stimulus. The "
            "electrode offset (the median where the channel was quiet) was removed; ")
    how = settings["artefact"]
    if how == "none":
        text += "the stimulus artefact was not blanked (set so). "
    else:
        start, end = settings["artefact_blanked_ms"]
        text += (f"the stimulus artefact was replaced by a straight line from {start:g} to "
                 f"{end:g} ms")
        if how == "found in the data":
            pulses, isi = settings["stimulus_pulses"], settings["stimulus_isi_ms"]
            text += (f", found from the stimulus train in the EMG channels ({pulses} pulse"
                     f"{'s' if pulses != 1 else ''}{f' {isi:g} ms apart' if isi else ''}): the "
                     f"first pulse within {_ms(conditioning.FIRST_PULSE_S[0])} to "
                     f"{_ms(conditioning.FIRST_PULSE_S[1])} ms of the stimulus, the others "
                     f"following within one interval of {_ms(conditioning.TRAIN_ISI_S[0])}-"
                     f"{_ms(conditioning.TRAIN_ISI_S[1])} ms (a sample of jitter allowed), at "
                     f"most {conditioning.MAX_TRAIN_PULSES}; each channel blanked from "
                     f"{_ms(conditioning.ARTEFACT_MARGINS_S[0])} ms before the first pulse until "
                     "its own artefact was over (its amplifier off its rail and its median sweep "
                     f"back within {conditioning.TAIL_LIMIT_V * 1e6:g} µV of its quiet level), at "
                     f"least {_ms(conditioning.ARTEFACT_MARGINS_S[1])} ms after the last pulse "
                     "(per channel in summary.json). ")
        elif how == "set":
            text += " (span set in the case sidecar or settings). "
        else:
            text += " (no artefact visible in the data: the default span). "
    mains = settings["mains_removed_hz"]
    text += (f"Mains hum at {mains:g} Hz and three harmonics was fitted outside the responses "
             "and subtracted; " if mains else "Mains hum was not removed; ")
    band = settings["band_hz"]
    text += (f"a zero-phase Butterworth band-pass of {band[0]:g}-{band[1]:g} Hz followed."
             if band else "no band-pass was applied (set so: the export was filtered already).")
    return text


def _noise(settings: dict) -> str:
    window = settings["noise_window_ms"]
    where = {"after the responses": " (after the latest response window: the sweeps hold "
                                    "too little before the stimulus)",
             "[processing] noise_window_ms": " (set in the case sidecar)"}.get(
        settings.get("noise_window_source"), "")
    return (f"The noise of each sweep is the standard deviation from {window[0]:g} to "
            f"{window[1]:g} ms{where}, that window band-passed on its own so that nothing "
            "outside it reaches it; thresholds and rejection judge it robustly, as 1.4826 times "
            "its median absolute deviation, which a brief burst of interference in the window "
            "does not inflate. A sweep was rejected per channel for such noise above "
            f"{conditioning.NOISE_REJECT_RATIO:g} times the channel's median that is also more "
            f"than {conditioning.NOISE_REJECT_SHARE * 100:g} % of the channel's typical "
            "peak-to-peak (electrocautery and other bursts), amplifier clipping, a flat line or "
            "missing values. A rejected sweep is neither a drop nor a response.")


_ONSET_METHODS = {
    "threshold": "the threshold method (after Hodges & Bui 1996): traced back from the "
                 "excursion to where the signal last lay within {band:g} SD of its baseline",
    "tkeo": "the Teager-Kaiser energy method (after Li, Zhou & Aruin 2007; Solnik et al. 2010): "
            "where the energy of the signal less its baseline first exceeds its pre-stimulus "
            "mean by {h:g} SD",
    "changepoint": "the maximum-likelihood change point (after Staude & Wolf 1999; Staude et "
                   "al. 2001) from the baseline's noise to the response, sought near the "
                   "threshold onset",
}


def _measures(settings: dict) -> str:
    method = settings.get("onset_method", onsets.DEFAULT_ONSET_METHOD)
    how = _ONSET_METHODS[method].format(band=onsets.ONSET_BAND_K, h=onsets.TKEO_H)
    text = ("Amplitude is peak to peak inside a response window set per muscle from its "
            "expected onset latency and narrowed to the response of the channel's baseline "
            "average (windows in summary.json). A response is present when it exceeds both "
            f"{settings['presence_uv']:g} µV and {settings['presence_noise_ratio']:g} times the "
            "noise, and it makes an excursion beyond "
            f"{onsets.ONSET_K:g} SD of the noise (and "
            f"{onsets.ONSET_PEAK_SHARE * 100:g} % of the sweep's peak-to-peak) held "
            f"{_ms(onsets.ONSET_HOLD_S)} ms from its baseline: the level just before the "
            "response window, never the blanked artefact. What is not the response is passed "
            "over: the remnant of the artefact after the blank and a slow tail (followed as a "
            "straight line), interference after which the signal returns to its baseline for "
            f"{_ms(onsets.RETURN_S)} ms, and a baseline step (an abrupt jump to a level held "
            f"{_ms(onsets.PLATEAU_S)} ms), which becomes the baseline. The onset latency is "
            f"placed by {how} ({method}, [processing] onset_method). An onset more than "
            f"{_ms(onsets.EARLIEST_MARGIN_S)} ms before the muscle's typical range is looked "
            "at again from there and, if no later one exists, kept and listed in the notes.")
    if method != "tkeo":
        text += (" The Teager-Kaiser energy onset (the energy exceeding its pre-stimulus mean "
                 f"by {onsets.TKEO_H:g} SD, after Li, Zhou & Aruin 2007) is in "
                 "measurements.csv beside it.")
    return text


def _baseline(summary: dict) -> str:
    settings = summary["settings"]
    text = (f"Baseline: the median over each channel's first {settings['baseline_sweeps']} valid "
            "sweeps from the Baseline annotation (or the start) and before lesioning, per "
            f"stimulation montage and intensity ({len(summary['baselines'])} baseline"
            f"{'s' if len(summary['baselines']) != 1 else ''} in this case")
    for b in summary["baselines"]:
        if b["reason"] != "case baseline":
            text += f"; re-baselined at {b['start_s']:.1f} s: {b['reason']}"
    text += ("). A channel with a response in fewer than half of them is absent at baseline "
             "and never alerted.")
    if summary.get("n_setup_sweeps"):
        n = summary["n_setup_sweeps"]
        text += (f" The {n} sweep{'s' if n != 1 else ''} before the Baseline annotation are "
                 "setup (the team finding thresholds): measured and shown, never alerted.")
    return text


def methods_paragraphs(summary: dict, criteria) -> list[str]:
    """The methods of one case's analysis, one paragraph each, in plain text.

    Parameters
    ----------
    summary : dict
        The case's summary.json content (its ``settings`` record and baselines).
    criteria : Criteria
        The preset that ran (its rules, each criterion kind's own methods paragraph and the
        scope rules come from it).
    """
    settings = summary["settings"]
    paragraphs = [
        _conditioning(settings),
        _noise(settings),
        _measures(settings),
        _baseline(summary),
        f"Criterion {criteria.name}: " + " ".join(criteria.rules()),
    ]
    paragraphs += [kind.methods(criteria) for kind in criteria.kinds()
                   if kind.methods is not None]
    paragraphs += [" ".join(criteria.scope_rules()),
                   f"Source of the criterion: {criteria.citation}."]
    simulation = summary.get("simulation")
    if simulation:
        paragraphs.insert(0, _synthetic(simulation))
    return paragraphs


def _synthetic(simulation: dict) -> str:
    """How a synthetic case was made and how its times are shown."""
    how = ("The recording is synthetic, written by iomon simulate (a DREZ case with ground "
           "truth: physiology and variability from the literature, and the change its scenario "
           "injects")
    if simulation.get("scenario"):
        how += f": {simulation['scenario']}"
    how += ")"
    compression = simulation.get("time_compression")
    if compression and compression != 1:
        return (how + f", its surgical clock divided by {compression:g} in the file so that a "
                "case takes megabytes rather than a gigabyte; the report's times are on the "
                "surgical clock (the file's times multiplied by it), the output tables hold the "
                "file's.")
    if compression == 1:
        return how + ", in real time."
    return how + "; its time compression is not stated: the times are the file's."
