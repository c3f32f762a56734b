"""Merging the parts of one well onto one depth grid.

Curves go onto one grid (by default the NMR run's, so targets are never interpolated; else the
first conventional run's, or a regular step), and a curve present in several runs is combined by
a documented rule: ``splice`` (default) takes the best run (lowest alias rank, then most valid
samples) and fills its gaps from the others; ``first`` keeps the first file's curve only;
``longest`` keeps the run with the most valid samples. Images: the longer of two of a kind.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from petro.io.canonical import FilePart
from petro.io.options import IngestOptions
from petro.problems import Problem, info, warning
from petro.vocab import DEPTH, is_nmr
from petro.well import Image, Provenance, T2Bins, Well


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
            if is_nmr(p.curves, p.t2 is not None):
                return p.depth
    return curve_parts[0].depth


def merge_parts(name: str, parts: list[FilePart], opts: IngestOptions) -> Well:
    """Merge file parts of one well onto one depth grid (see the module docstring)."""
    grid = _choose_grid(parts, opts)
    problems: list[Problem] = []
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
            problems.append(info(f"{cname} in {len(items)} files: kept "
                                 f"{Path(prov.source).name}:{prov.original} ({opts.overlap})",
                                 well=name, curve=cname, code="curve_spliced"))
        columns[cname] = out
        provenance[cname] = prov
    curves = pd.DataFrame(columns, index=pd.Index(grid, name=DEPTH))
    images: dict[str, Image] = {}
    for p in parts:
        for img in p.images:
            prev = images.get(img.kind)
            if prev is not None:
                keep = img if img.values.shape[0] > prev.values.shape[0] else prev
                problems.append(warning(f"two {img.kind} images ({Path(prev.source).name}, "
                                        f"{Path(img.source).name}): kept "
                                        f"{Path(keep.source).name}", well=name,
                                        code="image_duplicate"))
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
        problems += [q.at(well=name) for q in p.problems]
    return Well(name, curves, images, provenance, header, [p.path for p in parts], problems, t2)

