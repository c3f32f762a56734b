"""Is it physically possible? The depth index and each canonical curve against the table in
``petro/data/plausibility.yaml`` (data, not code), after units are converted.

A depth index that goes up and down, repeats, or steps by an impossible amount is refused before
anything uses it (the usual cause: the ``~Curve`` list is not in the order of the data columns).
A curve mostly outside its range is left out with a warning (the file fails under
``unit_policy: strict``); scattered impossible samples are set to missing and counted.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
import yaml

from petro.errors import InputError
from petro.problems import Problem, warning
from petro.units import normalise_unit


@lru_cache(maxsize=1)
def table() -> dict:
    """The packaged plausibility table."""
    text = resources.files("petro").joinpath("data/plausibility.yaml").read_text()
    return yaml.safe_load(text)


def _monotonic_share(values: np.ndarray) -> tuple[float, float]:
    """(share of steps against the main direction, share of repeated values) of a sequence."""
    d = np.diff(values)
    if d.size == 0:
        return 0.0, 0.0
    up, down = int((d > 0).sum()), int((d < 0).sum())
    return min(up, down) / d.size, float((d == 0).sum()) / d.size


def _looks_like_depth(values: np.ndarray) -> bool:
    v = values[np.isfinite(values)]
    if v.size < 3:
        return False
    rev, rep = _monotonic_share(v)
    return rev == 0 and rep < 0.5 and np.ptp(v) > 0


def check_depth(depth_m: np.ndarray, name: str, path: str, others) -> None:
    """Refuse a depth index (m, file order) that cannot be one.

    ``others`` is the file's table (a DataFrame): a column that looks like a depth is named when
    the index does not.
    """
    spec = table()["depth"]
    v = depth_m[np.isfinite(depth_m)]
    rev, rep = _monotonic_share(v)
    why = ""
    if rev > spec["max_reversals"]:
        why = f"it goes up and down ({rev:.0%} of the steps reverse)"
    elif rep > spec["max_repeated"]:
        why = f"{rep:.0%} of its values repeat the previous one"
    else:
        steps = np.diff(np.sort(v))
        steps = steps[steps > 0]
        step = float(np.median(steps)) if steps.size else 0.0
        if not spec["min_step"] <= step <= spec["max_step"]:
            why = (f"its usual step is {step:.6g} m (a depth log steps between "
                   f"{spec['min_step']:g} and {spec['max_step']:g} m)")
        elif v.min() < spec["min"] or v.max() > spec["max"]:
            why = (f"it runs from {v.min():.6g} to {v.max():.6g} m (outside {spec['min']:g} .. "
                   f"{spec['max']:g} m)")
    if not why:
        return
    like = [k for k in others.columns if k != name
            and _looks_like_depth(np.asarray(others[k], dtype=float))]
    hint = (f"; column {like[0]} looks like a depth: is the ~Curve section in the order of the "
            f"data columns?" if like else "; check the ~Curve section and the depth unit")
    raise InputError(f"the depth curve {name} cannot be a depth index: {why}{hint}", path=path,
                     curve=name, code="depth_implausible")


def _screen(values: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, int, int, float]:
    v = np.asarray(values, dtype=float)
    finite = np.isfinite(v)
    with np.errstate(invalid="ignore"):
        out = finite & ((v < lo) | (v > hi))
    n, bad = int(finite.sum()), int(out.sum())
    med = float(np.median(v[finite])) if n else float("nan")
    if bad:
        v = np.where(out, np.nan, v)
    return v, n, bad, med


def screen_curve(values: np.ndarray, name: str, unit: str, *, path: str, curve: str,
                 strict: bool, problems: list[Problem]) -> np.ndarray | None:
    """``values`` with impossible samples masked, or None when the curve is to be left out.

    ``name`` is the canonical mnemonic, ``unit`` the unit the values are now in (a curve whose
    unit is not the table's canonical one, e.g. kept unconverted, is not checked)."""
    spec = table()["curves"].get(name)
    if not spec or normalise_unit(unit) != normalise_unit(spec["unit"]):
        return values
    lo, hi = float(spec["min"]), float(spec["max"])
    v, n, bad, med = _screen(values, lo, hi)
    if not bad:
        return values
    where = dict(path=path, curve=curve)
    rng = f"{lo:g} .. {hi:g} {spec['unit']}"
    if bad > table()["max_outside"] * n:
        msg = (f"{name} is not physically possible: {bad} of {n} samples outside {rng} "
               f"(median {med:.4g} {spec['unit']}): a wrong unit or a shifted column?")
        if strict:
            raise InputError(msg + " (unit_policy=strict)", code="implausible_curve", **where)
        problems.append(warning(msg + "; curve left out", code="implausible_curve", **where))
        return None
    problems.append(warning(f"{bad} of {n} {name} samples outside the physical range {rng} set "
                            f"to missing", code="implausible_values", **where))
    return v


def screen_image(values: np.ndarray, kind: str, unit: str, *, path: str, label: str,
                 problems: list[Problem]) -> np.ndarray | None:
    """An image (rows, bins) with impossible samples masked, or None when mostly impossible."""
    spec = table()["images"].get(kind)
    if not spec or normalise_unit(unit) not in {normalise_unit(u) for u in spec["units"]}:
        return values
    lo, hi = float(spec["min"]), float(spec["max"])
    # in the image's own dtype: compared with float64 bounds (numpy casts each buffer, no
    # float64 copy of the image), the median only for the message that needs it
    finite = np.isfinite(values)
    out = values < np.float64(lo)
    out |= values > np.float64(hi)
    out &= finite                         # an infinite sample is not counted (as before)
    n, bad = int(np.count_nonzero(finite)), int(np.count_nonzero(out))
    if not bad:
        return values
    if bad > table()["max_outside"] * n:
        med = float(np.median(np.asarray(values[finite], dtype=float))) if n else float("nan")
        problems.append(warning(f"{kind} image {label}: {bad} of {n} samples outside {lo:g} .. "
                                f"{hi:g} {unit} (median {med:.4g}); image left out",
                                path=path, code="implausible_image"))
        return None
    problems.append(warning(f"{kind} image {label}: {bad} of {n} samples outside {lo:g} .. "
                            f"{hi:g} {unit} set to missing", path=path,
                            code="implausible_values"))
    return np.where(out, np.nan, values).astype(values.dtype, copy=False)
