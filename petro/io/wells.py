"""Turn the files of one well into a :class:`petro.well.Well` (a pure function of the files and
the ingest options): read each file (or take it from the cache), canonicalise it
(:mod:`petro.io.canonical`) and merge the parts (:mod:`petro.io.merge`).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from petro.errors import InputError, PetroError
from petro.io.cache import PartCache
from petro.io.canonical import read_file_parts
from petro.io.merge import merge_parts
from petro.io.options import IngestOptions
from petro.io.verdicts import assess_well
from petro.well import Well

__all__ = ["IngestOptions", "load_well", "read_file_parts"]


def load_well(name: str, paths: list[str | Path], opts: IngestOptions | None = None, *,
              cache_dir: str | Path | None = None) -> Well:
    """Read all files of one well and merge them (a pure function of files and options).

    Files that fail are reported in ``well.problems`` and skipped; if none can be read the first
    error is raised. With ``opts.quality`` every curve and image gets a verdict and dead ones are
    left out (:mod:`petro.io.verdicts`). ``cache_dir``: the parsed-file cache
    (:class:`petro.io.cache.PartCache`), None for none.
    """
    opts = opts or IngestOptions()
    table = opts.table()
    cache = PartCache(cache_dir, opts) if cache_dir else None
    parts, errors = [], []
    for p in sorted(map(str, paths)):
        try:
            parse = partial(read_file_parts, p, opts, table)
            parts.extend(cache.load(p, parse) if cache else parse())
        except PetroError as err:
            errors.append(err)
    if not parts:
        raise errors[0] if errors else InputError(f"well {name}: no files")
    well = merge_parts(name, parts, opts)
    well.problems = [e.problem(well=name, code="file_failed") for e in errors] + well.problems
    well.files += [getattr(e, "path", "") or "" for e in errors]
    return assess_well(well, opts) if opts.quality else well

