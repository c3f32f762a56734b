"""Window features of borehole images, aligned to target depths.

An image (rows at 2.5-5 mm, azimuthal bins in columns, NaN for gaps) is reduced to per-row sums
in chunks (count, sum, sum of squares, low-side count, a quantised-level histogram, neighbour
co-occurrence sums, azimuthal-sector sums); windows centred on each target depth are then sums of
rows taken from cumulative sums, so the cost is one pass over the pixels plus O(rows) per scale,
whatever the window length. Peak memory is the per-row table (about 60 numbers a row), well
under one image array.

Values are normalised per well by a robust baseline (median and MAD of the whole image), because
images are not calibrated between wells and tools; resistive images are taken in log10 first.

Columns (``{prefix}`` = ``amp``, ``tt``, ``res``, ``den``, ``gam``, ``img``; ``{w}`` = window in cm,
e.g. ``w015`` for 0.15 m):

- ``{prefix}_mean_{w}``, ``{prefix}_std_{w}``: mean and spread, robust units
- ``{prefix}_p10_{w}``, ``{prefix}_p50_{w}``, ``{prefix}_p90_{w}``: percentiles, robust units
- ``{prefix}_vug_{w}``: fraction of pixels beyond ``vug_threshold`` robust units on the vug side
  (low amplitude, low resistivity, high transit time, low density): a vug proxy
- ``{prefix}_azc_{w}``: azimuthal contrast, std of 8 sector means / pixel std
- ``{prefix}_vhet_{w}``: vertical heterogeneity, variance of row means / pixel variance
- ``{prefix}_glcmc_{w}``, ``{prefix}_glcmh_{w}``: grey-level co-occurrence contrast and
  homogeneity of horizontal and vertical neighbour pairs (16 levels)
- ``{prefix}_ent_{w}``: entropy of the grey-level histogram, bits
- ``{prefix}_cov_{w}``: pad coverage, fraction of non-NaN pixels
- ``{prefix}_het``: multi-scale heterogeneity, std at the longest / std at the shortest window
- ``{prefix}_patch_00`` .. ``_31``: a 4 (depth) x 8 (azimuth sector) patch of mean values over
  ``patch_window_m``, rotated so the darkest sector is first; the input of the learned embedding
  (PCA inside the fitted model, fitted on training wells only)
A window with coverage below ``min_coverage`` gives NaN features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from petro.vocab import DEPTH, IMAGE_PREFIX, IMAGE_STATS, image_feature, patch_feature

PREFIX = IMAGE_PREFIX
VUG_SIDE = {"acoustic_amplitude": -1, "acoustic_transit_time": 1, "resistive": -1,
            "density": -1, "gamma": 1, "other": -1}
STATS = IMAGE_STATS
N_HIST = 32          # histogram levels over [-HIST_RANGE, HIST_RANGE] robust units
HIST_RANGE = 4.0
N_GLCM = 16
N_SECTORS = 8


@dataclass
class ImageFeatureParams:
    """Parameters of image features (the ``features.image`` section of a pipeline)."""

    windows_m: tuple[float, ...] = (0.15, 0.5, 1.5)
    min_coverage: float = 0.3
    vug_threshold: float = 2.0
    normalise: str = "per_well"          # 'per_well' or 'none'
    log_kinds: tuple[str, ...] = ("resistive",)
    chunk_rows: int = 1024               # rows per pass: small enough to stay in cache
    kinds: tuple[str, ...] | None = None  # None: every image kind found
    patch_window_m: float = 0.5          # window of the patches for the learned embedding; 0: none
    patch_rows: int = 4

    @property
    def n_patch(self) -> int:
        """Patch values per window (depth sub-windows x sectors), 0 without patches."""
        return self.patch_rows * N_SECTORS if self.patch_window_m else 0


def feature_names(kind: str, windows_m, n_patch: int = 0) -> list[str]:
    """Feature columns of one image kind, in the documented order."""
    p = PREFIX.get(kind, "img")
    names = [image_feature(p, s, w) for w in windows_m for s in STATS]
    if len(windows_m) > 1:
        names.append(image_feature(p, "het"))
    names += [patch_feature(p, j) for j in range(n_patch)]
    return names



def robust_baseline(values: np.ndarray, max_pixels: int = 2_000_000,
                    log: bool = False) -> tuple[float, float]:
    """Median and 1.4826 * MAD of the finite pixels (row-subsampled to ``max_pixels``), of
    log10 of the positive pixels when ``log``."""
    step = max(1, int(np.ceil(values.size / max_pixels)))
    sample = _baseline_sample(values, step, log)
    if sample.size == 0:
        return float("nan"), float("nan")
    # in place (the sample is this function's own copy): one float64 array of the sample at a
    # time; a median does not depend on the order of its values
    med = float(np.median(sample, overwrite_input=True))
    np.subtract(sample, med, out=sample)
    np.abs(sample, out=sample)
    mad = float(np.median(sample, overwrite_input=True)) * 1.4826
    if not mad > 0:   # the sample again, in its order (a sum depends on it)
        mad = float(np.std(_baseline_sample(values, step, log))) or 1.0
    return med, mad


def _baseline_sample(values: np.ndarray, step: int, log: bool) -> np.ndarray:
    """Every ``step``-th row's finite pixels (positive ones, as log10, when ``log``), float64,
    in row order; selected in the image's own dtype before the float64 copy is made."""
    rows = np.asarray(values[::step])
    keep = np.isfinite(rows)
    if log:
        keep &= rows > 0
    sample = rows[keep].astype(np.float64, copy=False)   # a new array either way
    if log:
        np.log10(sample, out=sample)    # finite: the pixels are positive and finite
    return sample


