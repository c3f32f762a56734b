"""Turn the files of one well into a :class:`petro.well.Well`.

Per file: read, find the depth curve and convert it to metres (increasing), recognise image and
T2 families, map every other curve to its canonical mnemonic and unit. Across files: curves go onto
one depth grid (by default the NMR run's, so targets are never interpolated; else the first
conventional run's), and a curve present in several runs is spliced by a documented rule:
``splice`` (default) takes the best run (lowest alias rank, then most valid samples) and fills its
gaps from the others; ``first`` keeps the first file's curve only; ``longest`` keeps the run with the
most valid samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from petro.errors import ConfigError, InputError, PetroError, UnitError
from petro.io.images import Family, find_families
from petro.io.las import LasFile, read_las
from petro.mnemonics import AliasTable
from petro.units import POLICIES, conversion, to_canonical
from petro.well import Image, Provenance, T2Bins, Well

NMR_CURVES = ("TCMR", "PHIE_NMR", "BVI", "FFI", "CBW", "T2LM", "KTIM", "KSDR")
# Known bin boundaries (ms) of vendor bin-porosity curves, used when the file does not give them
KNOWN_T2_EDGES = {
    "CBP": [0.3, 1.0, 3.0, 10.0, 33.0, 100.0, 300.0, 1000.0, 3000.0],   # Schlumberger CMR CBP1..8
}
_DEPTH_NAMES = ("DEPT", "DEPTH", "MD", "TDEP", "DEPTH_M", "DEPT_M", "INDEX")


@dataclass
class IngestOptions:
    """Options of the ingest step (the ``ingest:`` section of a pipeline)."""

    aliases: dict | None = None
    unit_policy: str = "drop"          # strict (file fails) | drop (curve left out) | keep
    image_kinds: dict[str, str] = field(default_factory=dict)
    min_image_bins: int = 8
    t2_edges_ms: list[float] | None = None
    grid: str | float = "nmr"
    overlap: str = "splice"
    depth_shift_m: dict[str, float] = field(default_factory=dict)   # image kind / file stem -> m
    fast: bool = True
    csv_depth_unit: str = "m"          # depth unit of CSV files whose depth header does not say
    cache_dir: str | None = None       # parsed-file cache (Parquet/npy), e.g. "petro-cache"

    def __post_init__(self):
        if self.unit_policy not in POLICIES:
            raise ConfigError(f"ingest.unit_policy {self.unit_policy!r}: choose one of "
                              f"{list(POLICIES)}")
        if self.overlap not in ("splice", "first", "longest"):
            raise ConfigError(f"ingest.overlap {self.overlap!r}: choose splice, first or longest")

    def table(self) -> AliasTable:
        return AliasTable(self.aliases)


@dataclass
class FilePart:
    path: str
    depth: np.ndarray
    curves: dict[str, tuple[np.ndarray, Provenance, int]]  # canonical -> (values, prov, rank)
    images: list[Image]
    t2: T2Bins | None
    header: dict[str, str]
    notes: list[str]


def _depth_column(las: LasFile) -> tuple[str, str]:
    first = las.curves[0]
    name = first.mnemonic.upper()
    if name.split(":")[0] in _DEPTH_NAMES or conversion("depth", first.unit) is not None and \
            name not in ("TIME", "ETIM"):
        return first.mnemonic, first.unit
    for c in las.curves[1:]:
        if c.mnemonic.upper() in _DEPTH_NAMES:
            return c.mnemonic, c.unit
    raise InputError(f"the first curve {first.mnemonic!r} is not a depth and no depth curve "
                     f"(DEPT, DEPTH, MD) was found; LAS needs depth as the index", path=las.path,
                     curve=first.mnemonic)


def _depth_unit(las: LasFile, unit: str) -> str:
    if unit.strip():
        return unit
    for key in ("STRT", "STOP", "STEP"):
        item = las.well.get(key)
        if item and item[1].strip():
            return item[1]
    raise InputError("depth unit is missing in ~Curve and ~Well (STRT/STOP/STEP); add it (M or "
                     "FT)", path=las.path, curve=las.curves[0].mnemonic)


def _t2_edges(fam: Family, las: LasFile, opts: IngestOptions) -> np.ndarray:
    n = len(fam.members)
    if opts.t2_edges_ms is not None:
        edges = np.asarray(opts.t2_edges_ms, dtype=float)
        if edges.size != n + 1:
            raise InputError(f"config t2_edges_ms has {edges.size} values; family {fam.label} "
                             f"has {n} bins and needs {n + 1}", path=las.path)
        return edges
    p = las.params
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
            raise InputError("T2MIN/T2MAX parameters are not numbers", path=las.path) from err
        return np.logspace(np.log10(lo), np.log10(hi), n + 1)
    if fam.stem in KNOWN_T2_EDGES and len(KNOWN_T2_EDGES[fam.stem]) == n + 1:
        return np.asarray(KNOWN_T2_EDGES[fam.stem], dtype=float)
    raise InputError(f"T2 bin curves {fam.label} have no bin boundaries: give T2MIN/T2MAX in "
                     f"~Parameter or t2_edges_ms in the pipeline's ingest section", path=las.path)


def read_file_parts(path: str | Path, opts: IngestOptions, table: AliasTable | None = None) \
        -> list[FilePart]:
    """Read one well file (LAS, DLIS, CSV) into canonical curves, images and T2 bins (depth in m,
    increasing): one part per LAS/CSV file, one per depth frame of a DLIS file."""
    table = table or opts.table()
    suffix = Path(path).suffix.lower()
    if suffix == ".dlis":
        from petro.io.dlis import read_dlis

        return [_part(las, arrays, opts, table) for las, arrays in read_dlis(path)]
    if suffix == ".csv":
        from petro.io.csvimage import read_csv_table

        las, arrays = read_csv_table(path, opts.csv_depth_unit)
        return [_part(las, arrays, opts, table)]
    return [_part(read_las(path, fast=opts.fast), {}, opts, table)]


def read_file_part(path: str | Path, opts: IngestOptions, table: AliasTable | None = None) \
        -> FilePart:
    """The first (for LAS and CSV: the only) part of a file; see :func:`read_file_parts`."""
    return read_file_parts(path, opts, table)[0]


def _array_kind(name: str, unit: str, desc: str, opts: IngestOptions) -> str:
    from petro.io.images import T2_STEMS, _kind

    if name.upper() in {k.upper() for k in opts.image_kinds}:
        return {k.upper(): v for k, v in opts.image_kinds.items()}[name.upper()]
    if name.upper().startswith(T2_STEMS) or "t2" in desc.lower():
        return "t2"
    return _kind(name, unit, desc)


def _part(las: LasFile, arrays: dict, opts: IngestOptions, table: AliasTable) -> FilePart:
    path = las.path
    notes = list(las.notes)
    dname, dunit = _depth_column(las)
    if dname != las.curves[0].mnemonic:
        notes.append(f"depth curve {dname} is not the first curve; used as the index")
    dunit = _depth_unit(las, dunit)
    try:
        depth, _, dnotes = to_canonical(las.data[dname].to_numpy(), "depth", dunit, name=dname,
                                        policy="strict")
    except UnitError as err:
        raise InputError(str(err), path=path, curve=dname) from err
    notes += dnotes
    data = las.data
    ok = np.isfinite(depth)
    if not ok.all():
        notes.append(f"{int((~ok).sum())} rows with a NULL depth dropped")
    if ok.sum() < 2:
        raise InputError("fewer than two rows with a valid depth", path=path, curve=dname)
    order = np.argsort(depth[ok], kind="stable")
    rows = np.flatnonzero(ok)[order]
    depth = depth[rows]
    if not np.all(np.diff(np.flatnonzero(ok)[order]) > 0):
        notes.append("depth decreasing or out of order: rows sorted by depth")
    dup = np.concatenate([[False], np.diff(depth) <= 0])
    if dup.any():
        notes.append(f"{int(dup.sum())} rows with a repeated depth dropped (first kept)")
        rows, depth = rows[~dup], depth[~dup]
    data = data.iloc[rows]
    header = {k: v[0] for k, v in las.well.items()}
    fams = find_families(las.curves, min_bins=opts.min_image_bins, kind_overrides=opts.image_kinds)
    in_family = {m for f in fams for m in f.members}
    images, t2 = [], None
    for fam in fams:
        arr = data[fam.members].to_numpy(dtype=np.float32)
        if fam.kind == "t2":
            try:
                vals, _, tn = to_canonical(arr.astype(float), "fraction", fam.unit,
                                           name=fam.label, policy=opts.unit_policy)
                t2 = T2Bins(vals, _t2_edges(fam, las, opts), source=path,
                            names=tuple(fam.members))
                notes += tn
            except (InputError, UnitError) as err:
                # the summary curves may still be enough; targets.source=t2 will say it is missing
                notes.append(f"T2 distribution {fam.label} not used: "
                             f"{getattr(err, 'reason', err)}")
            continue
        shift = float(opts.depth_shift_m.get(fam.kind, 0.0))
        images.append(Image(fam.kind, depth + shift, arr, source=path, stem=fam.label,
                            unit=fam.unit))
        if shift:
            notes.append(f"image {fam.label}: depth shifted by {shift:+.3f} m")
    for name, (arr, unit, desc) in arrays.items():
        arr = np.asarray(arr, dtype=np.float32)[rows]
        kind = _array_kind(name, unit, desc, opts)
        if kind == "t2":
            fam = Family(name, "", [f"{name}[{j}]" for j in range(arr.shape[1])], unit, desc, "t2")
            try:
                vals, _, tn = to_canonical(arr.astype(float), "fraction", unit, name=name,
                                           policy=opts.unit_policy)
                t2 = T2Bins(vals, _t2_edges(fam, las, opts), source=path, names=(name,))
                notes += tn
            except (InputError, UnitError) as err:
                notes.append(f"T2 distribution {name} not used: {getattr(err, 'reason', err)}")
            continue
        shift = float(opts.depth_shift_m.get(kind, 0.0))
        images.append(Image(kind, depth + shift, arr, source=path, stem=name, unit=unit))
    curves: dict[str, tuple[np.ndarray, Provenance, int]] = {}
    for c in las.curves:
        if c.mnemonic == dname or c.mnemonic in in_family:
            continue
        hit = table.canonical(c.mnemonic)
        name, rank = hit if hit else (c.mnemonic.upper(), 99)
        if name in curves and curves[name][2] <= rank:
            notes.append(f"{c.mnemonic}: another curve of this file already gives {name} "
                         f"({curves[name][1].original}); {c.mnemonic} left out")
            continue
        quantity = table.quantity(name) if hit else "none"
        try:
            vals, unit, cn = to_canonical(data[c.mnemonic].to_numpy(), quantity, c.unit,
                                          name=c.mnemonic, policy=opts.unit_policy)
        except UnitError as err:
            if opts.unit_policy == "strict":
                raise InputError(str(err), path=path, curve=c.mnemonic) from err
            notes.append(f"{err}; curve left out (unit_policy=drop)")
            continue
        notes += cn
        curves[name] = (vals, Provenance(path, c.mnemonic, c.unit, cn), rank)
    return FilePart(path, depth, curves, images, t2, header, notes)


def _on_grid(src_depth: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Linear interpolation of a curve onto ``grid``; NaN outside its range and across gaps."""
    ok = np.isfinite(values)
    if ok.sum() < 2:
        return np.full(grid.size, np.nan)
    d, v = src_depth[ok], values[ok]
    if np.array_equal(src_depth, grid):
        return values.astype(float)
    out = np.interp(grid, d, v, left=np.nan, right=np.nan)
    step = np.median(np.diff(src_depth))
    pos = np.searchsorted(d, grid)
    pos = np.clip(pos, 1, d.size - 1)
    gap = (d[pos] - d[pos - 1]) > 2.5 * step
    out[gap] = np.nan
    return out


