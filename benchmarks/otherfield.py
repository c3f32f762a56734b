"""A second synthetic field, written independently of :mod:`petro.synth`, for benchmarks that must
not be judged only on the generator petro was developed on (issue 23.4: "a flag that caught 98 %
of a bad log here caught 31 % elsewhere").

What differs from petro's own generator, on purpose:

- **Geology**: one layer-cake column shared by every well (sandstone, limestone, dolomite and
  shale layers, 12-18 of them), each layer thickening or thinning from well to well; porosity
  follows a compaction trend with the well's structural depth and a lateral trend per layer, so
  the wells differ in porosity level the way real wells do (deeper wells tighter).
- **Tool responses**: density, neutron (limestone units, matrix and shale effects), Raymer-Hunt
  sonic, Archie-Simandoux resistivity with an oil column above a contact, PEF by volume; each
  log smoothed to its own vertical resolution; a per-well calibration error on GR, neutron and
  density within tool specifications.
- **NMR**: MRIL-style summary curves only (MPHS, MPHE, MBVI, MFFI, MCBW, MPERM; no T2
  distribution), BVI from a grain-size irreducible saturation; the vendor MPERM is Coates with
  the total porosity, C = 10 and no floor on BVI.
- **Images**: a 24-button resistive image (LAS, ``RES01..RES24``, 2-inch sampling) and a
  36-sector acoustic amplitude exported as CSV (``AMP01..AMP36``); vugs, laminations,
  eccentring and washouts drawn from the rock, not from the recorded logs.
- **Files**: 0.5 ft sampling, odd-numbered wells in feet with other vendor mnemonics.

    .venv/bin/python benchmarks/otherfield.py OUT [--seed 11] [--wells 7] [--nmr 5]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter1d

from petro.io.atomic import atomic_write_text
from petro.io.las_writer import write_las

STEP = 0.1524                      # 0.5 ft
IMAGE_STEP = 0.0508                # 2 in
# matrix density g/cm3, slowness us/ft, PEF b/e, neutron (limestone units) of the clean matrix
MATRIX = {"sand": (2.65, 55.5, 1.81, -0.035), "lime": (2.71, 47.5, 5.08, 0.0),
          "dolo": (2.87, 43.5, 3.14, 0.025)}
SHALE = dict(rho=2.58, dt=95.0, pef=3.4, nphi=0.36, gr=125.0, cbw=0.11, rt=2.5)
RW, RMF, A, M, N = 0.045, 0.12, 1.0, 2.0, 2.0


def _ar1(rng, n: int, corr_samples: float, sd: float) -> np.ndarray:
    """A stationary AR(1) series of ``n`` samples, correlation length ``corr_samples``."""
    r = np.exp(-1.0 / max(corr_samples, 1e-6))
    e = rng.normal(0, sd * np.sqrt(1 - r * r), n)
    out = np.empty(n)
    out[0] = rng.normal(0, sd)
    for i in range(1, n):
        out[i] = r * out[i - 1] + e[i]
    return out


def field_layers(rng) -> list[dict]:
    """The field's column, top to bottom: lithology, base thickness (m), shale volume, porosity
    at the reference depth, grain (0 fine .. 1 coarse), vug porosity, lateral gradients."""
    layers = []
    for _ in range(int(rng.integers(12, 19))):
        lith = rng.choice(["shale", "sand", "lime", "dolo"], p=[0.25, 0.3, 0.3, 0.15])
        if lith == "shale":
            vsh, phi, grain, vug = rng.uniform(0.6, 0.95), rng.uniform(0.0, 0.04), 0.0, 0.0
        else:
            vsh = rng.uniform(0.0, 0.3)
            phi = rng.uniform(0.08, 0.28) * (1 - vsh)
            grain = rng.uniform(0.1, 1.0)
            vug = rng.uniform(0.0, 0.06) if lith in ("lime", "dolo") and rng.random() < 0.5 else 0.0
        layers.append(dict(lith=str(lith), h=float(rng.uniform(1.0, 7.0)), vsh=float(vsh),
                           phi=float(phi), grain=float(grain), vug=float(vug),
                           gphi=float(rng.normal(0, 0.15)), gh=float(rng.normal(0, 0.2)),
                           heter=float(rng.uniform(0.05, 0.25))))
    return layers


def make_well(layers: list[dict], seed: int, index: int) -> dict:
    """Every curve of one well on its depth grid (m), and its images."""
    rng = np.random.default_rng([seed, 1000 + index])
    x, y = rng.uniform(0, 1, 2)
    top = 2000.0 + 450.0 * x + rng.normal(0, 30)           # structure dips with x
    h = np.array([L["h"] * max(0.3, 1 + L["gh"] * (y - 0.5) * 2 + rng.normal(0, 0.08))
                  for L in layers])
    edges = top + np.concatenate([[0.0], np.cumsum(h)])
    z = np.arange(top, edges[-1], STEP)
    n = z.size
    lay = np.clip(np.searchsorted(edges, z, side="right") - 1, 0, len(layers) - 1)
    lith = np.array([layers[i]["lith"] for i in lay])
    compaction = np.exp(-(z - 2200.0) / 2500.0)
    lateral = np.array([1 + L["gphi"] * (x - 0.5) * 2 for L in layers])[lay]
    heter = np.array([L["heter"] for L in layers])[lay]
    phi_e = np.array([L["phi"] for L in layers])[lay] * compaction * lateral \
        * np.exp(_ar1(rng, n, 0.4 / STEP, 1.0) * heter)
    vsh = np.clip(np.array([L["vsh"] for L in layers])[lay] + _ar1(rng, n, 0.3 / STEP, 0.05), 0, 1)
    phi_e = np.clip(phi_e * (1 - 0.5 * vsh), 0.0, 0.35)
    vug_rate = np.array([L["vug"] for L in layers])[lay]
    phi_v = np.clip(vug_rate * (1 + _ar1(rng, n, 0.5 / STEP, 0.6)), 0, None)
    phi_v = np.where(lith == "shale", 0.0, phi_v)
    phi = phi_e + phi_v                                      # effective, vugs included
    grain = np.clip(np.array([L["grain"] for L in layers])[lay] + _ar1(rng, n, 0.5 / STEP, 0.1),
                    0, 1)
    matrix = np.where(lith == "shale", "sand", lith)         # the silt of a shale is quartz
    rho_ma, dt_ma, pef_ma, n_ma = (np.array([MATRIX[m][k] for m in matrix]) for k in range(4))
    solid = np.clip(1 - phi - vsh, 0, 1)

    # fluids: an oil column above the contact, invaded near the wall
    owc = 2230.0
    hab = np.clip(owc - z, 0, None)
    swirr = np.clip(0.75 - 0.55 * grain, 0.08, 0.9)
    sw = np.where(hab > 0, swirr + (1 - swirr) * np.exp(-hab / 4.0), 1.0)
    sxo = 1 - 0.2 * (1 - sw)
    rho_fl = 1.02 * sxo + 0.8 * (1 - sxo)

    # true logs, then the tool's vertical resolution, noise and calibration
    rhob = solid * rho_ma + vsh * SHALE["rho"] + phi * rho_fl
    nphi = phi + vsh * SHALE["nphi"] + n_ma * solid          # oil and water: hydrogen index 1
    dt_rhg = 1.0 / ((1 - phi_e) ** 2 / dt_ma + phi_e / 189.0)   # Raymer-Hunt-Gardner
    dt = (1 - vsh) * dt_rhg + vsh * SHALE["dt"]
    pef = (solid * pef_ma * rho_ma + vsh * SHALE["pef"] * SHALE["rho"]) / np.clip(rhob, 1.5, None)
    gr = 18.0 + 8.0 * (lith == "dolo") + vsh * (SHALE["gr"] - 18.0)
    phit = np.clip(phi + vsh * SHALE["cbw"], 1e-3, None)
    ct = (phit ** M) * sw ** N / (A * RW) + 0.5 * vsh / SHALE["rt"]   # Simandoux-like
    rt = 1.0 / np.clip(ct, 1e-4, None)
    cxo = (phit ** M) * sxo ** N / (A * RMF) + 0.5 * vsh / SHALE["rt"]
    rxo = 1.0 / np.clip(cxo, 1e-4, None)
    bit = 8.5
    washout = np.where(lith == "shale", np.clip(_ar1(rng, n, 1.0 / STEP, 0.6) + 0.3, 0, None), 0.0)
    cali = bit + washout + rng.normal(0, 0.03, n)

    def tool(v, res_m, noise, log=False):
        v = np.log(v) if log else v
        v = gaussian_filter1d(v, res_m / STEP / 2.355, mode="nearest")
        v = v + rng.normal(0, noise, n)
        return np.exp(v) if log else v

    logs = {"GR": tool(gr, 0.6, 3.0) * rng.normal(1.0, 0.03),
            "RHOB": tool(rhob, 0.45, 0.012) + rng.normal(0, 0.01),
            "NPHI": tool(nphi, 0.6, 0.008) + rng.normal(0, 0.006),
            "DT": tool(dt, 0.6, 1.0),
            "RT": tool(rt, 1.5, 0.04, log=True), "CALI": cali,
            "PEF": tool(pef, 0.45, 0.08)}

    # NMR (MRIL-style summary curves; the vendor's MPERM: Coates, total porosity, C = 10)
    cbw = vsh * SHALE["cbw"]
    bvi_cap = phi_e * swirr * 0.9 + phi_v * 0.05
    res = 0.6 / STEP / 2.355
    mphs = gaussian_filter1d(phi + cbw, res, mode="nearest") + rng.normal(0, 0.008, n)
    mcbw = gaussian_filter1d(cbw, res, mode="nearest") + rng.normal(0, 0.004, n)
    mbvi = np.clip(gaussian_filter1d(cbw + bvi_cap, res, mode="nearest")
                   + rng.normal(0, 0.005, n), 0.002, None)
    mbvi = np.minimum(mbvi, np.clip(mphs, 0.002, None))
    mffi = np.clip(mphs - mbvi, 0.0, None)
    mphe = np.clip(mphs - mcbw, 0.0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        mperm = (np.clip(mphs, 0, None) * 100 / 10) ** 4 * (mffi / mbvi) ** 2
    nmr = {"MPHS": mphs, "MPHE": mphe, "MBVI": mbvi, "MFFI": mffi, "MCBW": mcbw, "MPERM": mperm}

    # images, on a finer grid, from the rock: resistive (24 buttons) and acoustic amplitude (36)
    zi = np.arange(z[0], z[-1], IMAGE_STEP)
    at = lambda v: np.interp(zi, z, v)                       # noqa: E731
    ni = zi.size
    lam = np.sin(2 * np.pi * zi / rng.uniform(0.04, 0.12))[:, None] * at(vsh)[:, None] * 0.3
    az24 = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    vugs = rng.random((ni, 24)) < np.clip(at(phi_v) * 4, 0, 0.5)[:, None]
    lrxo = np.log(at(rxo))[:, None] + lam + rng.normal(0, 0.12, (ni, 24)) - 1.2 * vugs
    dip = rng.uniform(0.02, 0.15)
    frac = np.zeros((ni, 24))
    for zf in rng.uniform(zi[0], zi[-1], int(rng.integers(3, 10))):
        trace = zf + dip * np.cos(az24 - rng.uniform(0, 2 * np.pi))
        frac += np.abs(zi[:, None] - trace[None, :]) < IMAGE_STEP
    res_img = np.exp(lrxo - 1.5 * frac)
    az36 = np.linspace(0, 2 * np.pi, 36, endpoint=False)
    imp = at(logs["RHOB"] / logs["DT"] * 100)[:, None]
    ecc = 1 + 0.15 * np.cos(az36 - rng.uniform(0, 2 * np.pi))[None, :]
    vugs36 = rng.random((ni, 36)) < np.clip(at(phi_v) * 4, 0, 0.5)[:, None]
    amp = imp * ecc * np.exp(-0.8 * at(washout))[:, None] \
        * np.exp(rng.normal(0, 0.1, (ni, 36)) - 0.7 * vugs36)
    return dict(name=f"OTH-{index + 1:02d}", index=index, x=float(x * 6000), y=float(y * 6000),
                z=z, logs=logs, nmr=nmr, zi=zi, res=res_img, amp=amp)


def write_well(out: Path, w: dict, has_nmr: bool) -> list[Path]:
    """The well's LAS files and its CSV image under ``out/<well>``."""
    d = out / w["name"]
    d.mkdir(parents=True, exist_ok=True)
    feet = w["index"] % 2 == 1
    s, du = (1 / 0.3048, "F") if feet else (1.0, "M")
    header = {"WELL": w["name"], "FLD": "OTHER SYNTHETIC", "COMP": "benchmark",
              "UWI": f"OTH{w['index']:05d}", "XCOORD": f"{w['x']:.1f}", "YCOORD": f"{w['y']:.1f}"}
    lg = w["logs"]
    if feet:
        cols = {"GR": lg["GR"], "ZDEN": lg["RHOB"], "CNC": lg["NPHI"] * 100, "DTC": lg["DT"],
                "RD": lg["RT"], "CAL": lg["CALI"], "PE": lg["PEF"]}
        units = {"GR": "API", "ZDEN": "G/C3", "CNC": "PU", "DTC": "US/F", "RD": "OHMM",
                 "CAL": "IN", "PE": "B/E"}
    else:
        cols = {"GR": lg["GR"], "RHOB": lg["RHOB"], "NPHI": lg["NPHI"], "DT": lg["DT"],
                "RT": lg["RT"], "CALI": lg["CALI"], "PEF": lg["PEF"]}
        units = {"GR": "GAPI", "RHOB": "G/CC", "NPHI": "V/V", "DT": "US/F", "RT": "OHMM",
                 "CALI": "IN", "PEF": "B/E"}
    files = [d / f"{w['name']}_quad.las"]
    write_las(files[-1], w["z"] * s, cols, units=units, well=header, depth_unit=du, fmt="%.5f")
    if has_nmr:
        files.append(d / f"{w['name']}_mril.las")
        write_las(files[-1], w["z"] * s, w["nmr"],
                  units={k: ("MD" if k == "MPERM" else "V/V") for k in w["nmr"]},
                  well=header, depth_unit=du, fmt="%.5f")
    files.append(d / f"{w['name']}_fmi.las")
    write_las(files[-1], w["zi"] * s, {f"RES{j + 1:02d}": w["res"][:, j] for j in range(24)},
              units={f"RES{j + 1:02d}": "OHMM" for j in range(24)},
              descriptions={f"RES{j + 1:02d}": f"Resistive image button {j + 1}" for j in range(24)},
              well=header, depth_unit=du, fmt="%.4f")
    amp = pd.DataFrame(w["amp"], columns=[f"AMP{j + 1:02d}" for j in range(36)])
    amp.insert(0, "DEPTH_FT" if feet else "DEPTH_M", w["zi"] * s)
    files.append(d / f"{w['name']}_amplitude.csv")
    atomic_write_text(files[-1], amp.to_csv(index=False, float_format="%.4f"))
    return files


def write_field(out: str | Path, seed: int = 11, wells: int = 7, nmr: int = 5) -> list[str]:
    """Write the field (``nmr`` first wells with NMR); returns the well names."""
    out = Path(out)
    layers = field_layers(np.random.default_rng([seed, 0]))
    names = []
    for i in range(wells):
        w = make_well(layers, seed, i)
        write_well(out, w, i < nmr)
        names.append(w["name"])
    return names


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--wells", type=int, default=7)
    ap.add_argument("--nmr", type=int, default=5)
    a = ap.parse_args(argv)
    print(" ".join(write_field(a.out, a.seed, a.wells, a.nmr)))


if __name__ == "__main__":
    main()
