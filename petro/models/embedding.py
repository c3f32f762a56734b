"""The learned embedding of the image patches: per image kind, a few scores from its patch
columns (a 4 x 8 patch of mean values around each depth, :mod:`petro.features.image`), fitted
on the training rows only (inside each blind-well fold: :mod:`petro.models.train`).

Two methods (spec ``embedding``):

- ``pca`` (default): principal components of the patch columns (``pca_components`` of them);
- ``autoencoder``: as in Valentin et al. (2018), the bottleneck of an autoencoder of the
  standardised patches, a scikit-learn ``MLPRegressor`` trained to reproduce its input through
  tanh layers of 16, ``pca_components`` and 16 units (adam, seeded by the spec's seed, one BLAS
  thread, on at most :data:`AE_MAX_ROWS` rows sampled with that seed, :data:`AE_ITERATIONS`
  epochs): deterministic. Only the encoder is kept.

Each kind's embedding is stored as plain numbers in the model record (``pca``, a list with one
entry per kind: ``prefix``, ``columns``, ``median``, ``names``, ``method``; PCA ``mean`` and
``components``; autoencoder ``mean``, ``scale`` and the encoder's ``weights`` / ``biases``, and
as ``components`` the encoder's linearisation, which input selection uses to pass a score's gain
to its patch columns) and applied by the runtime (:func:`petro.models.runtime.embedding_scores`,
row-wise sums: a row's scores never depend on the rows sent with it).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.decomposition import PCA

from petro.vocab import by_image_prefix, pc_feature

AE_HIDDEN = 16
AE_MAX_ROWS = 4000
AE_ITERATIONS = 200


def patch_groups(features: list[str]) -> dict[str, list[str]]:
    """The patch columns of ``features`` by image prefix."""
    return by_image_prefix(features, patches_only=True)


def _pca(P: np.ndarray, k: int) -> dict:
    pca = PCA(n_components=k, svd_solver="covariance_eigh", random_state=0).fit(P)
    return {"method": "pca", "mean": pca.mean_.tolist(), "components": pca.components_.tolist(),
            "explained_variance_ratio": pca.explained_variance_ratio_.tolist()}


def _autoencoder(P: np.ndarray, k: int, seed: int) -> dict:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor
    from threadpoolctl import threadpool_limits

    if P.shape[0] > AE_MAX_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(P.shape[0], AE_MAX_ROWS, replace=False))
        P = P[rows]
    mean, scale = P.mean(axis=0), P.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    Z = (P - mean) / scale
    ae = MLPRegressor(hidden_layer_sizes=(AE_HIDDEN, k, AE_HIDDEN), activation="tanh",
                      solver="adam", alpha=1e-4, learning_rate_init=1e-3,
                      max_iter=AE_ITERATIONS, tol=1e-6, n_iter_no_change=AE_ITERATIONS,
                      random_state=seed)
    with threadpool_limits(1), warnings.catch_warnings():   # a fixed number of epochs
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae.fit(Z, Z)
    W = [w.copy() for w in ae.coefs_[:2]]
    b = [v.copy() for v in ae.intercepts_[:2]]
    linear = (W[0] @ W[1]).T / scale     # d score / d patch value, through the linear parts
    return {"method": "autoencoder", "mean": mean.tolist(), "scale": scale.tolist(),
            "weights": [w.tolist() for w in W], "biases": [v.tolist() for v in b],
            "components": linear.tolist(), "epochs": int(ae.n_iter_)}


def fit_embedding(X: np.ndarray, features: list[str], n_components: int, method: str = "pca",
                  seed: int = 0) -> list[dict]:
    """The embedding of each image kind's patch columns among ``features`` (the columns of
    ``X``), fitted on these rows' complete patches (a kind with fewer than
    ``max(20, 5 x n_components)`` of them gets none)."""
    out = []
    for prefix, cols in patch_groups(features).items():
        P = X[:, [features.index(c) for c in cols]]
        P = P[np.isfinite(P).all(axis=1)]
        if P.shape[0] < max(20, n_components * 5):
            continue
        k = min(n_components, len(cols))
        fitted = _pca(P, k) if method == "pca" else _autoencoder(P, k, seed)
        out.append({"prefix": prefix, "columns": cols, "median": np.median(P, axis=0).tolist(),
                    **fitted, "names": [pc_feature(prefix, i + 1) for i in range(k)]})
    return out
