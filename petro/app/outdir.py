"""The output folder of a batch prediction (``petro predict DATA -o OUT``): one run at a time,
checked before any well is read, each finished well recorded as soon as its files are written.

``OUT/.petro/lock``
    An operating-system lock (``fcntl.flock``) held by the run from start to end (:func:`locked`);
    the file says who holds it (pid, host, start, command). A second run into the folder is
    refused at once (:class:`FolderBusy`, exit 2) naming the folder and the holder. The kernel
    releases the lock when its process ends, however it ends (``kill -9`` too): a dead run's lock
    never blocks. Linux NFS clients take the lock on the server, so runs on two machines exclude
    each other as well. Taking the lock creates the folder and writes in it, and a probe file is
    written beside the LAS files: a folder petro cannot write in is refused (exit 2) before any
    well is read, not after every well was computed.
``OUT/.petro/journal/<hash of the well name>.json``
    Written by the well's task right after the well's LAS file and Parquet part (:func:`record`,
    atomically): the inputs' hash, the models' identity and the SHA-256 of the two files as
    written. The calling process folds the journal into ``OUT/_petro_manifest.json``
    (:func:`fold`) when a run starts and when it ends, so a killed run loses only the wells in
    flight. An entry credits the files to the models that wrote them: a file rewritten since
    (by another run, by hand, damaged) no longer matches its SHA-256, and the well is predicted
    again (:func:`complete`).

One small file per well was chosen over rewriting the manifest after each well: measured on
200 small wells, about 0.2 ms per well for the journal entry against a rewrite that grows with
the manifest (see docs/scale.md, "Batch predict"); and tasks on several machines may write
their entries at the same time (an append to one shared file is not atomic over NFS).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from petro.app.engine import os_error_words
from petro.errors import ConfigError, PetroError
from petro.io.atomic import atomic_write_json
from petro.io.cache import content_hash

MANIFEST = "_petro_manifest.json"
META = ".petro"                       # the lock and the journal
JOURNAL = f"{META}/journal"
LOCK = f"{META}/lock"


class FolderBusy(ConfigError):
    """Another run holds the output folder's lock."""

    code = "folder_busy"


class OutputError(PetroError):
    """A file of the output folder could not be written after wells were done."""

    code = "output_failed"
    exit_code = 1


NO_LOCKS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS)


