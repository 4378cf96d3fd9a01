"""Criterion kinds: one table of what an alert can be about.

A kind is one entry of :data:`CRITERION_KINDS`: its name (``criterion`` in alerts.json), what
it measures, the criteria-file keys that set it, its test function (which sweeps meet it), the
figure lane its alert bars take, and its words in the report and in ``iomon criteria``. The
alerting, the criteria's rules, the report (tables, conclusion, figures, methods) and the
command line all read the table, so adding a kind is one entry and its test function
(:func:`register_kind`)::

    def duration_grew(compared, criteria):
        percent = 100 * compared.measure("duration") / compared.baseline("duration")
        return Stream(percent >= 100 + criteria.value("duration_increase_percent"), percent,
                      np.nanmax)

    register_kind(CriterionKind("duration", "response duration as % of baseline", ...,
                                keys=("duration_increase_percent",), test=duration_grew,
                                compared=("duration",)))

A test function takes the sweeps' measures beside the baseline each is compared with, by name
(:class:`Compared`), and the preset (:class:`~iomon.alerting.criteria.Criteria`), and returns
a :class:`Stream` (None when the kind cannot run on this case): whether each sweep meets the
criterion on the channel's own baseline, the measure as % of baseline, and which end of an
episode is its most abnormal value. Generic kinds are alerted from sustained runs of
``met`` (:mod:`iomon.alerting.alerts`); the amplitude kinds (``amplitude``, ``loss``) are
judged against the control channels first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["CRITERION_KINDS", "Compared", "CriterionKind", "Stream", "amplitude_dropped",
           "compared_measures", "criterion_kinds", "latency_increased", "phases_lost",
           "register_kind", "threshold_raised", "unregister_kind"]


# ------------------------------------------------------------------------ test functions
def amplitude_dropped(percent_of_baseline, drop_percent, inclusive=True) -> np.ndarray:
    """Sweeps whose peak-to-peak amplitude has fallen by ``drop_percent`` (or more).

    The amplitude criterion of every review (MacDonald 2017: > 80 % for the spinal cord;
    Kobayashi 2014: >= 70 %; > 50 % in cervical surgery and, for DREZ lesioning, Son 2017).
    NaN (rejected, or no baseline) counts as not dropped; the alerting skips such sweeps.

    Parameters
    ----------
    percent_of_baseline : array of float, shape (n_sweeps, n_channels)
    drop_percent : float or array of float, shape (n_channels,)
    inclusive : bool
        True: a drop of exactly ``drop_percent`` counts (">= 70 %"); False: only more does
        ("> 50 %"). See :attr:`~iomon.alerting.criteria.Criteria.drop_inclusive`.
    """
    level = 100.0 - np.asarray(drop_percent)
    with np.errstate(invalid="ignore"):
        if inclusive:
            return np.asarray(percent_of_baseline) <= level
        return np.asarray(percent_of_baseline) < level


def latency_increased(onset_latency, baseline_latency, increase_percent) -> np.ndarray:
    """Sweeps whose onset latency has grown by at least ``increase_percent`` of baseline.

    A supporting criterion in the reviews (MacDonald 2017), usually paired with amplitude; NaN
    (no response or no baseline) counts as not increased.
    """
    with np.errstate(invalid="ignore"):
        return np.asarray(onset_latency) >= np.asarray(baseline_latency) * (
            1 + increase_percent / 100.0)


def phases_lost(n_phases, baseline_phases, count) -> np.ndarray:
    """Sweeps whose response has ``count`` or more fewer phases than its baseline.

    Morphology criterion: a polyphasic response becoming simpler (Quiñones-Hinojosa et al.
    2005; supporting evidence weak). Channels with fewer than ``count + 1`` baseline phases
    cannot lose that many and never meet it; a sweep without a response does not (that is
    ``loss``).
    """
    baseline_phases = np.asarray(baseline_phases, float)
    n_phases = np.asarray(n_phases, float)
    with np.errstate(invalid="ignore"):
        return (baseline_phases >= count + 1) & (n_phases >= 1) & (
            n_phases <= baseline_phases - count)


def threshold_raised(lower, upper, baseline_threshold, rise_v) -> np.ndarray:
    """Sweeps where a channel's stimulation threshold has risen by at least ``rise_v`` volts.

    The threshold-level method (Calancie et al. 1998): the lowest intensity that evokes a
    muscle is followed through surgery, and a rise of 100 V or more over its baseline is a
    warning (MacDonald 2017 review). Met where the threshold is bracketed (see
    :func:`iomon.alerting.threshold.threshold_brackets`), the channel has failed at an
    intensity that evoked it at baseline (``lower >= baseline``), and the lowest intensity that
    now evokes it is at least ``rise_v`` above its baseline threshold. A channel that responds
    at no tested intensity is not met here: that is a loss, which the amplitude criterion
    reports. NaN (no intensity, no baseline threshold) is not met.

    Parameters
    ----------
    lower, upper, baseline_threshold : array of float, shape (n_sweeps, n_channels)
        V, from :func:`iomon.alerting.threshold.track_thresholds`.
    rise_v : float
    """
    lower, upper = np.asarray(lower, float), np.asarray(upper, float)
    baseline_threshold = np.asarray(baseline_threshold, float)
    with np.errstate(invalid="ignore"):
        return (np.isfinite(upper) & (lower >= baseline_threshold)
                & (upper - baseline_threshold >= rise_v))


# ----------------------------------------------------------------------- what tests read
@dataclass(frozen=True)
class Compared:
    """Each sweep's measures beside the baseline it is compared with, by name.

    Attributes
    ----------
    percent : array of float, shape (n_sweeps, n_channels)
        Amplitude as % of each sweep's baseline (NaN where none).
    present : array of bool, shape (n_sweeps, n_channels)
        Whether each sweep holds a response.
    measures, baselines : dict of str to array, shape (n_sweeps, n_channels)
        Measures by their name in :class:`~iomon.processing.measures.Measurements` (SI units),
        and the baseline value each sweep is compared with, by the same names.
    thresholds : Thresholds or None
        The stimulation thresholds followed (:mod:`iomon.alerting.threshold`); None when
        the threshold criterion cannot run on the case.
    muscles : tuple of str or None, optional
        Each channel's muscle (per-muscle amplitude criteria); None: every channel alike.
    """

    percent: np.ndarray
    present: np.ndarray
    measures: dict = field(default_factory=dict)
    baselines: dict = field(default_factory=dict)
    thresholds: object = None
    muscles: tuple | None = None

    @classmethod
    def of(cls, measurements, baselines, percent, thresholds=None, muscles=None) -> Compared:
        """From a case's Measurements and BaselineSet: every measure the kinds compare."""
        names = compared_measures()
        return cls(np.asarray(percent), np.asarray(measurements.present),
                   {n: getattr(measurements, n) for n in names},
                   {n: baselines.reference(n) for n in names}, thresholds,
                   None if muscles is None else tuple(muscles))

    def measure(self, name: str) -> np.ndarray:
        """Measure ``name`` of every sweep x channel (``percent`` and ``present`` too)."""
        if name in ("percent", "present"):
            return getattr(self, name)
        return np.asarray(self.measures[name])

    def baseline(self, name: str) -> np.ndarray:
        """The baseline of measure ``name`` each sweep x channel is compared with."""
        return np.asarray(self.baselines[name])


