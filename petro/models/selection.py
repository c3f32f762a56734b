"""Input selection: the model's inputs cut to the ``max_inputs`` strongest (spec setting).

The inputs are ranked by the LightGBM gain importance of a P50 booster fitted on the rows given
(the spec's parameters, no linear base, so a conventional log's weight is not hidden in the ridge
trend), and the top ``max_inputs`` with a positive gain are kept. A PCA component of the image
patches (the learned embedding) passes its gain on to its patch columns in proportion to their
squared loadings, so patch columns compete one by one like any other input; the model then
refits its embedding on the patch columns kept.

The measured conventional curves (GR, RHOB, NPHI, DT, LOG10_RT, CALI, PEF, and any other log
input the wells have; not the derived PHID, PHIS, NPHI_PHID, SPI, RUGOSITY, which compete) are
always kept, whatever their gain: the trust checks read them (the cross-log consistency of
RHOB/NPHI/DT/RT/GR/PEF..., the conventional-log novelty block, the curves every training row had,
a caliper level the training wells never had), and a served model must go on accepting them.
They are a handful of columns beside the image features.

Selection is part of training: blind-well validation selects inside each fold on that fold's
training wells only (:func:`petro.models.validation.cross_validate`), so the blind figures are
free of it; the final model is selected on every training well.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from petro.models.trust import DERIVED_SOURCES
from petro.models.spec import ModelSpec
from petro.models.train import fit_bundle
from petro.vocab import is_image_feature


def always_kept(features: list[str]) -> list[str]:
    """The measured conventional curves among ``features`` (kept whatever their gain)."""
    return [f for f in features if not is_image_feature(f) and f not in DERIVED_SOURCES]


def rank_inputs(X: np.ndarray, y: np.ndarray, features: list[str], spec: ModelSpec) -> pd.Series:
    """Gain importance of each input column (``features``: the columns of ``X``), highest first
    (ties in the order of ``features``)."""
    b = fit_bundle(X, y, features, replace(spec, linear_base=False), with_novelty=False,
                   p50_only=True)
    gain = pd.Series(b.boosters["p50"].feature_importance("gain"), index=b.model_features,
                     dtype=float)
    out = pd.Series(0.0, index=list(features))
    for f in features:
        if f in gain.index:
            out[f] += gain[f]
    for g in b.meta.get("pca", []):   # a component's gain, spread by squared loadings
        load = np.asarray(g["components"], dtype=float) ** 2
        load = load / load.sum(axis=1, keepdims=True)
        for i, name in enumerate(g["names"]):
            for c, w in zip(g["columns"], load[i]):
                out[c] += float(gain.get(name, 0.0)) * float(w)
    order = np.lexsort((np.arange(len(out)), -out.to_numpy()))   # stable: first listed wins ties
    return out.iloc[order]


def select_inputs(X: np.ndarray, y: np.ndarray, features: list[str], spec: ModelSpec) \
        -> list[str]:
    """The inputs kept (in the order of ``features``): the ``spec.max_inputs`` highest-gain ones
    with a positive gain, plus the measured conventional curves (:func:`always_kept`). All of
    ``features`` when ``spec.max_inputs`` is 0 or not below their number."""
    n = int(spec.max_inputs or 0)
    if n <= 0 or n >= len(features):
        return list(features)
    ok = np.isfinite(y)
    rank = rank_inputs(X[ok], y[ok], features, spec)
    keep = set(rank[rank > 0].index[:n]) | set(always_kept(features))
    return [f for f in features if f in keep]
