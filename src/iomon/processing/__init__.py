"""The processing core: pure functions on arrays of sweeps, in SI units.

:mod:`~iomon.processing.conditioning` (offset, stimulus artefact, hum, band-pass, rejection),
:mod:`~iomon.processing.measures` (amplitude, latencies, area, duration, phases, presence),
:mod:`~iomon.processing.baseline` (which sweeps form each channel's baseline, and its values),
:mod:`~iomon.processing.settings` (how sweeps are processed: asked for, then decided).
"""

__all__: list[str] = []
