"""Cache of parsed well files: Parquet for curves, .npy for image and T2 arrays, JSON for the rest.

Keyed by the file's content hash (SHA-256) and the ingest options, in a visible folder. A small
stat record per source path (size, mtime) remembers the hash (:class:`FileHashes`, which needs no
ingest options and is shared by everything that hashes files under the same folder), so an
unchanged file is not even re-hashed; a changed or touched file is re-hashed, and re-parsed only
if its content changed. Entries are written to a temporary folder and renamed into place, so
concurrent workers and interrupted runs never leave a half-written entry.

``parts.json`` records the SHA-256 of every other file of its entry and carries its own
(:mod:`petro.io.checksum`); they are checked before an entry is used. A damaged entry (a file
changed on disk, emptied, missing, or one that does not load) is reported as a warning,
the file is parsed again and the entry replaced (:meth:`PartCache.load`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import pandas as pd

from petro import __version__
from petro.io.atomic import atomic_dir, atomic_write_json
from petro.io.canonical import FilePart
from petro.io.checksum import file_checksums, first_mismatch, seal, unseal
from petro.problems import Problem, warning
from petro.well import Image, Provenance, T2Bins

FORMAT = 5                # 4: checksums in parts.json; 5: the record in its own key order


# options that change how a file is read, never what is read: not in the key
HOW_NOT_WHAT = ("read_threads",)


def options_key(opts) -> str:
    raw = {f.name: getattr(opts, f.name) for f in fields(opts) if f.name not in HOW_NOT_WHAT}
    text = json.dumps([FORMAT, __version__, raw], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def content_hash(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


class FileHashes:
    """Content hashes of files (SHA-256, :func:`content_hash`), each remembered in a stat record
    ``<root>/stat/<sha1 of the path>.json`` (size, mtime): a file whose size and mtime are
    unchanged is not read again. Callable: ``FileHashes(root)(path) -> hex digest``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _stat_path(self, path: Path) -> Path:
        return self.root / "stat" / (hashlib.sha1(str(path.resolve()).encode()).hexdigest() + ".json")

    def __call__(self, path: str | Path) -> str:
        path = Path(path)
        st = path.stat()
        rec_path = self._stat_path(path)
        try:
            rec = json.loads(rec_path.read_text())
            if rec["size"] == st.st_size and rec["mtime_ns"] == st.st_mtime_ns:
                return rec["sha256"]
        except (OSError, ValueError, KeyError):
            pass
        digest = content_hash(path)
        atomic_write_json(rec_path, {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest,
                                "path": str(path.resolve())})
        return digest


