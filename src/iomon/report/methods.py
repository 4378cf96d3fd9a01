"""The methods text of a report, generated from the settings used and the code's constants.

Both report renderers (HTML and PDF) print these paragraphs, so what a report says was done is
what the code did: every number comes from the case's settings record or from the constant the
processing uses.
"""

from __future__ import annotations

from ..processing import conditioning, measures

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
            "outside it reaches it. A sweep was rejected per channel for noise above "
            f"{conditioning.NOISE_REJECT_RATIO:g} times the channel's median that is also more "
            f"than {conditioning.NOISE_REJECT_SHARE * 100:g} % of the channel's typical "
            "peak-to-peak (electrocautery and other bursts), amplifier clipping, a flat line or "
            "missing values. A rejected sweep is neither a drop nor a response.")


def _measures(settings: dict) -> str:
    return ("Amplitude is peak to peak inside a response window set per muscle from its "
            "expected onset latency and narrowed to the response of the channel's baseline "
            "average (windows in summary.json). A response is present when it exceeds both "
            f"{settings['presence_uv']:g} µV and {settings['presence_noise_ratio']:g} times the "
            "noise, and an onset is found: the first excursion beyond "
            f"{measures.ONSET_K:g} SD of the noise (and "
            f"{measures.ONSET_PEAK_SHARE * 100:g} % of the sweep's peak-to-peak) held "
            f"{_ms(measures.ONSET_HOLD_S)} ms, traced back to where "
            f"the signal left the band of {measures.ONSET_BAND_K:g} SD (after Hodges & Bui "
            "1996). A second onset, where the Teager-Kaiser energy exceeds its pre-stimulus "
            f"mean by {measures.TKEO_H:g} SD (after Li, Zhou & Aruin 2007), is in "
            "measurements.csv.")


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
