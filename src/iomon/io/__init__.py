"""Readers: every supported file format into one :class:`Recording`.

``read(path)`` recognises the format by the file's content (its first bytes) as well as its
extension and hands it to the reader of that format. Objects of the libraries used inside the
readers (edfio, MNE, neo) never leave this package.

The registry, :data:`READERS`, lists every format, one line each; a format is added by one
module that declares a :class:`~iomon.io.base.Reader` and one line here. The CLI's help, the
error for an unknown format and the sidecar's reader sections all come from it.
"""

from __future__ import annotations

from pathlib import Path

from ..model.errors import InputError
from . import bidsemg, brainvision, cadwell, cfs, csvtable, edf, matlab, neo_adapter, sweepfiles
from .base import DEFAULT_WINDOW_S, NotARecording, Reader, ReadOptions, Recording, read_options

__all__ = ["DEFAULT_WINDOW_S", "READERS", "ReadOptions", "Reader", "Recording", "detect_format",
           "folder_reader", "formats_text", "read", "read_options_from_sidecar"]

#: Every format iomon reads, in the order formats are tried when telling them apart.
READERS: tuple[Reader, ...] = (
    # Before EDF/BDF: a BIDS recording is an EDF or BDF file told apart by its name and sidecars.
    bidsemg.READER,
    edf.READER,
    brainvision.READER,
    neo_adapter.WINWCP,
    neo_adapter.AXON,
    neo_adapter.SPIKE2,
    neo_adapter.NIX,
    cfs.READER,
    matlab.READER,
    csvtable.READER,
    cadwell.READER,
    sweepfiles.READER,
)


def formats_text() -> str:
    """The formats read, as a sentence: "EDF/BDF (.edf, .bdf), BrainVision (.vhdr), ..."."""
    return ", ".join(f"{r.title} ({', '.join(r.extensions)})" if r.extensions else r.title
                     for r in READERS)


def detect_format(path: Path) -> Reader | None:
    """The reader for ``path``: by its first bytes, else by its extension; None if none.

    A reader that claims files (:attr:`Reader.claims`) is chosen only for a file it claims.
    """
    with Path(path).open("rb") as f:
        head = f.read(64)
    suffix = Path(path).suffix.lower()
    for reader in READERS:
        if (reader.sniff is not None and reader.sniff(head, suffix)
                and (reader.claims is None or reader.claims(Path(path)))):
            return reader
    by_extension = [r for r in READERS if suffix in r.extensions]
    return next((r for r in by_extension if r.claims is None or r.claims(Path(path))),
                by_extension[0] if by_extension else None)


def folder_reader() -> Reader:
    """The reader of a folder (a case exported as one file per sweep)."""
    return next(r for r in READERS if r.folder)


def read(path: str | Path, options: ReadOptions | None = None) -> Recording:
    """Read a recording, choosing the reader from the file's content and extension.

    Parameters
    ----------
    path : str or Path
        The recording: a file, or a folder holding a case exported as one file per sweep.
    options : ReadOptions, optional
        Sweep window, stimulus source and reader sections (from the case sidecar).

    Raises
    ------
    InputError
        The file is missing, of an unknown format, or unreadable; the message names it.
    """
    path = Path(path)
    options = options or ReadOptions()
    if not path.exists():
        raise InputError("file not found", path)
    reader = folder_reader() if path.is_dir() else detect_format(path)
    if reader is None:
        raise InputError(f"not a recording iomon reads (extension {path.suffix or 'none'!r}; "
                         f"formats: {formats_text()})", path)
    try:
        return reader.read(path, options)
    except NotARecording as err:
        raise InputError(f"not a recording iomon reads ({err.reason}; formats: "
                         f"{formats_text()})", path) from None
    except InputError as err:
        if err.path is not None:
            raise
        raise InputError(err.reason, path) from None  # every refusal names its file
    except RecursionError:
        raise InputError(f"cannot be read as {reader.title}: its structure nests too deep",
                         path) from None


def read_options_from_sidecar(doc: dict) -> ReadOptions:
    """Reading options from a parsed sidecar: ``[recording]`` and the readers' sections.

    Each reader section is checked by the reader that owns it. Raises InputError naming the
    section and key (the caller adds the file).
    """
    sections = {}
    for reader in READERS:
        if reader.section and reader.section in doc and reader.section not in sections:
            table = doc[reader.section]
            if not isinstance(table, dict):
                raise InputError(f"[{reader.section}] must be a table")
            sections[reader.section] = reader.check_section(table)
    return read_options(doc.get("recording", {}), sections)


def sidecar_sections() -> set[str]:
    """The sidecar sections that belong to readers."""
    return {r.section for r in READERS if r.section}
