"""Images (and curves) exported as CSV: a depth column and one column per azimuthal bin.

The depth column is the first whose name starts with DEPT, DEPTH or MD (else the first column);
its unit comes from the name (``DEPTH[ft]``, ``DEPTH (m)``, ``DEPTH_FT``) or the ingest option
``csv_depth_unit`` (default m). Bin columns are either an indexed family (``AMP001``..) or plain
numbers (``0``..``179``), whose stem is then the file's name; the kind comes from the stem or the
``image_kinds`` option keyed by file stem.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd

from petro.errors import InputError
from petro.io.raw import CurveInfo, RawTable
from petro.problems import info, warning
from petro.vocab import DEPTH

_UNIT_IN_NAME = re.compile(r"^\s*([A-Za-z_]+?)[\s_]*[\[\(]?\s*(m|ft|f|feet|meters?|metres?)\s*[\]\)]?\s*$",
                           re.I)


def read_csv_table(path: str | Path, depth_unit: str = "m") -> RawTable:
    path = str(path)
    try:
        df = pd.read_csv(path, sep=None, engine="python", nrows=5)
        sep = "," if df.shape[1] > 1 else r"\s+"
        df = pd.read_csv(path, sep=sep, engine="c" if sep == "," else "python")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError,
            csv.Error, OverflowError) as err:
        raise InputError(f"not a readable CSV table ({err})", path=path) from err
    if df.shape[1] < 2 or len(df) < 2:
        raise InputError("a CSV well file needs a depth column and data columns", path=path)
    names = [str(c).strip() for c in df.columns]
    dcol = next((c for c in names if c.upper().startswith(("DEPT", "DEPTH", "MD"))), names[0])
    m = _UNIT_IN_NAME.match(dcol)
    unit = m.group(2) if m and m.group(1).upper().startswith(("DEPT", "MD")) else depth_unit
    df.columns = names
    bad = [c for c in names if not pd.api.types.is_numeric_dtype(df[c])]
    if dcol in bad:
        raise InputError(f"depth column {dcol!r} is not numeric", path=path, curve=dcol)
    problems = [warning("column is not numeric; left out", path=path, curve=c, code="text_curve")
                for c in bad]
    stem = re.sub(r"[^A-Za-z]", "", Path(path).stem).upper() or "IMG"
    rename = {c: f"{stem}{int(c) + 1:03d}" for c in names if c.isdigit()}
    df = df.rename(columns=rename)
    curves = [CurveInfo(DEPTH if c == dcol else c, unit if c == dcol else "", "")
              for c in df.columns if c not in bad]
    table = df[[c for c in df.columns if c not in bad]].astype(float).rename(columns={dcol: DEPTH})
    if rename:
        problems.append(info(f"{len(rename)} numbered columns read as image bins {stem}001..",
                             path=path, code="csv_bins"))
    return RawTable(path, "csv", {}, {}, curves, table, None, problems=problems)


