"""Pictures of predicted wells (petro/plots.py): the depth-track PNG and the HTML index."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from petro.plots import image_preview, predicted_well_plot, predictions_index


def test_image_preview_block_means_and_depths():
    depth = 1000 + 0.005 * np.arange(1000)
    img = np.arange(1000 * 180, dtype=np.float32).reshape(1000, 180)
    img[:, 5] = np.nan
    d, p = image_preview(depth, img, rows=100, cols=36)
    assert p.shape == (100, 36) and d.shape == (100,)
    assert np.isclose(d[0], depth[:10].mean()) and np.isclose(d[-1], depth[-10:].mean())
    block = img[:10, :5]
    assert np.isclose(p[0, 0], np.nanmean(block))          # NaN-aware: column 5 is a gap
    assert np.isclose(p[0, 1], np.nanmean(img[:10, 5:10]))


def test_predicted_well_plot_writes_a_png(tmp_path):
    from matplotlib.image import imread

    n = 400
    depth = 2000 + 0.1524 * np.arange(n)
    frame = pd.DataFrame({"DEPT": depth, "GR": 50 + 20 * np.sin(depth), "RHOB": 2.4 + 0.0 * depth,
                          "NPHI": 0.2 + 0.0 * depth, "LOG10_RT": 1.0 + 0.0 * depth,
                          "PHIE_ML": 0.1 + 0 * depth, "PHIE_P10": 0.08 + 0 * depth,
                          "PHIE_P90": 0.12 + 0 * depth, "PERM_ML": 10 + 0 * depth,
                          "PERM_P10": 3 + 0 * depth, "PERM_P90": 30 + 0 * depth,
                          "OOD_FLAG": (np.arange(n) > 300).astype(float),
                          "NOV_RHOB": 0.01 * np.cos(depth)})
    img = np.random.default_rng(0).normal(size=(2000, 64)).astype(np.float32)
    path = predicted_well_plot(frame, tmp_path / "w.png", title="W-1",
                               images={"resistive": image_preview(
                                   np.linspace(depth[0], depth[-1], 2000), img)},
                               residual="RHOB")
    pic = imread(path)
    assert pic.shape[0] > 300 and pic.shape[1] > 600      # one track per log, image, target
    # the shaded out-of-domain depths are drawn (orange pixels present)
    orange = (pic[..., 0] > 0.95) & (pic[..., 1] > 0.75) & (pic[..., 1] < 0.9) & (pic[..., 2] < 0.8)
    assert orange.sum() > 100


def test_predictions_index_rows_and_escaping():
    html = predictions_index(
        [{"well": "A<1>", "status": "predicted", "diagnosis": "RHOB reads +0.14 g/cc & more",
          "flagged": 0.62, "coverage": 0.95, "key_coverage": 0.99,
          "verdicts": ["NPHI: left out (dead)"], "picture": "A_1.png", "las": "A_1_petro.las"},
         {"well": "B", "status": "failed", "problems": ["no depth has enough inputs"]}], "t")
    assert html.count("<tr>") == 3                      # header and two wells
    assert "A&lt;1&gt;" in html and "&amp; more" in html and "62%" in html
    assert "class='bad'" in html and "NPHI: left out (dead)" in html
    assert "href='A_1.png'" in html and "no depth has enough inputs" in html


# ------------------------------------------------------------------ in petro predict
def _shift_density(folder, by: float) -> None:
    """A miscalibrated density tool: RHOB + ``by`` g/cc in the well's file that has it."""
    import lasio

    for f in sorted(folder.glob("*.las")):
        las = lasio.read(f)
        if "RHOB" in las.keys():
            las["RHOB"] = las["RHOB"] + by
            las.write(str(f), version=2.0)
            return
    raise AssertionError(f"no RHOB in {folder}")


def _index_rows(html: str) -> list[tuple[str, list[str]]]:
    """(well, links) of each row of index.html."""
    import re

    rows = re.findall(r"<tr><td>(.*?)</td>(.*?)</tr>", html)
    return [(w, re.findall(r"href='([^']*)'", rest)) for w, rest in rows]


