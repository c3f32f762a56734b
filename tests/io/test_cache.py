"""Parsed-file cache: identical wells from the cache, invalidated by content, safe to rerun."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

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
    opts, cache = IngestOptions(), str(tmp_path / "cache")
    first = load_well("SYN-01", files, opts, cache_dir=cache)
    entries = list((tmp_path / "cache").glob("??/*"))
    assert len(entries) == len(files)
    again = load_well("SYN-01", files, opts, cache_dir=cache)
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
    changed = load_well("SYN-01", files, opts, cache_dir=cache)
    assert changed.curves["GR"].iloc[0] == 123.45678
    assert len(list((tmp_path / "cache").glob("??/*"))) == len(files) + 1
    # a touched but unchanged file is re-hashed, not re-parsed: still served from the cache
    os.utime(files[0], None)
    pd.testing.assert_frame_equal(load_well("SYN-01", files, opts, cache_dir=cache).curves,
                                  changed.curves)
    # other ingest options are other entries; the reader's thread count is not another option
    load_well("SYN-01", files, IngestOptions(grid=0.5), cache_dir=cache)
    assert len(list((tmp_path / "cache").glob("??/*"))) == 2 * len(files) + 1
    load_well("SYN-01", files, IngestOptions(read_threads=1), cache_dir=cache)
    assert len(list((tmp_path / "cache").glob("??/*"))) == 2 * len(files) + 1


def test_file_hashes_need_no_ingest_options_and_share_the_parse_caches_records(small_field,
                                                                              tmp_path):
    """Hashing files (batch predict's manifest, a well's lineage) through a cache folder reads
    each unchanged file once, whatever ingest options parse it, and reuses the stat records
    the parsed-file cache wrote."""
    from petro.io.cache import FileHashes, PartCache, content_hash

    files = sorted(discover(small_field)["SYN-01"])
    cache = tmp_path / "cache"
    load_well("SYN-01", files, IngestOptions(grid=0.5), cache_dir=str(cache))
    records = sorted((cache / "stat").iterdir())
    assert len(records) == len(files)
    stamps = [r.stat().st_mtime_ns for r in records]
    hashes = FileHashes(cache)
    assert [hashes(f) for f in files] == [content_hash(f) for f in files]
    assert [r.stat().st_mtime_ns for r in records] == stamps      # read back, not rewritten
    assert PartCache(cache, IngestOptions()).file_hash(files[0]) == content_hash(files[0])
    # a record that lies about the content is believed while size and mtime match: the proof
    # that the file itself was not read again
    rec = json.loads(records[0].read_text())
    records[0].write_text(json.dumps({**rec, "sha256": "0" * 64}))
    assert hashes(Path(rec["path"])) == "0" * 64
