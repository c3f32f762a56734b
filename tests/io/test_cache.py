"""Parsed-file cache: identical wells from the cache, invalidated by content, safe to rerun."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from petro.io.discovery import discover
from petro.io.wells import IngestOptions, load_well
from petro.problems import Severity


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
    assert list(first.header.items()) == list(again.header.items())    # the file's order too
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


@pytest.fixture(scope="module")
def cached(small_field, tmp_path_factory):
    """SYN-01's files, the well read without a cache (the reference) and a pristine cache."""
    src = discover(small_field)["SYN-01"]
    root = tmp_path_factory.mktemp("damage")
    files = []
    for f in src:
        shutil.copy(f, root / f.name)
        files.append(root / f.name)
    ref = load_well("SYN-01", files, IngestOptions())
    load_well("SYN-01", files, IngestOptions(), cache_dir=root / "pristine")
    return files, ref, root / "pristine"


def _entry_file(cache: Path, source: str, name: str) -> Path:
    """The file ``name`` of the cache entry of the source file whose name holds ``source``."""
    for meta in cache.glob("??/*/parts.json"):
        if source in json.loads(meta.read_text())["parts"][0]["path"]:
            return meta.parent / name
    raise AssertionError(f"no entry for {source}")


def _same_well(w, ref) -> None:
    pd.testing.assert_frame_equal(w.curves, ref.curves)
    assert sorted(w.images) == sorted(ref.images)
    for k, img in ref.images.items():
        np.testing.assert_array_equal(w.images[k].values, img.values)
        np.testing.assert_array_equal(w.images[k].depth, img.depth)
    np.testing.assert_array_equal(w.t2_bins.amplitudes, ref.t2_bins.amplitudes)
    assert w.provenance == ref.provenance


def _damaged_then_repaired(cached, tmp_path, source, name, damage) -> str:
    """Damage one file of a copy of the pristine cache; the well read from it equals the
    reference, with one warning; read again, the entry was replaced (no problem)."""
    files, ref, pristine = cached
    cache = tmp_path / "cache"
    shutil.copytree(pristine, cache)
    damage(_entry_file(cache, source, name))
    w = load_well("SYN-01", files, IngestOptions(), cache_dir=cache)
    _same_well(w, ref)
    notes = [p for p in w.problems if p.code == "cache_damaged"]
    assert len(notes) == 1 and notes[0].severity == Severity.WARNING and source in notes[0].path
    assert [p for p in w.problems if p.code != "cache_damaged"] == ref.problems
    again = load_well("SYN-01", files, IngestOptions(), cache_dir=cache)
    _same_well(again, ref)
    assert again.problems == ref.problems
    return notes[0].message


def _flip(at: float):
    def damage(path: Path) -> None:
        data = bytearray(path.read_bytes())
        i = min(len(data) - 1, int(at * len(data)))
        data[i] ^= 1 << (i % 8)
        path.write_bytes(bytes(data))
    return damage


@pytest.mark.parametrize("at", [0.02, 0.5, 0.97])
@pytest.mark.parametrize("source,name", [
    ("triple_combo", "part0.parquet"), ("fmi", "part0_img0.npy"),
    ("fmi", "part0_img0_depth.npy"), ("cmr", "part0_t2.npy"), ("triple_combo", "parts.json"),
])
def test_a_flipped_bit_in_any_cache_file_is_found_and_the_entry_replaced(cached, tmp_path,
                                                                         source, name, at):
    message = _damaged_then_repaired(cached, tmp_path, source, name, _flip(at))
    assert "read again" in message


def test_an_emptied_npy_is_found_and_the_entry_replaced(cached, tmp_path):
    message = _damaged_then_repaired(cached, tmp_path, "ubi", "part0_img1.npy",
                                     lambda p: p.write_bytes(b""))
    assert "part0_img1.npy: checksum mismatch" in message


def test_an_entry_without_its_record_is_replaced(cached, tmp_path):
    message = _damaged_then_repaired(cached, tmp_path, "cmr", "parts.json", Path.unlink)
    assert "parts.json: missing" in message
