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
from petro.io.las import CurveInfo, LasFile


def read_dlis(path: str | Path) -> list[tuple[LasFile, dict[str, tuple[np.ndarray, str, str]]]]:
    """Frames of a DLIS file as ``(table, arrays)``: the table holds the index and the scalar
    channels (LasFile-shaped, so the LAS logic applies); ``arrays`` maps an array channel's name
    to ``(values (rows, n), unit, long name)``."""
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
                    null = -999.25
                    table = table.mask(table == null)
                    out.append((LasFile(f"{path}#{frame.name}", 0.0, False, well, params, infos,
                                        table, null, False, []), arrays))
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
