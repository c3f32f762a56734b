"""Canonicalisation: one raw table (a LAS file, a DLIS frame, a CSV table) -> a :class:`FilePart`.

Find the depth curve and convert it to metres (increasing; repeated and NULL depths dropped),
recognise image and T2 curve families, and map every other curve to its canonical mnemonic and
unit (:mod:`petro.mnemonics`, :mod:`petro.units`). What was decided is reported as problem
records, never silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from petro.errors import InputError, UnitError
from petro.io.csvimage import read_csv_table
from petro.io.dlis import read_dlis
from petro.io.images import CASED_HOLE, array_kind, find_families
from petro.io.las import read_las
from petro.io.options import IngestOptions
from petro.io.plausibility import check_depth, screen_curve, screen_image
from petro.io.raw import RawTable
from petro.mnemonics import AliasTable
from petro.problems import Problem, info, warning
from petro.units import conversion, to_canonical
from petro.well import Image, Provenance, T2Bins

# Known bin boundaries (ms) of vendor bin-porosity curves, used when the file does not give them
KNOWN_T2_EDGES = {
    "CBP": [0.3, 1.0, 3.0, 10.0, 33.0, 100.0, 300.0, 1000.0, 3000.0],   # Schlumberger CMR CBP1..8
}
_DEPTH_NAMES = ("DEPT", "DEPTH", "MD", "TDEP", "DEPTH_M", "DEPT_M", "INDEX")


@dataclass
class FilePart:
    """One file (or DLIS frame) in canonical form: depth in m increasing, curves by canonical
    mnemonic in canonical units, images, the T2 distribution, header, and what was decided."""

    path: str
    depth: np.ndarray
    curves: dict[str, tuple[np.ndarray, Provenance, int]]  # canonical -> (values, prov, rank)
    images: list[Image]
    t2: T2Bins | None
    header: dict[str, str]
    problems: list[Problem]


def _depth_column(raw: RawTable) -> tuple[str, str]:
    """The depth curve: one named as depth (DEPT, DEPTH, MD, ...) wherever it stands, else a first
    curve in a length unit (its values are checked by :func:`check_depth`)."""
    first = raw.curves[0]
    for c in raw.curves:
        if c.mnemonic.upper().split(":")[0] in _DEPTH_NAMES:
            return c.mnemonic, c.unit
    if conversion("depth", first.unit) is not None and first.mnemonic.upper() not in ("TIME",
                                                                                     "ETIM"):
        return first.mnemonic, first.unit
    raise InputError(f"the first curve {first.mnemonic!r} is not a depth and no depth curve "
                     f"(DEPT, DEPTH, MD) was found; a well file needs depth as its index",
                     path=raw.path, curve=first.mnemonic, code="no_depth")


def _depth_unit(raw: RawTable, unit: str) -> str:
    if unit.strip():
        return unit
    for key in ("STRT", "STOP", "STEP"):
        item = raw.well.get(key)
        if item and item[1].strip():
            return item[1]
    raise InputError("depth unit is missing in ~Curve and ~Well (STRT/STOP/STEP); add it (M or "
                     "FT)", path=raw.path, curve=raw.curves[0].mnemonic, code="no_depth_unit")


def _t2_edges(label: str, n: int, raw: RawTable, opts: IngestOptions,
              stem: str = "") -> np.ndarray:
    """Bin boundaries (ms) of a T2 distribution of ``n`` bins: from the options, the file's
    parameters (boundaries or log-spaced centres, or T2MIN/T2MAX), or a known vendor layout."""
    if opts.t2_edges_ms is not None:
        edges = np.asarray(opts.t2_edges_ms, dtype=float)
        if edges.size != n + 1:
            raise InputError(f"ingest.t2_edges_ms has {edges.size} values; the T2 distribution "
                             f"{label} has {n} bins and needs {n + 1}", path=raw.path)
        return edges
    p = raw.params
    for key in ("T2BINS", "T2_BINS", "T2AXIS", "T2_AXIS", "T2BIN", "T2DIST_BINS"):
        if key in p:
            try:
                v = np.asarray(str(p[key][0]).split(), dtype=float)
            except ValueError:
                continue
            if v.size == n + 1:          # boundaries
                return v
            if v.size == n and n > 1:    # log-spaced centres: boundaries at geometric midpoints
                mid = np.sqrt(v[:-1] * v[1:])
                return np.concatenate([[v[0] ** 2 / mid[0]], mid, [v[-1] ** 2 / mid[-1]]])
    if "T2MIN" in p and "T2MAX" in p:
        try:
            lo, hi = float(p["T2MIN"][0]), float(p["T2MAX"][0])
        except ValueError as err:
            raise InputError("T2MIN/T2MAX parameters are not numbers", path=raw.path) from err
        return np.logspace(np.log10(lo), np.log10(hi), n + 1)
    if stem in KNOWN_T2_EDGES and len(KNOWN_T2_EDGES[stem]) == n + 1:
        return np.asarray(KNOWN_T2_EDGES[stem], dtype=float)
    raise InputError(f"T2 bin curves {label} have no bin boundaries: give T2MIN/T2MAX in "
                     f"~Parameter or t2_edges_ms in the pipeline's ingest section", path=raw.path)


def read_raw_tables(path: str | Path, opts: IngestOptions) -> list[RawTable]:
    """Read one well file (LAS, DLIS, CSV) into raw tables: one per LAS/CSV file, one per depth
    frame of a DLIS file."""
    suffix = Path(path).suffix.lower()
    if suffix == ".dlis":
        return read_dlis(path, null=opts.dlis_null)
    if suffix == ".csv":
        return [read_csv_table(path, opts.csv_depth_unit)]
    return [read_las(path, fast=opts.fast, threads=opts.read_threads)]


def read_file_parts(path: str | Path, opts: IngestOptions, table: AliasTable | None = None) \
        -> list[FilePart]:
    """Read one well file into canonical parts (see :func:`read_raw_tables`, :func:`to_part`)."""
    table = table or opts.table()
    return [to_part(raw, opts, table) for raw in read_raw_tables(path, opts)]


def _t2_part(values: np.ndarray, unit: str, label: str, names: tuple[str, ...], raw: RawTable,
             opts: IngestOptions, stem: str, problems: list[Problem]) -> T2Bins | None:
    try:
        vals, _, tn = to_canonical(values.astype(float), "fraction", unit, name=label,
                                   policy=opts.unit_policy, extra_units=opts.units)
        edges = _t2_edges(label, values.shape[1], raw, opts, stem)
    except (InputError, UnitError) as err:
        # the summary curves may still be enough; targets.source=t2 will say it is missing
        problems.append(warning(f"T2 distribution {label} not used: "
                                f"{getattr(err, 'reason', err)}", path=raw.path,
                                code="t2_unusable"))
        return None
    problems += [info(n, path=raw.path, code="unit") for n in tn]
    return T2Bins(vals, edges, source=raw.path, names=names)


def _cased_hole_note(label: str, n: int, path: str) -> Problem:
    return info(f"{label}: {n} sector curves of a cased-hole log (cement bond / VDL amplitudes "
                f"measured through casing), not a borehole image of the formation: left out. "
                f"If it is an open-hole image, name its kind in ingest.image_kinds",
                path=path, code="cased_hole_array")


def to_part(raw: RawTable, opts: IngestOptions, table: AliasTable) -> FilePart:
    """Canonicalise one raw table (see the module docstring)."""
    path = raw.path
    problems = list(raw.problems)
    dname, dunit = _depth_column(raw)
    if dname != raw.curves[0].mnemonic:
        problems.append(info(f"depth curve {dname} is not the first curve; used as the index",
                             path=path, code="depth_not_first"))
    dunit = _depth_unit(raw, dunit)
    try:
        depth, _, dnotes = to_canonical(raw.data[dname].to_numpy(), "depth", dunit, name=dname,
                                        policy="strict", extra_units=opts.units)
    except UnitError as err:
        raise InputError(str(err), path=path, curve=dname, code="unit") from err
    problems += [info(n, path=path, code="unit") for n in dnotes]
    data = raw.data
    ok = np.isfinite(depth)
    if ok.sum() >= 2:
        check_depth(depth[ok], dname, path, data)
    if not ok.all():
        problems.append(info(f"{int((~ok).sum())} rows with a NULL depth dropped", path=path,
                             curve=dname, code="depth_null"))
    if ok.sum() < 2:
        raise InputError("fewer than two rows with a valid depth", path=path, curve=dname)
    order = np.argsort(depth[ok], kind="stable")
    rows = np.flatnonzero(ok)[order]
    depth = depth[rows]
    if not np.all(np.diff(np.flatnonzero(ok)[order]) > 0):
        problems.append(info("depth decreasing or out of order: rows sorted by depth", path=path,
                             curve=dname, code="depth_sorted"))
    dup = np.concatenate([[False], np.diff(depth) <= 0])
    if dup.any():
        problems.append(warning(f"{int(dup.sum())} rows with a repeated depth dropped (first "
                                f"kept)", path=path, curve=dname, code="depth_repeated"))
        rows, depth = rows[~dup], depth[~dup]
    data = data.iloc[rows]
    header = {k: v[0] for k, v in raw.well.items()}
    fams = find_families(raw.curves, min_bins=opts.min_image_bins, kind_overrides=opts.image_kinds)
    in_family = {m for f in fams for m in f.members}
    images, t2 = [], None
    for fam in fams:
        if fam.kind == CASED_HOLE:
            problems.append(_cased_hole_note(fam.label, len(fam.members), path))
            continue
        arr = data[fam.members].to_numpy(dtype=np.float32)
        if fam.kind == "t2":
            t2 = _t2_part(arr, fam.unit, fam.label, tuple(fam.members), raw, opts, fam.stem,
                          problems) or t2
            continue
        arr = screen_image(arr, fam.kind, fam.unit, path=path, label=fam.label, problems=problems)
        if arr is None:
            continue
        shift = float(opts.depth_shift_m.get(fam.kind, 0.0))
        images.append(Image(fam.kind, depth + shift, arr, source=path, stem=fam.label,
                            unit=fam.unit))
        if shift:
            problems.append(info(f"image {fam.label}: depth shifted by {shift:+.3f} m", path=path,
                                 code="depth_shift"))
    for name, (arr, unit, desc) in raw.arrays.items():
        arr = np.asarray(arr, dtype=np.float32)[rows]
        kind = array_kind(name, unit, desc, opts.image_kinds)
        if kind == CASED_HOLE:
            problems.append(_cased_hole_note(name, arr.shape[1] if arr.ndim > 1 else 1, path))
            continue
        if kind == "t2":
            t2 = _t2_part(arr, unit, name, (name,), raw, opts, "", problems) or t2
            continue
        arr = screen_image(arr, kind, unit, path=path, label=name, problems=problems)
        if arr is None:
            continue
        shift = float(opts.depth_shift_m.get(kind, 0.0))
        images.append(Image(kind, depth + shift, arr, source=path, stem=name, unit=unit))
    curves: dict[str, tuple[np.ndarray, Provenance, int]] = {}
    for c in raw.curves:
        if c.mnemonic == dname or c.mnemonic in in_family:
            continue
        hit = table.canonical(c.mnemonic)
        name, rank = hit if hit else (c.mnemonic.upper(), 99)
        if name in curves and curves[name][2] <= rank:
            problems.append(info(f"another curve of this file already gives {name} "
                                 f"({curves[name][1].original}); {c.mnemonic} left out",
                                 path=path, curve=c.mnemonic, code="duplicate_curve"))
            continue
        quantity = table.quantity(name) if hit else "none"
        try:
            vals, unit, cn = to_canonical(data[c.mnemonic].to_numpy(), quantity, c.unit,
                                          name=c.mnemonic, policy=opts.unit_policy,
                                          extra_units=opts.units)
        except UnitError as err:
            if opts.unit_policy == "strict":
                raise InputError(str(err), path=path, curve=c.mnemonic, code="unit") from err
            problems.append(warning(f"{err}; curve left out (unit_policy=drop)", path=path,
                                    curve=c.mnemonic, code="unit_unknown"))
            continue
        problems += [info(n, path=path, curve=c.mnemonic, code="unit") for n in cn]
        if hit:
            vals = screen_curve(vals, name, unit, path=path, curve=c.mnemonic,
                                strict=opts.unit_policy == "strict", problems=problems)
            if vals is None:
                continue
        curves[name] = (vals, Provenance(path, c.mnemonic, c.unit, cn), rank)
    return FilePart(path, depth, curves, images, t2, header, problems)
