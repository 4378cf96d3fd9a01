"""iomon: analysis of intraoperative TcMEP recordings.

The public API, importable from ``iomon`` directly::

    import iomon

    result = iomon.analyze_file("case.edf", criteria="jssr70")
    iomon.write_outputs(result, "case_out")

Reading: :func:`read` (any supported format into a :class:`Recording`), :func:`load_case`
(the case sidecar). Analysis: :func:`analyze` and :func:`analyze_file` return a
:class:`CaseResult`; :class:`Settings` and :class:`Criteria` (:func:`load_criteria`,
:data:`PRESETS`) say how. Outputs: :func:`write_outputs`. The case model: :class:`Sweeps`,
:class:`Channel`. Simulation: :func:`simulate_case`, :func:`write_simulated_case`. Bad input
raises :class:`InputError`.

The names are loaded when first used, so that ``import iomon`` (and the command line) stays
fast: numpy, pandas, MNE, neo and matplotlib are imported only where they are needed.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_PUBLIC = {
    "Alert": "iomon.alerting.alerts",
    "CaseResult": "iomon.results",
    "Case": "iomon.case.sidecar",
    "Channel": "iomon.model.sweeps",
    "Criteria": "iomon.alerting.criteria",
    "InputError": "iomon.model.errors",
    "PRESETS": "iomon.alerting.criteria",
    "ReadOptions": "iomon.io",
    "Recording": "iomon.io",
    "Settings": "iomon.processing.settings",
    "Sweeps": "iomon.model.sweeps",
    "analyze": "iomon.pipeline",
    "analyze_file": "iomon.pipeline",
    "load_case": "iomon.case.sidecar",
    "load_criteria": "iomon.alerting.criteria",
    "read": "iomon.io",
    "simulate_case": "iomon.sim",
    "write_outputs": "iomon.report.outputs",
    "write_simulated_case": "iomon.sim",
}

__all__ = ["__version__", *sorted(_PUBLIC)]


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'iomon' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))
