"""Curve and image quality control (petro/quality.py): dead, flat, stuck, noisy, spiky and ramp
curves are caught on logs of beds they were not tuned on; live logs, including miscalibrated ones
(that is the novelty check's job) and coarsely resampled ones, are used."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import real_file
from petro.quality import LEFT_OUT, MASKED, USED, check_curve, check_curves, check_image



def bedded_well(seed: int = 0, n: int = 2000, step: float = 0.1524) -> pd.DataFrame:
    """Curves of a shale / limestone sequence: beds 0.3-4 m thick, tool smoothing, noise."""
    rng = np.random.default_rng(seed)
    depth = 1500.0 + step * np.arange(n)
    edges = np.cumsum(rng.uniform(0.3, 4.0, n))
    bed = np.searchsorted(edges, depth - depth[0])
    vsh = np.clip(rng.beta(0.6, 1.2, bed.max() + 1)[bed], 0, 1)
    phi = np.clip(rng.normal(0.14, 0.06, bed.max() + 1)[bed] * (1 - vsh), 0.0, 0.35)
    k = np.ones(5) / 5

    def tool(x, noise):
        return np.convolve(x, k, mode="same") + rng.normal(0, noise, n)

    gr = tool(15 + 130 * vsh, 2.0)
    nphi = tool(phi + 0.30 * vsh, 0.008)
    rhob = tool(2.71 - 1.71 * phi - 0.1 * vsh, 0.012)
    dt = tool(47.6 + 140 * phi + 30 * vsh, 1.0)
    rt = 10 ** tool(1.5 - 2.5 * phi - 0.8 * vsh, 0.03)
    return pd.DataFrame({"GR": gr, "NPHI": nphi, "RHOB": rhob, "DT": dt, "RT": rt,
                         "CALI": np.full(n, 8.5) + rng.normal(0, 0.001, n)},
                        index=pd.Index(depth, name="DEPT"))


@pytest.mark.parametrize("seed", range(6))
def test_live_logs_are_used(seed):
    curves = bedded_well(seed)
    table, verdicts = check_curves(curves)
    assert {v.item: v.status for v in verdicts} == dict.fromkeys(curves.columns, USED)
    assert table is curves


def test_miscalibrated_or_resampled_logs_are_used():
    curves = bedded_well(1)
    shifted = curves.assign(GR=curves.GR * 1.6, RHOB=curves.RHOB + 0.15, NPHI=curves.NPHI + 0.05)
    _, verdicts = check_curves(shifted)
    assert all(v.status == USED and v.code == "" for v in verdicts), verdicts
    coarse = curves.iloc[::6]                       # a log resampled at 0.9 m
    _, verdicts = check_curves(coarse)
    assert all(v.status == USED for v in verdicts), verdicts
    steps = curves.iloc[::10].reindex(curves.index).interpolate()   # linear ramps between samples
    _, verdicts = check_curves(steps)
    assert all(v.status == USED for v in verdicts), verdicts


@pytest.mark.parametrize("seed", range(4))
def test_dead_neutron_is_left_out_with_the_reason(seed):
    curves = bedded_well(seed)
    rng = np.random.default_rng(99)
    dead = curves.assign(NPHI=-0.025 + np.convolve(rng.normal(0, 0.015, len(curves)),
                                                   np.ones(5) / 5, mode="same"))
    table, verdicts = check_curves(dead)
    v = {x.item: x for x in verdicts}["NPHI"]
    assert v.status == LEFT_OUT and v.code == "dead_to_shale"
    assert "shale beds" in v.reason and "count rates" in v.reason
    assert "NPHI" not in table.columns and "GR" in table.columns


def test_flat_stuck_noise_ramp_and_spikes():
    curves = bedded_well(2)
    n = len(curves)
    rng = np.random.default_rng(5)
    cases = {
        "flat": curves.RHOB.median() + rng.normal(0, 0.0005, n),
        "stuck": np.where(np.arange(n) % 3 == 0, curves.RHOB, 2.45),
        "noise": curves.RHOB.median() + rng.normal(0, 0.1, n),
        "ramp": np.linspace(2.0, 2.9, n),
    }
    for code, values in cases.items():
        _, v = check_curve("RHOB", values, curves.GR.to_numpy())
        assert (v.status, v.code) == (LEFT_OUT, code), (code, v)
    spiky = curves.GR.to_numpy().copy()
    at = np.arange(50, n - 50, 97)
    spiky[at] = spiky[at] - 120                       # dropouts, as a GR that loses counts
    out, v = check_curve("GR", spiky)
    assert (v.status, v.code, v.samples) == (USED, "spikes", at.size)   # counted, kept
    assert np.array_equal(out, spiky)
    mostly = curves.GR.to_numpy().copy()
    mostly[1::2] += 400                                # every other sample a spike
    _, v = check_curve("GR", mostly)
    assert v.status == LEFT_OUT and v.code in ("spikes", "noise")


def test_short_interval_is_not_judged():
    curves = bedded_well(0).iloc[:60]                 # 9 m: a tool is not judged on so little
    _, verdicts = check_curves(curves.assign(NPHI=0.1, RHOB=np.linspace(2.2, 2.6, 60)))
    v = {x.item: x for x in verdicts}
    assert (v["NPHI"].status, v["NPHI"].code) == (USED, "unchecked")
    assert (v["RHOB"].status, v["RHOB"].code) == (USED, "unchecked")
    empty = bedded_well(0).assign(DT=np.nan)          # a long well without any DT value
    _, verdicts = check_curves(empty, ["DT"])
    assert (verdicts[0].status, verdicts[0].code) == (LEFT_OUT, "no_data")


def test_image_dead_buttons_masked_or_image_left_out():
    rng = np.random.default_rng(3)
    img = rng.normal(0, 1, (3000, 64)).astype(np.float32)
    img[:, 20:28] = np.nan                             # a pad gap: not dead
    dead = img.copy()
    dead[:, [3, 40]] = 1.5                             # two buttons stuck
    out, v = check_image("resistive", dead)
    assert v.status == MASKED and v.samples == 2 and "columns 4, 41" in v.reason
    assert np.isnan(out[:, [3, 40]]).all() and np.isfinite(out[:, 0]).all()
    _, v = check_image("resistive", img)
    assert v.status == USED
    mostly = img.copy()
    mostly[:, :40] = 0.7
    out, v = check_image("resistive", mostly)
    assert out is None and v.status == LEFT_OUT


def test_real_jb_neutron_is_dead_and_its_other_logs_live():
    from petro.io.options import IngestOptions
    from petro.io.wells import load_well

    well = load_well("JB", [real_file("nmr/JB_11-6TFH_CMR.las")], IngestOptions(quality=False))
    table, verdicts = check_curves(well.curves, ["GR", "NPHI", "K", "TH", "U"])
    by = {v.item: v for v in verdicts}
    assert by["NPHI"].status == LEFT_OUT and by["NPHI"].code == "dead_detector"
    assert "CNTC 1.3" in by["NPHI"].reason                # near and far counts next to nothing
    assert all(by[c].status in (USED, MASKED) for c in ("GR", "K", "TH", "U"))
    # without its count-rate curves, the neutron is still dead: flat where GR sees shale
    _, verdicts = check_curves(well.curves.drop(columns=["CNTC", "CFTC"]), ["NPHI"])
    assert (verdicts[0].status, verdicts[0].code) == (LEFT_OUT, "dead_to_shale")
    # live count rates keep a live neutron
    live = well.curves.assign(CNTC=3000.0, CFTC=900.0, NPHI=well.curves.GR / 400 + 0.02)
    _, verdicts = check_curves(live, ["NPHI"])
    assert verdicts[0].status == USED


def test_load_well_applies_the_verdicts(tmp_path):
    """A well read through io: the dead neutron is gone from the curves (no input, its feature
    column missing), its verdict and a warning name it, the other curves are kept."""
    from petro.io.las_writer import write_las
    from petro.io.options import IngestOptions
    from petro.io.wells import load_well

    curves = bedded_well(3)
    rng = np.random.default_rng(7)
    curves["NPHI"] = -0.025 + np.convolve(rng.normal(0, 0.015, len(curves)), np.ones(5) / 5,
                                          mode="same")
    path = tmp_path / "w.las"
    write_las(path, curves.index.to_numpy(), {c: curves[c].to_numpy() for c in curves},
              units={"GR": "GAPI", "NPHI": "V/V", "RHOB": "G/C3", "DT": "US/F", "RT": "OHMM",
                     "CALI": "IN"}, well={"WELL": "W-1"})
    well = load_well("W-1", [path], IngestOptions())
    assert "NPHI" not in well.curves.columns and "RHOB" in well.curves.columns
    v = {x.item: x for x in well.verdicts}
    assert v["NPHI"].status == LEFT_OUT and v["GR"].status == USED
    warn = [p for p in well.problems if p.code == "curve_left_out"]
    assert len(warn) == 1 and warn[0].curve == "NPHI" and warn[0].well == "W-1"
    assert "NPHI" in load_well("W-1", [path], IngestOptions(quality=False)).curves.columns