@dataclass(frozen=True)
class Stream:
    """What one criterion says of every sweep x channel.

    Attributes
    ----------
    met : array of bool, shape (n_sweeps, n_channels)
        The sweep meets the criterion on the channel's own baseline.
    value : array of float, shape (n_sweeps, n_channels)
        The measure as % of its baseline, NaN where a sweep tells nothing (skipped like a
        rejected one).
    extreme : callable
        ``np.nanmin`` or ``np.nanmax``: the most abnormal value of an episode.
    rise : array of float or None
        Threshold: the rise over the baseline threshold, V (an alert's ``threshold_rise_v``).
    """

    met: np.ndarray
    value: np.ndarray
    extreme: Callable = np.nanmin
    rise: np.ndarray | None = None


# ----------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class CriterionKind:
    """One kind of criterion: what it measures, how it is tested, and its words.

    Attributes
    ----------
    name : str
        As in alerts.json's ``criterion``.
    measures : str
        What it measures, in words (``iomon criteria``, the README).
    words : str
        The alert table's criterion column ("threshold rise").
    lane : int
        The figure lane its alert bars take along the top of a panel (kinds may share one).
    lane_words : str
        The lane's label.
    keys : tuple of str
        The criteria-file keys that set it; the first enables it (no key: always on).
    test : callable
        ``test(compared, criteria) -> Stream or None`` (see the module docstring).
    generic : bool
        Alerted from sustained runs of its test's ``met`` (False: the amplitude streams
        judged against the controls decide, see :mod:`iomon.alerting.alerts`).
    compared : tuple of str
        The measures whose baseline its test reads (computed for every case).
    style : str
        How the report states its values: ``"amplitude"`` (% of baseline, against the
        controls), ``"rise_v"`` (volts over the baseline threshold) or ``"percent"`` (% of the
        baseline ``noun``).
    noun : str
        The measure in "the controls at 98 % of their baseline latency".
    extreme : str
        The alert table's most abnormal value ("latency {span} of baseline").
    finding : tuple of (str, str)
        The conclusion's words of a change, with the measure named and without. Both
        templates may use ``{span}`` (the episode's % of baseline, "12–20 %"), ``{its}``
        ("its" or "their"), ``{rise_v}`` (the largest threshold rise, "150"), ``{by}`` (the
        rise in words, "by 150 V") and ``{sweeps}`` (amplitude and loss: how many of the
        episode's sweeps held a response, " (a response in 9 of 12 sweeps)" when not all,
        " in 10 of 12 sweeps" for a loss); ``extreme`` may use them too.
    systemic_verb : str
        "had their onset latencies rise together".
    first_words : callable
        ``first_words(criteria, muscle) -> str``: when the criterion was first met ("first
        20 % longer").
    looked_for : callable or None
        ``looked_for(criteria) -> str``: what "no significant change" did not find.
    rule : callable or None
        ``rule(criteria) -> list of str``: the preset's rule sentences of this kind.
    methods : callable or None
        ``methods(criteria) -> str``: a methods paragraph of its own.
    """

    name: str
    measures: str
    words: str
    lane: int
    lane_words: str
    keys: tuple[str, ...]
    test: Callable
    generic: bool = True
    compared: tuple[str, ...] = ()
    style: str = "percent"
    noun: str = ""
    extreme: str = "{span} of baseline"
    finding: tuple[str, str] = ("{span} of baseline", "{span} of baseline")
    systemic_verb: str = "changed together"
    first_words: Callable = lambda criteria, muscle: "first met"
    looked_for: Callable | None = None
    rule: Callable | None = None
    methods: Callable | None = None

    def applies(self, criteria) -> bool:
        """Whether the preset applies this kind (its first key is set)."""
        return not self.keys or criteria.value(self.keys[0]) is not None


