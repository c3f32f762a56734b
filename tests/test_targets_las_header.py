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


def test_the_convention_and_the_vendor_agreement_are_in_the_header(tmp_path):
    """A well whose KTIM was made with BVI >= 0.035 and FFI = TCMR - BVI: the header says the
    convention was read from KTIM and the agreement with the settings and with the targets; the
    LAS written reads back with lasio."""
    import lasio

    from petro.io.las_writer import write_las
    from tests.test_targets_vendor import _well as vendor_well

    w = vendor_well(floor=0.035, rule="phi_minus_bvi")
    p = TargetParams()
    table, rep, _ = compute_targets(w, p)
    log = targets_log(table, p, rep)
    items = log["params"]
    assert items["BVIFLOOR"][:2] == ("0.035", "V/V") and items["FFIRULE"][0] == "phi_minus_bvi"
    assert items["CONVSRC"][0] == "KTIM" and items["VENDK"][0] == "KTIM"
    assert items["VKAGR1"][0] == "100.0" and float(items["VKAGR0"][0]) < 85
    assert int(items["VKN"][0]) == rep["vendor"]["after"]["n"]
    path = tmp_path / "t.las"
    write_las(path, table.index.to_numpy(), log["columns"], units=log["units"],
              descriptions=log["descriptions"], params=items, fmt="%.6g")
    las = lasio.read(path)
    assert las.params["BVIFLOOR"].value == 0.035 and las.params["BVIFLOOR"].unit == "V/V"
    assert las.params["VKAGR1"].value == 100.0 and las.params["CONVSRC"].value == "KTIM"
    np.testing.assert_allclose(las["BVI"], table["BVI"], rtol=1e-5)
    # a well without a vendor curve: the settings, and no agreement items
    t0, rep0, _ = compute_targets(vendor_well(vendor=False))
    plain = targets_log(t0, p, rep0)["params"]
    assert plain["CONVSRC"][0] == "settings" and "VKAGR1" not in plain
