"""Features from conventional logs (canonical curves, canonical units).

The input curves are data, not a fixed list: every curve the alias table
(``petro/data/aliases.yaml``, extended by a pipeline's ``aliases:``) marks as an ``input`` —
``GR`` (gAPI), ``RHOB`` (g/cm3), ``NPHI`` (v/v), ``DT`` (us/ft), ``LOG10_RT`` (log10 ohm.m),
``LOG10_RXO``, ``CALI`` (in), ``PEF`` (b/e), shear ``DTS``, spectral gamma ray ``K`` (v/v), ``TH``
and ``U`` (ppm), ``SP`` (mV) — plus any curve a pipeline names in ``features.logs``. A curve that
no training well has is simply not used; the model records the columns it used.

Derived columns: ``PHID`` density porosity, ``PHIS`` Wyllie sonic porosity, ``NPHI_PHID``
neutron-density separation (shale, gas), ``SPI`` secondary porosity index PHID - PHIS (vugs and
fractures the sonic does not see), ``RUGOSITY`` the standard deviation of the caliper over
``rugosity_window_m`` (in; a rough, washed-out hole degrades pad and image readings). Matrix and
fluid constants are parameters.

Windowed statistics (the logs at the scale of the beds): the median (``{column}_wmed_{w}``) and
the robust spread (1.4826 x the median absolute deviation, ``{column}_wmad_{w}``) of each input
column over centred depth windows (``windows_m``, default the image windows 0.5 and 1.5 m), in
the column's unit. A single sample of density carries +/-0.02 g/cm3 of noise (+/-1.2 p.u. of
porosity) that averages out over a bed. The window is a count of samples (the odd number that
spans ``window_m`` on the well's median depth step); windows shorter than 3 samples give NaN,
and the ends of a well use the samples there are. Whether a model uses them is decided in
training like any other input group (:mod:`petro.models.groups`).
"""

from __future__ import annotations

from dataclasses import dataclass

import warnings

import numpy as np
import pandas as pd

from petro.mnemonics import AliasTable
from petro.vocab import (FLUID_DENSITY, FLUID_SLOWNESS, MATRIX, NMR_CURVES, WINDOWED_STATS,
                         windowed_log_feature)

DERIVED = ("PHID", "PHIS", "NPHI_PHID", "SPI", "RUGOSITY")


def input_column(curve: str, how: str) -> str:
    """Feature column of an input curve: ``RT`` taken as log10 is ``LOG10_RT``."""
    return f"LOG10_{curve}" if how == "log10" else curve


@dataclass
class LogFeatureParams:
    """Parameters of the conventional-log features (the pipeline's ``logs:`` section).

    ``inputs`` maps input curves (canonical mnemonics) to 'value' or 'log10'; None resolves it
    from the alias table (the configuration does so, with the pipeline's aliases and its
    ``features.logs`` extras, and the resolved mapping is stored with every model).
    """

    rho_matrix: float = MATRIX["calcite"][0]    # g/cm3
    rho_fluid: float = FLUID_DENSITY            # g/cm3
    dt_matrix: float = MATRIX["calcite"][1]     # us/ft
    dt_fluid: float = FLUID_SLOWNESS            # us/ft
    rugosity_window_m: float = 0.6
    inputs: dict[str, str] | None = None
    windows_m: tuple[float, ...] = (0.5, 1.5)   # windowed statistics of the inputs; () none

    def __post_init__(self):
        if self.inputs is None:
            self.inputs = AliasTable().inputs()
        self.inputs = {str(k).upper(): str(v) for k, v in dict(self.inputs).items()}
        leak = sorted(set(self.inputs) & set(NMR_CURVES))
        if leak:
            raise ValueError(f"NMR curves {leak} are targets (or computed from them) and cannot "
                             f"be inputs")
        bad = {k: v for k, v in self.inputs.items() if v not in ("value", "log10")}
        if bad:
            raise ValueError(f"inputs {bad}: each input is taken as 'value' or 'log10'")
        if not self.rugosity_window_m > 0:
            raise ValueError("rugosity_window_m must be positive")
        self.windows_m = tuple(float(w) for w in self.windows_m)
        if any(not w > 0 for w in self.windows_m):
            raise ValueError(f"windows_m {list(self.windows_m)}: each window is a positive "
                             f"length in m")

    def input_columns(self) -> list[str]:
        """The input curves' feature columns (``LOG10_RT`` for RT taken as log10)."""
        return [input_column(c, how) for c, how in self.inputs.items()]

    def windowed_columns(self) -> list[str]:
        """The windowed statistics' columns: per window, per input column, median and spread."""
        return [windowed_log_feature(c, s, w) for w in self.windows_m
                for c in self.input_columns() for s in WINDOWED_STATS]

    def columns(self) -> list[str]:
        """The feature columns, in a fixed order: input curves, derived columns, then the
        windowed statistics."""
        return self.input_columns() + list(DERIVED) + self.windowed_columns()