def _choose_grid(parts: list[FilePart], opts: IngestOptions) -> np.ndarray:
    if isinstance(opts.grid, (int, float)) and not isinstance(opts.grid, bool):
        lo = min(p.depth[0] for p in parts)
        hi = max(p.depth[-1] for p in parts)
        return np.arange(lo, hi + 1e-9, float(opts.grid))
    curve_parts = [p for p in parts if p.curves]
    if not curve_parts:
        return parts[0].depth
    if opts.grid == "nmr":
        for p in curve_parts:
            if p.t2 is not None or any(n in NMR_CURVES for n in p.curves):
                return p.depth
    return curve_parts[0].depth


def merge_parts(name: str, parts: list[FilePart], opts: IngestOptions) -> Well:
    """Merge file parts of one well onto one depth grid (see the module docstring)."""
    grid = _choose_grid(parts, opts)
    problems: list[str] = []
    provenance: dict[str, Provenance] = {}
    columns: dict[str, np.ndarray] = {}
    cands: dict[str, list[tuple[int, int, np.ndarray, Provenance]]] = {}
    for i, p in enumerate(parts):
        for cname, (vals, prov, rank) in p.curves.items():
            on = _on_grid(p.depth, vals, grid)
            cands.setdefault(cname, []).append((rank, -int(np.isfinite(on).sum()), i, on, prov))
    for cname, items in cands.items():
        if opts.overlap == "first":
            items.sort(key=lambda t: t[2])
        elif opts.overlap == "longest":
            items.sort(key=lambda t: (t[1], t[2]))
        else:
            items.sort(key=lambda t: (t[0], t[1], t[2]))
        out = items[0][3].copy()
        prov = items[0][4]
        if len(items) > 1:
            if opts.overlap == "splice":
                for _, _, _, on, other in items[1:]:
                    fill = ~np.isfinite(out) & np.isfinite(on)
                    if fill.any():
                        out[fill] = on[fill]
                        prov.notes.append(f"{int(fill.sum())} samples filled from "
                                          f"{Path(other.source).name}:{other.original}")
            problems.append(f"{cname} in {len(items)} files: kept {Path(prov.source).name}:"
                            f"{prov.original} ({opts.overlap})")
        columns[cname] = out
        provenance[cname] = prov
    curves = pd.DataFrame(columns, index=pd.Index(grid, name="DEPT"))
    images: dict[str, Image] = {}
    for p in parts:
        for img in p.images:
            prev = images.get(img.kind)
            if prev is not None:
                keep = img if img.values.shape[0] > prev.values.shape[0] else prev
                problems.append(f"two {img.kind} images ({Path(prev.source).name}, "
                                f"{Path(img.source).name}): kept {Path(keep.source).name}")
                img = keep
            images[img.kind] = img
    t2 = None
    for p in parts:
        if p.t2 is not None:
            amps = np.column_stack([_on_grid(p.depth, p.t2.amplitudes[:, j], grid)
                                    for j in range(p.t2.amplitudes.shape[1])])
            t2 = T2Bins(amps, p.t2.edges_ms, p.t2.source, p.t2.names)
            break
    header: dict[str, str] = {}
    for p in parts:
        for k, v in p.header.items():
            if v and k not in header:
                header[k] = v
        problems += [f"{Path(p.path).name}: {n}" for n in p.notes]
    return Well(name, curves, images, provenance, header, [p.path for p in parts], problems, t2)


def load_well(name: str, paths: list[str | Path], opts: IngestOptions | None = None) -> Well:
    """Read all files of one well and merge them (a pure function of files and options).

    Files that fail are reported in ``well.problems`` and skipped; if none can be read the first
    error is raised.
    """
    opts = opts or IngestOptions()
    table = opts.table()
    cache = None
    if opts.cache_dir:
        from petro.io.cache import PartCache

        cache = PartCache(opts.cache_dir, opts)
    parts, errors = [], []
    for p in sorted(map(str, paths)):
        try:
            got = cache.get(p) if cache else None
            if got is None:
                got = read_file_parts(p, opts, table)
                if cache:
                    cache.put(p, got)
            parts.extend(got)
        except PetroError as err:
            errors.append(err)
    if not parts:
        raise errors[0] if errors else InputError(f"well {name}: no files")
    well = merge_parts(name, parts, opts)
    well.problems = [f"FAILED {e}" for e in errors] + well.problems
    well.files += [getattr(e, "path", "") or "" for e in errors]
    return well

