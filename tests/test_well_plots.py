"""Pictures of predicted wells (petro/plots.py): the depth-track PNG and the HTML index."""

from __future__ import annotations

import numpy as np
import pandas as pd

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
