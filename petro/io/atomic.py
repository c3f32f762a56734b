"""Atomic writes: a temporary sibling, then one rename. A reader never sees half a file, an
interrupted run leaves the old file (or none), and re-running a step is safe.

Temporary files are created with mode 0666 minus the process umask (as ``open`` would), so
outputs get the same permissions as any other file the user writes; nothing here changes the
umask.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import string
import tempfile
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote


_KEEP = frozenset(string.ascii_letters + string.digits + "-_.")
NAME_MAX = 120          # characters of a name from safe_name (ASCII); callers add '_petro.las',
                        # 'well=' ...; file systems take 255 bytes
_SHORTENED = "~"        # never in an encoded name: marks one shortened with a hash


def safe_name(name: str) -> str:
    """A well name as a file or folder name, one to one (the one function for it).

    ASCII letters, digits, '-', '_' and '.' are kept; every other character becomes its UTF-8
    bytes percent-encoded ('/' -> ``%2F``, ' ' -> ``%20``, '%' -> ``%25``), and so does a
    leading '.' (``../../escape`` -> ``%2E.%2F..%2Fescape``): never a path separator, never
    '.', '..' or a hidden file, never empty (the empty name is ``%``). Distinct names give
    distinct file names and :func:`name_of` gives the name back; a Hive-partitioned reader
    (``well=<safe_name>``) decodes it too. An encoding longer than :data:`NAME_MAX` characters
    keeps its start and ends in ``~`` and 16 hex digits of the name's SHA-256: still distinct,
    no longer reversible.
    """
    out = "".join(ch if ch in _KEEP else _percent(ch) for ch in name)
    if out.startswith("."):
        out = "%2E" + out[1:]
    if len(out) > NAME_MAX:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        head = out[: NAME_MAX - len(digest) - 1]
        cut = head.find("%", len(head) - 2)         # not inside a %XX
        out = f"{head[:cut] if cut >= 0 else head}{_SHORTENED}{digest}"
    return out or "%"


def name_of(safe: str) -> str:
    """The well name a :func:`safe_name` stands for (ValueError for a shortened one)."""
    if _SHORTENED in safe:
        raise ValueError(f"{safe!r} is a long well name shortened with a hash: the name cannot "
                         f"be read back from it")
    return "" if safe == "%" else unquote(safe, errors="surrogatepass")


def _percent(ch: str) -> str:
    return "".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))


def _tmp_sibling(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_sibling(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)   # umask applies
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj, **kwargs) -> Path:
    return atomic_write_text(path, json.dumps(obj, **kwargs))


@contextmanager
def atomic_file(path: str | os.PathLike):
    """A temporary path to write with any library (``df.to_parquet(tmp)``), renamed to ``path``
    when the block ends without an error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_sibling(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_dir(path: str | os.PathLike, *, replace: bool = True):
    """A temporary folder to fill, renamed to ``path`` when the block ends without an error.

    With ``replace=False`` an existing ``path`` wins (a concurrent worker wrote the same entry)
    and the temporary folder is discarded.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            if not replace:
                return
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
