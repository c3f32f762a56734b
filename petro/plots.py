"""Plots of blind-well results (matplotlib PNGs, written to a folder; logging is the caller's)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from petro.vocab import DEPTH, TARGETS, WELL


def _subplots(*args, **kwargs):
    """A figure without pyplot: no global backend or state is touched (nothing at import)."""
    figsize = kwargs.pop("figsize", None)
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*args, **kwargs)


def _label(target: str) -> tuple[str, float, bool]:
    """Axis label, scale from model space to the plotted unit, and whether the axis is log."""
    t = TARGETS[target]
    if t.transform == "log10":
        return f"{t.description} ({t.unit})", 1.0, True
    return f"{t.description} ({t.report_unit})", t.report_scale, False


def crossplot(oof: pd.DataFrame, target: str, path: Path, title: str) -> Path:
    label, scale, log = _label(target)
    fig, ax = _subplots(figsize=(5.5, 5))
    for w, g in oof.groupby(WELL):
        y, p = g["y"].to_numpy(), g["p50"].to_numpy()
        if log:
            y, p = 10 ** y, 10 ** p
        ax.scatter(y * scale, p * scale, s=6, alpha=0.6, label=str(w))
    lim = [np.nanmin(oof[["y", "p50"]].to_numpy()), np.nanmax(oof[["y", "p50"]].to_numpy())]
    lim = [10 ** v for v in lim] if log else [v * scale for v in lim]
    ax.plot(lim, lim, "k-", lw=1)
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
        for f in (3, 10):
            ax.plot(lim, [v * f for v in lim], "k:", lw=0.6)
            ax.plot(lim, [v / f for v in lim], "k:", lw=0.6)
    ax.set_xlabel(f"NMR {label}")
    ax.set_ylabel(f"predicted (blind well) {label}")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=6, markerscale=2, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return path


def depth_tracks(oof: pd.DataFrame, target: str, path: Path, title: str, max_wells: int = 6) -> Path:
    """Per blind well: NMR target, prediction, P10-P90 band, out-of-domain depths shaded."""
    label, scale, log = _label(target)
    wells = list(oof[WELL].unique())[:max_wells]
    fig, axes = _subplots(1, len(wells), figsize=(2.4 * len(wells) + 0.5, 7), squeeze=False)
    for ax, w in zip(axes[0], wells):
        g = oof[oof[WELL] == w].sort_values(DEPTH)
        z = g[DEPTH].to_numpy()
        conv = (lambda v: 10 ** v) if log else (lambda v: v * scale)
        ax.fill_betweenx(z, conv(g["lo_c"].to_numpy()), conv(g["hi_c"].to_numpy()),
                         color="tab:blue", alpha=0.25, lw=0, label="P10-P90")
        ax.plot(conv(g["y"].to_numpy()), z, "k-", lw=0.8, label="NMR")
        ax.plot(conv(g["p50"].to_numpy()), z, "tab:red", lw=0.8, label="predicted")
        if "in_domain" in g:
            ood = ~g["in_domain"].to_numpy(dtype=bool)
            if ood.any():
                ax.fill_betweenx(z, 0, 1, where=ood, transform=ax.get_yaxis_transform(),
                                 color="tab:orange", alpha=0.3, lw=0, label="out of domain")
        if log:
            ax.set_xscale("log")
        ax.invert_yaxis()
        ax.set_title(str(w), fontsize=9)
        ax.set_xlabel(label, fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].set_ylabel("depth (m)")
    axes[0][0].legend(fontsize=6, loc="lower left")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return path


def residuals_vs_depth(oof: pd.DataFrame, target: str, path: Path, title: str) -> Path:
    _, scale, log = _label(target)
    fig, ax = _subplots(figsize=(5, 6))
    for w, g in oof.groupby(WELL):
        r = (g["p50"] - g["y"]).to_numpy() * (1.0 if log else scale)
        ax.plot(r, g[DEPTH], ".", ms=2, label=str(w))
    ax.axvline(0, color="k", lw=0.8)
    ax.invert_yaxis()
    ax.set_xlabel("residual (decades)" if log else "residual (p.u.)")
    ax.set_ylabel("depth (m)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=6, markerscale=3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return path


def importance(imp: pd.Series, path: Path, title: str, top: int = 25) -> Path:
    s = imp.head(top)[::-1]
    fig, ax = _subplots(figsize=(6, 0.25 * len(s) + 1.2))
    ax.barh(s.index, s.to_numpy(), color="tab:green")
    ax.set_xlabel("mean gain over blind-well folds")
    ax.set_title(title, fontsize=10)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return path


def model_plots(cv, out_dir: Path, name: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    t = cv.spec.target
    return [crossplot(cv.oof, t, out_dir / f"{name}_crossplot.png", f"{name}: blind-well predictions"),
            depth_tracks(cv.oof, t, out_dir / f"{name}_depth_tracks.png",
                         f"{name}: blind wells, P10-P90 and out-of-domain depths"),
            residuals_vs_depth(cv.oof, t, out_dir / f"{name}_residuals.png",
                               f"{name}: blind-well residuals"),
            importance(cv.importance, out_dir / f"{name}_importance.png",
                       f"{name}: feature importance")]


# ------------------------------------------------------------------ predicted wells (QC pictures)
# conventional tracks of a predicted well: (columns drawn, axis label, log axis)
# (columns, axis label, log axis, fixed limits or None); a second column gets its own axis on top,
# RHOB / NPHI on the usual limestone-compatible scales (NPHI reversed)
LOG_TRACKS = ((("GR", "CALI"), "GR gAPI", False, None), (("RHOB", "NPHI"), "RHOB g/cc", False,
                                                         {"RHOB": (1.95, 2.95),
                                                          "NPHI": (0.45, -0.15)}),
              (("DT", "DTS"), "DT us/ft", False, None),
              (("LOG10_RT", "LOG10_RXO"), "RT ohm.m", True, None), (("PEF",), "PEF b/e", False,
                                                                    None))
PREVIEW_ROWS, PREVIEW_COLS = 1200, 72


def image_preview(depth: np.ndarray, values: np.ndarray, rows: int = PREVIEW_ROWS,
                  cols: int = PREVIEW_COLS) -> tuple[np.ndarray, np.ndarray]:
    """An image reduced for display: at most ``rows`` x ``cols`` block means (NaN-aware), with the
    depth of each block (m). Small enough to travel with a well's feature table."""
    v = np.asarray(values, dtype=np.float32)
    n, m = v.shape
    fr, fc = max(1, int(np.ceil(n / rows))), max(1, int(np.ceil(m / cols)))
    pad_r, pad_c = (-n) % fr, (-m) % fc
    v = np.pad(v, ((0, pad_r), (0, pad_c)), constant_values=np.nan)
    blocks = v.reshape(v.shape[0] // fr, fr, v.shape[1] // fc, fc)
    fin = np.isfinite(blocks)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(fin, blocks, 0).sum(axis=(1, 3)) / fin.sum(axis=(1, 3))
    d = np.asarray(depth, dtype=float)
    d = np.pad(d, (0, pad_r), mode="edge").reshape(-1, fr).mean(axis=1)
    return d, out.astype(np.float32)


def _few_ticks(ax, depth_labels: bool) -> None:
    """Three value ticks a track and depth ticks on the first track only (a picture per well of
    a field: every tick costs time)."""
    from matplotlib.ticker import LogLocator, MaxNLocator, NullLocator

    log = ax.get_xscale() == "log"
    ax.xaxis.set_major_locator(LogLocator(numticks=3) if log else MaxNLocator(3))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_locator(MaxNLocator(10) if depth_labels else NullLocator())
    ax.yaxis.set_minor_locator(NullLocator())
    ax.tick_params(labelsize=6)


def _shade(ax, depth: np.ndarray, flagged: np.ndarray) -> None:
    if flagged.any():
        ax.fill_betweenx(depth, 0, 1, where=flagged, transform=ax.get_yaxis_transform(),
                         color="tab:orange", alpha=0.25, lw=0, step="mid")


def _band(ax, depth, frame: pd.DataFrame, prefix: str, log: bool, label: str) -> None:
    lo, p50, hi = (frame.get(f"{prefix}_{s}") for s in ("P10", "ML", "P90"))
    if p50 is None:
        ax.set_visible(False)
        return
    ax.fill_betweenx(depth, lo.to_numpy(float), hi.to_numpy(float), color="tab:blue", alpha=0.3,
                     lw=0, label="P10-P90")
    ax.plot(p50.to_numpy(float), depth, color="tab:red", lw=0.7, label="P50")
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(label, fontsize=7)


def _log_track(ax, frame: pd.DataFrame, depth: np.ndarray, cols, label: str, log: bool,
               lims: dict) -> None:
    """One track of conventional logs: the first column on the track's axis, a second one on its
    own axis along the top."""
    present = [c for c in cols if c in frame and frame[c].notna().any()]
    for i, c in enumerate(present):
        a = ax if i == 0 else ax.twiny()
        v = frame[c].to_numpy(float)
        a.plot(10 ** v if c.startswith("LOG10_") else v, depth, color=("k", "tab:red")[i],
               lw=0.5)
        if log:
            a.set_xscale("log")
        if c in lims:
            a.set_xlim(*lims[c])
        name = c.replace("LOG10_", "")
        a.set_xlabel(label if i == 0 and name in label else name, fontsize=7,
                     color=("k", "tab:red")[i])
        a.tick_params(labelsize=6, colors=("k", "tab:red")[i])
        if i:
            _few_ticks(a, depth_labels=False)


def predicted_well_plot(frame: pd.DataFrame, path: Path, *, title: str,
                        images: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
                        residual: str | None = None, dpi: int = 70) -> Path:
    """A depth-track picture of one predicted well: its input logs, a strip of each image,
    PHIE and PERM with their P10-P90 band, the depths out of the training domain shaded, and
    the ``NOV_<residual>`` track of the curve the diagnosis names.

    ``frame``: DEPT, the input log columns (canonical, LOG10_RT for resistivity), the predicted
    columns (PHIE_ML/_P10/_P90, PERM_ML/_P10/_P90, OOD_FLAG, NOV_<curve>); ``images``: kind ->
    (depth, preview array) from :func:`image_preview`."""
    depth = frame[DEPTH].to_numpy(float)
    flagged = frame.get("OOD_FLAG", pd.Series(0, index=frame.index)).fillna(0).to_numpy() > 0
    logs = [t for t in LOG_TRACKS if any(c in frame and frame[c].notna().any() for c in t[0])]
    nov = f"NOV_{residual}" if residual and f"NOV_{residual}" in frame else None
    kinds = list(images or {})
    n = len(logs) + len(kinds) + 2 + (nov is not None)
    height = float(np.clip((depth[-1] - depth[0]) / 25.0, 6.0, 16.0)) if depth.size else 6.0
    fig, axes = _subplots(1, n, figsize=(1.45 * n + 0.6, height), squeeze=False)
    axes = list(axes[0])
    for ax, (cols, label, log, lims) in zip(axes, logs):
        _log_track(ax, frame, depth, cols, label, log, lims or {})
    for ax, kind in zip(axes[len(logs):], kinds):
        d, arr = images[kind]
        fin = arr[np.isfinite(arr)]
        lo, hi = np.percentile(fin, [2, 98]) if fin.size else (0.0, 1.0)
        ax.imshow(arr, aspect="auto", cmap="YlOrBr_r", vmin=lo, vmax=hi, interpolation="nearest",
                  extent=(0, 360, d[-1], d[0]) if d.size else None)
        ax.set_xlabel(kind.replace("_", " ") + " image", fontsize=7)
        ax.set_xticks([0, 180, 360])
    k = len(logs) + len(kinds)
    _band(axes[k], depth, frame, "PHIE", False, "PHIE v/v")
    _band(axes[k + 1], depth, frame, "PERM", True, "PERM mD")
    axes[k].legend(fontsize=5, loc="lower right")
    if nov:
        axes[k + 2].plot(frame[nov].to_numpy(float), depth, color="tab:purple", lw=0.5)
        axes[k + 2].axvline(0, color="k", lw=0.5)
        axes[k + 2].set_xlabel(f"{nov}\n(curve - expected)", fontsize=7)
    for i, ax in enumerate(axes):
        _shade(ax, depth, flagged)
        _few_ticks(ax, depth_labels=i == 0)
        if depth.size:
            ax.set_ylim(depth[-1], depth[0])
    axes[0].set_ylabel("depth (m)", fontsize=7)
    fig.suptitle(title, fontsize=8)
    # a fixed layout: tight_layout draws the figure once more to measure it (half the time)
    fig.subplots_adjust(left=0.6 / (1.45 * n + 0.6), right=0.99, top=1 - 0.75 / height,
                        bottom=0.55 / height, wspace=0.18)
    # PNG whatever the file's name (an atomic write's temporary name); zlib 6 costs 2x the time
    fig.savefig(path, dpi=dpi, format="png", pil_kwargs={"compress_level": 3})
    return path


_INDEX_CSS = ("body{font-family:sans-serif;font-size:13px;margin:1em}"
              "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:3px 6px;"
              "vertical-align:top}th{background:#eee}.warn{background:#fde9c8}"
              ".bad{background:#f8c9c4}.ok{background:#e3f2dc}td.num{text-align:right}")


def predictions_index(rows: list[dict], title: str) -> str:
    """An HTML page with one row per well (after welly's QC table): the diagnosis, the share of
    depths flagged out of domain, the input coverage, the curve verdicts other than `used`, and
    links to the picture and the LAS file. ``rows``: dicts with keys well, status ('predicted' or
    'failed'), diagnosis, flagged (share), coverage, key_coverage, verdicts (list of strings),
    picture, las (relative links), problems (list of strings)."""
    from html import escape

    def cell(v, cls=""):
        return f"<td{f' class={cls!r}' if cls else ''}>{v}</td>"

    def link(p, text):
        return f"<a href='{escape(p)}'>{text}</a>" if p else "-"

    head = ("well", "status", "flagged out of domain", "input coverage (key)", "diagnosis",
            "curve verdicts", "picture", "LAS")
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
           f"<style>{_INDEX_CSS}</style></head><body><h2>{escape(title)}</h2>",
           f"<p>{len(rows)} wells; a flagged depth has inputs unlike the training wells "
           f"(NOVELTY &gt; 1): its P10-P90 is widened or withheld.</p><table><tr>"
           + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for r in rows:
        failed = r.get("status") != "predicted"
        share = r.get("flagged")
        cls = "bad" if failed or (share or 0) > 0.5 else "warn" if (share or 0) > 0.1 else "ok"
        cov = ("-" if r.get("coverage") is None else
               f"{r['coverage']:.2f} ({r.get('key_coverage', float('nan')):.2f})")
        notes = "<br>".join(escape(x) for x in r.get("problems", [])) if failed else \
            escape(r.get("diagnosis") or "-")
        out.append("<tr>" + cell(escape(str(r["well"]))) + cell(escape(r.get("status", "")), cls)
                   + cell("-" if share is None else f"{share:.0%}", "num " + cls)
                   + cell(cov, "num") + cell(notes)
                   + cell("<br>".join(escape(v) for v in r.get("verdicts", [])) or "all used")
                   + cell(link(r.get("picture"), "picture")) + cell(link(r.get("las"), "LAS"))
                   + "</tr>")
    out.append("</table></body></html>")
    return "\n".join(out)
