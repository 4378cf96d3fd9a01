"""A minimal EDF+D writer for tests (no Python library writes discontinuous EDF+).

It follows the EDF+ specification (edfplus.info): a 256-byte header, 256 bytes per signal, then
data records of 16-bit samples, each with an "EDF Annotations" signal whose first TAL holds the
record's start time. MNE and edfio read its output (tests/test_edfplus_d.py checks that).
"""

from __future__ import annotations

import numpy as np


def _field(text, width):
    encoded = str(text).encode("ascii")[:width]
    return encoded + b" " * (width - len(encoded))


def write_edfplus_d(path, records, sfreq, labels, record_onsets_s, annotations=(),
                    annotation_bytes=120):
    """Write ``records`` (n_records, n_signals, samples_per_record, in µV) as EDF+D.

    ``annotations`` is a list of (onset_s, text); each goes into the record it falls in.
    """
    records = np.asarray(records, float)
    n_records, n_signals, per_record = records.shape
    record_s = per_record / sfreq
    low, high = float(records.min()) - 1, float(records.max()) + 1
    digital = np.round((records - low) / (high - low) * 65535 - 32768).astype("<i2")
    n_all = n_signals + 1
    header = b"".join([
        _field("0", 8), _field("X X X X", 80), _field("Startdate 01-JAN-2024 X X X", 80),
        _field("01.01.24", 8), _field("08.00.00", 8), _field(256 * (n_all + 1), 8),
        _field("EDF+D", 44), _field(n_records, 8), _field(f"{record_s:g}", 8),
        _field(n_all, 4),
    ])
    columns = [
        (16, list(labels) + ["EDF Annotations"]), (80, [""] * n_all),
        (8, ["uV"] * n_signals + [""]), (8, [f"{low:.6g}"] * n_signals + ["-1"]),
        (8, [f"{high:.6g}"] * n_signals + ["1"]), (8, ["-32768"] * n_all),
        (8, ["32767"] * n_all), (80, [""] * n_all),
        (8, [per_record] * n_signals + [annotation_bytes // 2]), (32, [""] * n_all),
    ]
    for width, values in columns:
        header += b"".join(_field(v, width) for v in values)
    with open(path, "wb") as f:
        f.write(header)
        for r in range(n_records):
            f.write(digital[r].tobytes())
            start = record_onsets_s[r]
            tal = f"+{start:.6f}\x14\x14\x00".encode()
            for onset, text in annotations:
                if start <= onset < start + record_s:
                    tal += f"+{onset:.6f}\x14{text}\x14\x00".encode()
            f.write(tal.ljust(annotation_bytes, b"\x00"))