def test_predict_writes_a_picture_and_an_index_row_per_well(trained, tmp_path, env_with_venv):
    """Issue 26.1, as a user runs it: every predicted well gets a readable PNG and a row of
    index.html linking files that exist; a well with a shifted density gets its diagnosis and
    the NOV_RHOB track (one track more); a well that fails is a row saying why; a picture that
    cannot be written is a warning and the well's LAS file is kept."""
    from urllib.parse import unquote

    from matplotlib.image import imread

    from tests.conftest import petro_cli

    data = tmp_path / "data"
    for w in ("SYN-01", "SYN-03", "SYN-04"):
        shutil.copytree(trained["field"] / w, data / w)
    _shift_density(data / "SYN-04", 0.15)
    (data / "BAD").mkdir()
    (data / "BAD" / "bad.las").write_text("~V\n VERS. 2.0 :\n~A\n1 2 3\n")
    out = tmp_path / "out"
    (out / "plots" / "SYN-03.png").mkdir(parents=True)    # a picture that cannot be written
    env = dict(env_with_venv, MLFLOW_TRACKING_URI=trained["uri"])
    r = petro_cli("predict", data, "-o", out, "--no-cache", cwd=tmp_path, env=env)
    assert r.returncode == 1, r.stderr                    # BAD failed, the others went on
    assert "no picture drawn" in r.stderr and "SYN-03" in r.stderr
    assert (out / "SYN-03_petro.las").is_file()           # the LAS file stays
    rows = dict(_index_rows((out / "index.html").read_text()))
    assert sorted(rows) == ["BAD", "SYN-01", "SYN-03", "SYN-04"]
    assert rows["BAD"] == []                              # failed: no links
    assert rows["SYN-03"] == ["SYN-03_petro.las"]         # no picture, the LAS linked
    for w in ("SYN-01", "SYN-04"):
        assert rows[w] == [f"plots/{w}.png", f"{w}_petro.las"]
        for link in rows[w]:
            assert (out / unquote(link)).is_file()
    html = (out / "index.html").read_text()
    assert "RHOB reads about +0.1" in html                # SYN-04's diagnosis
    pics = {w: imread(out / "plots" / f"{w}.png") for w in ("SYN-01", "SYN-04")}
    for pic in pics.values():
        assert pic.shape[0] > 300 and pic.shape[1] > 600 and pic[..., :3].std() > 0.1
    # the same logs and images: SYN-04 has one track more, its NOV_RHOB residual
    assert 80 <= pics["SYN-04"].shape[1] - pics["SYN-01"].shape[1] <= 130
    row = json.loads((out / "plots" / "SYN-04.json").read_text())
    assert row["flagged"] > 0.8 and row["coverage"] == pytest.approx(1.0)

    # a rerun skips the wells done (the index kept whole); SYN-03, whose picture failed, is
    # predicted again once its picture can be written
    (out / "plots" / "SYN-03.png").rmdir()
    r = petro_cli("predict", data, "-o", out, "--no-cache", cwd=tmp_path, env=env)
    assert "2 wells skipped" in r.stderr, r.stderr
    rows = dict(_index_rows((out / "index.html").read_text()))
    assert sorted(rows) == ["BAD", "SYN-01", "SYN-03", "SYN-04"]
    assert rows["SYN-03"] == ["plots/SYN-03.png", "SYN-03_petro.las"]
    assert imread(out / "plots" / "SYN-03.png").shape == pics["SYN-01"].shape


def test_no_plots_and_the_python_verb(trained, tmp_path):
    """``--no-plots`` / ``plots=False`` writes no picture; ``api.predict(plots=True)`` the
    same pictures as the command line; plots without an output folder is refused."""
    from petro.api import predict
    from petro.errors import ConfigError

    one = tmp_path / "one"
    shutil.copytree(trained["field"] / "SYN-01", one / "SYN-01")
    kw = dict(tracking_uri=trained["uri"], n_jobs=1, cache_dir="")
    [w] = predict(one, out_dir=tmp_path / "a", plots=False, **kw)
    assert w.picture is None and not (tmp_path / "a" / "plots").exists()
    assert not (tmp_path / "a" / "index.html").exists()
    [w] = predict(one, out_dir=tmp_path / "b", plots=True, **kw)
    assert w.picture == tmp_path / "b" / "plots" / "SYN-01.png" and w.picture.stat().st_size
    assert "plots/SYN-01.png" in (tmp_path / "b" / "index.html").read_text()
    with pytest.raises(ConfigError, match="needs out_dir"):
        predict(one, plots=True, **kw)
