"""The in-memory well: depth-indexed curves, image arrays and their provenance.

Depth is measured depth in metres, strictly increasing, and is the index of ``curves``. Curves
carry canonical mnemonics and canonical units (see :mod:`petro.mnemonics`, :mod:`petro.units`);
each has a provenance record (source file, original mnemonic and unit, conversions applied).
Images are depth x azimuth ``float32`` arrays with NaN for gaps (pad gaps, absent data).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from petro.problems import Problem
from petro.vocab import IMAGE_KINDS

__all__ = ["IMAGE_KINDS", "Image", "Provenance", "T2Bins", "Well"]


@dataclass
class Image:
    """A borehole image: ``values[i, j]`` at ``depth[i]`` (m) and azimuthal bin ``j``."""

    kind: str
    depth: np.ndarray
    values: np.ndarray
    source: str = ""
    stem: str = ""
    unit: str = ""

    @property
    def n_bins(self) -> int:
        return int(self.values.shape[1])

    @property
    def step(self) -> float:
        return float(np.median(np.diff(self.depth))) if self.depth.size > 1 else float("nan")


@dataclass
class Provenance:
    source: str
    original: str
    unit: str
    notes: list[str] = field(default_factory=list)


@dataclass
class Well:
    """One well: conventional and NMR curves on a depth index plus images."""

    name: str
    curves: pd.DataFrame
    images: dict[str, Image] = field(default_factory=dict)
    provenance: dict[str, Provenance] = field(default_factory=dict)
    header: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    t2_bins: "T2Bins | None" = None
    verdicts: list = field(default_factory=list)   # petro.quality.Verdict per curve and image

    @property
    def depth(self) -> np.ndarray:
        return self.curves.index.to_numpy(dtype=float)

    @property
    def step(self) -> float:
        d = self.depth
        return float(np.median(np.diff(d))) if d.size > 1 else float("nan")


@dataclass
class T2Bins:
    """A T2 distribution: ``amplitudes[i, j]`` (v/v porosity in bin j) on the well's depth index.

    ``edges_ms`` has ``n_bins + 1`` bin boundaries in ms (log-spaced as a rule).
    """

    amplitudes: np.ndarray
    edges_ms: np.ndarray
    source: str = ""
    names: tuple[str, ...] = ()
