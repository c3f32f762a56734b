"""``petro init DIR``: a starter pipeline and editable model specs in a folder of the user's."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from petro.config import packaged
from petro.errors import ConfigError
from petro.io.atomic import atomic_write_text

SPECS = ("porosity.yaml", "permeability.yaml")
FIELD = "my-field"   # the starter pipeline's field name: its name, experiment and model prefix


def field_name(folder: str | Path) -> str:
    """The field's name from its folder: lower case, runs of other characters than letters,
    digits, '.' and '_' as '-' (``North Sea B`` -> ``north-sea-b``)."""
    name = re.sub(r"[^a-z0-9._]+", "-", Path(folder).resolve().name.lower()).strip("-.")
    return name or "field"


def init_project(folder: str | Path, *, force: bool = False) -> list[Path]:
    """Write ``pipeline.yaml`` and ``models/*.yaml`` into ``folder`` (existing files are kept
    unless ``force``); returns the files written.

    The pipeline carries the field's own name (:func:`field_name`): its runs go to that
    experiment and its models register as ``<field>-porosity`` and ``<field>-permeability``, not
    as new versions of the demo's ``petro-*`` models gated against the demo's figures."""
    root = Path(folder)
    pipeline = root / "pipeline.yaml"
    specs = [(packaged("models", s), root / "models" / s) for s in SPECS]
    existing = [str(dst) for dst in [pipeline] + [d for _, d in specs] if dst.exists()]
    if existing and not force:
        raise ConfigError(f"{', '.join(existing)} exist; use --force to overwrite")
    (root / "models").mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    atomic_write_text(pipeline, packaged("pipelines", "starter.yaml").read_text()
                      .replace(FIELD, field_name(root)))
    for src, dst in specs:
        shutil.copyfile(src, dst)
    return [pipeline] + [dst for _, dst in specs]
