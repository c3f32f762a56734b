"""The feature table of one well: conventional-log features and image window features on the
well's depth grid. The targets are not here: :mod:`petro.app.wells` joins them, where the well has
NMR, to make the model-ready table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from petro.features.image import ImageFeatureParams, feature_names, image_window_features
from petro.features.logs import LogFeatureParams, conventional_features
from petro.vocab import DEPTH, IMAGE_KINDS, WELL, is_image_feature
from petro.well import Well


def image_feature_columns(kinds, params: ImageFeatureParams) -> list[str]:
    """Feature columns of the given image kinds, in petro's fixed kind order."""
    cols = []
    for kind in IMAGE_KINDS:
        if kind in kinds:
            cols += feature_names(kind, params.windows_m, params.n_patch)
    return cols


def well_features(well: Well, image_params: ImageFeatureParams | None = None,
                  log_params: LogFeatureParams | None = None) -> pd.DataFrame:
    """Feature table (WELL, DEPT, log features, image features) on the well's depth grid."""
    ip = image_params or ImageFeatureParams()
    depth = well.depth
    parts = [pd.DataFrame({WELL: well.name, DEPTH: depth}),
             conventional_features(well.curves, log_params).reset_index(drop=True)]
    for kind in IMAGE_KINDS:
        img = well.images.get(kind)
        if img is None or (ip.kinds is not None and kind not in ip.kinds):
            continue
        f = image_window_features(img.depth, img.values, depth, kind, ip)
        parts.append(f.reset_index(drop=True))
    return pd.concat(parts, axis=1)


def model_features(columns, feature_sets: list[str],
                   log_params: LogFeatureParams | None = None) -> list[str]:
    """Model input columns among ``columns`` for the feature sets ('logs', 'image'); the log
    columns are those of ``log_params`` (its input curves and the derived columns)."""
    out = []
    if "logs" in feature_sets:
        out += [c for c in (log_params or LogFeatureParams()).columns() if c in columns]
    if "image" in feature_sets:
        out += [c for c in columns if is_image_feature(c)]
    return out


def usable_features(table: pd.DataFrame, features: list[str], min_coverage: float = 0.05) \
        -> list[str]:
    """Drop feature columns that are (almost) never present in the training rows."""
    cover = table[features].notna().mean()
    return [f for f in features if cover[f] >= min_coverage and np.nanstd(table[f]) > 0]