def _amplitude_test(compared, criteria) -> Stream:
    drop = criteria.drop_percent_for(compared.muscles or [None] * compared.percent.shape[1])
    return Stream(amplitude_dropped(compared.percent, drop[None, :], criteria.drop_inclusive),
                  compared.percent, np.nanmin)


def _threshold_test(compared, criteria) -> Stream | None:
    tracks = compared.thresholds
    if tracks is None:
        return None
    lower, upper, base = tracks.lower, tracks.upper, tracks.baseline
    rise_v = criteria.threshold_rise_v
    raised = threshold_raised(lower, upper, base, rise_v)
    with np.errstate(invalid="ignore", divide="ignore"):
        # A sweep counts only where it tells something: the threshold is proven raised, or
        # the channel responds below the raised level. Elsewhere (responses only at high
        # intensities, no failure to bracket them; or no response at all, a loss) it is
        # skipped like a rejected sweep, so neither an alert nor a recovery is called without
        # evidence.
        known = np.where(raised | (upper - base < rise_v), upper, np.nan)
    return Stream(raised, 100.0 * known / base, np.nanmax, known - base)


def _latency_test(compared, criteria) -> Stream:
    latency, base = compared.measure("onset_latency"), compared.baseline("onset_latency")
    with np.errstate(invalid="ignore", divide="ignore"):
        percent = 100.0 * latency / base
    return Stream(latency_increased(latency, base, criteria.latency_increase_percent),
                  percent, np.nanmax)


