"""safe_name: a well name as a file or folder name, one to one (issue 27.3: '../../escape' and
'escape' both wrote escape_petro.las)."""

from __future__ import annotations

import pandas as pd
import pyarrow.dataset as ds
import pytest
from hypothesis import given, settings, strategies as st

from petro.io.atomic import NAME_MAX, name_of, safe_name

# any code point, lone surrogates too (a folder name that is not UTF-8 arrives with them); at
# most 10: 12 characters each at worst (4 UTF-8 bytes), within NAME_MAX, so never shortened
_NAMES = st.text(st.characters(codec=None, exclude_categories=()), max_size=10)


def _is_safe(stem: str) -> bool:
    return (0 < len(stem) <= NAME_MAX and stem.isascii() and not stem.startswith(".")
            and not any(c in stem for c in "/\\\x00") and stem not in (".", ".."))


@settings(max_examples=400, deadline=None)
@given(st.lists(_NAMES, min_size=2, max_size=8, unique=True))
def test_distinct_names_give_distinct_safe_names_that_read_back(names):
    stems = [safe_name(n) for n in names]
    assert len(set(stems)) == len(stems)
    for name, stem in zip(names, stems):
        assert _is_safe(stem), stem
        assert name_of(stem) == name


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(st.characters(codec=None, exclude_categories=()), min_size=30,
                        max_size=300), min_size=2, max_size=4, unique=True))
def test_long_names_are_shortened_with_a_hash_and_stay_distinct(names):
    stems = [safe_name(n) for n in names]
    assert len(set(stems)) == len(stems) and all(_is_safe(s) for s in stems)
    for name, stem in zip(names, stems):
        if "~" in stem:
            with pytest.raises(ValueError, match="shortened"):
                name_of(stem)
        else:
            assert name_of(stem) == name


@pytest.mark.parametrize("name,stem", [
    ("../../escape", "%2E.%2F..%2Fescape"), ("escape", "escape"), ("SYN-01", "SYN-01"),
    ("..", "%2E."), (".", "%2E"), ("", "%"), ("%", "%25"), ("15/9-19 A", "15%2F9-19%20A"),
])
def test_examples(name, stem):
    assert safe_name(name) == stem and name_of(stem) == name


def test_hostile_names_stay_in_the_output_folder_and_come_back_from_a_hive_dataset(tmp_path):
    """Each name writes its own file inside the folder; pyarrow's Hive partitioning decodes the
    well=<safe_name> folders to the names themselves."""
    names = ["../../escape", "escape", "/etc/passwd", "..", "a\\b", "C:\\well", "W 1%", "ü" * 200]
    for n in names:
        folder = tmp_path / "out" / "predictions" / f"well={safe_name(n)}"
        folder.mkdir(parents=True)
        pd.DataFrame({"x": [len(n)]}).to_parquet(folder / "part-0.parquet")
        (tmp_path / "out" / f"{safe_name(n)}_petro.las").write_text(n)
    files = sorted((tmp_path / "out").glob("*_petro.las"))
    assert len(files) == len(names) and not list(tmp_path.glob("*_petro.las"))
    assert sorted(f.read_text() for f in files) == sorted(names)
    got = ds.dataset(tmp_path / "out" / "predictions", partitioning="hive").to_table().to_pandas()
    short = {n for n in names if "~" not in safe_name(n)}
    assert short <= set(got["well"]) and len(set(got["well"])) == len(names)
