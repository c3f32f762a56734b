"""petro: NMR-quality porosity and permeability from image and conventional well logs.

The Python verbs, the same as the command line's, are in :mod:`petro.api`
(``from petro.api import ingest, targets, features, train, predict``).
"""

# the one place of the version: pyproject.toml reads it (``[tool.setuptools.dynamic]``), so the
# installed distribution, the MLflow tag ``petro.version`` and the cache keys agree
__version__ = "0.2.0"
