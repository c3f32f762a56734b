"""Find well files under a folder and group them by well.

A file's well is, in order: the manifest (``wells.yaml`` in the folder, or one given: a mapping
well -> list of file paths relative to the folder), the LAS ``WELL`` header item (else ``UWI``)
or the DLIS ORIGIN well name, then the name of the file's folder (when it is not the data folder
itself), then the file stem.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from petro.errors import ConfigError
from petro.io.las import decode

WELL_FILE_SUFFIXES = (".las", ".dlis", ".csv")
_WELL_RE = re.compile(r"^\s*WELL\s*\.[^\n]*?\s([^\s:][^:\n]*?)\s*:", re.M | re.I)
_UWI_RE = re.compile(r"^\s*UWI\s*\.[^\n]*?\s([^\s:][^:\n]*?)\s*:", re.M | re.I)


def header_well_name(path: Path) -> str | None:
    """The WELL (or UWI) value of a LAS file's header, reading only its first 64 KiB."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(65536)
    except OSError:
        return None
    try:
        text = decode(head, str(path))
    except Exception:  # undecodable: the reader will report it properly
        return None
    a = re.search(r"^\s*~A", text, re.M | re.I)
    text = text[: a.start()] if a else text
    for rx in (_WELL_RE, _UWI_RE):
        m = rx.search(text)
        if m and m.group(1).strip():
            return m.group(1).strip()
    return None


def discover(data_dir: str | Path, manifest: str | Path | None = None) -> dict[str, list[Path]]:
    """Group the well files under ``data_dir`` by well name (sorted, deterministic)."""
    root = Path(data_dir)
    if not root.is_dir():
        raise ConfigError(f"{root}: not a folder; give the folder that holds the well files")
    man_path = Path(manifest) if manifest else root / "wells.yaml"
    assigned: dict[Path, str] = {}
    if man_path.is_file():
        try:
            man = yaml.safe_load(man_path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{man_path}: not valid YAML ({err})") from err
        if not isinstance(man, dict):
            raise ConfigError(f"{man_path}: expected a mapping well -> list of files")
        for well, files in man.items():
            for f in files or []:
                p = (root / f).resolve()
                if not p.is_file():
                    raise ConfigError(f"{man_path}: well {well}: file {f} not found")
                assigned[p] = str(well)
    groups: dict[str, list[Path]] = {}
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.suffix.lower() not in WELL_FILE_SUFFIXES or p.name.startswith("."):
            continue
        if any(part.startswith(".") for part in p.relative_to(root).parts[:-1]):
            continue  # caches and hidden folders
        rp = p.resolve()
        name = assigned.get(rp)
        if name is None:
            if p.suffix.lower() == ".las":
                name = header_well_name(p)
            elif p.suffix.lower() == ".dlis":
                from petro.io.dlis import dlis_well_name

                name = dlis_well_name(p)
            if not name:
                name = p.parent.name if p.parent != root else p.stem
        groups.setdefault(name, []).append(p)
    return dict(sorted(groups.items()))
