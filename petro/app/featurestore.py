"""The per-well feature dataset: one Parquet file per well and input version.

Layout (a Hive-partitioned Parquet dataset, readable by pandas, pyarrow, Dask or Spark)::

    <root>/well=<well>/<key>.parquet   the well's feature (and target) table
    <root>/well=<well>/_<key>.json     its summary, target report and problems (written last)

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

    def put(self, name: str, key: str, table: pd.DataFrame | None, meta: dict) -> Path:
        table_path, meta_path = self._paths(name, key)
        record = {**meta, "has_table": table is not None, "key": key}
        if table is not None:
            with atomic_file(table_path) as tmp:
                table.to_parquet(tmp, index=False)
                record["table_sha256"] = file_sha256(tmp)
        atomic_write_text(meta_path, seal(record, default=_plain))
        return table_path

    def entries(self) -> list[Path]:
        """Every complete table in the dataset."""
        out = (p.with_name(p.name[1:]).with_suffix(".parquet")
               for p in self.root.glob("well=*/_*.json"))
        return sorted(p for p in out if p.exists())