class PartCache:
    """Parsed :class:`~petro.io.canonical.FilePart` lists by file content and ingest options."""

    def __init__(self, root: str | Path, opts):
        self.root = Path(root)
        self.key = options_key(opts)
        self.file_hash = FileHashes(root)

    def _entry(self, digest: str) -> Path:
        return self.root / digest[:2] / f"{digest}-{self.key}"

    def load(self, path: str | Path, parse: Callable[[], list[FilePart]]) -> list[FilePart]:
        """The parts of ``path`` from its entry, else ``parse()`` (then stored). A damaged entry
        is parsed again and replaced, with a warning (code ``cache_damaged``: something overwrote
        the cache, a disk or another process) on the first part saying so."""
        entry = self._entry(self.file_hash(Path(path)))
        try:
            parts = self._read(entry)
        except DamagedEntry as err:
            parts = parse()
            self._write(entry, parts, replace=True)
            if parts:       # after the entry is written: the note belongs to this run only
                parts[0].problems.append(warning(
                    f"the cached copy of this file was damaged ({err}); the file was read again "
                    f"and its cache entry replaced: check the disk and that no other process "
                    f"writes to {self.root}", path=str(path), code="cache_damaged"))
            return parts
        if parts is None:
            parts = parse()
            self._write(entry, parts, replace=False)
        return parts

    def get(self, path: str | Path) -> list[FilePart] | None:
        """The parts of ``path`` from its entry; None when there is none. Raises
        :class:`DamagedEntry`."""
        return self._read(self._entry(self.file_hash(Path(path))))

    def put(self, path: str | Path, parts: list[FilePart], replace: bool = False) -> None:
        """Store the parts of ``path``; an existing entry wins unless ``replace``."""
        self._write(self._entry(self.file_hash(Path(path))), parts, replace)

    def _read(self, entry: Path) -> list[FilePart] | None:
        meta_path = entry / "parts.json"
        if not entry.is_dir():
            return None
        try:
            meta = unseal(meta_path.read_text())
            bad = first_mismatch(entry, meta["files"])
            if bad:
                raise DamagedEntry(bad)
            return [_part_of(entry, i, pm) for i, pm in enumerate(meta["parts"])]
        except DamagedEntry:
            raise
        except FileNotFoundError as err:
            raise DamagedEntry(f"{Path(err.filename or meta_path).name}: missing") from err
        except (OSError, ValueError, KeyError, TypeError, EOFError) as err:
            # unreadable, not this format, a changed record (ChecksumError), a file that does
            # not load as written
            raise DamagedEntry(f"{type(err).__name__}: {err}") from err

    def _write(self, entry: Path, parts: list[FilePart], replace: bool) -> None:
        with atomic_dir(entry, replace=replace) as tmp:   # else a concurrent worker's entry wins
            metas = [_write_part(tmp, i, p) for i, p in enumerate(parts)]
            record = {"format": FORMAT, "parts": metas, "files": file_checksums(tmp)}
            (tmp / "parts.json").write_text(seal(record, default=str))


class DamagedEntry(Exception):
    """A cache entry that cannot be trusted: re-parse the file and replace it."""


def _part_of(entry: Path, i: int, pm: dict) -> FilePart:
    frame = pd.read_parquet(entry / f"part{i}.parquet")
    depth = frame.pop("__depth__").to_numpy()
    curves = {name: (frame[name].to_numpy(), Provenance(**pm["provenance"][name]),
                     pm["rank"][name]) for name in frame.columns}
    images = [Image(im["kind"], np.load(entry / f"part{i}_img{k}_depth.npy"),
                    np.load(entry / f"part{i}_img{k}.npy"), source=im["source"],
                    stem=im["stem"], unit=im["unit"])
              for k, im in enumerate(pm["images"])]
    t2 = None
    if pm["t2"]:
        t2 = T2Bins(np.load(entry / f"part{i}_t2.npy"), np.asarray(pm["t2"]["edges_ms"]),
                    pm["t2"]["source"], tuple(pm["t2"]["names"]))
    return FilePart(pm["path"], depth, curves, images, t2, pm["header"],
                    [Problem.from_dict(q) for q in pm["problems"]])


def _write_part(folder: Path, i: int, p: FilePart) -> dict:
    """Write one part's arrays into ``folder``; its record for parts.json."""
    frame = pd.DataFrame({"__depth__": p.depth, **{n: v for n, (v, _, _) in p.curves.items()}})
    frame.to_parquet(folder / f"part{i}.parquet", index=False)
    for k, im in enumerate(p.images):
        np.save(folder / f"part{i}_img{k}.npy", im.values)
        np.save(folder / f"part{i}_img{k}_depth.npy", im.depth)
    if p.t2 is not None:
        np.save(folder / f"part{i}_t2.npy", p.t2.amplitudes)
    return {"path": p.path, "header": p.header,
            "problems": [q.to_dict() for q in p.problems],
            "provenance": {n: asdict(pr) for n, (_, pr, _) in p.curves.items()},
            "rank": {n: r for n, (_, _, r) in p.curves.items()},
            "images": [{"kind": im.kind, "source": im.source, "stem": im.stem, "unit": im.unit}
                       for im in p.images],
            "t2": None if p.t2 is None else {
                "edges_ms": np.asarray(p.t2.edges_ms).tolist(), "source": p.t2.source,
                "names": list(p.t2.names)}}
