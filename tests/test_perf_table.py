"""benchmarks/perf_table.py: the README performance table from the benchmarks' JSON outputs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "perf_table.py"


def _module():
    spec = importlib.util.spec_from_file_location("perf_table", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_table_rows_from_json_and_missing_or_broken_files_named(tmp_path):
    pt = _module()
    (tmp_path / "image_features.json").write_text(json.dumps({"machine": "m1", "table": [
        {"what": "image features time / one nanmean pass", "value": 7.36, "unit": "x",
         "target": "<= 10x", "ok": True},
        {"what": "memory", "value": 2.5, "unit": "x", "target": "< 2x", "ok": False}]}))
    (tmp_path / "ingest.json").write_text(json.dumps({"read_ratio": 27.04, "mb": 58}))
    (tmp_path / "serving.json").write_text("{not json")
    text = pt.table(tmp_path)
    lines = text.splitlines()
    assert lines[0].startswith("| Measure |")
    assert "| image features time / one nanmean pass | 7.36 x | <= 10x | yes |" in text
    assert "| memory | 2.50 x | < 2x | **no** |" in text
    assert "| read ratio | 27.0 |" in text          # a JSON without "table": its *_ratio fields
    assert "unreadable serving.json" in text
    assert "(m1)" in text
    (tmp_path / "ingest.json").unlink()
    assert "| image LAS reading | not measured |" in pt.table(tmp_path)
