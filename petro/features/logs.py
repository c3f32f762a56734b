"""Features from conventional logs (canonical curves, canonical units).

Columns: the measured curves ``GR`` (gAPI), ``RHOB`` (g/cm3), ``NPHI`` (v/v), ``DT`` (us/ft),
``LOG10_RT`` (log10 ohm.m), ``CALI`` (in), ``PEF`` (b/e) and derived porosity indicators:
``PHID`` density porosity, ``PHIS`` Wyllie sonic porosity, ``NPHI_PHID`` neutron-density
separation (shale, gas), ``SPI`` secondary porosity index PHID - PHIS (vugs and fractures the sonic
does not see). Matrix and fluid constants are parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from petro.vocab import FLUID_DENSITY, FLUID_SLOWNESS, LOG_FEATURES, MATRIX

CURVES = ("GR", "RHOB", "NPHI", "DT", "RT", "CALI", "PEF")
COLUMNS = LOG_FEATURES


@dataclass
class LogFeatureParams:
    rho_matrix: float = MATRIX["calcite"][0]    # g/cm3
    rho_fluid: float = FLUID_DENSITY            # g/cm3
    dt_matrix: float = MATRIX["calcite"][1]     # us/ft
    dt_fluid: float = FLUID_SLOWNESS            # us/ft


def conventional_features(curves: pd.DataFrame, params: LogFeatureParams | None = None) \
        -> pd.DataFrame:
    """Conventional-log feature columns on the index of ``curves`` (missing curves give NaN)."""
    p = params or LogFeatureParams()
    n = len(curves)

    def col(name):
        if name in curves.columns:
            return curves[name].to_numpy(dtype=float)
        return np.full(n, np.nan)

    rhob, nphi, dt, rt = col("RHOB"), col("NPHI"), col("DT"), col("RT")
    with np.errstate(divide="ignore", invalid="ignore"):
        phid = (p.rho_matrix - rhob) / (p.rho_matrix - p.rho_fluid)
        phis = (dt - p.dt_matrix) / (p.dt_fluid - p.dt_matrix)
        log_rt = np.log10(np.where(rt > 0, rt, np.nan))
    return pd.DataFrame({"GR": col("GR"), "RHOB": rhob, "NPHI": nphi, "DT": dt,
                         "LOG10_RT": log_rt, "CALI": col("CALI"), "PEF": col("PEF"),
                         "PHID": phid, "PHIS": phis, "NPHI_PHID": nphi - phid, "SPI": phid - phis},
                        index=curves.index)
