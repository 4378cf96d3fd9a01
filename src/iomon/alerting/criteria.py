"""Warning criteria: named, cited, parameterised presets (DESIGN.md section 2).

No criterion is standard (MacDonald 2017), so every output names the preset that ran. Applied:
the amplitude drop (disappearance is reported as ``loss`` when the response is gone
altogether), and, where a preset enables them, the threshold elevation in volts (from the
per-sweep stimulus intensity), the latency increase and the loss of phases (morphology).

Each kind of criterion is one entry of the table in :mod:`iomon.alerting.kinds`, with the
small function that returns which sweeps meet it; the alerting (:mod:`iomon.alerting.alerts`)
turns sustained runs of them into alerts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..model.errors import InputError
from ..model.tomlsafe import load_toml
from .kinds import (
    CRITERION_KINDS,
    amplitude_dropped,
    criterion_kinds,
    latency_increased,
    phases_lost,
    threshold_raised,
)

__all__ = ["DEFAULT_PRESET", "GENERAL_KEYS", "PRESETS", "amplitude_dropped", "Criteria",
           "file_keys", "latency_increased", "load_criteria", "phases_lost", "threshold_raised"]


@dataclass(frozen=True)
class Criteria:
    """A warning criterion preset.

    Its rule in words is generated from its fields (:meth:`rule`), so what a report or
    ``iomon criteria`` says is what the code applies.

    Attributes
    ----------
    name : str
        Preset name, written into every output.
    citation : str
        Where its numbers come from.
    amplitude_drop_percent : float
        Alert when the amplitude has fallen by this much (% of baseline)...
    drop_inclusive : bool
        ... or more (True: a drop of exactly the criterion alerts, as "≥ 70 %") or by more
        (False: as "> 50 %"), as the cited source states it.
    sustained_n, sustained_m : int
        The drop must hold in ``sustained_n`` of the last ``sustained_m`` valid sweeps
        (rejected sweeps are skipped, never counted as drops); recovery likewise.
    latency_increase_percent : float or None
        Also alert when the onset latency has grown by at least this much (% of baseline);
        None: not applied.
    threshold_rise_v : float or None
        Also alert when a channel's stimulation threshold has risen by at least this many volts
        over its baseline threshold (see :func:`threshold_raised`); None: not applied.
    phase_loss : int or None
        Also alert when a response has lost at least this many phases against its baseline
        (polyphasic to simpler, Quiñones-Hinojosa 2005); None: not applied.
    focal_phases : tuple of str or None
        Surgical phases in which focal alerts count; a focal alert starting in another phase is
        reported as informational. None: every phase counts.
    focal_until_end : bool
        Focal alerts count from the first sweep in ``focal_phases`` to the end of the recording,
        whatever the later phases are called.
    muscle_drop_percent : tuple of (str, float)
        Per-muscle amplitude thresholds that replace ``amplitude_drop_percent`` for that muscle
        (variability differs by muscle: CV about 48 % for hand muscles, 27 % for TA).
    note : str
        A free remark of the preset's author (a custom file's ``description``).
    cusum_drop_percent : float or None
        Judge a focal amplitude drop by a sequential test on the channel's own variability
        instead of ``amplitude_drop_percent`` (see :func:`drop_evidence`): the drop relative to
        the controls that the test looks for. None: the fixed percentage decides.
    cusum_false_alarm_rate : float
        False alarms tolerated per sweep of a channel at its reference; the decision limit is
        ``ln(1 / rate)`` (Lorden 1971: the run length to a false alarm is at least ``1 / rate``).
    cusum_reference_sweeps : int
        The channel's first this many valid sweeps from the baseline start the reference
        (mean and spread of its log ratio to its controls), which then grows with every
        sweep found stable.
    options : tuple of (str, object)
        Values of criteria-file keys that belong to criterion kinds registered beyond the
        built-in ones (:func:`iomon.alerting.kinds.register_kind`); read with :meth:`value`.
    """

    name: str
    citation: str
    amplitude_drop_percent: float
    drop_inclusive: bool = True
    sustained_n: int = 4
    sustained_m: int = 5
    latency_increase_percent: float | None = None
    threshold_rise_v: float | None = None
    phase_loss: int | None = None
    focal_phases: tuple[str, ...] | None = None
    focal_until_end: bool = False
    muscle_drop_percent: tuple[tuple[str, float], ...] = ()
    note: str = ""
    cusum_drop_percent: float | None = None
    cusum_false_alarm_rate: float = 1e-4
    cusum_reference_sweeps: int = 10
    options: tuple[tuple[str, object], ...] = ()

    def __post_init__(self):
        if not 0 < self.amplitude_drop_percent <= 100:
            raise InputError(f"criteria {self.name!r}: amplitude_drop_percent must be in "
                             f"(0, 100], got {self.amplitude_drop_percent}")
        if not (isinstance(self.sustained_n, int) and isinstance(self.sustained_m, int)):
            raise InputError(f"criteria {self.name!r}: sustained_n and sustained_m must be "
                             "whole numbers")
        if not 1 <= self.sustained_n <= self.sustained_m:
            raise InputError(f"criteria {self.name!r}: need 1 <= sustained_n <= sustained_m, "
                             f"got {self.sustained_n} of {self.sustained_m}")
        if self.latency_increase_percent is not None and not (
                0 < self.latency_increase_percent <= 200):
            raise InputError(f"criteria {self.name!r}: latency_increase_percent must be in "
                             f"(0, 200], got {self.latency_increase_percent}")
        if self.threshold_rise_v is not None and not 0 < self.threshold_rise_v <= 1000:
            raise InputError(f"criteria {self.name!r}: threshold_rise_v must be in (0, 1000] V, "
                             f"got {self.threshold_rise_v}")
        if self.phase_loss is not None and (not isinstance(self.phase_loss, int)
                                            or self.phase_loss < 1):
            raise InputError(f"criteria {self.name!r}: phase_loss must be a whole number >= 1, "
                             f"got {self.phase_loss!r}")
        for muscle, value in self.muscle_drop_percent:
            if not 0 < value <= 100:
                raise InputError(f"criteria {self.name!r}: muscle_drop_percent for {muscle} must "
                                 f"be in (0, 100], got {value}")
        self._check_cusum()

    def _check_cusum(self):
        if self.cusum_drop_percent is not None and not 0 < self.cusum_drop_percent < 100:
            raise InputError(f"criteria {self.name!r}: cusum_drop_percent must be in (0, 100), "
                             f"got {self.cusum_drop_percent}")
        if not 0 < self.cusum_false_alarm_rate < 1:
            raise InputError(f"criteria {self.name!r}: cusum_false_alarm_rate must be in (0, 1) "
                             f"per sweep, got {self.cusum_false_alarm_rate}")
        if (not isinstance(self.cusum_reference_sweeps, int)
                or isinstance(self.cusum_reference_sweeps, bool)
                or self.cusum_reference_sweeps < 3):
            raise InputError(f"criteria {self.name!r}: cusum_reference_sweeps must be a whole "
                             f"number >= 3, got {self.cusum_reference_sweeps!r}")

    @property
    def sequential(self) -> bool:
        """Whether a focal amplitude drop is judged by the sequential test (CUSUM)."""
        return self.cusum_drop_percent is not None

    @property
    def cusum_limit(self) -> float:
        """The CUSUM's decision limit, ``ln(1 / cusum_false_alarm_rate)``."""
        return float(np.log(1.0 / self.cusum_false_alarm_rate))

    def value(self, key: str):
        """The value of a criteria-file key (None when unset)."""
        field_name = _FIELD_OF.get(key, key)
        if field_name in self.__dataclass_fields__ and field_name != "options":
            return getattr(self, field_name)
        return dict(self.options).get(key)

    def kinds(self) -> list:
        """The criterion kinds this preset applies, in table order."""
        return [k for k in criterion_kinds() if k.applies(self)]

    @staticmethod
    def kind(name: str):
        """The :class:`~iomon.alerting.kinds.CriterionKind` of an alert's ``criterion``."""
        return CRITERION_KINDS[name]

    def scope_rules(self) -> list[str]:
        """How an alert's scope is decided under this preset, in words."""
        from .alerts import scope_rules

        return scope_rules(self)

    def drop_percent_for(self, muscles) -> np.ndarray:
        """The amplitude-drop threshold of each channel, by its muscle (shape (n_channels,))."""
        overrides = {m.lower(): v for m, v in self.muscle_drop_percent}
        return np.array([overrides.get((m or "").lower(), self.amplitude_drop_percent)
                         for m in muscles], dtype=float)

    @property
    def threshold_percent(self) -> float:
        """% of baseline at which a sweep counts as dropped.

        At or below it, or only below it: see ``drop_inclusive``.
        """
        return 100.0 - self.amplitude_drop_percent

    def drop_words(self, percent: float | None = None) -> str:
        """The amplitude criterion in words: "a drop of 70 % or more" / "of more than 50 %"."""
        percent = self.amplitude_drop_percent if percent is None else percent
        return (f"a drop of {percent:g} % or more" if self.drop_inclusive
                else f"a drop of more than {percent:g} %")

    def sequential_words(self) -> str:
        """The sequential test of a focal drop in words (empty when the preset has none)."""
        if not self.sequential:
            return ""
        sweeps = f"{round(1 / self.cusum_false_alarm_rate):,}".replace(",", " ")
        return (f"Focal amplitude: instead of a fixed percentage, a sequential test on the "
                f"channel's own variability (one-sided CUSUM). Each valid sweep's amplitude "
                f"relative to its controls (the log of the ratio) is compared with the "
                f"channel's reference, its first {self.cusum_reference_sweeps} valid sweeps "
                f"from the baseline and then every sweep found stable, and weighed as evidence "
                f"for a drop of {self.cusum_drop_percent:g} % relative to the controls against "
                f"no drop (the log-likelihood ratio). The evidence is summed, the sum restarted "
                f"at zero whenever it would fall below, and an alert called when it reaches "
                f"{self.cusum_limit:.3g} (ln {sweeps}: in theory, for log ratios that vary "
                f"normally, {sweeps} sweeps or more of a stable channel between false alarms "
                "on average). No sweep "
                "adds more than half of that, so one low sweep never alerts; recovery is "
                "called when the evidence against the drop reaches the same sum.")

    def rules(self) -> list[str]:
        """What the preset alerts on, one sentence each (generated from its fields)."""
        rules = [sentence for kind in self.kinds() if kind.rule is not None
                 for sentence in kind.rule(self)]
        rules.append(f"Sustained{' (all but focal amplitude)' if self.sequential else ''}: in "
                     f"{self.sustained_n} of the last {self.sustained_m} valid sweeps; recovery "
                     "likewise.")
        if self.focal_phases:
            phases = " or ".join(self.focal_phases)
            rules.append(f"Focal alerts count from the start of {phases} to the end of the "
                         "recording; earlier ones are informational." if self.focal_until_end
                         else f"Focal alerts count during {phases}; others are informational.")
        return rules

    def rule(self) -> str:
        """The rules as one paragraph."""
        return " ".join(self.rules())

    def as_dict(self) -> dict:
        """Plain dict for JSON outputs, with the rule in words."""
        out = asdict(self)
        out["muscle_drop_percent"] = dict(self.muscle_drop_percent)
        out["focal_phases"] = None if self.focal_phases is None else list(self.focal_phases)
        out["rule"] = self.rule()
        # Keys of registered kinds sit beside the others; presets without any write nothing.
        del out["options"]
        out.update(dict(self.options))
        if not self.sequential:
            # Presets without the sequential test write what they wrote before it existed.
            for key in _CUSUM_KEYS:
                del out[key]
        return out


