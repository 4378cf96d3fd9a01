"""Times as a report prints them: clock time when the recording's start is known.

Every time the report and its figures print is rounded to the whole second once
(:func:`whole_seconds`), and the clock time and the time elapsed are both printed from that,
so they never disagree.
"""

from __future__ import annotations

import datetime
import math

__all__ = ["TimeAxis", "whole_seconds"]


def whole_seconds(seconds: float) -> int:
    """Seconds rounded half up to a whole second: every time the report prints is this."""
    return math.floor(float(seconds) + 0.5)


class TimeAxis:
    """Seconds since the recording's start, shown as clock time when it is known.

    A time is rounded to the whole second once (:func:`whole_seconds`) and the clock time and
    the time elapsed are both printed from that, so they never disagree. Ticks carry seconds
    when the recording lasts under an hour (time-compressed simulated cases, short exports).
    """

    def __init__(self, start=None, duration_s=None):
        if start is not None and start.microsecond:
            start = start.replace(microsecond=0) + datetime.timedelta(
                seconds=start.microsecond >= 500_000)
        self.start = start
        self.seconds = duration_s is not None and duration_s < 3600

    def label(self) -> str:
        """The axis label."""
        return "clock time" if self.start is not None else "time since start (h:mm)"

    def text(self, seconds: float, with_seconds: bool = False) -> str:
        """A time as clock time, or as h:mm(:ss) since the start."""
        whole = whole_seconds(seconds)
        if self.start is not None:
            moment = self.start + datetime.timedelta(seconds=whole)
            return moment.strftime("%H:%M:%S" if with_seconds else "%H:%M")
        hours, rest = divmod(whole, 3600)
        minutes, secs = divmod(rest, 60)
        return f"{hours}:{minutes:02d}:{secs:02d}" if with_seconds else f"{hours}:{minutes:02d}"

    def format(self, ax) -> None:
        """Label the x axis of ``ax`` with this time."""
        from matplotlib.ticker import FuncFormatter, MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: self.text(x, self.seconds)))
