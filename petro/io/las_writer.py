"""LAS 2.0 writing: petro's outputs (targets, predicted logs) for the user's petrophysics software.

Unwrapped, space delimited, depth first, NULL for missing values; written atomically. lasio
reads every file written here (tests read them back).
"""

from __future__ import annotations

import io
import os

import numpy as np

from petro.io.atomic import atomic_write_text
from petro.io.raw import DEFAULT_NULL


def format_las(depth: np.ndarray, columns: dict[str, np.ndarray], *, units: dict[str, str],
               descriptions: dict[str, str] | None = None, well: dict[str, str] | None = None,
               params: dict[str, tuple[str, str, str]] | None = None, null: float = DEFAULT_NULL,
               depth_unit: str = "M", fmt: str = "%.5g", program: str = "petro") -> str:
    """Format a LAS 2.0 file (unwrapped, space delimited) as text.

    Parameters
    ----------
    depth : array, in ``depth_unit``, increasing
    columns : mapping mnemonic -> array of the same length (NaN written as ``null``)
    units, descriptions : per mnemonic
    well : extra ~Well items (WELL, UWI, FLD, COMP, ...), values as text
    params : ~Parameter items mnemonic -> (value, unit, description). One whose value holds a
        ':' (a model URI ``models:/petro-x@champion``, ``runs:/...``, ``s3://...``) is written
        in ~Well instead: lasio ends a ~Parameter value at its first ':' not inside a time
        (``13:45``), so no spelling there reads back whole, while in ~Well it takes the value
        up to the line's last ':' (the LAS 2.0 rule), and descriptions there hold none.
    fmt : printf format of the data values
    """
    descriptions = descriptions or {}
    depth = np.asarray(depth, dtype=float)
    step = np.diff(depth)
    regular = depth.size > 1 and np.allclose(step, step[0], rtol=0, atol=1e-6)
    lines = ["~Version Information",
             " VERS.                 2.0 : CWLS LOG ASCII STANDARD - VERSION 2.0",
             " WRAP.                  NO : ONE LINE PER DEPTH STEP",
             f" PROG.{program:>20} : written by petro",
             "~Well Information",
             f" STRT.{depth_unit:<4}{depth[0]:>16.4f} : START DEPTH",
             f" STOP.{depth_unit:<4}{depth[-1]:>16.4f} : STOP DEPTH",
             f" STEP.{depth_unit:<4}{(step[0] if regular else 0.0):>16.4f} : STEP",
             f" NULL.    {null:>16} : NULL VALUE"]
    well_items = {key.upper(): (value, "", key.upper()) for key, value in (well or {}).items()
                  if key.upper() not in ("STRT", "STOP", "STEP", "NULL")}
    params = dict(params or {})
    for key in [k for k, (value, _, _) in params.items() if ":" in str(value)]:
        if key.upper() in well_items:
            raise ValueError(f"parameter {key} holds a ':' and goes to ~Well, which has a {key}")
        well_items[key.upper()] = params.pop(key)
    for key, (value, unit, desc) in well_items.items():
        lines.append(f" {key:<4}.{unit:<4} {_text(value):>15} : {_text(desc, colon=True)}")
    lines.append("~Curve Information")
    lines.append(f" DEPT.{depth_unit:<8} : Measured depth")
    for name in columns:
        desc = _text(descriptions.get(name, name), colon=True)
        lines.append(f" {name:<10}.{units.get(name, ''):<8} : {desc}")
    if params:
        lines.append("~Parameter Information")
        for key, (value, unit, desc) in params.items():
            lines.append(f" {key:<10}.{unit:<8} {_text(value):>14} : {_text(desc)}")
    lines.append("~A")
    mat = np.column_stack([np.asarray(v, dtype=float) for v in columns.values()]) if columns \
        else np.empty((depth.size, 0))
    missing = ~np.isfinite(mat)
    mat = np.where(missing, np.nan, mat)
    # one printf per row (depth keeps 0.1 mm, values use fmt): the same text as a per-value
    # formatter, several times faster on image files
    row = " ".join(["%.4f"] + [fmt] * mat.shape[1]) + "\n"
    body = "".join([row % tuple(r) for r in np.column_stack([depth, mat]).tolist()])
    if missing.any():
        # missing values are written as the header's NULL, exactly: formatted with ``fmt`` a
        # NULL of -999.25 would read -999.2 (%.4g), a value and not the NULL. A missing value
        # formats as "nan" whatever ``fmt`` is, and no number does.
        body = body.replace(" nan", f" {null}")
    buf = io.StringIO()
    buf.write("\n".join(lines) + "\n")
    buf.write(body)
    return buf.getvalue()


def _text(value, colon: bool = False) -> str:
    """A header field on one line; ``colon``: a description where lasio ends the value at the
    last ':' of the line (~Well, ~Curve), so it may hold none (':' becomes ';')."""
    text = str(value).replace("\r", " ").replace("\n", " ")
    return text.replace(":", ";") if colon else text


def write_las(path: str | os.PathLike, depth: np.ndarray, columns: dict[str, np.ndarray],
              **kwargs) -> None:
    """Format (see :func:`format_las`) and write a LAS 2.0 file atomically."""
    atomic_write_text(path, format_las(depth, columns, **kwargs))
