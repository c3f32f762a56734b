"""The fitted-model runtime: what a served or loaded petro model runs.

This module depends on numpy, pandas and lightgbm only (no other petro module), so a logged model
can ship it as code and load anywhere those packages are installed. A *bundle* is a folder with
``bundle.json`` (features, target transform, conformal adjustments, novelty detector, output
columns and units) and one LightGBM text model per quantile (``booster_p50.txt`` etc.): no pickle.

Prediction on a DataFrame of per-depth rows:

- columns are matched by name; model features that are absent are treated as missing (LightGBM
  routes NaN), columns the model does not know are ignored (listed in ``ignored_columns``);
- ``{OUT}_ML`` is the P50 (median) prediction, ``{OUT}_P10`` / ``{OUT}_P90`` the conformalised
  10 % / 90 % quantiles, in the output unit (v/v porosity, mD permeability);
- ``INPUT_COVERAGE`` is the share of the model's input columns present in the row; below
  ``min_input_coverage`` (0.3 unless the bundle says otherwise) the row gets no prediction (NaN)
  and ``OOD_FLAG`` 1: a guess from a handful of inputs is not given as an answer;
- ``NOVELTY`` is the largest, over input blocks (conventional logs; each image kind), robust
  Mahalanobis distance of the row's inputs to the training wells divided by that block's
  threshold calibrated on blind wells (1.0 = edge of the domain); ``OOD_FLAG`` is 1 where
  ``NOVELTY > 1``. Blocks keep a few unusual inputs from being diluted by a hundred usual ones.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

FORMAT = 1
QUANTILE_KEYS = ("p10", "p50", "p90")
# below this share of its inputs present, a row gets no prediction (the bundle may set its own)
MIN_INPUT_COVERAGE = 0.3
# output columns besides {OUT}_ML/_P10/_P90 (petro.vocab spells the same; a test checks)
NOVELTY, OOD_FLAG, INPUT_COVERAGE = "NOVELTY", "OOD_FLAG", "INPUT_COVERAGE"


class InputSchemaError(ValueError):
    """The input rows cannot be used (no rows, no usable column, non-numeric values)."""


class Bundle:
    """A fitted petro model: LightGBM boosters plus JSON metadata (see module docstring)."""

    def __init__(self, meta: dict, boosters: dict[str, lgb.Booster]):
        self.meta = meta
        self.boosters = boosters
        self.features: list[str] = list(meta["features"])            # input columns
        self.model_features: list[str] = list(meta.get("model_features", self.features))
        self._keep = [self.features.index(f) for f in self.model_features
                      if f in self.features]

    # ------------------------------------------------------------------ persistence
    @classmethod
    def load(cls, path: str | os.PathLike) -> "Bundle":
        path = Path(path)
        meta = json.loads((path / "bundle.json").read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path}: bundle format {meta.get('format')} is not {FORMAT}; "
                             f"retrain or upgrade petro")
        boosters = {k: lgb.Booster(model_file=str(path / f"booster_{k}.txt"))
                    for k in meta["boosters"]}
        return cls(meta, boosters)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the bundle folder atomically (a temporary sibling folder, then rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            meta = dict(self.meta, boosters=sorted(self.boosters), format=FORMAT)
            (tmp / "bundle.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
            for k, b in self.boosters.items():
                b.save_model(str(tmp / f"booster_{k}.txt"))
            if path.exists():
                shutil.rmtree(path)
            os.replace(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return path

    # ------------------------------------------------------------------ prediction
    @property
    def output(self) -> str:
        return self.meta["output"]

    def matrix(self, df: pd.DataFrame) -> np.ndarray:
        """Model input matrix (rows, features) from a DataFrame; absent features are NaN."""
        if not isinstance(df, pd.DataFrame):
            df = pd.DataFrame(df)
        known = [c for c in self.features if c in df.columns]
        if not known:
            raise InputSchemaError(
                f"none of the model's input columns is present (first expected: "
                f"{', '.join(self.features[:8])} ...); send the columns `petro features` writes")
        if len(df) == 0:
            raise InputSchemaError("no rows to predict: the request holds columns but no data")
        try:
            X = np.array(df.reindex(columns=self.features).to_numpy(dtype=float), copy=True)
        except (ValueError, TypeError):
            X = np.full((len(df), len(self.features)), np.nan)
            for j, c in enumerate(self.features):
                if c in df.columns:
                    col = pd.to_numeric(df[c], errors="coerce")
                    bad = col.isna() & df[c].notna()
                    if bad.any():
                        raise InputSchemaError(
                            f"column {c!r}: non-numeric value {df[c][bad].iloc[0]!r} in row "
                            f"{int(np.flatnonzero(bad)[0])}") from None
                    X[:, j] = col.to_numpy(dtype=float)
        X[~np.isfinite(X)] = np.nan
        return X

    def design(self, X: np.ndarray) -> np.ndarray:
        """Model matrix from the input matrix: the input columns the boosters use, then the
        learned embedding (PCA scores of the image patches)."""
        parts = [X[:, self._keep]]
        for g in self.meta.get("pca", []):
            idx = [self.features.index(c) for c in g["columns"]]
            parts.append(pca_scores(X[:, idx], g))
        return np.hstack(parts) if len(parts) > 1 else parts[0]

    def base(self, Xm: np.ndarray) -> np.ndarray:
        """The linear petrophysical base the boosters correct (0 when the model has none)."""
        lb = self.meta.get("linear_base")
        if not lb:
            return np.zeros(Xm.shape[0])
        return linear_base(Xm[:, [self.model_features.index(f) for f in lb["features"]]], lb)

    def raw_quantiles(self, X: np.ndarray, *, design: bool = True) -> dict[str, np.ndarray]:
        """Model outputs in the model's (possibly log10) target space, before conformal."""
        Xm = self.design(X) if design else X
        base = self.base(Xm)
        return {k: base + b.predict(Xm, num_threads=1) for k, b in self.boosters.items()}

    def novelty_distances(self, X: np.ndarray, *, design: bool = True) -> np.ndarray:
        """Raw robust Mahalanobis distance per novelty block (rows, blocks)."""
        Xm = self.design(X) if design else X
        return block_distances(self.meta["novelty"], Xm, self.model_features)

    def novelty(self, X: np.ndarray, *, design: bool = True) -> np.ndarray:
        """Novelty score per row: the largest block distance / that block's calibrated threshold."""
        nov = self.meta.get("novelty")
        if not nov:
            return np.full(X.shape[0], np.nan)
        thr = np.asarray([b["threshold"] for b in nov["blocks"]], dtype=float)
        return (self.novelty_distances(X, design=design) / thr).max(axis=1)

    def predict(self, df: pd.DataFrame) -> pd.DataFrame:
        X = self.matrix(df)
        return self.predict_matrix(X, index=df.index if isinstance(df, pd.DataFrame) else None)

    def input_coverage(self, X: np.ndarray) -> np.ndarray:
        """Share of the model's input columns present (finite) in each row."""
        return np.isfinite(X).mean(axis=1) if X.shape[1] else np.zeros(X.shape[0])

    def predict_matrix(self, X: np.ndarray, index=None) -> pd.DataFrame:
        coverage = self.input_coverage(X)
        lacking = coverage < float(self.meta.get("min_input_coverage", MIN_INPUT_COVERAGE))
        Xm = self.design(X)
        q = self.raw_quantiles(Xm, design=False)
        conf = self.meta.get("conformal") or {"lo": 0.0, "hi": 0.0}
        p50 = q["p50"]
        lo = q["p10"] - conf["lo"]
        hi = q["p90"] + conf["hi"]
        lo, hi = np.minimum(lo, p50), np.maximum(hi, p50)
        lim = self.meta.get("clip")
        if lim:
            p50, lo, hi = (np.clip(v, lim[0], lim[1]) for v in (p50, lo, hi))
        if self.meta.get("transform") == "log10":
            p50, lo, hi = 10 ** p50, 10 ** lo, 10 ** hi
        nov = self.novelty(Xm, design=False)
        # too few inputs: no prediction is given (withheld), and the row is out of domain
        p50, lo, hi, nov = (np.where(lacking, np.nan, v) for v in (p50, lo, hi, nov))
        flag = ((nov > 1.0) | lacking).astype(np.int64)
        o = self.output
        return pd.DataFrame({f"{o}_ML": p50, f"{o}_P10": lo, f"{o}_P90": hi, NOVELTY: nov,
                             OOD_FLAG: flag, INPUT_COVERAGE: coverage}, index=index)


