"""The per-well feature dataset: one Parquet file per well and input version.

Layout (a Hive-partitioned Parquet dataset, readable by pandas, pyarrow, Dask or Spark)::

    <root>/well=<well>/<key>.parquet   the well's feature (and target) table
    <root>/well=<well>/_<key>.json     its summary, target report and problems (written last)
    <root>/well=<well>/_<key>.previews.npz  its images reduced for display, when a prediction
                                       with pictures asked for them (:func:`previews`)

``key`` is a hash of the well's file contents, the feature recipe (ingest, target, feature and
log parameters), whether targets were computed, and petro's version: an unchanged well is read
back instead of recomputed, in any later run on any machine that sees the folder; a changed
file or setting gives a new key. Entries are written atomically (temporary file, one rename),
the JSON last, so an entry is complete or absent; two workers writing the same key write the
same bytes. Training reads only these tables.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from petro import __version__
from petro.io.atomic import atomic_file, atomic_write_text, safe_name
from petro.io.checksum import ChecksumError, file_sha256, seal, unseal

FORMAT = 2      # 2: sealed JSON with the table's SHA-256


def well_key(name: str, file_hashes: dict[str, str], recipe: dict, with_targets: bool) -> str:
    text = json.dumps([FORMAT, __version__, name, sorted(file_hashes.items()), recipe,
                       bool(with_targets)], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _plain(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)


class FeatureStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _paths(self, name: str, key: str) -> tuple[Path, Path]:
        folder = self.root / f"well={safe_name(name)}"
        return folder / f"{key}.parquet", folder / f"_{key}.json"   # '_': not a data file

    def table_path(self, name: str, key: str) -> Path:
        """Where the entry's table is (or would be)."""
        return self._paths(name, key)[0]

    def get(self, name: str, key: str) -> tuple[pd.DataFrame | None, dict] | None:
        """``(table, meta)`` of a complete entry, or None when there is none. Raises
        :class:`~petro.io.checksum.ChecksumError` (saying what is wrong) for a damaged entry:
        recompute the well and :meth:`put` it again."""
        table_path, meta_path = self._paths(name, key)
        try:
            text = meta_path.read_text()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as err:
            raise ChecksumError(f"{meta_path.name}: unreadable ({err})") from err
        try:
            meta = unseal(text)
        except ValueError as err:      # ChecksumError too
            raise ChecksumError(f"{meta_path.name}: {err}") from err
        if not meta.get("has_table"):
            return None, meta
        try:
            digest = file_sha256(table_path)
        except OSError as err:
            raise ChecksumError(f"{table_path.name}: {err.strerror or err}") from err
        if digest != meta.get("table_sha256"):
            raise ChecksumError(f"{table_path.name}: checksum mismatch")
        return pd.read_parquet(table_path), meta

    def put(self, name: str, key: str, table: pd.DataFrame | None, meta: dict,
            previews: dict[str, tuple[np.ndarray, np.ndarray]] | None = None) -> Path:
        """Store an entry; ``previews`` (image kind -> (depth, reduced image)) beside it."""
        table_path, meta_path = self._paths(name, key)
        record = {**meta, "has_table": table is not None, "key": key}
        if table is not None:
            with atomic_file(table_path) as tmp:
                table.to_parquet(tmp, index=False)
                record["table_sha256"] = file_sha256(tmp)
        if previews is not None:
            with atomic_file(self._previews_path(name, key)) as tmp, open(tmp, "wb") as fh:
                np.savez(fh, **{f"{i}_{part}": arr for i, (d, v) in enumerate(previews.values())
                                for part, arr in (("depth", d), ("values", v))})
            record["previews"] = list(previews)
        atomic_write_text(meta_path, seal(record, default=_plain))
        return table_path

    def _previews_path(self, name: str, key: str) -> Path:
        return self._paths(name, key)[1].with_suffix(".previews.npz")

    def previews(self, name: str, key: str, meta: dict) \
            -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
        """The entry's images reduced for display (kind -> (depth, values)); None when the
        entry was stored without them or they cannot be read."""
        kinds = meta.get("previews")
        if kinds is None:
            return None
        try:
            with np.load(self._previews_path(name, key)) as z:
                return {k: (z[f"{i}_depth"], z[f"{i}_values"]) for i, k in enumerate(kinds)}
        except (OSError, ValueError, KeyError):
            return None

    def entries(self) -> list[Path]:
        """Every complete table in the dataset."""
        out = (p.with_name(p.name[1:]).with_suffix(".parquet")
               for p in self.root.glob("well=*/_*.json"))
        return sorted(p for p in out if p.exists())
