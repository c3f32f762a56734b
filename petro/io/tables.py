"""Writing feature tables: Parquet, CSV, or MLflow's ``dataframe_split`` JSON ready to post."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from petro.errors import ConfigError
from petro.io.atomic import atomic_file, atomic_write_text


def write_table(table: pd.DataFrame, path: str | Path, fmt: str | None = None) -> str:
    path = Path(path)
    fmt = fmt or {".parquet": "parquet", ".pq": "parquet", ".csv": "csv",
                  ".json": "json"}.get(path.suffix.lower())
    if fmt is None:
        raise ConfigError(f"{path}: give --format (parquet, csv, json) or a known suffix")
    if fmt == "parquet":
        with atomic_file(path) as tmp:
            table.to_parquet(tmp, index=False)
    elif fmt == "csv":
        atomic_write_text(path, table.to_csv(index=False))
    else:
        atomic_write_text(path, json.dumps(dataframe_split(table)))
    return fmt


def dataframe_split(table: pd.DataFrame) -> dict:
    """MLflow's ``dataframe_split`` request body; floats keep all their digits, NaN becomes null."""
    values = table.astype(object).where(table.notna(), None).to_numpy().tolist()
    values = [[v.item() if isinstance(v, np.generic) else v for v in row] for row in values]
    return {"dataframe_split": {"columns": list(map(str, table.columns)), "data": values}}
