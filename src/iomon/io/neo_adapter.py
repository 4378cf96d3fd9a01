"""Formats read through neo, by one adapter.

WinWCP, Axon ABF (1 and 2), Spike2 (.smr) and NIX all go through neo's RawIO layer.

neo's RawIO layer is used rather than its object layer so that exact sample ranges can be read:
a continuous recording is never loaded whole, only the sweep windows around its stimuli.

- **Episodic** files (several segments, as WinWCP records or ABF sweeps): each segment is a sweep.
  The stimulus time inside the sweep is the case sidecar's ``[recording] stimulus_s``, else the
  first pulse of the stimulus artefact found in the data, else the sweep start (with a note).
- **Continuous** files (one segment): sweeps are cut around stimulus events: events whose label
  or channel name reads as a stimulus (see :mod:`iomon.model.annotations`), or the events of the
  channel that ``[recording] stimulus_channel`` names.

Only voltage channels are read (µV, mV, V); others (currents, heart rate) are left out with a
note. Channels at the sampling rate most voltage channels share are kept; the others are left
out with a note.
"""

from __future__ import annotations

import contextlib
import io
import logging
import struct
from collections import Counter
from pathlib import Path

import numpy as np

from ..model.annotations import Annotation, Stimulus, is_stimulus, parse_stimulus
from ..model.errors import InputError
from .base import (
    Reader,
    ReadOptions,
    Recording,
    assemble,
    check_rate,
    check_sweep_size,
    check_time,
    error_line,
    fit_windows,
    quiet_stretch,
    stimulus_sample_in_episodes,
    unit_scale,
)

__all__ = ["AXON", "NIX", "SPIKE2", "WINWCP", "read_neo"]


#: Bytes of a block in ABF files (pointers count blocks) and of a WinWCP header.
_ABF_BLOCK = 512
_WCP_HEADER = 1024


def _winwcp_header(path: Path) -> dict:
    """The ``KEY=value`` lines of a WinWCP header, as neo reads them (its first 1024 bytes)."""
    with path.open("rb") as f:
        text = f.read(_WCP_HEADER).decode("latin-1", errors="replace")
    header = {}
    for line in text.split("\r\n"):
        key, equals, value = line.partition("=")
        if equals:
            header[key.strip()] = value.strip()
    return header


def _check_winwcp(path: Path, size: int) -> None:
    """Refuse a WinWCP header whose counts are missing, out of range or beyond the file."""
    header = _winwcp_header(path)
    counts = {}
    for key in ("NC", "NR", "NBD"):
        try:
            counts[key] = int(header[key])
        except (KeyError, ValueError):
            raise InputError(f"corrupt WinWCP header ({key} is {header.get(key)!r}, not a "
                             "count)", path) from None
    if counts["NR"] == 0:
        # neo fails on such files with an unrelated date error: say what is wrong instead.
        raise InputError("WinWCP file holds no records (NR=0): nothing to analyse", path)
    if not 1 <= counts["NC"] <= 128 or counts["NR"] < 0 or counts["NBD"] < 1:
        raise InputError(f"corrupt WinWCP header (NC={counts['NC']}, NR={counts['NR']}, "
                         f"NBD={counts['NBD']})", path)
    needed = _WCP_HEADER + counts["NR"] * (_ABF_BLOCK * counts["NBD"] + _WCP_HEADER)
    if needed > size:
        raise InputError(f"truncated or corrupt: the WinWCP header promises {counts['NR']} "
                         f"records ({needed} bytes), the file has {size}", path)


#: ABF1 header fields checked before neo reads the file: (offset, struct format, name).
_ABF1_FIELDS = {"mode": (8, "<h"), "acquired": (10, "<i"), "ignored": (14, "<h"),
                "data_at": (40, "<i"), "tags_at": (44, "<i"), "tags": (48, "<i"),
                "synch_at": (92, "<i"), "synch": (96, "<i"), "format": (100, "<h"),
                "channels": (120, "<h"), "interval": (122, "<f")}


