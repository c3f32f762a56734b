"""Unit normalisation: every curve is converted to its quantity's canonical unit on the way in.

Canonical units: depth ``m``; porosity and volumes ``v/v``; bulk density ``g/cm3``; slowness
``us/ft``; resistivity ``ohm.m``; gamma ray ``gAPI``; caliper ``in``; permeability ``mD``;
T2 ``ms``. An unknown unit for a known quantity raises :class:`~petro.errors.UnitError` under the
``strict`` policy; under ``drop`` (the default of ingest) the curve is left out and reported, under
``keep`` its values are kept unconverted and reported; petro never guesses silently.
A blank unit on a fractional quantity (porosity) is resolved from the data range and reported.
"""

from __future__ import annotations

import re

import numpy as np

from petro.errors import ConfigError, UnitError

# quantity -> (canonical unit, {normalised spelling: (scale, offset)}); value_canonical = v*scale+offset
_UNITS: dict[str, tuple[str, dict[str, tuple[float, float]]]] = {
    "depth": ("m", {"m": (1.0, 0.0), "meter": (1.0, 0.0), "meters": (1.0, 0.0), "metre": (1.0, 0.0),
                    "metres": (1.0, 0.0), "ft": (0.3048, 0.0), "f": (0.3048, 0.0),
                    "feet": (0.3048, 0.0), "foot": (0.3048, 0.0), "usft": (1200 / 3937, 0.0),
                    "in": (0.0254, 0.0), ".1in": (0.00254, 0.0), "0.1in": (0.00254, 0.0),
                    "cm": (0.01, 0.0), "mm": (0.001, 0.0), "метр": (1.0, 0.0),
                    "метер": (1.0, 0.0), "м": (1.0, 0.0)}),
    "fraction": ("v/v", {"v/v": (1.0, 0.0), "vv": (1.0, 0.0), "frac": (1.0, 0.0),
                         "fraction": (1.0, 0.0), "dec": (1.0, 0.0), "decimal": (1.0, 0.0),
                         "cfcf": (1.0, 0.0), "ft3/ft3": (1.0, 0.0), "m3/m3": (1.0, 0.0),
                         "pu_frac": (1.0, 0.0), "vol/vol": (1.0, 0.0), "v/v_decimal": (1.0, 0.0),
                         "%": (0.01, 0.0), "lpu": (0.01, 0.0), "spu": (0.01, 0.0),
                         "dpu": (0.01, 0.0), "nlpu": (0.01, 0.0), "pu": (0.01, 0.0),
                         "p.u.": (0.01, 0.0), "percent": (0.01, 0.0), "pct": (0.01, 0.0)}),
    "density": ("g/cm3", {"g/cm3": (1.0, 0.0), "g/cc": (1.0, 0.0), "gm/cc": (1.0, 0.0),
                          "g/c3": (1.0, 0.0), "gr/cc": (1.0, 0.0), "g/cm^3": (1.0, 0.0),
                          "gcc": (1.0, 0.0), "kg/m3": (0.001, 0.0), "k/m3": (0.001, 0.0)}),
    "slowness": ("us/ft", {"us/ft": (1.0, 0.0), "usec/ft": (1.0, 0.0), "us/f": (1.0, 0.0),
                           "uspf": (1.0, 0.0), "us/m": (0.3048, 0.0), "usec/m": (0.3048, 0.0)}),
    "resistivity": ("ohm.m", {"ohm.m": (1.0, 0.0), "ohmm": (1.0, 0.0), "ohm-m": (1.0, 0.0),
                              "ohm/m": (1.0, 0.0), "ohms": (1.0, 0.0), "ohm": (1.0, 0.0)}),
    "gamma": ("gAPI", {"gapi": (1.0, 0.0), "api": (1.0, 0.0), "gapi units": (1.0, 0.0)}),
    "length_in": ("in", {"in": (1.0, 0.0), "inch": (1.0, 0.0), "inches": (1.0, 0.0),
                         "mm": (1 / 25.4, 0.0), "cm": (1 / 2.54, 0.0)}),
    "permeability": ("mD", {"md": (1.0, 0.0), "mdarcy": (1.0, 0.0), "d": (1000.0, 0.0)}),
    "time_ms": ("ms", {"ms": (1.0, 0.0), "msec": (1.0, 0.0), "s": (1000.0, 0.0),
                       "us": (0.001, 0.0)}),
    "pef": ("b/e", {"b/e": (1.0, 0.0), "be": (1.0, 0.0), "barns/e": (1.0, 0.0),
                    "barn/e": (1.0, 0.0), "unitless": (1.0, 0.0)}),
}

POLICIES = ("strict", "drop", "keep")


def normalise_unit(unit: str | None) -> str:
    """Lower-case a unit spelling and drop blanks and brackets: ``'[G/CC]'`` -> ``'g/cc'``."""
    u = (unit or "").strip().lower()
    u = re.sub(r"[\[\]\(\)\s]", "", u)
    return u


