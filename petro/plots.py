"""Plots of blind-well results (matplotlib PNGs, written to a folder; logging is the caller's)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from petro.vocab import TARGETS


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
    for w, g in oof.groupby("WELL"):
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
    wells = list(oof["WELL"].unique())[:max_wells]
    fig, axes = _subplots(1, len(wells), figsize=(2.4 * len(wells) + 0.5, 7), squeeze=False)
    for ax, w in zip(axes[0], wells):
        g = oof[oof["WELL"] == w].sort_values("DEPT")
        z = g["DEPT"].to_numpy()
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
    for w, g in oof.groupby("WELL"):
        r = (g["p50"] - g["y"]).to_numpy() * (1.0 if log else scale)
        ax.plot(r, g["DEPT"], ".", ms=2, label=str(w))
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
