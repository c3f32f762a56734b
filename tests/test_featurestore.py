"""The per-well feature dataset refuses a damaged entry instead of giving changed values: a
flipped bit in the table or its JSON, an emptied or missing table (issue 27.4). A damaged entry
is computed again, replaced and reported."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from petro.app.featurestore import FeatureStore
from petro.app.wells import stored_well
from petro.config import load_config
from petro.io.checksum import ChecksumError
from petro.io.discovery import discover


def _table(rows: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"DEPT": 2000 + 0.1524 * np.arange(rows),
                         "RHOB": rng.normal(2.5, 0.1, rows), "PHIE": rng.random(rows)})


def test_every_flipped_bit_of_a_table_is_refused_or_harmless(tmp_path):
    """Before the checksum, 28 of these 40 flips read back with changed values."""
    store, df = FeatureStore(tmp_path), _table()
    path = store.put("W-1", "k", df, {"summary": {"rows": 200}})
    data = path.read_bytes()
    refused = 0
    for i in range(40):
        b = bytearray(data)
        b[len(data) * (i + 1) // 42] ^= 1 << (i % 8)
        path.write_bytes(bytes(b))
        try:
            table, meta = store.get("W-1", "k")
        except ChecksumError as err:
            assert "checksum mismatch" in str(err)
            refused += 1
            continue
        pd.testing.assert_frame_equal(table, df)       # only if it read the same values
    assert refused == 40
    path.write_bytes(data)
    table, meta = store.get("W-1", "k")
    pd.testing.assert_frame_equal(table, df)
    assert meta["summary"] == {"rows": 200}


def test_a_changed_record_an_emptied_or_missing_table_is_refused(tmp_path):
    store = FeatureStore(tmp_path)
    path = store.put("W-1", "k", _table(), {"summary": {"rows": 200}})
    meta_path = path.with_name("_k.json")
    text = meta_path.read_text()
    meta_path.write_text(text.replace('"rows": 200', '"rows": 201'))   # still valid JSON
    with pytest.raises(ChecksumError, match="_k.json: checksum mismatch"):
        store.get("W-1", "k")
    meta_path.write_text(text)
    path.write_bytes(b"")
    with pytest.raises(ChecksumError, match="k.parquet: checksum mismatch"):
        store.get("W-1", "k")
    path.unlink()
    with pytest.raises(ChecksumError, match="k.parquet"):
        store.get("W-1", "k")
    assert store.get("W-1", "other") is None                          # no entry: not damage
    json.loads(text)                                                  # the record is JSON


def test_a_damaged_entry_is_computed_again_replaced_and_reported(small_field, tmp_path):
    cfg = load_config(None, require_data=False, overrides={"n_jobs": 1})
    name, files = next(iter(discover(small_field).items()))
    files = [str(f) for f in files]
    first = stored_well(name, files, cfg, True, str(tmp_path))
    entry = FeatureStore(tmp_path).entries()[0]
    b = bytearray(entry.read_bytes())
    b[len(b) // 2] ^= 0x04
    entry.write_bytes(bytes(b))
    again = stored_well(name, files, cfg, True, str(tmp_path))
    pd.testing.assert_frame_equal(again.table, first.table)
    notes = [p for p in again.problems if p.code == "cache_damaged"]
    assert len(notes) == 1 and "checksum mismatch" in notes[0].message
    third = stored_well(name, files, cfg, True, str(tmp_path))       # the entry was replaced
    pd.testing.assert_frame_equal(third.table, first.table)
    assert not [p for p in third.problems if p.code == "cache_damaged"]
