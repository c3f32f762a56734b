"""``petro init DIR``: a starter pipeline and editable model specs in a folder of the user's."""

from __future__ import annotations

import shutil
from pathlib import Path

from petro.config import packaged
from petro.errors import ConfigError

SPECS = ("porosity.yaml", "permeability.yaml")


def init_project(folder: str | Path, *, force: bool = False) -> list[Path]:
    """Write ``pipeline.yaml`` and ``models/*.yaml`` into ``folder`` (existing files are kept
    unless ``force``); returns the files written."""
    root = Path(folder)
    targets = [(packaged("pipelines", "starter.yaml"), root / "pipeline.yaml")] + \
        [(packaged("models", s), root / "models" / s) for s in SPECS]
    existing = [str(dst) for _, dst in targets if dst.exists()]
    if existing and not force:
        raise ConfigError(f"{', '.join(existing)} exist; use --force to overwrite")
    (root / "models").mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    for src, dst in targets:
        shutil.copyfile(src, dst)
    return [dst for _, dst in targets]
