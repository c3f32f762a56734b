"""Find well files under a folder and group them by well.

A file's well is, in order: the manifest (``wells.yaml`` in the folder, or one given: a mapping
well -> list of file paths relative to the folder), the LAS ``WELL`` header item (else ``UWI``)
or the DLIS ORIGIN well name, then the name of the file's folder (when it is not the data folder
itself), then the file stem.
"""

from __future__ import annotations

import os
import re
from pathlib import Path


from petro.yamlfile import read_mapping
from petro.errors import ConfigError
from petro.io.dlis import dlis_well_name
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


def _walk(root: Path):
    """Well files under ``root``, following symlinked files and folders; a folder reached twice
    (a symlink loop, or two links to one folder) is walked once. Hidden files and folders
    (caches) are skipped. Sorted, so discovery is deterministic."""
    seen: set[str] = set()
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in filenames:
            p = Path(dirpath) / f
            if f.startswith(".") or p.suffix.lower() not in WELL_FILE_SUFFIXES or not p.is_file():
                continue
            out.append(p)
    return sorted(out)


def _file_well(p: Path, root: Path | None) -> str:
    name = None
    if p.suffix.lower() == ".las":
        name = header_well_name(p)
    elif p.suffix.lower() == ".dlis":
        name = dlis_well_name(p)
    if not name:
        name = p.parent.name if root is None or p.parent != root else p.stem
    return name


def _manifest(root: Path, manifest: str | Path | None) -> dict[Path, str]:
    man_path = Path(manifest) if manifest else root / "wells.yaml"
    assigned: dict[Path, str] = {}
    if not man_path.is_file():
        return assigned
    man = read_mapping(man_path, "well manifest", "expected a mapping well -> list of files")
    for well, files in man.items():
        for f in files or []:
            p = (root / f).resolve()
            if not p.is_file():
                raise ConfigError(f"{man_path}: well {well}: file {f} not found")
            assigned[p] = str(well)
    return assigned


def discover(data_dir: str | Path, manifest: str | Path | None = None) -> dict[str, list[Path]]:
    """Group the well files under ``data_dir`` by well name (sorted, deterministic)."""
    root = Path(data_dir)
    if not root.is_dir():
        raise ConfigError(f"{root}: not a folder; give the folder that holds the well files")
    assigned = _manifest(root, manifest)
    groups: dict[str, list[Path]] = {}
    for p in _walk(root):
        name = assigned.get(p.resolve()) or _file_well(p, root)
        groups.setdefault(name, []).append(p)
    return dict(sorted(groups.items()))


def discover_many(paths) -> dict[str, list[Path]]:
    """Wells from a folder, a list of well folders and files, or a ready mapping well -> files."""
    if isinstance(paths, dict):
        return {str(k): [Path(f) for f in v] for k, v in sorted(paths.items())}
    if isinstance(paths, (str, Path)):
        return discover(paths)
    groups: dict[str, list[Path]] = {}
    for item in paths:
        p = Path(item)
        if p.is_dir():
            found = discover(p)
        elif p.is_file():
            found = {_file_well(p, None): [p]}
        else:
            raise ConfigError(f"{p}: no such file or folder")
        for name, files in found.items():
            groups.setdefault(name, []).extend(f for f in files if f not in groups.get(name, []))
    return dict(sorted(groups.items()))