def with_extra_inputs(inputs: dict[str, str], extra) -> dict[str, str]:
    """Input curves plus a pipeline's extra curves (names, or ``{name: value|log10}``)."""
    out = dict(inputs)
    items = extra.items() if isinstance(extra, dict) else ((e, "value") for e in extra or ())
    for name, how in items:
        out.setdefault(str(name).upper(), str(how))
    return out


def _rolling_std(depth: np.ndarray, x: np.ndarray, window_m: float) -> np.ndarray:
    """Standard deviation of ``x`` over a centred depth window (NaN-aware), from cumulative sums."""
    ok = np.isfinite(x)
    x0 = np.where(ok, x, 0.0)
    c1 = np.concatenate([[0.0], np.cumsum(x0)])
    c2 = np.concatenate([[0.0], np.cumsum(x0 * x0)])
    cn = np.concatenate([[0], np.cumsum(ok)])
    i0 = np.searchsorted(depth, depth - window_m / 2, side="left")
    i1 = np.searchsorted(depth, depth + window_m / 2, side="right")
    n = cn[i1] - cn[i0]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (c1[i1] - c1[i0]) / n
        var = np.maximum((c2[i1] - c2[i0]) / n - mean ** 2, 0.0)
    return np.where(n >= 3, np.sqrt(var), np.nan)


def window_samples(depth: np.ndarray, window_m: float) -> int:
    """Samples of a centred window of ``window_m`` m on the median step of ``depth``: odd, and 0
    when the step is unknown (fewer than 2 depths)."""
    step = np.diff(depth)
    step = step[np.isfinite(step) & (step > 0)]
    if step.size == 0:
        return 0
    return 2 * int(np.floor(window_m / 2 / float(np.median(step)) + 1e-9)) + 1


def running_median_spread(x: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Centred running median and robust spread (1.4826 MAD) of ``x`` over ``n`` samples
    (odd), NaN-aware: the ends use the samples there are; NaN where ``n`` < 3 or a window has
    no finite value."""
    if n < 3 or x.size == 0:
        return np.full(x.size, np.nan), np.full(x.size, np.nan)
    h = n // 2
    win = np.lib.stride_tricks.sliding_window_view(
        np.concatenate([np.full(h, np.nan), x, np.full(h, np.nan)]), n)
    with warnings.catch_warnings():     # an all-NaN window (a log missing there) gives NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(win, axis=1)
        return med, 1.4826 * np.nanmedian(np.abs(win - med[:, None]), axis=1)


def windowed_features(depth: np.ndarray, columns: dict[str, np.ndarray],
                      params: LogFeatureParams) -> dict[str, np.ndarray]:
    """The windowed statistics (module docstring) of the input ``columns`` (name -> values on
    ``depth``, m)."""
    out = {}
    for w in params.windows_m:
        n = window_samples(depth, w)
        for c in params.input_columns():
            med, mad = running_median_spread(columns[c], n)
            out[windowed_log_feature(c, "wmed", w)] = med
            out[windowed_log_feature(c, "wmad", w)] = mad
    return out


def conventional_features(curves: pd.DataFrame, params: LogFeatureParams | None = None) \
        -> pd.DataFrame:
    """Conventional-log feature columns on the index (depth, m) of ``curves``; a curve the well
    lacks gives a NaN column, so every well has the same columns."""
    p = params or LogFeatureParams()
    n = len(curves)

    def col(name):
        if name in curves.columns:
            return curves[name].to_numpy(dtype=float)
        return np.full(n, np.nan)

    out = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for c, how in p.inputs.items():
            v = col(c)
            out[input_column(c, how)] = np.log10(np.where(v > 0, v, np.nan)) if how == "log10" \
                else v
        rhob, nphi, dt = col("RHOB"), col("NPHI"), col("DT")
        phid = (p.rho_matrix - rhob) / (p.rho_matrix - p.rho_fluid)
        phis = (dt - p.dt_matrix) / (p.dt_fluid - p.dt_matrix)
    depth = curves.index.to_numpy(dtype=float)
    out.update({"PHID": phid, "PHIS": phis, "NPHI_PHID": nphi - phid, "SPI": phid - phis,
                "RUGOSITY": _rolling_std(depth, col("CALI"), p.rugosity_window_m)
                if n > 1 else np.full(n, np.nan)})
    out.update(windowed_features(depth, out, p))
    return pd.DataFrame(out, index=curves.index)
