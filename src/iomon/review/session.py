"""One case under review: read and conditioned once, reanalysed on every edit.

The recording is read and its sweeps conditioned once (:func:`iomon.pipeline.condition_case`).
An edit is written to the sidecar first (:mod:`.edits`); the case is then read back from the
sidecar, which stays the one truth (a hand edit of it made meanwhile is picked up too), and
only what the edit touches is recomputed: exclusions, landmarks and re-baselines rerun
:func:`iomon.pipeline.measure_conditioned`, whose sweep measures are kept per channel and
measured again only for the channels whose response window or noise level changed (an
exclusion on one channel: that channel; a landmark or a re-baseline: none); baselines and
alerts rerun from the measures; a theatre event or a sign-off reruns nothing but the
report's words. A sidecar change to what conditioning depends on (channels, phases,
processing, reading) reads and conditions anew.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import numpy as np

from ..model.errors import InputError
from .edits import append_edit, edit_log, now_text, undo_last_edit

__all__ = ["ReviewSession"]


def _clean(values, digits: int) -> list:
    """Numbers for JSON: rounded, None where not finite."""
    rounded = np.round(np.asarray(values, float), digits)
    return [v if v == v and abs(v) != float("inf") else None for v in rounded.tolist()]


def _conditioning_key(case):
    """What of a case its conditioning depends on."""
    return (case.channels, case.phases, case.processing, case.read_options)


class ReviewSession:
    """A case under review.

    Parameters
    ----------
    recording : str or Path
        As for ``iomon analyze``.
    case_path : str or Path, optional
        The sidecar the edits go to; by default ``<stem>.case.toml`` beside the recording
        (created at the first edit when missing).
    criteria : str, Path or Criteria, optional
    out : str or Path, optional
        Where sign-off writes the outputs (default: the recording's stem + ``_iomon``).
    """

    def __init__(self, recording, case_path=None, criteria=None, out=None):
        from ..alerting.criteria import Criteria, load_criteria
        from ..case.sidecar import sidecar_path
        from ..pipeline import file_sha256, load_case

        self.path = Path(recording)
        if not self.path.exists():
            raise InputError("no such file or folder", self.path)
        # The sidecar `iomon analyze` would read (load_case finds it), else where it would be.
        self.sidecar = Path(case_path) if case_path else (
            load_case(self.path).source or sidecar_path(self.path))
        self.criteria = criteria if isinstance(criteria, Criteria) else load_criteria(criteria)
        self.out = Path(out) if out else self.path.with_name(self.path.stem + "_iomon")
        self.lock = threading.RLock()
        self.timings: dict[str, float] = {}
        self._cache: dict = {}
        self.checksum = file_sha256(self.path)  # a folder of sweep files: its files' checksums
        self.version = 0
        self.case = self._load_case()
        self._read_and_condition()
        self._analyse()

    # ------------------------------------------------------------------ analysis
    def _stamp(self):
        """The sidecar's modification time and size (None when missing)."""
        try:
            status = self.sidecar.stat()
        except OSError:
            return None
        return status.st_mtime_ns, status.st_size

    def refresh(self) -> bool:
        """Reanalyse when the sidecar changed on disk (edited by hand meanwhile), else not.

        Returns whether it did.
        """
        with self.lock:
            if self._stamp() == self._loaded:
                return False
            self.reload()
            return True

    def _load_case(self):
        from ..case.sidecar import Case, load_case, read_case
        from ..io.bidsemg import is_bids_recording

        self._loaded = self._stamp()
        if is_bids_recording(self.path):  # its BIDS files, the sidecar's sections over them
            return load_case(self.path, self.sidecar if self.sidecar.is_file() else None)
        if self.sidecar.is_file():
            return read_case(self.sidecar, default_id=self.path.stem)
        return Case(self.path.stem)

    def _read_and_condition(self) -> None:
        from ..io import read
        from ..pipeline import condition_case

        start = time.perf_counter()
        self.recording = read(self.path, self.case.read_options)
        self.timings["read_s"] = time.perf_counter() - start
        start = time.perf_counter()
        try:
            self.stage = condition_case(self.recording, self.case)
        except InputError as err:
            raise err if err.path is not None else InputError(err.reason, self.path) from None
        self.timings["condition_s"] = time.perf_counter() - start
        self._key = _conditioning_key(self.case)
        self._cache.clear()

    def _measure(self, data, times, sfreq, windows, noise, noise_sd=None, quiet=None, **kw):
        """:func:`iomon.processing.measures.measure`, channel by channel where it must.

        Within a session the sweeps, their noise and noise windows never change; a channel's
        response window and noise level follow its valid baseline sweeps. Channels are
        measured independently, so only the channels whose window or noise level changed
        (an exclusion on one channel changes that channel's) are measured again.
        """
        from ..processing.measures import Measurements, measure

        windows, noise_sd = np.asarray(windows, float), np.asarray(noise_sd, float)
        n_channels = windows.shape[0]
        # What measure() takes per channel (the blank's end, the muscle) goes with each channel.
        per_channel = {name: list(np.broadcast_to(np.asarray(kw.pop(name), dtype=object),
                                                  (n_channels,)))
                       for name in ("not_before", "muscles") if kw.get(name) is not None}
        keys = [(windows[c].tobytes(), noise_sd[c].tobytes(), tuple(sorted(kw.items())),
                 tuple(repr(v[c]) for v in per_channel.values()))
                for c in range(n_channels)]
        stale = [c for c, key in enumerate(keys) if self._cache.get(c, (None,))[0] != key]
        if stale:
            self.timings["measured_channels"] = (self.timings.get("measured_channels", 0)
                                                 + len(stale))
            sliced = {name: ([v[c] for c in stale] if name == "muscles"
                             else np.array([v[c] for c in stale], float))
                      for name, v in per_channel.items()}
            part = measure(data[:, stale], times, sfreq, windows[stale], noise[:, stale],
                           noise_sd=noise_sd[stale],
                           quiet=None if quiet is None else quiet[:, stale], **kw, **sliced)
            for k, c in enumerate(stale):
                self._cache[c] = (keys[c], {name: getattr(part, name)[:, k]
                                            for name in Measurements.__dataclass_fields__})
        columns = [self._cache[c][1] for c in range(len(keys))]
        self.detected = Measurements(**{name: np.stack([col[name] for col in columns], axis=1)
                                        for name in Measurements.__dataclass_fields__})
        return self.detected

    def _analyse(self, words_only: bool = False) -> None:
        """Rerun the analysis (``words_only``: only the case's words changed, not its data)."""
        from ..pipeline import measure_conditioned, with_alerts
        from ..report.content import build_content
        from ..report.facts import case_facts
        from ..results import CaseDocuments

        start = time.perf_counter()
        if words_only:
            self.result = dataclasses.replace(self.result, case=self.case)
        else:
            try:
                measured = measure_conditioned(self.recording, self.case, self.stage,
                                               self._measure)
            except InputError as err:
                raise (err if err.path is not None
                       else InputError(err.reason, self.path)) from None
            result = with_alerts(measured, self.criteria)
            self.result = dataclasses.replace(result, input_sha256=self.checksum)
        self.timings["analysis_s"] = time.perf_counter() - start
        start = time.perf_counter()
        self.facts = case_facts(self.result)
        documents = CaseDocuments(self.result.summary(), self.result.alerts_document(), None)
        self.content = build_content(self.result, documents, (), facts=self.facts)
        self.timings["content_s"] = time.perf_counter() - start
        self._baseline_rows = self._representatives()
        self.version += 1

    def reload(self) -> None:
        """Read the sidecar again and recompute what changed."""
        with self.lock:
            case, before = self._load_case(), self.case
            self.case = case
            if _conditioning_key(case) != self._key:
                self._read_and_condition()
            # Theatre events and sign-offs change what the report says, not what was measured.
            self._analyse(words_only=_words_only(before) == _words_only(case))

    def _representatives(self) -> np.ndarray:
        """Per baseline and channel, the baseline sweep nearest its median amplitude (-1: none).

        Shape (n_baselines, n_channels): the sweep overlaid as "baseline" on each sweep.
        """
        entries = self.result.baselines.entries
        amplitude = self.result.measurements.amplitude
        out = np.full((len(entries), amplitude.shape[1]), -1)
        for k, entry in enumerate(entries):
            for c in range(amplitude.shape[1]):
                rows = np.flatnonzero(entry.baseline.sweeps[:, c])
                if rows.size and np.isfinite(entry.baseline.amplitude[c]):
                    out[k, c] = rows[np.argmin(np.abs(amplitude[rows, c]
                                                      - entry.baseline.amplitude[c]))]
        return out

    # ------------------------------------------------------------------ edits
    def edit(self, table: str, entry: dict, reviewer: str) -> dict:
        """Write one review edit to the sidecar and reanalyse; returns the entry as written.

        An edit the analysis refuses (a re-baseline with no valid sweep after it, say) is
        taken back and refused.
        """
        reviewer = (reviewer or "").strip()
        if not reviewer:
            raise InputError("say who you are (reviewer) before editing", self.sidecar)
        with self.lock:
            before = self.sidecar.read_bytes() if self.sidecar.exists() else None
            written = append_edit(self.sidecar, table, {**entry, "reviewer": reviewer,
                                                        "time": now_text()},
                                  default_id=self.path.stem)
            try:
                self.reload()
            except InputError:
                self._restore(before)
                self.reload()
                raise
            return written

    def _restore(self, before: bytes | None) -> None:
        """Put the sidecar back as it was before an edit the analysis refused."""
        from ..report.outputs import write_atomic

        if before is None:
            self.sidecar.unlink(missing_ok=True)
        else:
            write_atomic(self.sidecar, before)

    def undo(self) -> dict | None:
        """Take back the last review edit; returns it, or None when there was none."""
        with self.lock:
            removed = undo_last_edit(self.sidecar, default_id=self.path.stem)
            self.reload()
            return removed

    def sign_off(self, reviewer: str) -> Path:
        """Record the sign-off in the sidecar and write the outputs as ``iomon analyze`` does.

        Refused when the recording changed on disk since the review began.
        """
        from ..pipeline import file_sha256
        from ..report.outputs import write_outputs

        reviewer = (reviewer or "").strip()
        if not reviewer:
            raise InputError("say who you are (reviewer) before signing off", self.sidecar)
        with self.lock:
            if self.checksum is not None and file_sha256(self.path) != self.checksum:
                raise InputError("changed on disk since the review began: restart the review",
                                 self.path)
            before = self.sidecar.read_bytes() if self.sidecar.exists() else None
            append_edit(self.sidecar, "signoff", {"reviewer": reviewer, "time": now_text()},
                        default_id=self.path.stem)
            try:
                self.reload()
                write_outputs(self.result, self.out)
            except Exception:
                # No sign-off on record without its outputs (another case's folder, say).
                self._restore(before)
                self.reload()
                raise
            return self.out

    # ------------------------------------------------------------------ what the page shows
    def log(self) -> list[dict]:
        """The review edits of the sidecar, oldest first, each with a line of text."""
        return [{**e, "text": describe(e)} for e in edit_log(self.sidecar)]


def _words_only(case):
    """A case without what changes only the words: its theatre events and sign-offs."""
    return dataclasses.replace(case, events=(), signoffs=())


def describe(edit: dict) -> str:
    """A review edit in a few words, for the page's log."""
    table = edit["table"]
    where = edit.get("channel") or "every channel"
    if table == "exclude":
        parts = [where]
        if edit.get("sweep") is not None:
            sweeps = edit["sweep"] if isinstance(edit["sweep"], list) else [edit["sweep"]]
            parts.append("sweep " + ", ".join(str(s) for s in sweeps))
        if edit.get("from_s") is not None or edit.get("to_s") is not None:
            parts.append(f"{edit.get('from_s', 0):.1f}–"
                         + ("end" if edit.get("to_s") is None else f"{edit['to_s']:.1f}") + " s")
        return f"excluded {', '.join(parts)}: {edit.get('reason', '')}"
    if table == "events":
        return f"event at {edit['at_s']:.1f} s ({edit.get('kind') or 'other'}): {edit['text']}"
    if table == "rebaseline":
        return f"re-baselined from {edit['at_s']:.1f} s: {edit.get('reason') or ''}"
    if table == "landmarks":
        placed = [f"{k[:-3]} {edit[k]:.2f} ms" for k in ("onset_ms", "peak_ms")
                  if edit.get(k) is not None]
        return f"{' and '.join(placed)} by hand on {where}, sweep {edit['sweep']}"
    return f"signed off by {edit.get('reviewer')}"
