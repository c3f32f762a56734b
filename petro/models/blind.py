"""Blind-well predictions: one fold's models applied to the rows of its blind wells.

A :class:`FoldModel` is everything a blind-well fold fitted on its training wells (the model,
the logs-only comparator, the scikit-learn baselines, the poro-perm transform and the training
mean); :func:`blind_rows` applies it to blind rows wherever they are: in memory
(:class:`petro.models.rows.InMemoryRows`) or on the worker that holds a well's partition
(``petro.app.disttrain``). Each row's answer depends only on that row, so the out-of-fold
figures are the same however the rows are split.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from petro.models.runtime import Bundle
from petro.models.spec import ModelSpec
from petro.vocab import DEPTH, WELL

# the out-of-fold columns of a blind row besides one sk_<name> per scikit-learn baseline
OOF_COLUMNS = (WELL, DEPTH, "y", "p50", "lo", "hi", "dist", "mean", "petro", "logs_only",
               "logs_lo", "logs_hi")
# the novelty blocks of the logs-only sibling, among a fold's blocks: "logs_only:<block>"
SIBLING_BLOCK = "logs_only:"


def fit_petro(phid: np.ndarray, y: np.ndarray, spec: ModelSpec) -> dict:
    """The single-log petrophysical estimate, fitted on training rows (density porosity
    ``phid``, v/v, and targets ``y``): density porosity itself for porosity; for permeability a
    log-linear poro-perm transform. Without density porosity in at least 5 training rows there
    is no such estimate (``none``: no figure is reported; it is not the training mean under
    another name)."""
    ok = np.isfinite(phid) & np.isfinite(y)
    if ok.sum() < 5:
        return {"kind": "none"}
    if spec.target == "porosity":
        return {"kind": "phid"}
    a, b = np.polyfit(phid[ok], y[ok], 1)
    return {"kind": "linear", "a": a, "b": b}


def apply_petro(fit: dict, phid: np.ndarray) -> np.ndarray:
    """The petrophysical estimate of :func:`fit_petro` at rows of density porosity ``phid``."""
    if fit["kind"] == "phid":
        return np.clip(phid, 0.0, 0.5)
    if fit["kind"] == "none":
        return np.full(len(phid), np.nan)
    return fit["a"] * phid + fit["b"]


@dataclass
class FoldModel:
    """What one blind-well fold fitted on its training wells, to apply to its blind rows."""

    bundle: Bundle                       # the model (P50, P10, P90, novelty detector)
    features: list[str]                  # its inputs (the fold's selection)
    block_names: list[str]               # every novelty block of the candidate inputs
    petro: dict                          # :func:`fit_petro`
    mean: float                          # the training wells' mean target
    logs_bundle: Bundle | None = None    # the logs-only sibling (a whole bundle)
    logs_features: list[str] = field(default_factory=list)   # its inputs
    # name -> (fitted scikit-learn estimator, its columns' positions among the baselines')
    baselines: dict = field(default_factory=dict)


def _distances(bundle: Bundle, X: np.ndarray, names: list[str], prefix: str,
               D: np.ndarray) -> None:
    """``bundle``'s novelty distances of rows ``X`` into the columns of ``D`` named
    ``prefix + block`` among ``names``."""
    if "novelty" in bundle.meta:
        blocks = [prefix + b["name"] for b in bundle.meta["novelty"]["blocks"]]
        D[:, [names.index(b) for b in blocks]] = bundle.novelty_distances(X)


def blind_rows(model: FoldModel, X: np.ndarray, Xl: np.ndarray | None, Xb: np.ndarray,
               y: np.ndarray, wells: np.ndarray, depth: np.ndarray, phid: np.ndarray) \
        -> tuple[pd.DataFrame, np.ndarray]:
    """The out-of-fold rows (:data:`OOF_COLUMNS` and ``sk_<name>``) of blind rows with inputs
    ``X`` (the model's), ``Xl`` (its logs-only sibling's, ``model.logs_features``; None
    without one), ``Xb`` (the baselines'), targets ``y``, ``wells``, ``depth`` and density
    porosity ``phid``; and their novelty distances per block (rows x ``model.block_names``,
    the sibling's blocks named ``logs_only:<block>``; NaN for a block the fold's detectors do
    not have). The P50s are clipped to the fold's training range as the runtime answers
    (:meth:`~petro.models.runtime.Bundle.clipped`): a model is scored on what it answers,
    not on a linear trend extended far beyond the training wells (110 p.u. on an unlike real
    well); the scikit-learn baselines are held to the same range, like for like."""
    q = model.bundle.clipped(model.bundle.raw_quantiles(X))
    out = pd.DataFrame({WELL: wells, DEPTH: depth, "y": y, "p50": q["p50"], "lo": q["p10"],
                        "hi": q["p90"], "dist": np.nan, "mean": model.mean,
                        "petro": apply_petro(model.petro, phid), "logs_only": np.nan,
                        "logs_lo": np.nan, "logs_hi": np.nan})
    D = np.full((len(y), len(model.block_names)), np.nan)
    _distances(model.bundle, X, model.block_names, "", D)
    if model.logs_bundle is not None:
        ql = model.logs_bundle.clipped(model.logs_bundle.raw_quantiles(Xl))
        out["logs_only"], out["logs_lo"], out["logs_hi"] = ql["p50"], ql["p10"], ql["p90"]
        _distances(model.logs_bundle, Xl, model.block_names, SIBLING_BLOCK, D)
    lim = model.bundle.meta.get("clip") or [-np.inf, np.inf]
    for name, (est, idx) in model.baselines.items():
        out[f"sk_{name}"] = np.clip(est.predict(Xb[:, idx]), lim[0], lim[1])
    return out, D