def _sector_starts(bins: int) -> np.ndarray:
    """First column of each of the N_SECTORS contiguous azimuthal column groups."""
    return np.flatnonzero(np.diff(np.concatenate([[-1], (np.arange(bins) * N_SECTORS) // bins])))


def _pair_sums(qa: np.ndarray, qb: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, ...]:
    """Co-occurrence contrast and homogeneity sums and pair counts of level pairs (qa, qb),
    per row. Levels are small integers held in float32, so the squared differences and their
    sums are exact; homogeneity terms 1 / (1 + d^2) are summed in float64."""
    d = qa - qb
    d *= d
    okf = ok.astype(np.float32)
    con = np.einsum("ij,ij->i", d, okf)
    d += np.float32(1.0)
    np.reciprocal(d, out=d)
    hom = np.einsum("ij,ij->i", d, okf, dtype=np.float64)
    return con, hom, np.count_nonzero(ok, axis=1)


def _row_stats(x: np.ndarray, side: int, thr: float) -> np.ndarray:
    """Per-row additive statistics of a normalised float32 chunk (rows, bins) -> (rows, K).

    ``x`` is overwritten (gaps set to 0). The last row of the chunk is only used as the vertical
    neighbour of the row before it. Everything is whole-array numpy work over the chunk: one
    bincount for the level histogram, float32 arithmetic for the co-occurrence sums.
    """
    rows, bins = x.shape
    fin = np.isfinite(x)
    gap = ~fin
    np.copyto(x, np.float32(0.0), where=gap)
    s1 = x.sum(axis=1, dtype=np.float64)
    s2 = np.einsum("ij,ij->i", x, x, dtype=np.float64)
    low = np.count_nonzero((x < -thr) if side < 0 else (x > thr), axis=1)
    if not thr > 0:  # gaps are 0 and would count
        low = low - np.count_nonzero(gap & ((0.0 < -thr) if side < 0 else (0.0 > thr)), axis=1)
    # histogram over N_HIST levels (gaps go to an extra level), one bincount for the chunk
    lvf = x + np.float32(HIST_RANGE)
    lvf *= np.float32(N_HIST / (2 * HIST_RANGE))
    np.clip(lvf, 0, N_HIST - 1, out=lvf)
    lv = lvf.astype(np.uint8)
    codes = lv.astype(np.intp)
    codes[gap] = N_HIST
    codes += (np.arange(rows, dtype=np.intp) * (N_HIST + 1))[:, None]
    hist = np.bincount(codes.ravel(), minlength=rows * (N_HIST + 1)).reshape(rows, N_HIST + 1)
    hist = hist[:, :N_HIST]
    cnt = hist.sum(axis=1)
    # co-occurrence on N_GLCM levels: horizontal pairs (wrapping azimuth) and vertical pairs
    q = (lv // (N_HIST // N_GLCM)).astype(np.float32)
    con, hom, npair = _pair_sums(q, np.roll(q, -1, axis=1), fin & np.roll(fin, -1, axis=1))
    npair = npair.astype(np.float64)
    cv, hv, nv = _pair_sums(q[:-1], q[1:], fin[:-1] & fin[1:])
    con = con.astype(np.float64)
    con[:-1] += cv
    hom[:-1] += hv
    npair[:-1] += nv
    # azimuthal sectors: contiguous column groups
    # (reduceat, not a matrix product: BLAS threads spin badly on a loaded machine)
    starts = _sector_starts(bins)
    sec_sum = np.add.reduceat(x, starts, axis=1, dtype=np.float64)
    sec_cnt = np.add.reduceat(fin, starts, axis=1, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        rmean = np.where(cnt > 0, s1 / np.maximum(cnt, 1), 0.0)
    has_row = (cnt > 0).astype(float)
    return np.column_stack([cnt, s1, s2, low, con, hom, npair, rmean * has_row,
                            rmean * rmean * has_row, has_row, hist, sec_sum, sec_cnt])


_K_BASE = 10  # columns before the histogram in _row_stats


def image_window_features(depth: np.ndarray, values: np.ndarray, target_depth: np.ndarray,
                          kind: str, params: ImageFeatureParams | None = None) -> pd.DataFrame:
    """Window features of one image at ``target_depth`` (m).

    Parameters
    ----------
    depth : array (rows,), m, increasing
    values : array (rows, bins), image values, NaN for gaps
    target_depth : array (n,), m, the depths to describe (window centres)
    kind : image kind (sets the column prefix, the vug side and log scaling)
    """
    p = params or ImageFeatureParams()
    depth = np.asarray(depth, dtype=float)
    target = np.asarray(target_depth, dtype=float)
    if depth.size > 1 and depth[0] > depth[-1]:
        depth, values = depth[::-1], values[::-1]
    names = feature_names(kind, p.windows_m, p.n_patch)
    out: dict[str, np.ndarray] = {}      # columns, made into one frame at the end (no inserts)
    csum = _row_sums(depth, values, kind, p) if depth.size >= 2 and values.size else None
    if csum is not None:
        pre = PREFIX.get(kind, "img")
        bins = values.shape[1]
        stds = {}
        for w in p.windows_m:
            cols, stds[w] = _window_stats(depth, csum, target, bins, w, p.min_coverage)
            out.update({image_feature(pre, s, w): v for s, v in cols.items()})
        if len(p.windows_m) > 1:
            lo, hi = min(p.windows_m), max(p.windows_m)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[image_feature(pre, "het")] = stds[hi] / stds[lo]
        if p.patch_window_m:
            patch = _patches(depth, csum, target, bins, p)
            for j in range(patch.shape[1]):
                out[patch_feature(pre, j)] = patch[:, j]
    nan = np.full(target.shape, np.nan)
    return pd.DataFrame({n: out.get(n, nan) for n in names}, index=pd.Index(target, name=DEPTH))


def _row_sums(depth: np.ndarray, values: np.ndarray, kind: str,
              p: ImageFeatureParams) -> np.ndarray | None:
    """Cumulative per-row statistics of the normalised image: ``csum[0] = 0`` and
    ``csum[i + 1]`` = sum of the rows 0..i (see :func:`_row_stats`); None when the image has no
    baseline (no finite pixel). One pass over the rows, in chunks of ``p.chunk_rows``."""
    use_log = kind in p.log_kinds
    if p.normalise == "per_well":
        med, scale = robust_baseline(values, log=use_log)
    else:
        med, scale = 0.0, 1.0
    if not np.isfinite(med):
        return None
    side = VUG_SIDE.get(kind, -1)
    rows = depth.size
    csum = np.zeros((rows + 1, _K_BASE + N_HIST + 2 * N_SECTORS))
    for a in range(0, rows, p.chunk_rows):
        b = min(rows, a + p.chunk_rows)
        # vertical pairs need the first row of the next chunk
        raw = np.asarray(values[a:min(rows, b + 1)]).astype(np.float32, copy=False)
        with np.errstate(divide="ignore", invalid="ignore"):
            # log10 of a non-positive pixel is NaN or -inf: a gap, like NaN
            chunk = np.log10(raw) if use_log else np.subtract(raw, np.float32(med))
            if use_log:
                chunk -= np.float32(med)
        chunk /= np.float32(scale)
        st = _row_stats(chunk, side, p.vug_threshold)[: b - a]
        st[0] += csum[a]                   # running sum, while the chunk is in cache
        np.cumsum(st, axis=0, out=csum[a + 1:b + 1])
    return csum


def _hist_percentiles(hist: np.ndarray, cnt: np.ndarray) -> dict[float, np.ndarray]:
    """P10, P50 and P90 (robust units) of windows from their level histograms, interpolated
    inside the level where the cumulative share crosses each."""
    cdf = np.cumsum(hist, axis=1) / cnt[:, None]
    edges = np.linspace(-HIST_RANGE, HIST_RANGE, N_HIST + 1)
    pct = {}
    for q in (0.1, 0.5, 0.9):
        j = np.clip((cdf < q).sum(axis=1), 0, N_HIST - 1)
        prev = np.where(j > 0, cdf[np.arange(cdf.shape[0]), np.maximum(j - 1, 0)], 0.0)
        cur = cdf[np.arange(cdf.shape[0]), j]
        frac = np.clip((q - prev) / np.where(cur > prev, cur - prev, 1.0), 0, 1)
        pct[q] = edges[j] + frac * (edges[1] - edges[0])
    return pct


def _window_stats(depth, csum, target, bins: int, w: float,
                  min_coverage: float) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The statistics (``STATS``) of the windows of length ``w`` (m) centred on ``target``, from
    the cumulative row sums, NaN where the coverage is short; and the windows' std (NaN there)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        i0 = np.searchsorted(depth, target - w / 2, side="left")
        i1 = np.searchsorted(depth, target + w / 2, side="left")
        S = csum[i1] - csum[i0]
        nrows = (i1 - i0).astype(float)
        cnt, s1, s2, low, con, hom, npair, rm, rm2, hasrow = (S[:, k] for k in range(_K_BASE))
        hist = S[:, _K_BASE:_K_BASE + N_HIST]
        sec_sum = S[:, _K_BASE + N_HIST:_K_BASE + N_HIST + N_SECTORS]
        sec_cnt = S[:, _K_BASE + N_HIST + N_SECTORS:]
        step = np.median(np.diff(depth))
        expected_rows = np.maximum(w / step, 1.0)
        cover = cnt / (expected_rows * bins)
        mean = s1 / cnt
        var = np.maximum(s2 / cnt - mean ** 2, 0.0)
        std = np.sqrt(var)
        pct = _hist_percentiles(hist, cnt)
        has = sec_cnt > 0
        nsec = has.sum(axis=1)
        sec_mean = np.where(has, sec_sum / np.where(has, sec_cnt, 1.0), 0.0)
        mu = sec_mean.sum(axis=1) / nsec
        sec_var = (np.where(has, sec_mean - mu[:, None], 0.0) ** 2).sum(axis=1) / nsec
        azc = np.sqrt(sec_var) / std
        row_mean_var = np.maximum(rm2 / hasrow - (rm / hasrow) ** 2, 0.0)
        phist = hist / cnt[:, None]
        ent = -np.sum(np.where(phist > 0, phist * np.log2(np.where(phist > 0, phist, 1)), 0),
                      axis=1)
        cols = {"mean": mean, "std": std, "p10": pct[0.1], "p50": pct[0.5], "p90": pct[0.9],
                "vug": low / cnt, "azc": azc, "vhet": row_mean_var / var,
                "glcmc": con / npair, "glcmh": hom / npair, "ent": ent,
                "cov": np.clip(cover, 0, 1)}
        bad = (cover < min_coverage) | (nrows < 2) | ~(cnt > 0)
        for s, v in cols.items():
            v = np.asarray(v, dtype=float)
            v[bad] = np.nan
            if s == "cov":
                v[bad & (nrows >= 1)] = np.clip(cover[bad & (nrows >= 1)], 0, 1)
            cols[s] = v
    return cols, np.where(bad, np.nan, std)


def _patches(depth, csum, target, bins, p: ImageFeatureParams) -> np.ndarray:
    """Small images of each window for the learned embedding: ``patch_rows`` depth sub-windows x
    ``N_SECTORS`` azimuthal sectors of mean normalised value, rotated so that the darkest sector
    comes first (the tool's orientation carries no information). NaN where coverage is short."""
    nr = p.patch_rows
    w = p.patch_window_m
    edges = target[:, None] - w / 2 + np.arange(nr + 1)[None, :] * (w / nr)
    idx = np.searchsorted(depth, edges, side="left")
    s0 = _K_BASE + N_HIST
    sec = csum[:, s0:s0 + N_SECTORS]
    cnt = csum[:, s0 + N_SECTORS:s0 + 2 * N_SECTORS]
    with np.errstate(invalid="ignore", divide="ignore"):
        sub_sum = sec[idx[:, 1:]] - sec[idx[:, :-1]]           # (n, rows, sectors)
        sub_cnt = cnt[idx[:, 1:]] - cnt[idx[:, :-1]]
        patch = sub_sum / sub_cnt
        total = sub_sum.sum(axis=1) / sub_cnt.sum(axis=1)       # (n, sectors)
    step = np.median(np.diff(depth))
    cover = sub_cnt.sum(axis=(1, 2)) / max(1.0, w / step) / bins
    first = np.nanargmin(np.where(np.isfinite(total), total, np.inf), axis=1)
    order = (first[:, None] + np.arange(N_SECTORS)[None, :]) % N_SECTORS
    patch = np.take_along_axis(patch, order[:, None, :], axis=2).reshape(len(target), -1)
    patch[cover < p.min_coverage] = np.nan
    return patch
