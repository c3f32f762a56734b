"""Cache of parsed well files: Parquet for curves, .npy for image and T2 arrays, JSON for the rest.

Keyed by the file's content hash (SHA-256) and the ingest options, in a visible folder. A small
stat record per source path (size, mtime) remembers the hash (:class:`FileHashes`, which needs no
ingest options and is shared by everything that hashes files under the same folder), so an
unchanged file is not even re-hashed; a changed or touched file is re-hashed, and re-parsed only
if its content changed. Entries are written to a temporary folder and renamed into place, so
concurrent workers and interrupted runs never leave a half-written entry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import pandas as pd

from petro import __version__
from petro.io.atomic import atomic_dir, atomic_write_json
from petro.io.canonical import FilePart
from petro.problems import Problem
from petro.well import Image, Provenance, T2Bins

FORMAT = 3


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

    def get(self, path: str | Path) -> list[FilePart] | None:
        path = Path(path)
        entry = self._entry(self.file_hash(path))
        meta_path = entry / "parts.json"
        if not meta_path.is_file():
            return None
        try:
            meta = json.loads(meta_path.read_text())
            parts = []
            for i, pm in enumerate(meta["parts"]):
                frame = pd.read_parquet(entry / f"part{i}.parquet")
                depth = frame.pop("__depth__").to_numpy()
                curves = {name: (frame[name].to_numpy(),
                                 Provenance(**pm["provenance"][name]), pm["rank"][name])
                          for name in frame.columns}
                images = [Image(im["kind"], np.load(entry / f"part{i}_img{k}_depth.npy"),
                                np.load(entry / f"part{i}_img{k}.npy"), source=im["source"],
                                stem=im["stem"], unit=im["unit"])
                          for k, im in enumerate(pm["images"])]
                t2 = None
                if pm["t2"]:
                    t2 = T2Bins(np.load(entry / f"part{i}_t2.npy"),
                                np.asarray(pm["t2"]["edges_ms"]), pm["t2"]["source"],
                                tuple(pm["t2"]["names"]))
                parts.append(FilePart(pm["path"], depth, curves, images, t2, pm["header"],
                                      [Problem.from_dict(q) for q in pm["problems"]]))
            return parts
        except (OSError, ValueError, KeyError):
            return None  # a damaged or older entry is re-parsed (and rewritten)

    def put(self, path: str | Path, parts: list[FilePart]) -> None:
        path = Path(path)
        entry = self._entry(self.file_hash(path))
        with atomic_dir(entry, replace=False) as tmp:   # a concurrent worker's entry wins
            metas = []
            for i, p in enumerate(parts):
                frame = pd.DataFrame({"__depth__": p.depth,
                                      **{n: v for n, (v, _, _) in p.curves.items()}})
                frame.to_parquet(tmp / f"part{i}.parquet", index=False)
                for k, im in enumerate(p.images):
                    np.save(tmp / f"part{i}_img{k}.npy", im.values)
                    np.save(tmp / f"part{i}_img{k}_depth.npy", im.depth)
                if p.t2 is not None:
                    np.save(tmp / f"part{i}_t2.npy", p.t2.amplitudes)
                metas.append({
                    "path": p.path, "header": p.header,
                    "problems": [q.to_dict() for q in p.problems],
                    "provenance": {n: asdict(pr) for n, (_, pr, _) in p.curves.items()},
                    "rank": {n: r for n, (_, _, r) in p.curves.items()},
                    "images": [{"kind": im.kind, "source": im.source, "stem": im.stem,
                                "unit": im.unit} for im in p.images],
                    "t2": None if p.t2 is None else {
                        "edges_ms": np.asarray(p.t2.edges_ms).tolist(), "source": p.t2.source,
                        "names": list(p.t2.names)}})
            (tmp / "parts.json").write_text(json.dumps({"format": FORMAT, "parts": metas},
                                                       default=str))
