"""The synthetic field's settings: a field whose images carry nothing beyond the logs, and one
whose vug porosity only the images (and the NMR) see."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from petro.config import load_config
from petro.errors import ConfigError
from petro.features.image import ImageFeatureParams, image_window_features
from petro.synth import SynthConfig, field_column, make_well

FIELDS = {"rock": {}, "logs": {"image_source": "logs"}, "vugs_unseen": {"log_vug_visibility": 0.0}}
LOGS = ["GR", "RHOB", "NPHI", "DT", "LRT", "CALI", "PEF"]
RHO_MA, DT_MA = 2.71, 47.6      # calcite


def _well_table(w: dict) -> pd.DataFrame:
    """Logs, targets, truth and a few 0.5 m image features of one made well, at the log depths."""
    logs = w["logs"]
    t = pd.DataFrame({"GR": logs["GR"], "RHOB": logs["RHOB"], "NPHI": logs["NPHI"],
                      "DT": logs["DT"], "LRT": np.log10(logs["RT"]), "CALI": logs["CALI"],
                      "PEF": logs["PEF"], "phi": w["nmr"]["CMRP_3MS"],
                      "phi_vug": w["truth"]["phi_vug"], "phi_m": w["truth"]["phi_m"],
                      "vsh": w["truth"]["vsh"], "grain": w["truth"]["grain"]})
    p = ImageFeatureParams(windows_m=(0.5,), patch_window_m=0)
    for kind, depth, values in (("acoustic_amplitude", w["za"], w["amp"]),
                                ("acoustic_transit_time", w["za"], w["tt"])):
        f = image_window_features(depth, values, w["zl"], kind, p).reset_index(drop=True)
        t = pd.concat([t, f], axis=1)
    return t


@pytest.fixture(scope="module")
def fields() -> dict[str, pd.DataFrame]:
    """Three wells of 30 m of each field (same seed), as one table per field."""
    out = {}
    for name, kw in FIELDS.items():
        cfg = SynthConfig(seed=7, thickness=30.0, **kw)
        col = field_column(cfg)
        parts = [_well_table(make_well(cfg, i, col)).assign(W=i) for i in range(3)]
        out[name] = pd.concat(parts, ignore_index=True).dropna().reset_index(drop=True)
    return out


def _log_basis(t: pd.DataFrame) -> np.ndarray:
    """What a petrophysicist makes of the logs: the curves, their squares, shale-corrected
    density and sonic porosity, the secondary porosity index clipped at zero, each also as a
    running mean over 3 and 9 samples (0.46 and 1.37 m)."""
    vsh = np.clip((t.GR - 18.0) / 150.0, 0, 0.6)
    phid = (RHO_MA - t.RHOB - vsh * (RHO_MA - 2.6)) / (RHO_MA - 1.0)
    phis = (t.DT - DT_MA - 35 * vsh) / (0.95 * (189.0 - DT_MA))
    cols = [t[c] for c in LOGS] + [t[c] ** 2 for c in LOGS]
    for x in (np.clip(phid - phis, 0, None), phid, phis, vsh):
        cols.append(x)
        for n in (3, 9):
            cols.append(x.groupby(t.W).transform(
                lambda s, n=n: s.rolling(n, center=True, min_periods=1).mean()))
    return np.column_stack([np.ones(len(t))] + [np.asarray(c, dtype=float) for c in cols])


def _residual_given_logs(t: pd.DataFrame, column: str) -> np.ndarray:
    A = _log_basis(t)
    y = t[column].to_numpy(dtype=float)
    return y - A @ np.linalg.lstsq(A, y, rcond=None)[0]


def _corr(a, b) -> float:
    return float(np.corrcoef(np.asarray(a, dtype=float), np.asarray(b, dtype=float))[0, 1])


@pytest.mark.parametrize("key, value, words", [
    ("image_source", "pictures", "image_source"),
    ("image_source", 3, "image_source"),
    ("log_vug_visibility", 1.5, "log_vug_visibility"),
    ("log_vug_visibility", -0.1, "log_vug_visibility"),
    ("log_vug_visibility", "none", "log_vug_visibility"),
    ("log_vug_visibility", True, "log_vug_visibility"),
    ("log_noise", 0.0, "log_noise"),
    ("log_noise", -1.0, "log_noise"),
    ("log_noise", "loud", "log_noise"),
])
def test_settings_are_validated_in_a_pipeline(key, value, words):
    with pytest.raises(ConfigError, match=words):
        SynthConfig(**{key: value})
    with pytest.raises(ConfigError, match=words):
        load_config(overrides={f"synthetic.{key}": value, "synthetic.wells": 2},
                    require_data=False)


def test_settings_reach_the_pipeline():
    cfg = load_config(overrides={"synthetic.image_source": "logs",
                                 "synthetic.log_vug_visibility": 0.25}, require_data=False)
    assert cfg.synthetic.image_source == "logs" and cfg.synthetic.log_vug_visibility == 0.25
    assert SynthConfig().image_source == "rock" and SynthConfig().log_vug_visibility == 1.0


def test_images_made_from_the_logs_carry_nothing_beyond_them(fields):
    """The rock's hidden grain size (behind pore size and permeability) and its vug porosity,
    given everything a petrophysicist makes of the logs, are unrelated to the image texture and
    vug fraction when the images are rendered from the logs; with images of the rock the same
    residuals show in the images."""
    r = {}
    for name in ("rock", "logs"):
        t = fields[name]
        r[name] = {"grain": _corr(t["amp_glcmh_w050"], _residual_given_logs(t, "grain")),
                   "phi": _corr(t["tt_vug_w050"], _residual_given_logs(t, "phi")),
                   "phi_vug": _corr(t["tt_vug_w050"], _residual_given_logs(t, "phi_vug"))}
    assert max(abs(v) for v in r["logs"].values()) < 0.06, r
    assert r["rock"]["grain"] > 0.25, r          # images of the rock see the grain size
    # the logs alone explain the target as well in either field (their noise is the same kind)
    assert np.std(_residual_given_logs(fields["logs"], "phi")) == pytest.approx(
        np.std(_residual_given_logs(fields["rock"], "phi")), rel=0.15)


def test_vugs_unseen_by_the_logs_are_missed_by_density_and_neutron(fields):
    """With log_vug_visibility 0 the density-neutron porosity reads the matrix porosity and
    misses the vugs, which the NMR porosity and the image vug fraction see."""
    slopes = {}
    for name in ("rock", "vugs_unseen"):
        t = fields[name]
        phid = (RHO_MA - t.RHOB - t.vsh * (RHO_MA - 2.6)) / (RHO_MA - 1.0)
        phin = t.NPHI - 0.28 * t.vsh
        A = np.column_stack([np.ones(len(t)), t.phi_m, t.phi_vug])
        slopes[name] = {k: np.linalg.lstsq(A, v.to_numpy(), rcond=None)[0][2]
                        for k, v in (("density", phid), ("neutron", phin))}
    assert slopes["rock"]["density"] > 0.5 and slopes["rock"]["neutron"] > 0.5, slopes
    assert abs(slopes["vugs_unseen"]["density"]) < 0.1, slopes
    assert abs(slopes["vugs_unseen"]["neutron"]) < 0.1, slopes
    t = fields["vugs_unseen"]
    miss = t.phi - (RHO_MA - t.RHOB - t.vsh * (RHO_MA - 2.6)) / (RHO_MA - 1.0)
    assert _corr(miss, t.phi_vug) > 0.6                       # what the density misses: vugs
    assert _corr(t["tt_vug_w050"], _residual_given_logs(t, "phi")) > 0.5   # the images see it


def _petro(*args, cwd):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "petro.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=600)


def test_petro_synth_flags_write_the_configured_field(tmp_path):
    """The flags reach the generator: the files are those of the same SynthConfig written from
    Python, and differ from the default field's; a bad value exits 2 naming the setting."""
    from petro.synth import write_field

    r = _petro("synth", tmp_path / "cli", "--wells", 1, "--thickness", 4, "--image-source",
               "logs", "--log-vug-visibility", 0, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    write_field(tmp_path / "py", SynthConfig(wells=1, thickness=4.0, image_source="logs",
                                             log_vug_visibility=0.0), n_jobs=1)
    write_field(tmp_path / "default", SynthConfig(wells=1, thickness=4.0), n_jobs=1)
    files = sorted(p.relative_to(tmp_path / "py") for p in (tmp_path / "py").rglob("*.las"))
    assert len(files) == 4
    for f in files:
        assert (tmp_path / "cli" / f).read_bytes() == (tmp_path / "py" / f).read_bytes()
    differs = {f.name for f in files
               if (tmp_path / "default" / f).read_bytes() != (tmp_path / "py" / f).read_bytes()}
    assert {"SYN-01_triple_combo.las", "SYN-01_ubi.las", "SYN-01_fmi.las"} <= differs
    bad = _petro("synth", tmp_path / "bad", "--log-vug-visibility", 2, cwd=tmp_path)
    assert bad.returncode == 2 and "log_vug_visibility" in bad.stderr + bad.stdout
    assert "Traceback" not in bad.stderr
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").rglob("*.las"))