def canonical_unit(quantity: str) -> str:
    """The canonical unit of a quantity (``'fraction'`` -> ``'v/v'``)."""
    return _UNITS[quantity][0]


def conversion(quantity: str, unit: str | None,
               extra_units: dict | None = None) -> tuple[float, float] | None:
    """``(scale, offset)`` that converts ``unit`` to the canonical unit, or None when unknown.

    ``extra_units`` adds spellings per quantity (the ``ingest.units`` section); they are tried
    first, so a pipeline can also redefine one.
    """
    if quantity not in _UNITS:
        return (1.0, 0.0)
    u = normalise_unit(unit)
    extra = (extra_units or {}).get(quantity) or {}
    for spelling, conv in extra.items():
        if normalise_unit(spelling) == u:
            return _as_conversion(conv)
    return _UNITS[quantity][1].get(u)


def unit_conversions(quantity: str) -> tuple[str, list[tuple[float, float]]] | None:
    """The canonical unit of ``quantity`` and the distinct ``(scale, offset)`` pairs of its
    other known units (sorted, the identity left out); None for a quantity petro has no units
    for. ``canonical = value * scale + offset``."""
    if quantity not in _UNITS:
        return None
    unit, spellings = _UNITS[quantity]
    return unit, sorted({(float(s), float(o)) for s, o in spellings.values()
                         if (s, o) != (1.0, 0.0)})


def _as_conversion(conv) -> tuple[float, float]:
    if isinstance(conv, (int, float)) and not isinstance(conv, bool):
        return float(conv), 0.0
    scale, offset = conv
    return float(scale), float(offset)


def quantities() -> list[str]:
    return sorted(_UNITS)


def check_extra_units(extra: dict | None, where: str) -> None:
    """Validate an extra-units mapping ``{quantity: {spelling: scale | [scale, offset]}}``."""
    if not extra:
        return
    if not isinstance(extra, dict):
        raise ConfigError(f"{where}: a mapping quantity -> {{unit spelling: scale}}")
    for q, table in extra.items():
        if q not in _UNITS:
            raise ConfigError(f"{where}: unknown quantity {q!r}; known: {quantities()}")
        if not isinstance(table, dict):
            raise ConfigError(f"{where}.{q}: a mapping unit spelling -> scale or [scale, offset]")
        for spelling, conv in table.items():
            try:
                _as_conversion(conv)
            except (TypeError, ValueError) as err:
                raise ConfigError(f"{where}.{q}.{spelling}: {conv!r} is not a scale or "
                                  f"[scale, offset] (canonical = value * scale + offset, "
                                  f"canonical unit {canonical_unit(q)})") from err


def fraction_unit_from_data(values: np.ndarray) -> str:
    """Decide v/v or % for a porosity-like curve with no usable unit, from its values.

    A porosity in v/v stays below 1; in p.u. its upper percentiles are well above 1.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return "v/v"
    return "%" if np.nanpercentile(v, 95) > 1.5 else "v/v"


def to_canonical(values: np.ndarray, quantity: str, unit: str | None, *, name: str = "",
                 policy: str = "strict", extra_units: dict | None = None) \
        -> tuple[np.ndarray, str, list[str]]:
    """Convert ``values`` of ``quantity`` given in ``unit`` to the canonical unit.

    Returns
    -------
    values : array, canonical unit
    unit : str, the unit the values were taken to be in
    notes : list of str, what was decided (for the provenance table)
    """
    notes: list[str] = []
    values = np.asarray(values, dtype=float)
    if quantity not in _UNITS:
        return values, unit or "", notes
    u = normalise_unit(unit)
    if quantity == "fraction" and u in ("", "unitless", "none", "-"):
        u = "%" if fraction_unit_from_data(values) == "%" else "v/v"
        notes.append(f"{name}: no unit, values look like {'p.u.' if u == '%' else 'v/v'}")
    conv = conversion(quantity, u, extra_units)
    if conv is None:
        if u == "":
            notes.append(f"{name}: no unit given, assumed {canonical_unit(quantity)}")
            return values, canonical_unit(quantity), notes
        msg = (f"curve {name}: unit {unit!r} is not a known {quantity} unit "
               f"(expected one of {sorted(_UNITS[quantity][1])}); fix the unit in the file's "
               f"~Curve section, or declare it in the pipeline, e.g. ingest: {{units: "
               f"{{{quantity}: {{'{unit}': <scale to {canonical_unit(quantity)}>}}}}}}")
        if policy in ("strict", "drop"):
            raise UnitError(msg)
        notes.append(msg + "; values kept unconverted")
        return values, unit or "", notes
    scale, offset = conv
    if scale != 1.0 or offset != 0.0:
        values = values * scale + offset
        notes.append(f"{name}: {unit} -> {canonical_unit(quantity)}")
    return values, canonical_unit(quantity), notes
