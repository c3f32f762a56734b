"""Mondrian conformal P10-P90 binned by novelty (issue 11.3), fitted on out-of-fold (blind-well)
residuals and stored as plain numbers in the model's JSON (``conformal_bins``).

The conformity score of a blind depth is ``max(q_lo - y, y - q_hi)`` (CQR); depths are binned by
their out-of-fold novelty (``NOVELTY`` edges 0, 0.5, 0.8, 1.0 and above); each bin gets the
``nominal`` quantile of its scores (``(1 + 1/n)`` corrected), made non-decreasing with novelty, so
in-domain depths keep their nominal coverage and less familiar ones get a wider band. A bin with
fewer than ``min_count`` depths takes the adjustment of the bin below. Beyond the domain edge
(NOVELTY > 1) the runtime's ``ood_policy`` decides: ``widen`` (default) multiplies the band's
half-widths by the novelty (up to x5), ``withhold`` gives no prediction, ``keep`` leaves the band.
"""

from __future__ import annotations

import numpy as np

from petro.models.runtime import novelty_bin

EDGES = (0.0, 0.5, 0.8, 1.0)


def conformal_quantile(scores: np.ndarray, coverage: float) -> float:
    """The conformal adjustment of conformity ``scores`` for ``coverage``: their
    ``coverage (1 + 1/n)`` quantile (the finite-sample correction; the higher value), 0 when
    there is no finite score."""
    s = np.sort(scores[np.isfinite(scores)])
    if s.size == 0:
        return 0.0
    return float(np.quantile(s, min(1.0, coverage * (1 + 1 / s.size)), method="higher"))


def fit_mondrian(scores: np.ndarray, novelty: np.ndarray, nominal: float,
                 edges=EDGES, min_count: int = 30) -> dict:
    """``{"edges": [...], "adj": [...]}``: the conformal adjustment per novelty bin."""
    scores = np.asarray(scores, dtype=float)
    edges = np.asarray(edges, dtype=float)
    k = novelty_bin(edges, novelty)
    adj, counts = [], []
    prev = conformal_quantile(scores, nominal)
    for b in range(edges.size):
        s = scores[k == b]
        n = int(np.isfinite(s).sum())
        a = conformal_quantile(s, nominal) if n >= min_count else (adj[-1] if adj else prev)
        adj.append(max(a, adj[-1]) if adj else a)
        counts.append(n)
    return {"edges": edges.tolist(), "adj": adj, "counts": counts, "nominal": nominal}


def blind_coverage(y, lo, hi, scores, novelty, wells, nominal: float, edges=EDGES) -> np.ndarray:
    """Per depth, whether the Mondrian band covers the truth, each well's adjustments fitted on
    the other wells only (blind, like the reported pooled coverage)."""
    cov = np.zeros(len(y), dtype=bool)
    nov = np.asarray(novelty, dtype=float)
    for w in np.unique(wells):
        m = wells == w
        fit = fit_mondrian(scores[~m], nov[~m], nominal, edges)
        a = np.asarray(fit["adj"])[novelty_bin(fit["edges"], nov[m])]
        cov[m] = (y[m] >= lo[m] - a) & (y[m] <= hi[m] + a)
    return cov