PRESETS: dict[str, Criteria] = {
    c.name: c
    for c in (
        Criteria("drez", "Son et al. 2017 (DREZ lesioning, n = 9: every patient with a drop of "
                 "more than 50 % had new leg weakness); threshold rise after Calancie et al. "
                 "1998", 50.0, drop_inclusive=False, threshold_rise_v=100.0,
                 focal_phases=("lesioning",), focal_until_end=True),
        Criteria("fifty", "common in cervical surgery (MacDonald 2017 review)", 50.0,
                 drop_inclusive=False),
        Criteria("jssr70", "Japanese Society for Spine Surgery and Related Research, Kobayashi "
                 "et al. 2014 (sensitivity 95 %, specificity 91 %, n = 959)", 70.0,
                 drop_inclusive=True),
        Criteria("macdonald2017", "MacDonald 2017 review (spinal cord monitoring; threshold "
                 "method of Calancie et al. 1998)", 80.0, drop_inclusive=False,
                 threshold_rise_v=100.0),
        Criteria("drez-cusum", "as drez, with focal amplitude drops judged on each channel's "
                 "own variability: Page 1954 (CUSUM), Wald 1945 (sequential probability ratio), "
                 "Hawkins 1987 (self-starting reference); a drop counts only if justified by "
                 "sufficient preceding stability (MacDonald 2017, J Clin Neurophysiol "
                 "34:4-11)", 50.0, drop_inclusive=False, threshold_rise_v=100.0,
                 focal_phases=("lesioning",), focal_until_end=True, cusum_drop_percent=60.0,
                 cusum_false_alarm_rate=1e-4, cusum_reference_sweeps=10),
    )
}
DEFAULT_PRESET = "drez"