def pca_scores(X: np.ndarray, g: dict) -> np.ndarray:
    """PCA scores of patch columns: median-imputed, centred, projected; NaN rows stay NaN."""
    med = np.asarray(g["median"], dtype=float)
    missing = ~np.isfinite(X).any(axis=1)
    Z = np.where(np.isfinite(X), X, med) - np.asarray(g["mean"], dtype=float)
    S = Z @ np.asarray(g["components"], dtype=float).T
    S[missing] = np.nan
    return S


def block_distances(nov: dict, X: np.ndarray, features: list[str]) -> np.ndarray:
    """Robust Mahalanobis distance of every row to each block's training cloud: (rows, blocks)."""
    out = np.empty((X.shape[0], len(nov["blocks"])))
    for k, b in enumerate(nov["blocks"]):
        idx = [features.index(f) for f in b["features"]]
        out[:, k] = mahalanobis(X[:, idx], np.asarray(b["center"], dtype=float),
                                np.asarray(b["scale"], dtype=float),
                                np.asarray(b["precision"], dtype=float))
    return out


def mahalanobis(X: np.ndarray, center: np.ndarray, scale: np.ndarray,
                precision: np.ndarray) -> np.ndarray:
    """Distance sqrt(z' P z / p) of rows of X, z = (x - center) / scale, NaN taken as the center."""
    z = (X - center) / scale
    z = np.where(np.isfinite(z), z, 0.0)
    d2 = np.einsum("ij,jk,ik->i", z, precision, z)
    return np.sqrt(np.maximum(d2, 0.0) / max(1, z.shape[1]))


def linear_base(X: np.ndarray, lb: dict) -> np.ndarray:
    """Ridge prediction on median-imputed, standardised columns (parameters in ``lb``)."""
    med = np.asarray(lb["median"], dtype=float)
    Z = np.where(np.isfinite(X), X, med)
    Z = (Z - np.asarray(lb["mean"], dtype=float)) / np.asarray(lb["scale"], dtype=float)
    return Z @ np.asarray(lb["coef"], dtype=float) + float(lb["intercept"])
