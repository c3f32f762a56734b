"""DLIS (RP66 v1) reading through dlisio: frames, scalar channels and array channels.

Each frame indexed by depth becomes one table: scalar channels as curves, array channels
(image, T2 distribution) as 2-D arrays. Every dlisio failure becomes an InputError naming the file.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from petro.errors import InputError
from petro.io.raw import CurveInfo, RawTable
from petro.problems import info

NULL_PARAMETERS = ("NULL", "ABSV", "ABSVAL", "ABSENT_VALUE", "MISSING_VALUE")


def read_dlis(path: str | Path, null: float | None = -999.25) -> list[RawTable]:
    """Frames of a DLIS file as raw tables: the index and the scalar channels as curves (so the
    LAS logic applies), array channels in ``arrays`` as ``(values (rows, n), unit, long name)``.

    DLIS has no file-wide NULL. Values equal to a ``NULL`` / ``ABSV`` parameter of the logical
    file are missing; else values equal to ``null`` (the ingest option ``dlis_null``, -999.25 by
    default, the common export convention; None: no null value), and the choice is reported.
    """
    from dlisio import dlis

    path = str(path)
    logger = logging.getLogger("dlisio")
    level = logger.level
    logger.setLevel(logging.ERROR)
    out = []
    try:
        with dlis.load(path) as files:
            for lf in files:
                well = {}
                if lf.origins:
                    o = lf.origins[0]
                    for key, attr in (("WELL", "well_name"), ("FLD", "field_name"),
                                      ("COMP", "company"), ("UWI", "well_id")):
                        v = getattr(o, attr, None)
                        if v:
                            well[key] = (str(v), "", "")
                params = {}
                for p in lf.parameters:
                    vals = p.values
                    if vals is not None and np.size(vals) == 1:
                        params[str(p.name).upper()] = (str(np.ravel(vals)[0]), "", str(p.long_name or ""))
                    elif vals is not None and np.size(vals) > 1:
                        params[str(p.name).upper()] = (" ".join(map(str, np.ravel(vals))), "",
                                                       str(p.long_name or ""))
                for frame in lf.frames:
                    curves = frame.curves()
                    chans = list(frame.channels)
                    if not chans:
                        continue
                    infos, cols, arrays = [], {}, {}
                    for ch in chans:
                        data = curves[ch.name]
                        unit = str(ch.units or "")
                        desc = str(ch.long_name or ch.name)
                        if data.ndim == 1:
                            infos.append(CurveInfo(ch.name, unit, desc))
                            cols[ch.name] = data.astype(float)
                        else:
                            arrays[ch.name] = (data.reshape(data.shape[0], -1).astype(np.float32),
                                               unit, desc)
                    if not cols:
                        continue
                    table = pd.DataFrame(cols)
                    fnull, why = _null_value(params, null)
                    problems = [info(why, path=f"{path}#{frame.name}", code="null_default")]
                    if fnull is not None:
                        table = table.mask(table == fnull)
                        arrays = {k: (np.where(v == np.float32(fnull), np.float32(np.nan), v), u, d)
                                  for k, (v, u, d) in arrays.items()}
                    out.append(RawTable(f"{path}#{frame.name}", "dlis", well, params, infos,
                                        table, fnull, problems=problems, arrays=arrays))
    except InputError:
        raise
    except Exception as err:  # dlisio raises RuntimeError/ValueError/OSError on bad files
        raise InputError(f"not a readable DLIS file ({type(err).__name__}: {err})",
                         path=path) from err
    finally:
        logger.setLevel(level)
    if not out:
        raise InputError("no frame with channels in the DLIS file", path=path)
    return out


def _null_value(params: dict, default: float | None) -> tuple[float | None, str]:
    for key in NULL_PARAMETERS:
        if key in params:
            try:
                return float(params[key][0]), f"NULL value {params[key][0]} from parameter {key}"
            except ValueError:
                continue
    if default is None:
        return None, "no NULL parameter in the file; no value taken as missing (dlis_null: null)"
    return default, (f"no NULL parameter in the file; {default:g} taken as missing (ingest "
                     f"option dlis_null)")


def dlis_well_name(path: str | Path) -> str | None:
    """The ORIGIN well name of a DLIS file's first logical file, or None (unreadable, absent)."""
    from dlisio import dlis

    try:
        with dlis.load(str(path)) as files:
            for lf in files:
                for o in lf.origins:
                    if o.well_name:
                        return str(o.well_name).strip()
    except Exception:  # the reader reports a bad file properly later
        return None
    return None
