"""`petro demo` gives its data folder and cache as overrides: flags not given must not erase
them (on main after the s24-app merge they did, and the demo stopped at once)."""

from __future__ import annotations

from pathlib import Path


def test_overrides_stand_when_the_flags_are_not_given(tmp_path):
    from petro.api import configure
    from petro.config import packaged

    cfg = configure(packaged("pipelines", "demo.yaml"), require_data=True,
                    overrides={"data": str(tmp_path / "field"),
                               "ingest.cache_dir": str(tmp_path / "cache")})
    assert Path(cfg.data) == tmp_path / "field"
    assert Path(cfg.run.cache_dir) == tmp_path / "cache"
    flagged = configure(packaged("pipelines", "demo.yaml"), data=tmp_path / "other",
                        overrides={"data": str(tmp_path / "field")})
    assert Path(flagged.data) == tmp_path / "other"              # a given flag wins