def _morphology_test(compared, criteria) -> Stream:
    present, n_phases = compared.present, compared.measure("n_phases")
    base = compared.baseline("n_phases")
    with np.errstate(invalid="ignore", divide="ignore"):
        percent = 100.0 * np.where(present, n_phases, np.nan) / base
    return Stream(phases_lost(np.where(present, n_phases, 0), base, criteria.phase_loss),
                  percent, np.nanmin)


def _amplitude_first(criteria, muscle) -> str:
    level = 100 - criteria.drop_percent_for([muscle])[0]
    return f"first {'at or ' if criteria.drop_inclusive else ''}below {level:g} %"


def _amplitude_rules(c) -> list[str]:
    inclusive = "at or below" if c.drop_inclusive else "below"
    rules = [f"Amplitude: {c.drop_words()} (a sweep {inclusive} {c.threshold_percent:g} % of "
             "its baseline counts as dropped)" + ("; it decides systemic alerts."
                                                  if c.sequential else ".")]
    if c.sequential:
        rules.append(c.sequential_words())
    if c.muscle_drop_percent:
        rules.append("Per muscle: " + ", ".join(f"{m} {c.drop_words(v)}"
                                                for m, v in c.muscle_drop_percent) + ".")
    return rules


def _threshold_methods(criteria) -> str:
    return ("Threshold: the stimulation threshold of a channel (the lowest intensity that "
            "evokes it) is followed from the per-sweep intensity: the newest sweeps that agree "
            "with one threshold bracket it between the highest intensity that failed and the "
            "lowest that responded. A sweep meets the criterion when the channel failed at an "
            "intensity that evoked it at baseline and now needs "
            f"{criteria.threshold_rise_v:g} V or more above its baseline threshold (the lowest "
            "intensity that evoked it up to the end of the baseline, the ramp-up included); "
            "sweeps that bracket nothing are skipped.")


def _plural(n, word) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


