"""The model record: one typed place for a fitted model's state, read back from the JSON the
runtime reads, and saying what the runtime does (its minimum input coverage)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from petro.models import runtime
from petro.models.record import ModelRecord
from petro.models.spec import ModelSpec
from petro.models.train import fit_bundle, fit_model

FEATS = ["GR", "RHOB", "NPHI", "DT"]


def _rows(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(FEATS)))
    y = 0.2 + 0.03 * X[:, 0] - 0.02 * X[:, 1] + rng.normal(0, 0.005, n)
    return X, y


def _spec():
    return ModelSpec(name="t", target="porosity", params={"n_estimators": 30}, features=["logs"])


def test_the_record_is_the_bundle_json_and_reads_back(tmp_path):
    X, y = _rows()
    b = fit_bundle(X, y, FEATS, _spec(), novelty_thresholds={"logs": 2.5})
    rec = ModelRecord.from_dict(b.meta)
    assert rec.to_dict() == b.meta
    assert (rec.name, rec.target, rec.column, rec.output, rec.unit, rec.transform) == \
        ("t", "porosity", "PHIE", "PHIE", "v/v", "none")
    assert rec.features == FEATS and rec.n_train == 300 and rec.quantiles == [0.1, 0.9]
    assert [blk["threshold"] for blk in rec.novelty["blocks"]] == [2.5]
    lo, hi = rec.clip   # the training targets' range widened by a quarter of it each side
    assert lo == pytest.approx(y.min() - 0.25 * np.ptp(y)) and hi > y.max()
    # optional fields that were not fitted are not written (the runtime takes its default)
    assert "consistency" not in b.meta and "training" not in b.meta and rec.training is None
    # the saved JSON says the minimum input coverage the runtime applies, and reads back
    b.save(tmp_path / "m")
    saved = json.loads((tmp_path / "m" / "bundle.json").read_text())
    assert saved["min_input_coverage"] == runtime.MIN_INPUT_COVERAGE == 0.3
    assert ModelRecord.from_dict(runtime.Bundle.load(tmp_path / "m").meta) == rec
    with pytest.raises(ValueError, match=r"unknown keys \['colum'\]"):
        ModelRecord.from_dict({**b.meta, "colum": "PHIE"})


def test_the_runtime_withholds_rows_below_the_records_input_coverage():
    X, y = _rows()
    record, boosters = fit_model(X, y, FEATS, _spec())
    rows = pd.DataFrame(X[:5], columns=FEATS)
    rows.loc[:, ["RHOB", "NPHI", "DT"]] = np.nan         # 1 of 4 inputs: coverage 0.25
    default = runtime.Bundle(record.to_dict(), boosters).predict(rows)
    assert default["PHIE_ML"].isna().all() and (default["OOD_FLAG"] == 1).all()
    record.min_input_coverage = 0.2
    lenient = runtime.Bundle(record.to_dict(), boosters).predict(rows)
    assert np.isfinite(lenient["PHIE_ML"]).all()
    np.testing.assert_array_equal(lenient["INPUT_COVERAGE"], 0.25)
