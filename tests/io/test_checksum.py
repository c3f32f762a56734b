"""Checksums of stored files and records (petro.io.checksum): every change is found."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from petro.io.checksum import (ChecksumError, file_checksums, file_sha256, first_mismatch, seal,
                               unseal)


def test_a_sealed_record_reads_back_and_any_changed_value_is_found():
    record = {"depth": 2007.68, "nan": float("nan"), "when": Path("/x/y"), "names": ("A", "B"),
              "n": 3, "none": None, "text": "café: 1"}
    text = seal(record, default=str)
    back = unseal(text)
    assert back["depth"] == 2007.68 and back["when"] == "/x/y" and back["names"] == ["A", "B"]
    changed = text.replace("2007.68", "1943.68")
    with pytest.raises(ChecksumError):
        unseal(changed)
    with pytest.raises(ChecksumError):
        unseal(json.dumps({"depth": 2007.68}))            # no checksum at all
    with pytest.raises(ValueError):
        unseal(text[:-2])                                 # not JSON any more


def test_a_sealed_record_keeps_its_key_order():
    """A LAS header read back from the parse cache kept the file's order only before the
    records were sealed: sealed with sorted keys, a cached well's LAS came out with its header
    lines in another order than the same well parsed afresh."""
    record = {"header": {"WELL": "W-1", "FLD": "F", "COMP": "C", "UWI": "1"}, "b": 1, "a": 2}
    back = unseal(seal(record))
    assert list(back) == ["header", "b", "a"]
    assert list(back["header"]) == ["WELL", "FLD", "COMP", "UWI"]
    assert unseal(json.dumps({**json.loads(seal(record))}, sort_keys=True)) == record


def test_file_checksums_find_a_changed_or_missing_file(tmp_path):
    (tmp_path / "a.parquet").write_bytes(b"PAR1" + bytes(1000) + b"PAR1")
    (tmp_path / "b.npy").write_bytes(b"\x93NUMPY" + bytes(100))
    recorded = file_checksums(tmp_path)
    assert sorted(recorded) == ["a.parquet", "b.npy"] and first_mismatch(tmp_path, recorded) is None
    assert recorded["b.npy"] == file_sha256(tmp_path / "b.npy")
    data = bytearray((tmp_path / "a.parquet").read_bytes())
    data[500] ^= 0x10
    (tmp_path / "a.parquet").write_bytes(bytes(data))
    assert first_mismatch(tmp_path, recorded) == "a.parquet: checksum mismatch"
    (tmp_path / "b.npy").unlink()
    assert first_mismatch(tmp_path, {"b.npy": recorded["b.npy"]}) == "b.npy: missing"
