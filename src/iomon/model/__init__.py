"""The case model every room shares: sweeps and channels, markers, muscles, errors, loaders.

:class:`~iomon.model.sweeps.Sweeps` holds a case's sweeps (sweeps x channels x samples, with
one table row per sweep) and :class:`~iomon.model.sweeps.Channel` a channel's facts;
:mod:`~iomon.model.annotations` the markers of a recording and the stimuli and phases they
name; :mod:`~iomon.model.muscles` the muscles monitored and how labels name them;
:class:`~iomon.model.errors.InputError` every refusal; :mod:`~iomon.model.tomlsafe` and
:mod:`~iomon.model.guard` read untrusted files within limits. Nothing here imports another
room of iomon.
"""

__all__: list[str] = []