@contextmanager
def locked(folder: Path, warn: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold ``folder``'s lock for the block (created with the folder; see the module
    docstring), after checking that petro can write there. Raises :class:`ConfigError`
    (a folder petro cannot write in) or :class:`FolderBusy` before anything is done. On a
    file system without locks, ``warn`` is told so and the block runs unlocked."""
    import fcntl

    lock = folder / LOCK
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as err:
        raise _unwritable(folder, err) from err
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderBusy(f"the output folder {folder} is in use by another run "
                             f"({_holder(fd)}): two runs into one folder would mix their "
                             f"wells. Wait for it to end, or give another output folder") from None
        except OSError as err:
            if err.errno not in NO_LOCKS:
                raise _unwritable(folder, err) from err
            (warn or (lambda _: None))(
                f"the file system of {folder} does not lock files ({err.strerror}): a second "
                f"run into this folder at the same time would not be refused")
        try:
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                     "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                                     "command": command_line()}).encode())
            _probe(folder)
        except OSError as err:
            raise _unwritable(folder, err) from err
        try:
            yield
        finally:
            with suppress(OSError):
                os.ftruncate(fd, 0)  # the lock is free: no holder to name
    finally:
        os.close(fd)                 # releases the lock


def check_writable(folder: Path) -> None:
    """Before any work: raise :class:`ConfigError` when petro could not write ``folder`` (an
    existing folder is probed and its lock tried, see :func:`locked`; a new one is not created
    yet: its nearest existing parent is probed, so a command refused later leaves nothing
    behind)."""
    if folder.is_dir():
        with locked(folder):
            return
    try:
        _probe(next(p for p in folder.parents if p.is_dir()))
    except OSError as err:
        raise _unwritable(folder, err) from err


def _unwritable(folder: Path, err: OSError) -> ConfigError:
    return ConfigError(f"cannot write in the output folder {folder}: {os_error_words(err)}. "
                       f"Give a folder you can write in (-o), or make this one writable; "
                       f"nothing was read or written")


def _holder(fd: int) -> str:
    """Who holds the lock, from the lock file: 'pid 123 on host h since ... (command)'."""
    try:
        h = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        return (f"pid {h['pid']} on host {h['host']} since {h['started']}: "
                f"{h.get('command', 'petro')}")
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that has not said who it is yet"


def _probe(folder: Path) -> None:
    """Create, write and remove a file where the LAS files go (raises OSError)."""
    probe = folder / f".petro-write-check-{secrets.token_hex(4)}"
    try:
        with open(probe, "wb") as fh:
            fh.write(b"petro")
    finally:
        probe.unlink(missing_ok=True)


def _entry_path(out_dir: Path, name: str) -> Path:
    # a hash, not the well's file name: one file per well name, whatever characters it has
    return out_dir / JOURNAL / f"{hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}.json"


def record(out_dir: str | Path, name: str, inputs: str, models: str,
           files: list[Path]) -> dict:
    """The journal entry of well ``name`` whose ``files`` (its LAS file, then its Parquet
    part) were just written in ``out_dir`` by ``models`` from inputs hashed ``inputs``;
    written atomically, after the files. Raises OSError when it cannot be written (the well
    is then predicted again next time)."""
    out_dir = Path(out_dir)
    rel = [str(Path(f).relative_to(out_dir)) for f in files]
    entry = {"well": name, "inputs": inputs, "models": models, "las": rel[0],
             "parquet": rel[1], "sha256": {r: content_hash(Path(f)) for r, f in zip(rel, files)}}
    atomic_write_json(_entry_path(out_dir, name), entry, sort_keys=True)
    return entry


def read_manifest(out_dir: Path) -> dict:
    """The manifest of ``out_dir`` (well -> entry); {} when absent or unreadable."""
    try:
        manifest = json.loads((out_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def fold(out_dir: Path) -> dict:
    """The manifest with the journal's entries folded in (a well's newest entry wins), written
    atomically; the folded entries are then removed. Raises :class:`OutputError` when the
    manifest cannot be written (the journal stays for the next run)."""
    manifest = read_manifest(out_dir)
    entries = sorted((out_dir / JOURNAL).glob("*.json"))
    if not entries:
        return manifest
    for path in entries:
        try:
            entry = json.loads(path.read_text())
            manifest[entry.pop("well")] = entry
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue               # unreadable: that well is predicted again
    try:
        atomic_write_json(out_dir / MANIFEST, manifest, indent=1, sort_keys=True)
    except OSError as err:
        raise OutputError(f"could not write the manifest {out_dir / MANIFEST}: "
                          f"{os_error_words(err)}. The {len(entries)} wells recorded in "
                          f"{out_dir / JOURNAL} are kept and the next run into {out_dir} takes "
                          f"them up: fix the cause and run the same command again") from err
    for path in entries:
        path.unlink(missing_ok=True)
    return manifest


def complete(out_dir: Path, entry: dict | None, inputs: str, models: str) -> bool:
    """True when ``entry`` says the well was predicted from ``inputs`` by ``models`` and its
    files are there, as they were written (SHA-256)."""
    if not entry or entry.get("inputs") != inputs or entry.get("models") != models:
        return False
    digests = entry.get("sha256") or {}
    if {entry.get("las"), entry.get("parquet")} - set(digests):
        return False              # an entry of an older petro: the well is predicted again
    try:
        return all(content_hash(out_dir / rel) == d for rel, d in digests.items())
    except OSError:
        return False


def command_line() -> str:
    """This process's command, for the lock file."""
    return " ".join(Path(sys.argv[0]).name if i == 0 else a for i, a in enumerate(sys.argv))
