"""Exceptions that iomon raises for bad input.

The command line maps :class:`InputError` to exit status 2 and prints its message as one line;
anything else is unexpected and exits with status 1.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["InputError"]


class InputError(ValueError):
    """A file, a parameter or a sidecar value that iomon cannot use.

    Parameters
    ----------
    message : str
        What is wrong, in one line.
    path : str or Path, optional
        The file the problem is in; it is put at the front of the message.
    """

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = None if path is None else Path(path)
        self.reason = message
        text = message if path is None else f"{path}: {message}"
        super().__init__(text)
