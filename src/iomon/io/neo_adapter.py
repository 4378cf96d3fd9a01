"""Formats read through neo, by one adapter.

WinWCP, Axon ABF (1 and 2), Spike2 (.smr) and NIX all go through neo's RawIO layer.

neo's RawIO layer is used rather than its object layer so that exact sample ranges can be read:
a continuous recording is never loaded whole, only the sweep windows around its stimuli.

- **Episodic** files (several segments, as WinWCP records or ABF sweeps): each segment is a sweep.
  The stimulus time inside the sweep is the case sidecar's ``[recording] stimulus_s``, else the
  first pulse of the stimulus artefact found in the data, else the sweep start (with a note).
- **Continuous** files (one segment): sweeps are cut around stimulus events: events whose label
  or channel name reads as a stimulus (see :mod:`iomon.annotations`), or the events of the
  channel that ``[recording] stimulus_channel`` names.

Only voltage channels are read (µV, mV, V); others (currents, heart rate) are left out with a
note. Channels at the sampling rate most voltage channels share are kept; the others are left
out with a note.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from ..annotations import Annotation, Stimulus, is_stimulus, parse_stimulus
from ..errors import InputError
from .base import (
    Reader,
    ReadOptions,
    Recording,
    assemble,
    error_line,
    fit_windows,
    quiet_stretch,
    stimulus_sample_in_episodes,
    unit_scale,
)

__all__ = ["AXON", "NIX", "SPIKE2", "WINWCP", "read_neo"]


def _winwcp_record_count(path: Path) -> int | None:
    """Number of records a WinWCP header announces (``NR=``), None if it does not say."""
    import re

    with path.open("rb") as f:
        header = f.read(4096).decode("latin-1", errors="replace")
    match = re.search(r"^NR=\s*(\d+)", header, re.MULTILINE)
    return int(match.group(1)) if match else None


def _open(path: Path, class_name: str, format_name: str):
    import neo.rawio

    if class_name == "WinWcpRawIO" and _winwcp_record_count(path) == 0:
        # neo fails on such files with an unrelated date error: say what is wrong instead.
        raise InputError("WinWCP file holds no records (NR=0): nothing to analyse", path)

    if class_name == "NIXRawIO":
        try:
            import nixio  # noqa: F401 - neo needs it for NIX files
        except ImportError:
            raise InputError("reading NIX files needs the nixio package "
                             "(pip install 'iomon[nix]')", path) from None
    try:
        rawio = getattr(neo.rawio, class_name)(filename=str(path))
        rawio.parse_header()
    except InputError:
        raise
    except Exception as err:  # neo raises many kinds of errors for malformed files
        raise InputError(f"cannot be read as {format_name}: {error_line(err)}",
                         path) from None
    return rawio


def _select_channels(rawio, path):
    """Indices of the voltage channels at the dominant rate, their volt scales, and notes."""
    channels = rawio.header["signal_channels"]
    notes, keep, scales = [], [], []
    for index, channel in enumerate(channels):
        unit = str(channel["units"]).strip()
        scale = unit_scale(unit)
        if scale is None:
            notes.append(f"channel {str(channel['name'])!r} ({unit or 'no unit'}) is not a "
                         "voltage and was left out")
            continue
        keep.append(index)
        scales.append(scale)
    if not keep:
        units = sorted({str(c["units"]).strip() or "none" for c in channels})
        raise InputError(f"no voltage channel to analyse (units found: {', '.join(units)})",
                         path)
    rates = Counter(float(channels[i]["sampling_rate"]) for i in keep)
    best = max(rates, key=lambda r: (rates[r], r))
    chosen = [(i, s) for i, s in zip(keep, scales) if float(channels[i]["sampling_rate"]) == best]
    dropped = [str(channels[i]["name"]) for i in keep
               if float(channels[i]["sampling_rate"]) != best]
    if dropped:
        notes.append(f"channels at other sampling rates than {best:g} Hz were left out: "
                     + ", ".join(dropped))
    return [i for i, _ in chosen], np.array([s for _, s in chosen]), best, notes


def _stream_layout(rawio, channel_indices):
    """Group the chosen channels by stream.

    Returns a list of (stream index, channel indexes inside the stream, positions in the
    output).
    """
    channels = rawio.header["signal_channels"]
    streams = rawio.header["signal_streams"]
    stream_ids = list(streams["id"])
    groups = {}
    for position, index in enumerate(channel_indices):
        stream_index = stream_ids.index(channels[index]["stream_id"])
        stream_channels = np.flatnonzero(channels["stream_id"] == channels[index]["stream_id"])
        local = int(np.flatnonzero(stream_channels == index)[0])
        groups.setdefault(stream_index, ([], []))
        groups[stream_index][0].append(local)
        groups[stream_index][1].append(position)
    return [(s, np.array(loc), np.array(pos)) for s, (loc, pos) in groups.items()]


def _read_chunk(rawio, segment, stream_index, local, i_start, i_stop):
    raw = rawio.get_analogsignal_chunk(block_index=0, seg_index=segment, i_start=i_start,
                                       i_stop=i_stop, stream_index=stream_index,
                                       channel_indexes=local)
    values = rawio.rescale_signal_raw_to_float(raw, dtype="float64", stream_index=stream_index,
                                               channel_indexes=local)
    return np.asarray(values).T  # neo gives (time, channel); iomon keeps time last


def _events(rawio, n_segments):
    """Every event of every segment as (channel name, Annotation).

    Onsets count from the start of the first segment.
    """
    origin = rawio.segment_t_start(0, 0)
    out = []
    for e, channel in enumerate(rawio.header["event_channels"]):
        for segment in range(n_segments):
            timestamps, durations, labels = rawio.get_event_timestamps(
                block_index=0, seg_index=segment, event_channel_index=e, t_start=None,
                t_stop=None)
            onsets = rawio.rescale_event_timestamp(timestamps, dtype="float64",
                                                   event_channel_index=e)
            lengths = (np.zeros(len(onsets)) if durations is None else
                       rawio.rescale_epoch_duration(durations, dtype="float64",
                                                    event_channel_index=e))
            name = str(channel["name"]).strip()
            for onset, length, label in zip(onsets, lengths, labels):
                label = str(label).strip()
                # A marker's type travels with its text ("Stimulus S 1") so that stimulus
                # channels read as such, except free-text comments, which are phase markers.
                text = label if name.lower() == "comment" else f"{name} {label}".strip()
                out.append((name, Annotation(float(onset - origin), float(length),
                                             text)))
    return out


def _stimuli_from_events(events, options: ReadOptions, path):
    if options.stimulus_channel:
        names = sorted({name for name, _ in events})
        if options.stimulus_channel not in names:
            raise InputError(f"the sidecar's stimulus_channel {options.stimulus_channel!r} is "
                             f"not an event channel here ({', '.join(names) or 'none'})", path)
        return [parse_stimulus(a) for name, a in events if name == options.stimulus_channel]
    return [parse_stimulus(a) for _, a in events if is_stimulus(a.text)]


def read_neo(path: str | Path, options: ReadOptions, class_name: str,
             format_name: str) -> Recording:
    """Read an episodic or continuous file with one of neo's RawIO classes.

    See the module docstring; ``class_name`` is the neo RawIO class (``"AxonRawIO"``) and
    ``format_name`` how the format is named to users.
    """
    from importlib.metadata import version

    path = Path(path)
    rawio = _open(path, class_name, format_name)
    n_segments = int(rawio.header["nb_segment"][0]) if len(rawio.header["nb_segment"]) else 0
    if n_segments == 0:
        raise InputError(f"{format_name} file holds no sweeps (0 records)", path)
    indices, scales, sfreq, notes = _select_channels(rawio, path)
    names = [str(rawio.header["signal_channels"][i]["name"]).strip() or f"channel {k + 1}"
             for k, i in enumerate(indices)]
    layout = _stream_layout(rawio, indices)
    events = _events(rawio, n_segments)
    pieces = _episodes(rawio, n_segments, layout, sfreq, notes)
    mains = None
    if pieces:
        data, times = _episodic(rawio, pieces, layout, len(indices), sfreq, options, notes,
                                path)
        duration = max(onset + size / sfreq for _, _, size, onset in pieces)
        stimuli = [Stimulus(onset + float(-times[0]), np.nan, "", "")
                   for _, _, _, onset in pieces]
        kind = f"{format_name} (episodic, {len(pieces)} sweeps)"
    else:
        stimuli = _stimuli_from_events(events, options, path)
        if not stimuli:
            channels = sorted({name for name, _ in events})
            raise InputError(
                "no stimuli found: no event reads as TcMEP/MEP/stim(ulus)"
                + (f"; name the stimulus event channel ({', '.join(channels)}) with "
                   "[recording] stimulus_channel in the case sidecar" if channels else ""),
                path)
        data, times, stimuli = _continuous(rawio, layout, len(indices), sfreq, stimuli,
                                           options, notes, path)
        mains = _mains(rawio, layout, len(indices), scales, sfreq, stimuli)
        duration = rawio.segment_t_stop(0, 0) - rawio.segment_t_start(0, 0)
        kind = f"{format_name} (continuous)"
    return assemble(path, kind, f"neo {version('neo')} {class_name}",
                    data * scales[None, :, None], times, sfreq, names, stimuli, duration,
                    annotations=[a for _, a in events], notes=notes, mains_hz=mains)


def _mains(rawio, layout, n_channels, scales, sfreq, stimuli):
    """Mains frequency from the longest stimulus-free stretch of a continuous file, or None."""
    from ..conditioning import detect_mains

    size = min(rawio.get_signal_size(0, 0, stream) for stream, _, _ in layout)
    quiet = quiet_stretch([s.onset_s for s in stimuli], size / sfreq)
    first_sample = int(quiet[0] * sfreq)
    scan = np.empty((n_channels, int((quiet[1] - quiet[0]) * sfreq)))
    for stream, local, positions in layout:
        scan[positions] = _read_chunk(rawio, 0, stream, local, first_sample,
                                      first_sample + scan.shape[1])
    return detect_mains(scan * scales[:, None], sfreq)


def _abf_episode_length(rawio):
    """Samples per channel of one ABF episode when neo saw episodes as one segment, else None.

    ABF1 files without a synch array (pyabf's writer makes them) declare episodic acquisition
    (operation mode 5) and their episode count, but neo reads their data as one gap-free
    segment; the header's episode length lets the sweeps be cut apart again.
    """
    info = getattr(rawio, "_axon_info", None)
    if not isinstance(info, dict) or int(info.get("nOperationMode", 0)) != 5:
        return None
    episodes = int(info.get("lActualEpisodes", 0))
    channels = max(int(info.get("nADCNumChannels", 1)), 1)
    per_episode = int(info.get("lNumSamplesPerEpisode", 0)) // channels
    if episodes > 1 and per_episode > 1:
        return per_episode
    return None


def _episodes(rawio, n_segments, layout, sfreq, notes):
    """The sweeps of an episodic file as (segment, first sample, samples, onset s).

    An empty list means the file is continuous.
    """
    stream = layout[0][0]
    origin = rawio.get_signal_t_start(0, 0, stream)
    if n_segments > 1:
        return [(s, 0, rawio.get_signal_size(0, s, stream),
                 rawio.get_signal_t_start(0, s, stream) - origin) for s in range(n_segments)]
    length = _abf_episode_length(rawio) if type(rawio).__name__ == "AxonRawIO" else None
    if length is None:
        return []
    total = rawio.get_signal_size(0, 0, stream)
    notes.append("the ABF file has no episode start times: sweeps are placed back to back")
    return [(0, k * length, length, k * length / sfreq) for k in range(total // length)]


def _episodic(rawio, pieces, layout, n_channels, sfreq, options, notes, path):
    sizes = {size for _, _, size, _ in pieces}
    n_samples = min(sizes)
    if len(sizes) > 1:
        notes.append(f"sweeps of different lengths were cut to the shortest ({n_samples} "
                     "samples)")
    if n_samples < 2:
        raise InputError("the sweeps hold fewer than 2 samples", path)
    data = np.empty((len(pieces), n_channels, n_samples))
    for k, (segment, first, _, _) in enumerate(pieces):
        for stream, local, positions in layout:
            data[k, positions] = _read_chunk(rawio, segment, stream, local, first,
                                             first + n_samples)
    starts = {round(rawio.get_signal_t_start(0, 0, stream), 9) for stream, _, _ in layout}
    if max(starts) - min(starts) > 0.5 / sfreq:
        notes.append("streams start at different times within a sweep; they were aligned by "
                     "sample index")
    zero = stimulus_sample_in_episodes(data, sfreq, options, notes, path)
    times = (np.arange(n_samples) - zero) / sfreq
    return data, times


def _continuous(rawio, layout, n_channels, sfreq, stimuli, options, notes, path):
    origin = rawio.segment_t_start(0, 0)
    # Each stream has its own start time: a window's first sample is found per stream.
    offsets = [rawio.get_signal_t_start(0, 0, stream) - origin for stream, _, _ in layout]
    sizes = [rawio.get_signal_size(0, 0, stream) for stream, _, _ in layout]

    def start_of(stimulus, first, n_samples):
        ranges = [int(round((stimulus.onset_s - t0) * sfreq)) + first for t0 in offsets]
        fits = all(0 <= s and s + n_samples <= size for s, size in zip(ranges, sizes))
        return ranges if fits else None

    stimuli, windows, times = fit_windows(stimuli, options.window_s, sfreq, start_of, notes,
                                          path)
    data = np.empty((len(stimuli), n_channels, times.size))
    for i, ranges in enumerate(windows):
        for (stream, local, positions), start in zip(layout, ranges):
            data[i, positions] = _read_chunk(rawio, 0, stream, local, start, start + times.size)
    return data, times, stimuli


def _neo_reader(name, title, extensions, class_name, sniff=None):
    """A registry entry for a format read by one of neo's RawIO classes."""
    def read(path, options=None):
        return read_neo(path, options or ReadOptions(), class_name, title)

    read.__doc__ = f"Read a {title} file with neo's {class_name}."
    return Reader(name, title, extensions, read, sniff)


WINWCP = _neo_reader("wcp", "WinWCP", (".wcp",), "WinWcpRawIO",
                     lambda head, suffix: head.startswith(b"VER="))
AXON = _neo_reader("abf", "Axon ABF", (".abf",), "AxonRawIO",
                   lambda head, suffix: head[:4] in (b"ABF ", b"ABF2"))
SPIKE2 = _neo_reader("smr", "Spike2 (SON)", (".smr",), "Spike2RawIO")
NIX = _neo_reader("nix", "NIX", (".nix",), "NIXRawIO",
                  lambda head, suffix: head.startswith(b"\x89HDF\r\n\x1a\n") and suffix == ".nix")
