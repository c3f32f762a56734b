"""SHA-256 checksums of the files petro writes and reads back later (the parse cache's Parquet,
npy and JSON; any module's own stored files): a damaged file is found before its values are used.

A single flipped bit in a Parquet file most often still reads, with changed values (in a test,
16 of 19 flips did; a depth of 2007.68 m became 1943.68 m): only a checksum tells. Record
:func:`file_sha256` of each file when it is written (:func:`file_checksums`), check them with
:func:`first_mismatch` before reading; a JSON record carries its own (:func:`seal`,
:func:`unseal`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


class ChecksumError(ValueError):
    """A stored file or record does not match the checksum written with it."""


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, hex (read in chunks: memory stays small)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def file_checksums(folder: str | os.PathLike, names: list[str] | None = None) -> dict[str, str]:
    """``{name: sha256}`` of the files in ``folder`` (all of them, sorted, or those named)."""
    folder = Path(folder)
    names = sorted(p.name for p in folder.iterdir() if p.is_file()) if names is None else names
    return {name: file_sha256(folder / name) for name in names}


def first_mismatch(folder: str | os.PathLike, recorded: dict[str, str]) -> str | None:
    """What is wrong with the first file in ``folder`` that is missing or whose SHA-256 differs
    from ``recorded`` (as :func:`file_checksums` gave it), or None when all match."""
    folder = Path(folder)
    for name, digest in recorded.items():
        try:
            if file_sha256(folder / name) != digest:
                return f"{name}: checksum mismatch"
        except FileNotFoundError:
            return f"{name}: missing"
    return None


def seal(record: dict, default=None) -> str:
    """``record`` as JSON text with a ``sha256`` key: the checksum of the rest (``default`` as
    for :func:`json.dumps`: what it returns is what :func:`unseal` gives back)."""
    if "sha256" in record:
        raise ValueError("a sealed record has its own 'sha256' key")
    plain = json.loads(json.dumps(record, default=default))
    # written in the record's own key order (a LAS header read back from the parse cache keeps
    # the file's order); the digest is of the sorted text, whatever the order
    return json.dumps({**plain, "sha256": _digest(plain)})


def unseal(text: str) -> dict:
    """The record of :func:`seal` text; :class:`ChecksumError` when it was changed (a flipped
    bit that still parses as JSON included), ``ValueError`` when it is not JSON."""
    record = json.loads(text)
    if not isinstance(record, dict) or "sha256" not in record:
        raise ChecksumError("no checksum in the record")
    digest = record.pop("sha256")
    if digest != _digest(record):
        raise ChecksumError("checksum mismatch")
    return record


def _digest(record: dict) -> str:
    # json.loads(json.dumps(x)) gives back x (floats by repr), so the record read back hashes
    # to the same text it was written as
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()
