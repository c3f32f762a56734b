"""The neutral record every reader returns: one depth-indexed table of a file, with its headers.

LAS files, DLIS frames and CSV tables all become a :class:`RawTable`; canonicalisation
(:mod:`petro.io.canonical`) then applies the same rules to each. Array channels (DLIS images and
T2 distributions) travel beside it as ``arrays``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from petro.problems import Problem

DEFAULT_NULL = -999.25


@dataclass
class CurveInfo:
    mnemonic: str
    unit: str
    description: str


@dataclass
class RawTable:
    """What petro keeps of a file: headers as plain dicts and the data as a DataFrame.

    ``data`` columns are the curve mnemonics (duplicates suffixed ``:1``, ``:2`` as lasio does);
    the first column is the index (depth) curve as a rule. NULL values are NaN.
    """

    path: str
    format: str                                     # 'las', 'dlis', 'csv'
    well: dict[str, tuple[str, str, str]]           # mnemonic -> (value, unit, description)
    params: dict[str, tuple[str, str, str]]
    curves: list[CurveInfo]
    data: pd.DataFrame
    null: float | None = None
    problems: list[Problem] = field(default_factory=list)
    arrays: dict[str, tuple[np.ndarray, str, str]] = field(default_factory=dict)
    # array channel name -> (values (rows, n), unit, description)

    def well_value(self, key: str, default: str = "") -> str:
        item = self.well.get(key.upper())
        return item[0] if item else default