_CUSUM_KEYS = ("cusum_drop_percent", "cusum_false_alarm_rate", "cusum_reference_sweeps")
#: Keys of a criteria file that belong to no criterion kind.
GENERAL_KEYS = ("name", "description", "citation", "sustained_n", "sustained_m",
                "focal_phases", "focal_until_end")
#: Criteria-file keys stored under another field name.
_FIELD_OF = {"amplitude_drop_inclusive": "drop_inclusive", "description": "note"}


def file_keys() -> list[str]:
    """Every key a criteria file may hold: the general ones, then each kind's, in table order."""
    return list(GENERAL_KEYS) + [key for kind in criterion_kinds() for key in kind.keys]


def load_criteria(name_or_path: str | Path | None = None) -> Criteria:
    """A preset by name, or a TOML file with a ``[criteria]`` table of the same fields."""
    if name_or_path is None:
        return PRESETS[DEFAULT_PRESET]
    text = str(name_or_path)
    if text in PRESETS:
        return PRESETS[text]
    path = Path(text)
    if not path.suffix.lower() == ".toml":
        raise InputError(f"unknown criteria preset {text!r} (presets: {', '.join(PRESETS)}; "
                         "or a .toml file)")
    # Within the sidecar's limits (depth, size, 64-bit integers, no nan/inf): a damaged file
    # is one line, never a RecursionError.
    doc = load_toml(path, "criteria file")
    table = doc.get("criteria")
    if not isinstance(table, dict) or set(doc) != {"criteria"}:
        raise InputError("a criteria file holds exactly one [criteria] table", path)
    known = file_keys()
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise InputError(f"unknown key {unknown[0]!r} in [criteria] (expected: "
                         f"{', '.join(sorted(known))})", path)
    if "amplitude_drop_percent" not in table:
        raise InputError("[criteria] needs amplitude_drop_percent", path)
    values = {"name": path.stem, "citation": "user-defined"}
    values.update(table)
    values["note"] = values.pop("description", "")
    if "amplitude_drop_inclusive" in values:
        values["drop_inclusive"] = values.pop("amplitude_drop_inclusive")
    for key in ("amplitude_drop_percent", "latency_increase_percent", "threshold_rise_v",
                "cusum_drop_percent", "cusum_false_alarm_rate"):
        value = values.get(key)
        if key in values and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise InputError(f"{key} must be a number, got {value!r}", path)
    for key in ("focal_until_end", "drop_inclusive"):
        if not isinstance(values.get(key, False), bool):
            raise InputError(f"{'amplitude_' * (key == 'drop_inclusive')}{key} must be true or "
                             "false", path)
    for key in ("name", "citation", "note"):
        if not isinstance(values[key], str):
            raise InputError(f"{'description' if key == 'note' else key} must be text", path)
    if "focal_phases" in values:
        phases = values["focal_phases"]
        if not isinstance(phases, list) or not all(isinstance(p, str) for p in phases):
            raise InputError("focal_phases must be a list of phase names", path)
        values["focal_phases"] = tuple(phases)
    if "muscle_drop_percent" in values:
        table = values["muscle_drop_percent"]
        if not isinstance(table, dict) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in table.values()):
            raise InputError("muscle_drop_percent must be a table of muscle = percent", path)
        values["muscle_drop_percent"] = tuple((k, float(v)) for k, v in table.items())
    # Keys of kinds registered beyond the built-in ones: numbers, kept as the preset's options.
    options = tuple((k, values.pop(k)) for k in list(values)
                    if k not in Criteria.__dataclass_fields__)
    for key, value in options:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"{key} must be a number, got {value!r}", path)
    try:
        return Criteria(**values, options=options)
    except InputError as err:
        raise InputError(err.reason, path) from None
