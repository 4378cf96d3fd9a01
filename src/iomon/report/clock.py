"""Times as a report prints them: clock time when the recording's start is known.

Every time the report and its figures print is rounded to the whole second once
(:func:`whole_seconds`), and the clock time and the time elapsed are both printed from that,
so they never disagree.
"""

from __future__ import annotations

import datetime
import math

__all__ = ["TimeAxis", "case_clock", "time_scale", "whole_seconds"]


def time_scale(result) -> float:
    """How many times faster than the surgery a case's file runs (1: a real recording).

    A simulated case says so in its sidecar (``[simulation] time_compression``).
    """
    simulation = result.simulation
    return 1.0 if simulation is None or not simulation.time_compression else float(
        simulation.time_compression)


def case_clock(result) -> TimeAxis:
    """The clock a case's report prints its times on."""
    return TimeAxis(result.recording.start, result.recording.duration_s, time_scale(result))


def whole_seconds(seconds: float) -> int:
    """Seconds rounded half up to a whole second: every time the report prints is this."""
    return math.floor(float(seconds) + 0.5)


class TimeAxis:
    """Seconds since the recording's start, shown as clock time when it is known.

    A time is rounded to the whole second once (:func:`whole_seconds`) and the clock time and
    the time elapsed are both printed from that, so they never disagree. Ticks carry seconds
    when the recording lasts under an hour (short exports). ``scale``: the time compression of
    a simulated case (its file runs ``scale`` times faster than the surgery it stands for):
    every time is then shown on the surgical clock, ``scale`` times the file's.
    """

    def __init__(self, start=None, duration_s=None, scale: float = 1.0):
        if start is not None and start.microsecond:
            start = start.replace(microsecond=0) + datetime.timedelta(
                seconds=start.microsecond >= 500_000)
        self.start = start
        self.scale = float(scale)
        self.seconds = duration_s is not None and duration_s * self.scale < 3600

    @property
    def compressed(self) -> bool:
        """Whether times are shown on a clock other than the file's."""
        return self.scale != 1.0

    def label(self) -> str:
        """The axis label."""
        clock = "clock time" if self.start is not None else "time since start (h:mm)"
        if self.compressed:
            clock = ("surgical clock" if self.start is not None
                     else "surgical time since start (h:mm)")
            clock += f" (simulated; the file runs ×{self.scale:g})"
        return clock

    def surgical_s(self, seconds: float) -> float:
        """A span or time of the file in seconds of the surgery it stands for."""
        return float(seconds) * self.scale

    def text(self, seconds: float, with_seconds: bool = False) -> str:
        """A time as clock time, or as h:mm(:ss) since the start."""
        whole = whole_seconds(self.surgical_s(seconds))
        if self.start is not None:
            moment = self.start + datetime.timedelta(seconds=whole)
            return moment.strftime("%H:%M:%S" if with_seconds else "%H:%M")
        return _elapsed(whole, with_seconds)

    def elapsed(self, seconds: float) -> str:
        """The time since the recording's start, h:mm:ss."""
        return _elapsed(whole_seconds(self.surgical_s(seconds)), True)

    def format(self, ax) -> None:
        """Label the x axis of ``ax`` with this time."""
        from matplotlib.ticker import FuncFormatter, MaxNLocator, MultipleLocator

        if self.compressed:
            # Ticks on round times of the surgical clock, not of the file's.
            low, high = ax.get_xlim()
            step = next((s for s in _STEPS_S if self.surgical_s(high - low) / s <= 4),
                        _STEPS_S[-1])
            ax.xaxis.set_major_locator(MultipleLocator(step / self.scale))
        else:
            ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: self.text(x, self.seconds)))


#: Tick steps of a surgical clock, s.
_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 21600)


def _elapsed(whole: int, with_seconds: bool) -> str:
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if with_seconds else f"{hours}:{minutes:02d}"
