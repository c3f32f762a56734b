"""Curve and image quality control: does each log measure the rock?

Every curve of a well gets a :class:`Verdict`: ``used``, ``masked`` (some samples set to missing,
counted) or ``left out`` (the whole curve is dropped: it is no model input in this well), with the
reason in a petrophysicist's words. The checks follow welly's curve tests (``no_flat``,
``no_gaps``, ``no_monotonic``, spikes) and go beyond them with physics:

- **no data**: fewer than ``min_samples`` finite samples;
- **stuck**: more than ``stuck_share`` of the samples at one value (a tool that stopped updating);
- **flat**: a robust spread (1.4826 x MAD) over the whole well below what the tool resolves
  (``resolution``, per curve kind in ``petro/data/quality.yaml``; skipped for a caliper, whose
  flat reading in gauge hole is normal);
- **dead to shale**: where the gamma ray separates shale beds from clean beds (``gr_contrast``
  between the upper and lower GR quantiles), a neutron that reads the same in both (bound water
  always raises the neutron in shale) and hardly varies at all (``live_spread``) is dead; the
  same rule with its own figures for the density;
- **dead detector**: a curve computed from detector count rates (the neutron: near and far
  thermal counts) whose count-rate curves, where the file has them, read near zero;
- **noise**: a lag-1 autocorrelation below ``noise_autocorr``: the samples are not a log of beds
  (logs are sampled finer than the tool's vertical resolution, so neighbours agree);
- **spikes**: isolated samples departing from both neighbours by more than ``spike_spreads``
  local spreads of the sample-to-sample differences are counted (and kept: at coarse sampling
  a thin bed logged once looks the same); more than ``spikes_share`` of them and the curve is
  left out;
- **ramp**: ``ramp_share`` of the steps in one direction over the well: a depth or time index,
  not a log (a shifted column?).

Images: an azimuthal column (button, sector) that varies less than ``image_dead_spread`` of the
median column's spread while its neighbours vary is dead and set to missing (pad gaps, columns of
missing values, are gaps, not dead buttons); with more than ``image_dead_share`` of the live
columns dead the image is left out.

Pure functions on arrays and DataFrames (canonical curves in canonical units); the rules are data
(``petro/data/quality.yaml``). The caller applies the verdicts to the well and reports them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd
import yaml

USED, MASKED, LEFT_OUT = "used", "masked", "left out"
GR = "GR"


@dataclass(frozen=True)
class Verdict:
    """What quality control decided for one curve (or image) of one well."""

    item: str                 # canonical curve (NPHI) or image (image:acoustic_amplitude)
    status: str               # USED | MASKED | LEFT_OUT
    reason: str = ""          # in a petrophysicist's words ('' when used as is)
    code: str = ""            # no_data | stuck | flat | dead_to_shale | noise | spikes | ramp | dead_columns
    samples: int = 0          # samples (image: columns) set to missing

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Verdict":
        return cls(**d)

    def __str__(self) -> str:
        return f"{self.item}: {self.status}" + (f" ({self.reason})" if self.reason else "")


@lru_cache(maxsize=1)
def rules() -> dict:
    """The packaged QC rules (``petro/data/quality.yaml``)."""
    return yaml.safe_load(resources.files("petro").joinpath("data/quality.yaml").read_text())


def robust_spread(v: np.ndarray) -> float:
    """1.4826 x the median absolute deviation of the finite values (0 for fewer than 2)."""
    v = v[np.isfinite(v)]
    if v.size < 2:
        return 0.0
    return float(1.4826 * np.median(np.abs(v - np.median(v))))


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _stuck(v: np.ndarray, share: float) -> tuple[float, float] | None:
    """(value, share) of the most common value when more than ``share`` of the samples hold it."""
    vals, counts = np.unique(np.round(v, 6), return_counts=True)
    k = int(np.argmax(counts))
    s = counts[k] / v.size
    return (float(vals[k]), float(s)) if s > share else None


def _lag1(v: np.ndarray) -> float:
    """Lag-1 autocorrelation of a series (NaN gaps break pairs); values clipped at 5 robust
    spreads so a few spikes do not decide it."""
    med, s = np.nanmedian(v), robust_spread(v)
    x = np.clip(v, med - 5 * s, med + 5 * s) if s > 0 else v
    a, b = x[:-1], x[1:]
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 10:
        return float("nan")
    a, b = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else float("nan")


def isolated_spikes(v: np.ndarray, spreads: float, window: int = 25) -> np.ndarray:
    """Single-sample spikes: samples departing, in the same direction, from both neighbours
    (which differ from each other by less than half the departure) by more than ``spreads`` times the local sample-to-sample
    spread (1.4826 x the running median of |differences| over ``window`` samples) and by more
    than the curve's robust spread over the whole well: a dropout or a noise burst, not the edge
    of a bed, nor the steps of a log resampled from a coarser one."""
    out = np.zeros(v.size, dtype=bool)
    if v.size < 5:
        return out
    d = np.abs(np.diff(v))
    local = pd.Series(np.concatenate([[np.nan], d])).rolling(
        window, center=True, min_periods=5).median().to_numpy() * 1.4826
    thr = np.fmax(spreads * local, robust_spread(v))[1:-1]
    up, dn = v[1:-1] - v[:-2], v[1:-1] - v[2:]
    with np.errstate(invalid="ignore"):
        out[1:-1] = ((np.sign(up) == np.sign(dn)) & (np.abs(up) > thr) & (np.abs(dn) > thr)
                     & (np.abs(v[:-2] - v[2:]) <= 0.5 * np.fmin(np.abs(up), np.abs(dn))) & (thr > 0))
    return out


def _shale_groups(gr: np.ndarray | None, r: dict) -> tuple[np.ndarray, np.ndarray, float] | None:
    """Masks of the shale and clean depth groups picked on GR, and GR's contrast between them;
    None when GR does not separate them."""
    if gr is None or np.isfinite(gr).sum() < 2 * r["min_group"]:
        return None
    lo, hi = np.nanquantile(gr, [r["clean_quantile"], r["shale_quantile"]])
    with np.errstate(invalid="ignore"):
        shale, clean = gr >= hi, gr <= lo
    if shale.sum() < r["min_group"] or clean.sum() < r["min_group"]:
        return None
    contrast = float(np.nanmedian(gr[shale]) - np.nanmedian(gr[clean]))
    return (shale, clean, contrast) if contrast >= r["gr_contrast"] else None


def _dead_to_shale(v: np.ndarray, spec: dict, groups, name: str) -> str:
    """The reason a curve that should respond to shale is dead, or ''."""
    if groups is None or "shale" not in spec:
        return ""
    shale, clean, contrast = groups
    ok = np.isfinite(v)
    if (shale & ok).sum() < 10 or (clean & ok).sum() < 10:
        return ""
    delta = float(np.median(v[shale & ok]) - np.median(v[clean & ok]))
    spread = robust_spread(v)
    if abs(delta) > spec["shale"] or spread >= spec["live_spread"]:
        return ""
    return (f"{name} reads {_fmt(np.median(v[shale & ok]))} in shale beds and "
            f"{_fmt(np.median(v[clean & ok]))} in clean beds, where GR differs by "
            f"{contrast:.0f} gAPI, and varies by only {_fmt(spread)} over the well: the tool "
            f"does not see the rock (a dead or disconnected detector; check its count rates)")


def _dead_counts(spec: dict, counts: dict[str, np.ndarray] | None, name: str) -> str:
    """The reason a curve computed from detector count rates is dead (every count-rate curve
    of its tool the well has reads near zero), or ''."""
    rule = spec.get("counts")
    have = {c: v for c, v in (counts or {}).items() if rule and c in rule["curves"]}
    rates = {c: float(np.nanmedian(np.abs(v))) for c, v in have.items() if np.isfinite(v).any()}
    if not rates or max(rates.values()) >= rule["min_rate"]:
        return ""
    words = ", ".join(f"{c} {r:.1f}" for c, r in rates.items())
    return (f"{name} is computed from detectors that count next to nothing (median |rate|: "
            f"{words}; a live detector counts hundreds to thousands a second): the tool was "
            f"dead or off, whatever the rock")


def check_curve(name: str, values: np.ndarray, gr: np.ndarray | None = None,
                r: dict | None = None, counts: dict[str, np.ndarray] | None = None) \
        -> tuple[np.ndarray, Verdict]:
    """One curve's values and its verdict (``masked`` is the plausibility screen's, in io: this
    check uses a curve whole or leaves it out).

    Parameters
    ----------
    name : canonical mnemonic (rules by name; unknown names get the generic checks)
    values : array, the curve in its canonical unit on the well's depth grid
    gr : array or None, the well's gamma ray on the same grid (for the shale response)
    counts : the well's other curves by file mnemonic (for the detectors' count rates)
    """
    r = r or rules()
    spec = (r.get("curves") or {}).get(name, {})
    v = np.asarray(values, dtype=float)
    if spec.get("log10"):
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.log10(np.where(v > 0, v, np.nan))
    fin = v[np.isfinite(v)]
    dead = _dead_counts(spec, counts, name)
    if dead:
        return values, Verdict(name, LEFT_OUT, dead, "dead_detector")
    if fin.size < r["min_samples"] and v.size >= 5 * r["min_samples"]:
        return values, Verdict(name, LEFT_OUT, f"{name} has {fin.size} samples with a value over "
                               f"{v.size} depths: no log to use", "no_data")
    if fin.size < r["min_judge"]:   # a short interval or a few rows: nothing to judge a tool by
        return values, Verdict(name, USED, f"{fin.size} samples: too few to judge", "unchecked")
    stuck = _stuck(fin, r["stuck_share"])
    if stuck is not None:
        val = 10 ** stuck[0] if spec.get("log10") else stuck[0]
        return values, Verdict(name, LEFT_OUT, f"{name} is stuck at {_fmt(val)} over "
                               f"{stuck[1]:.0%} of its samples: the tool stopped updating",
                               "stuck")
    spread = robust_spread(fin)
    if "resolution" in spec and not spec.get("flat_ok") and spread < spec["resolution"]:
        unit = " (log10)" if spec.get("log10") else ""
        return values, Verdict(name, LEFT_OUT, f"{name} is flat: it varies by {_fmt(spread)}"
                               f"{unit} over the well, less than the tool resolves "
                               f"({_fmt(spec['resolution'])}): the tool does not see the rock",
                               "flat")
    dead = _dead_to_shale(v, spec, _shale_groups(gr, r), name)
    if dead:
        return values, Verdict(name, LEFT_OUT, dead, "dead_to_shale")
    return _check_shape(name, values, v, r, noise=not spec.get("flat_ok"))


def _check_shape(name: str, values: np.ndarray, v: np.ndarray, r: dict, noise: bool = True) \
        -> tuple[np.ndarray, Verdict]:
    """The checks on the sequence of samples: ramp, noise (not for a curve whose flat reading
    is normal: a caliper in gauge hole reads its noise), spikes."""
    d = np.diff(v)
    d = d[np.isfinite(d) & (d != 0)]
    if d.size >= r["min_samples"] and max((d > 0).mean(), (d < 0).mean()) >= r["ramp_share"]:
        return values, Verdict(name, LEFT_OUT, f"{name} changes in one direction at "
                               f"{max((d > 0).mean(), (d < 0).mean()):.0%} of the steps over the "
                               f"well, like a depth or time index, not a log of beds: a shifted "
                               f"column?", "ramp")
    rho = _lag1(v) if noise else float("nan")
    if np.isfinite(rho) and rho < r["noise_autocorr"]:
        return values, Verdict(name, LEFT_OUT, f"{name} is noise: neighbouring samples do not "
                               f"agree (lag-1 autocorrelation {rho:.2f}), as a log of beds "
                               f"sampled finer than the tool resolves must", "noise")
    spikes = isolated_spikes(v, r["spike_spreads"])
    n = int(spikes.sum())
    if n == 0:
        return values, Verdict(name, USED)
    share = n / max(1, int(np.isfinite(v).sum()))
    if share > r["spikes_share"]:
        return values, Verdict(name, LEFT_OUT, f"{name} is mostly spikes ({share:.0%} of its "
                               f"samples are isolated spikes)", "spikes", n)
    # a few spikes are kept: at coarse sampling a thin bed logged once looks the same
    return values, Verdict(name, USED, f"{n} isolated spike{'s' if n > 1 else ''} (kept)",
                           "spikes", n)


def check_curves(curves: pd.DataFrame, names=None, r: dict | None = None) \
        -> tuple[pd.DataFrame, list[Verdict]]:
    """Quality control of the columns ``names`` (default: all) of a well's curve table (canonical
    mnemonics, canonical units): the table without the left-out curves and with masked samples
    set to missing, and one verdict per checked curve (in column order)."""
    r = r or rules()
    names = [c for c in (curves.columns if names is None else names) if c in curves.columns]
    gr = curves[GR].to_numpy(dtype=float) if GR in curves.columns else None
    rates = {c: curves[c].to_numpy(dtype=float) for c in curves.columns
             if any(c in (s.get("counts") or {}).get("curves", ()) for s in r["curves"].values())}
    out, verdicts, drop = {}, [], []
    for c in names:
        vals, verdict = check_curve(c, curves[c].to_numpy(dtype=float),
                                    None if c == GR else gr, r, rates)
        verdicts.append(verdict)
        if verdict.status == LEFT_OUT:
            drop.append(c)
        elif verdict.status == MASKED:
            out[c] = vals
    if not drop and not out:
        return curves, verdicts
    table = curves.drop(columns=drop)
    for c, vals in out.items():
        table[c] = vals
    return table, verdicts


def check_image(kind: str, values: np.ndarray, r: dict | None = None) \
        -> tuple[np.ndarray | None, Verdict]:
    """An image (rows x azimuthal columns) with dead columns set to missing (None when left out)
    and its verdict. A column of missing values is a pad gap, not a dead button."""
    r = r or rules()
    item = f"image:{kind}"
    vals = np.asarray(values)
    if vals.shape[0] < r["min_judge"]:   # a few rows: nothing to judge a tool by
        return vals, Verdict(item, USED, f"{vals.shape[0]} rows: too few to judge", "unchecked")
    step = max(1, vals.shape[0] // r.get("image_rows", 4000))   # a dead button is dead all along
    sample = np.asarray(vals[::step], dtype=np.float32)
    live = np.isfinite(sample).mean(axis=0) >= 0.5
    if not live.any():
        return vals, Verdict(item, USED)
    with np.errstate(invalid="ignore"):
        cols = sample[:, live]
        med = np.nanmedian(cols, axis=0)
        spreads = np.full(vals.shape[1], np.nan)
        spreads[live] = 1.4826 * np.nanmedian(np.abs(cols - med), axis=0)
    typical = float(np.nanmedian(spreads[live]))
    if not typical > 0:
        return None, Verdict(item, LEFT_OUT, f"{kind.replace('_', ' ')} image is flat: no "
                             f"button or sector varies", "dead_columns", int(live.sum()))
    dead = live & (spreads < r["image_dead_spread"] * typical)
    n = int(dead.sum())
    if n == 0:
        return vals, Verdict(item, USED)
    words = f"{n} of {int(live.sum())} buttons/sectors read a constant"
    if n > r["image_dead_share"] * live.sum():
        return None, Verdict(item, LEFT_OUT, f"{words}: the image is mostly dead",
                             "dead_columns", n)
    out = np.array(vals, copy=True)
    out[:, dead] = np.nan
    cols = ", ".join(str(j + 1) for j in np.flatnonzero(dead)[:8])
    return out, Verdict(item, MASKED, f"{words} (column{'s' if n > 1 else ''} {cols}"
                        f"{' ...' if n > 8 else ''}): set to missing", "dead_columns", n)