def _check_abf1(head: bytes, size: int, path: Path) -> None:
    """ABF1: counts, pointers and the sample interval checked against the file's size."""
    v = {name: struct.unpack_from(fmt, head, offset)[0]
         for name, (offset, fmt) in _ABF1_FIELDS.items()}
    item = 2 if v["format"] == 0 else 4
    if v["format"] not in (0, 1) or not 1 <= v["channels"] <= 16 or v["mode"] not in range(1, 6):
        raise InputError(f"corrupt ABF header (data format {v['format']}, {v['channels']} "
                         f"channels, operation mode {v['mode']})", path)
    if not (np.isfinite(v["interval"]) and v["interval"] > 0):
        raise InputError(f"corrupt ABF header (sample interval {v['interval']!r} µs)", path)
    extents = {"data": (v["data_at"], (v["ignored"] + v["acquired"]) * item,
                        v["acquired"], v["ignored"]),
               "tag": (v["tags_at"], 64 * v["tags"], v["tags"], 0),
               "synch array": (v["synch_at"], 8 * v["synch"], v["synch"], 0)}
    for name, (block, length, count, extra) in extents.items():
        if min(block, count, extra) < 0 or (length and block * _ABF_BLOCK + length > size):
            raise InputError(f"truncated or corrupt: the ABF header's {name} section ({count} "
                             f"entries from block {block}) lies outside the {size}-byte file",
                             path)


_ABF2_SECTIONS = 18
_ABF2_STRINGS = 9  # the strings section's size is its byte count, not bytes x entries
#: Sections neo reads entry by entry, each entry at block + k x (the section's entry size),
#: and the bytes it reads of one (neo 0.14's ADC, DAC, epoch, epoch-per-DAC and tag
#: descriptions; tests/test_robustness.py checks them against neo's). An entry size below
#: that (0 in a damaged file) lets any entry count pass as lying inside the file, and neo
#: then reads the same bytes 2^31 times over, holding every copy.
_ABF2_ENTRY_BYTES = {1: ("ADC", 82), 2: ("DAC", 256), 3: ("epoch", 32),
                     5: ("epoch per DAC", 48), 11: ("tag", 64)}


def _check_abf2(head: bytes, size: int, path: Path) -> None:
    """ABF2: every section of the section table must lie inside the file."""
    if len(head) < 76 + 16 * _ABF2_SECTIONS:
        raise InputError(f"truncated: {size} bytes, an ABF2 header needs "
                         f"{76 + 16 * _ABF2_SECTIONS}", path)
    for k in range(_ABF2_SECTIONS):
        block, item, count = struct.unpack_from("<IIq", head, 76 + 16 * k)
        if count < 0:
            raise InputError(f"corrupt ABF header (section {k} holds {count} entries)", path)
        name, needed = _ABF2_ENTRY_BYTES.get(k, ("", 0))
        if count and item < needed:
            raise InputError(f"corrupt ABF header: the {name} section's entries are {item} "
                             f"bytes, fewer than the {needed} of one entry ({count} entries)",
                             path)
        length = item if k == _ABF2_STRINGS else item * count
        if count and block * _ABF_BLOCK + length > size:
            raise InputError(f"truncated or corrupt: ABF section {k} ({count} entries of "
                             f"{item} bytes from block {block}) lies outside the {size}-byte "
                             "file", path)


def _check_structure(path: Path, class_name: str) -> None:
    """Cheap checks of a header's counts and pointers against the file, before neo reads it.

    neo trusts them: a damaged count makes it allocate gigabytes or loop for a minute.
    """
    size = path.stat().st_size
    if class_name == "WinWcpRawIO":
        _check_winwcp(path, size)
    elif class_name == "AxonRawIO":
        with path.open("rb") as f:
            head = f.read(2048)
        if head[:4] == b"ABF ":
            if len(head) < 2048:
                raise InputError(f"truncated: {size} bytes, an ABF1 header needs 2048", path)
            _check_abf1(head, size, path)
        elif head[:4] == b"ABF2":
            _check_abf2(head, size, path)


@contextlib.contextmanager
def _quiet():
    """Keep neo's prints and log messages about a file out of the user's terminal."""
    logger = logging.getLogger("neo")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        logger.setLevel(level)


def _open(path: Path, class_name: str, format_name: str):
    import neo.rawio

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
        what = f"the header of channel {str(channel['name'])!r}"
        check_rate(channel["sampling_rate"], what, path)
        gain, offset = float(channel["gain"]), float(channel["offset"])
        if not (np.isfinite(gain) and gain != 0 and np.isfinite(offset)):
            raise InputError(f"{what} gives a gain of {gain!r} and an offset of {offset!r}: a "
                             "damaged scale", path)
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