_BUILT_IN = (
    CriterionKind(
        "amplitude", "peak-to-peak amplitude as % of baseline", "amplitude", 0, "amplitude",
        ("amplitude_drop_percent", "amplitude_drop_inclusive", "muscle_drop_percent",
         "cusum_drop_percent", "cusum_false_alarm_rate", "cusum_reference_sweeps"),
        _amplitude_test, generic=False, compared=("amplitude",), style="amplitude",
        noun="amplitude", extreme="{span} of baseline{sweeps}",
        finding=("amplitude fell to {span} of baseline{sweeps}",
                 "fell to {span} of baseline{sweeps}"),
        systemic_verb="fell together", first_words=_amplitude_first,
        looked_for=lambda c: "amplitude " + c.drop_words().removeprefix("a "),
        rule=_amplitude_rules),
    CriterionKind(
        "loss", "disappearance of the response: an amplitude drop where most of the "
        "episode's sweeps hold no response",
        "loss of response", 0, "loss of response", (), _amplitude_test, generic=False,
        compared=("amplitude",), style="amplitude", noun="amplitude",
        extreme="no response{sweeps} (lowest {span} of baseline)",
        finding=("response lost{sweeps} (lowest {span} of baseline)",
                 "lost {its} response{sweeps} (lowest {span} of baseline)"),
        systemic_verb="lost their responses together", first_words=_amplitude_first),
    CriterionKind(
        "threshold", "stimulation threshold (the lowest intensity that evokes the muscle), "
        "V over its baseline", "threshold rise", 1, "threshold", ("threshold_rise_v",),
        _threshold_test, style="rise_v", noun="threshold", extreme="up to +{rise_v} V",
        finding=("stimulation threshold rose {by}", "stimulation threshold rose {by}"),
        systemic_verb="had their stimulation thresholds rise together",
        first_words=lambda c, muscle: f"first up {c.threshold_rise_v:g} V or more",
        looked_for=lambda c: f"stimulation-threshold rise of {c.threshold_rise_v:g} V or more",
        rule=lambda c: [f"Threshold: a rise of {c.threshold_rise_v:g} V or more over the "
                        "baseline threshold (the lowest intensity that evokes the muscle)."],
        methods=_threshold_methods),
    CriterionKind(
        "latency", "onset latency as % of baseline", "latency increase", 2, "latency",
        ("latency_increase_percent",), _latency_test, compared=("onset_latency",),
        noun="latency", extreme="latency {span} of baseline",
        finding=("onset latency rose to {span} of baseline",
                 "onset latency rose to {span} of baseline"),
        systemic_verb="had their onset latencies rise together",
        first_words=lambda c, muscle: f"first {c.latency_increase_percent:g} % longer",
        looked_for=lambda c: (f"onset-latency increase of {c.latency_increase_percent:g} % or "
                              "more"),
        rule=lambda c: [f"Latency: an onset latency {c.latency_increase_percent:g} % or more "
                        "above baseline."]),
    CriterionKind(
        "morphology", "number of phases of the response against its baseline",
        "loss of phases", 3, "phases lost", ("phase_loss",), _morphology_test,
        compared=("n_phases",), noun="phases", extreme="phases {span} of baseline",
        finding=("phases fell to {span} of baseline", "phases fell to {span} of baseline"),
        systemic_verb="lost phases together",
        first_words=lambda c, muscle: f"first {_plural(c.phase_loss, 'phase')} fewer",
        looked_for=lambda c: f"loss of {c.phase_loss} or more phases",
        rule=lambda c: [f"Morphology: {c.phase_loss} or more phases fewer than at baseline."]),
)

#: Every criterion kind by name, in the order the rules, lanes and lists give them.
CRITERION_KINDS: dict[str, CriterionKind] = {k.name: k for k in _BUILT_IN}


def criterion_kinds() -> list[CriterionKind]:
    """Every kind, in table order."""
    return list(CRITERION_KINDS.values())


def register_kind(kind: CriterionKind) -> CriterionKind:
    """Add a kind to the table (its keys become criteria-file keys)."""
    if kind.name in CRITERION_KINDS:
        raise ValueError(f"a criterion kind {kind.name!r} exists already")
    CRITERION_KINDS[kind.name] = kind
    return kind


def unregister_kind(name: str) -> None:
    """Remove a kind added by :func:`register_kind` (built-in kinds stay)."""
    if name in {k.name for k in _BUILT_IN}:
        raise ValueError(f"{name!r} is a built-in criterion kind")
    CRITERION_KINDS.pop(name, None)


def compared_measures() -> tuple[str, ...]:
    """The measures whose baseline a case needs, by name.

    Amplitude and onset latency (reported for every channel), then every measure a kind's
    test compares.
    """
    names = ["amplitude", "onset_latency"]
    for kind in criterion_kinds():
        names += [n for n in kind.compared if n not in names]
    return tuple(names)
