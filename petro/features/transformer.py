"""scikit-learn face of the feature step: wells in, the model-ready feature table out.

``WellFeatures`` follows the transformer contract (``__init__`` stores parameters, ``fit``
learns nothing and returns self, ``get_feature_names_out`` lists the documented columns), so it
can head a scikit-learn ``Pipeline`` fed with :class:`petro.well.Well` objects. The learned
parts (patch PCA, novelty) live in the fitted model, fitted on training wells only.
"""

from __future__ import annotations

import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from petro.features.image import ImageFeatureParams
from petro.features.logs import LogFeatureParams
from petro.features.table import image_feature_columns, well_features
from petro.vocab import DEPTH, IMAGE_KINDS, WELL


class WellFeatures(TransformerMixin, BaseEstimator):
    """Depth-aligned features of wells.

    Parameters
    ----------
    image_params : ImageFeatureParams or None (defaults)
    log_params : LogFeatureParams or None (defaults)
    image_kinds : image kinds whose columns :meth:`get_feature_names_out` lists
    """

    def __init__(self, image_params: ImageFeatureParams | None = None,
                 log_params: LogFeatureParams | None = None, image_kinds=IMAGE_KINDS):
        self.image_params = image_params
        self.log_params = log_params
        self.image_kinds = image_kinds

    def fit(self, wells, y=None):
        self.n_features_out_ = len(self.get_feature_names_out())
        return self

    def transform(self, wells) -> pd.DataFrame:
        """One table for all wells (WELL, DEPT, then the feature columns in documented order)."""
        tables = [well_features(w, self.image_params, self.log_params) for w in wells]
        cols = [WELL, DEPTH] + list(self.get_feature_names_out())
        return pd.concat(tables, ignore_index=True, sort=False).reindex(columns=cols)

    def get_feature_names_out(self, input_features=None):
        p = self.image_params or ImageFeatureParams()
        names = (self.log_params or LogFeatureParams()).columns() + \
            image_feature_columns(self.image_kinds, p)
        return pd.Index(names).to_numpy(dtype=object)