def _events(rawio, n_segments, path):
    """Every event of every segment as (channel name, Annotation).

    Onsets count from the start of the first segment.
    """
    origin = check_time(rawio.segment_t_start(0, 0), "the first segment's start", path)
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
    ``format_name`` how the format is named to users. The header's counts and pointers are
    checked here first (WinWCP, ABF); then neo parses the file under
    :func:`iomon.model.guard.guarded`, within a time and a memory limit that grow with the
    file: neo trusts what a header says (a damaged ABF made it allocate 24 GB), and HDF5 (NIX)
    can loop for ever or crash on a damaged file.
    """
    from ..model.guard import guarded

    path = Path(path)
    _check_structure(path, class_name)
    if class_name == "NIXRawIO":
        try:
            import nixio  # noqa: F401 - neo needs it for NIX files
        except ImportError:
            raise InputError("reading NIX files needs the nixio package "
                             "(pip install 'iomon[nix]')", path) from None
    return guarded(_read_neo, path, options, class_name, format_name, path=path,
                   what=format_name)


def _read_neo(path: Path, options: ReadOptions, class_name: str, format_name: str):
    """:func:`read_neo` in this process; neo's chatter silenced, its failures refused."""
    with _quiet():
        rawio = _open(path, class_name, format_name)
        try:
            return _read_rawio(rawio, path, options, class_name, format_name)
        except InputError:
            raise
        except Exception as err:  # neo reads lazily: a damaged file fails wherever it is read
            raise InputError(f"cannot be read as {format_name}: {error_line(err)}",
                             path) from None


def _read_rawio(rawio, path, options, class_name, format_name) -> Recording:
    """The sweeps of a parsed file: one per segment (episodic), or cut around its stimuli."""
    from importlib.metadata import version

    n_segments = int(rawio.header["nb_segment"][0]) if len(rawio.header["nb_segment"]) else 0
    if n_segments == 0:
        raise InputError(f"{format_name} file holds no sweeps (0 records)", path)
    indices, scales, sfreq, notes = _select_channels(rawio, path)
    names = [str(rawio.header["signal_channels"][i]["name"]).strip() or f"channel {k + 1}"
             for k, i in enumerate(indices)]
    layout = _stream_layout(rawio, indices)
    events = _events(rawio, n_segments, path)
    pieces = _episodes(rawio, n_segments, layout, sfreq, notes, path)
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
        duration = check_time(rawio.segment_t_stop(0, 0), "the segment's end", path) \
            - check_time(rawio.segment_t_start(0, 0), "the segment's start", path)
        kind = f"{format_name} (continuous)"
    return assemble(path, kind, f"neo {version('neo')} {class_name}",
                    data * scales[None, :, None], times, sfreq, names, stimuli, duration,
                    annotations=[a for _, a in events], notes=notes, mains_hz=mains)


def _mains(rawio, layout, n_channels, scales, sfreq, stimuli):
    """Mains frequency from the longest stimulus-free stretch of a continuous file, or None."""
    from ..processing.conditioning import detect_mains

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


def _episodes(rawio, n_segments, layout, sfreq, notes, path):
    """The sweeps of an episodic file as (segment, first sample, samples, onset s).

    An empty list means the file is continuous.
    """
    stream = layout[0][0]

    def start(segment):
        return check_time(rawio.get_signal_t_start(0, segment, stream),
                          f"the start of segment {segment}", path)

    origin = start(0)
    if n_segments > 1:
        return [(s, 0, rawio.get_signal_size(0, s, stream), start(s) - origin)
                for s in range(n_segments)]
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
    check_sweep_size(len(pieces), n_channels, n_samples, path)
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
    origin = check_time(rawio.segment_t_start(0, 0), "the segment's start", path)
    # Each stream has its own start time: a window's first sample is found per stream.
    offsets = [check_time(rawio.get_signal_t_start(0, 0, stream), "a stream's start", path)
               - origin for stream, _, _ in layout]
    sizes = [rawio.get_signal_size(0, 0, stream) for stream, _, _ in layout]

    def start_of(stimulus, first, n_samples):
        ranges = [int(round((stimulus.onset_s - t0) * sfreq)) + first for t0 in offsets]
        fits = all(0 <= s and s + n_samples <= size for s, size in zip(ranges, sizes))
        return ranges if fits else None

    stimuli, windows, times = fit_windows(stimuli, options.window_s, sfreq, start_of, notes,
                                          path, span_samples=min(sizes))
    check_sweep_size(len(stimuli), n_channels, times.size, path)
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
