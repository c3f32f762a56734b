"""The targets LAS header states a T2 cutoff only when the T2 distribution was used."""

import numpy as np
import pandas as pd

from petro.targets.export import targets_log
from petro.targets.nmr import TargetParams, compute_targets
from petro.well import T2Bins, Well


def _well(curves: dict, t2=None) -> Well:
    n = len(next(iter(curves.values())))
    df = pd.DataFrame(curves, index=pd.Index(np.arange(n) * 0.1524 + 1000, name="DEPT"))
    return Well("W", df, t2_bins=t2)


def test_summary_curves_write_no_cutoff_t2_path_does():
    w = _well({"PHIE_NMR": [0.20, 0.18, 0.15], "FFI": [0.15, 0.10, 0.05],
               "BVI": [0.05, 0.08, 0.10]})
    p = TargetParams()
    table, rep, _ = compute_targets(w, p)
    assert rep["cutoff_used"] is False
    assert "TCUT" not in targets_log(table, p, rep)["params"]
    edges = np.logspace(np.log10(0.3), np.log10(3000), 41)
    amp = np.full((3, 40), 0.005)
    t2w = _well({"GR": [10.0, 20.0, 30.0]}, T2Bins(amp, edges))
    table, rep, _ = compute_targets(t2w, p)
    assert rep["cutoff_used"] is True
    items = targets_log(table, p, rep)["params"]
    assert items["TCUT"][0] == f"{p.cutoff_ms:g}" and items["TCUT"][1] == "MS"
