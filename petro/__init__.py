"""petro: NMR-quality porosity and permeability from image and conventional well logs.

The Python verbs, the same as the command line's, are in :mod:`petro.api`
(``from petro.api import ingest, targets, features, train, predict``).
"""

__version__ = "0.2.0"
