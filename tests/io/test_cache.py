"""Parsed-file cache: identical wells from the cache, invalidated by content, safe to rerun."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd

from petro.io.discovery import discover
from petro.io.wells import IngestOptions, load_well


def test_cache_round_trip_and_invalidation(small_field, tmp_path):
    src = discover(small_field)["SYN-01"]
    files = []
    for f in src:
        shutil.copy(f, tmp_path / f.name)
        files.append(tmp_path / f.name)
    opts = IngestOptions(cache_dir=str(tmp_path / "cache"))
    first = load_well("SYN-01", files, opts)
    entries = list((tmp_path / "cache").glob("??/*"))
    assert len(entries) == len(files)
    again = load_well("SYN-01", files, opts)
    pd.testing.assert_frame_equal(first.curves, again.curves)
    for k, img in first.images.items():
        np.testing.assert_array_equal(img.values, again.images[k].values)
        np.testing.assert_array_equal(img.depth, again.images[k].depth)
    np.testing.assert_array_equal(first.t2_bins.amplitudes, again.t2_bins.amplitudes)
    assert first.provenance["RHOB"] == again.provenance["RHOB"]
    assert first.problems == again.problems
    # change the content of one file: its entry is re-parsed, the others are reused
    combo = next(f for f in files if "triple_combo" in f.name)
    text = combo.read_text().replace("~A\n", "~A\n", 1)
    lines = text.splitlines()
    i = lines.index("~A") + 1
    vals = lines[i].split()
    vals[1] = "123.45678"                                   # GR of the first row
    lines[i] = " ".join(vals)
    combo.write_text("\n".join(lines) + "\n")
    changed = load_well("SYN-01", files, opts)
    assert changed.curves["GR"].iloc[0] == 123.45678
    assert len(list((tmp_path / "cache").glob("??/*"))) == len(files) + 1
    # a touched but unchanged file is re-hashed, not re-parsed: still served from the cache
    os.utime(files[0], None)
    pd.testing.assert_frame_equal(load_well("SYN-01", files, opts).curves, changed.curves)
    # other ingest options are other entries
    load_well("SYN-01", files, IngestOptions(cache_dir=str(tmp_path / "cache"), grid=0.5))
    assert len(list((tmp_path / "cache").glob("??/*"))) == 2 * len(files) + 1
