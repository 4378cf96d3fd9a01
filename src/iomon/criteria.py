"""Warning criteria: named, cited, parameterised presets (DESIGN.md section 2).

No criterion is standard (MacDonald 2017), so every output names the preset that ran. This
version applies the amplitude-drop criterion, with disappearance reported as ``loss`` when the
response is gone altogether; threshold, latency and morphology criteria are not applied yet.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class Criteria:
    """A warning criterion preset.

    Attributes
    ----------
    name : str
        Preset name, written into every output.
    description : str
        One line on what it does.
    citation : str
        Where its numbers come from.
    amplitude_drop_percent : float
        Alert when the amplitude has fallen by at least this much (% of baseline).
    sustained_n, sustained_m : int
        The drop must hold in ``sustained_n`` of the last ``sustained_m`` valid sweeps
        (rejected sweeps are skipped, never counted as drops); recovery likewise.
    """

    name: str
    description: str
    citation: str
    amplitude_drop_percent: float
    sustained_n: int = 4
    sustained_m: int = 5

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

    @property
    def threshold_percent(self) -> float:
        """% of baseline at or below which a sweep counts as dropped."""
        return 100.0 - self.amplitude_drop_percent

    def as_dict(self) -> dict:
        """Plain dict for JSON outputs."""
        return asdict(self)


PRESETS: dict[str, Criteria] = {
    c.name: c
    for c in (
        Criteria("drez", "> 50 % amplitude drop, sustained 4 of 5 sweeps, focal vs systemic by "
                 "the contralateral controls (default)",
                 "Son et al. 2017 (DREZ lesioning, n = 9: every patient with a > 50 % drop had "
                 "new leg weakness)", 50.0),
        Criteria("fifty", "> 50 % amplitude drop, sustained 4 of 5 sweeps",
                 "common in cervical surgery (MacDonald 2017 review)", 50.0),
        Criteria("jssr70", ">= 70 % amplitude drop, sustained 4 of 5 sweeps",
                 "Japanese Society for Spine Surgery and Related Research, Kobayashi et al. 2014 "
                 "(sensitivity 95 %, specificity 91 %, n = 959)", 70.0),
        Criteria("macdonald2017", "> 80 % amplitude drop, sustained 4 of 5 sweeps",
                 "MacDonald 2017 review (spinal cord monitoring)", 80.0),
    )
}
DEFAULT_PRESET = "drez"

_FILE_KEYS = {"name", "description", "citation", "amplitude_drop_percent", "sustained_n",
              "sustained_m"}


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
    if not path.is_file():
        raise InputError("criteria file not found", path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"not valid TOML ({err})", path) from None
    table = doc.get("criteria")
    if not isinstance(table, dict) or set(doc) != {"criteria"}:
        raise InputError("a criteria file holds exactly one [criteria] table", path)
    unknown = sorted(set(table) - _FILE_KEYS)
    if unknown:
        raise InputError(f"unknown key {unknown[0]!r} in [criteria] (expected: "
                         f"{', '.join(sorted(_FILE_KEYS))})", path)
    if "amplitude_drop_percent" not in table:
        raise InputError("[criteria] needs amplitude_drop_percent", path)
    values = {"name": path.stem, "description": "user-defined", "citation": "user-defined"}
    values.update(table)
    drop = values["amplitude_drop_percent"]
    if isinstance(drop, bool) or not isinstance(drop, (int, float)):
        raise InputError(f"amplitude_drop_percent must be a number, got {drop!r}", path)
    try:
        return Criteria(**values)
    except InputError as err:
        raise InputError(err.reason, path) from None


def amplitude_dropped(percent_of_baseline, criteria: Criteria) -> np.ndarray:
    """Sweeps whose amplitude has fallen to or below the criterion's threshold.

    NaN (rejected, or no baseline) counts as not dropped; the alerting skips such sweeps.
    """
    with np.errstate(invalid="ignore"):
        return np.asarray(percent_of_baseline) <= criteria.threshold_percent
