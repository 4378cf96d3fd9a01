"""Channel facts, decided once: where the sidecar and the channel names meet.

Readers know channels by their labels only. What each channel is (muscle, side, limb) and
what it does in the analysis (``test``: at risk; ``control``) is decided here, from what the
sidecar's ``[[channels]]`` say and, where they are silent, from the label; the result is
passed on to everything downstream.
"""

from __future__ import annotations

from ..model.errors import InputError
from ..model.muscles import MUSCLES, parse_channel_name
from ..model.sweeps import Channel

__all__ = ["decide_channels", "infer_channel"]


def infer_channel(name: str) -> Channel:
    """A channel's facts read from its label alone (muscle, side, limb; role unknown)."""
    side, muscle = parse_channel_name(name)
    limb = MUSCLES[muscle].limb if muscle in MUSCLES else None
    return Channel(name, muscle, side, limb)


def decide_channels(ch_names, case) -> list[Channel]:
    """Combine what the names say with what the sidecar says, and decide each channel's role.

    Names are read with :func:`iomon.model.muscles.parse_channel_name`; sidecar values override
    them. Without an explicit role, a channel on the side of the lesioning is ``test`` and one
    on the other side ``control``; with an unknown side (of channel or case) the role stays
    unknown. A face or tongue muscle (corticobulbar, above any spinal lesion) is a
    ``control`` on either side once the case's side is known: it is not at risk.

    Parameters
    ----------
    ch_names : sequence of str
        The recording's labels.
    case : Case
        Its ``channels`` (ChannelSpec) and ``side``.

    Raises
    ------
    InputError
        When the sidecar names a channel that the recording lacks.
    """
    specs = {s.name: s for s in case.channels}
    missing = [name for name in specs if name not in ch_names]
    if missing:
        raise InputError(
            f"the sidecar names channel {missing[0]!r}, which the recording lacks "
            f"(channels: {', '.join(ch_names)})", case.source,
        )
    channels = []
    for name in ch_names:
        inferred = infer_channel(name)
        spec = specs.get(name)
        side = (spec and spec.side) or inferred.side
        muscle = (spec and spec.muscle) or inferred.muscle
        limb = (spec and spec.limb) or (MUSCLES[muscle].limb if muscle in MUSCLES else None)
        role = spec.role if spec else None
        cranial = muscle in MUSCLES and MUSCLES[muscle].cranial
        if role is None and case.side is not None and cranial:
            role = "control"
        elif role is None and side is not None and case.side is not None:
            role = "test" if side == case.side else "control"
        channels.append(Channel(name, muscle, side, limb, role))
    return channels
