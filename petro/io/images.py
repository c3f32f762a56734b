"""Recognise image logs and T2 distributions stored as indexed curve families.

Exports write an image as one curve per azimuthal sector or button: ``AMP001..AMP180``,
``IMG[1]..IMG[192]``, ``ABDC1M..ABDC16M``, ``GRAS0M..GRAS7M``. A *family* is a stem, a running
index (0- or 1-based, contiguous) and an optional suffix. Families whose stem names a T2 bin
(``T2BIN``, ``CBP``, ``P?A``, ...) are T2 distributions, others with at least ``min_bins``
members are images. The image kind comes from the stem, the unit and the description and can be
overridden per stem in the pipeline config.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from petro.units import normalise_unit

CASED_HOLE = "cased_hole"
_CASED_WORDS = re.compile(r"\b(bond|cement|cbl|vdl|casing|cased|pipe)\b", re.I)
_CASED_STEMS = ("CBL", "VDL", "CBSA", "BOND", "SCMT", "CMT", "RBT", "SBT")


def is_cased_hole(stem: str, description: str) -> bool:
    """Sector curves of a cased-hole log (cement-bond amplitudes, VDL): not an image of the rock."""
    s = stem.upper()
    return bool(_CASED_WORDS.search(description)) or s.startswith(_CASED_STEMS) or \
        s in ("SA", "SECT", "SEC", "WAF", "BI")

_FAMILY = re.compile(r"^(?P<stem>[A-Za-z_][A-Za-z0-9_]*?)(?:\[(?P<br>\d+)\]|(?P<num>\d+))"
                     r"(?P<suffix>[A-Za-z_]*)$")
T2_STEMS = ("T2BIN", "T2DIST", "T2_BIN", "T2D", "CBP", "BIN", "MRBIN", "T2", "PHIBIN", "MBP")
_T2_SUFFIX_STEMS = {("P", "A"), ("P", "B"), ("P", "")}   # MRIL P1A..P8A


@dataclass
class Family:
    stem: str
    suffix: str
    members: list[str]          # curve mnemonics in index order
    unit: str
    description: str
    kind: str                   # image kind, or "t2" for a T2 distribution

    @property
    def label(self) -> str:
        return f"{self.stem}*{self.suffix}" if self.suffix else f"{self.stem}*"


def image_kind(stem: str, unit: str, description: str) -> str:
    """Image kind from a curve stem, its unit and description."""
    s, u, d = stem.upper(), normalise_unit(unit), description.lower()
    if "transit" in d or s.startswith(("TT", "TTIM", "TRT")) or s.endswith("_TT"):
        return "acoustic_transit_time"
    if "amplitude" in d or "acoustic" in d or s.startswith(("AMP", "UBI", "CBIL", "CAST")):
        return "acoustic_amplitude"
    if u in ("g/cc", "g/cm3", "g/c3", "kg/m3") or "density" in d or s.startswith(("ABDC", "ROBB")):
        return "density"
    if u in ("gapi", "api") or "gamma" in d or s.startswith("GRA"):
        return "gamma"
    if u.startswith("ohm") or u in ("mho", "mmho", "ms/m") or "resist" in d or "conduct" in d \
            or s.startswith(("IMG", "FMI", "EMI", "STAR", "OBMI", "RES", "BUT", "FMS")):
        return "resistive"
    return "other"


def find_families(curves, *, min_bins: int = 8, kind_overrides: dict[str, str] | None = None,
                  t2_stems: tuple[str, ...] = T2_STEMS) -> list[Family]:
    """Group indexed curves into families (images and T2 distributions).

    Parameters
    ----------
    curves : sequence with ``.mnemonic``, ``.unit``, ``.description``
    min_bins : smallest family that counts as an image
    kind_overrides : stem -> kind, from the pipeline config
    """
    kind_overrides = {k.upper(): v for k, v in (kind_overrides or {}).items()}
    groups: dict[tuple[str, str], list[tuple[int, object]]] = {}
    for c in curves:
        m = _FAMILY.match(c.mnemonic.strip())
        if not m:
            continue
        idx = int(m.group("br") or m.group("num"))
        groups.setdefault((m.group("stem").upper(), m.group("suffix").upper()), []).append((idx, c))
    out = []
    for (stem, suffix), items in groups.items():
        items.sort(key=lambda t: t[0])
        idx = [i for i, _ in items]
        if len(set(idx)) != len(idx) or idx[-1] - idx[0] + 1 != len(idx) or idx[0] not in (0, 1):
            continue  # not a contiguous running index
        first = items[0][1]
        is_t2 = stem in t2_stems or (stem, suffix) in _T2_SUFFIX_STEMS or "t2" in \
            str(first.description).lower()
        if stem in kind_overrides:
            kind = kind_overrides[stem]
        elif is_t2:
            kind = "t2"
        elif len(items) >= 6 and is_cased_hole(stem, str(first.description)):
            kind = CASED_HOLE
        elif len(items) >= min_bins:
            kind = image_kind(stem, first.unit, str(first.description))
        else:
            continue
        if kind == "t2" and len(items) < 3:
            continue
        out.append(Family(stem, suffix, [c.mnemonic for _, c in items], str(first.unit),
                          str(first.description), kind))
    return out


def array_kind(name: str, unit: str, description: str,
               kind_overrides: dict[str, str] | None = None) -> str:
    """Kind of a DLIS array channel: an override by name, ``"t2"`` for a T2 distribution, else
    the image kind from name, unit and description."""
    overrides = {k.upper(): v for k, v in (kind_overrides or {}).items()}
    if name.upper() in overrides:
        return overrides[name.upper()]
    if name.upper().startswith(T2_STEMS) or "t2" in description.lower():
        return "t2"
    if is_cased_hole(name, description):
        return CASED_HOLE
    return image_kind(name, unit, description)
