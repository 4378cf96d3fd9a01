"""Alerting: cited warning criteria applied per phase, focal told from systemic by controls.

:mod:`~iomon.alerting.criteria` (the presets and the tests each criterion applies),
:mod:`~iomon.alerting.alerts` (criteria x phases x controls -> Alert records with a
lifecycle), :mod:`~iomon.alerting.threshold` (threshold tracking from the intensity steps).
"""

__all__: list[str] = []
