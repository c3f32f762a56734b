"""A vendor's permeability curve as evidence of the vendor's Timur-Coates convention.

A file that carries the vendor's Timur-Coates permeability (Schlumberger KTIM, Halliburton MRIL
MPERM) shows which details of ``k = (phi_pu / C)^m (FFI / BVI)^n`` the vendor used. These
differ between vendors and software versions:

- a **floor on the bound-fluid volume**: Schlumberger's KTIM on the JB 11-6TFH CMR well is
  reproduced at every depth with BVI = max(TCMR - CMFF, 0.02 v/v); without the floor the best
  rock (BVI below 0.02) comes out up to 5 decades more permeable than the vendor's curve;
- the **free fluid**: the FFI as measured (the CMFF / MFFI curve, or the T2 distribution above
  the cutoff), or FFI = phi - BVI after the floor (0 where the floor is above phi: KTIM is 0
  at the 1,046 depths of the JB well whose TCMR is below 0.02);
- **which porosity is phi**, and **which BVI** is floored: the total NMR porosity (TCMR / MPHS:
  the JB well's KTIM) or the effective one (CMRP_3MS / MPHE, without the clay-bound water); the
  BVI curve (BFV / MBVI), total - FFI or effective - FFI. On the JB well a KTIM made with
  CMRP_3MS agrees with the total-porosity candidates at 4-33 % of its depths.

Inverting the vendor's curve gives the BVI it implies at each depth, with ``R = (K / (phi_pu /
C)^m)^(1/n)`` the vendor's FFI / BVI::

    BVI_v = phi / (1 + R)          (FFI = phi - BVI)
    BVI_v = FFI / R                (FFI as measured)

Where the vendor raised BVI to a floor, BVI_v sits on the floor while petro's BVI is below it: the
floor is read as the median of BVI_v at the depths where BVI_v exceeds petro's BVI (by more than
5 % and 0.0002 v/v), rounded to 0.0001 v/v. Each candidate (the settings; no floor and the floor
read, with either FFI rule and each porosity and BVI the well has) is scored by its
**agreement**: the share of the depths with vendor K >= 0.01 mD where petro's permeability
target is within 0.01 decade of the vendor's (a depth petro masks counts as a disagreement). The
best candidate replaces the settings only when it at least halves the share of depths that
disagree (and gains at least one percentage point): a well whose vendor used petro's settings
keeps them, and a vendor curve that differs for another reason (another T2 cutoff or constant,
a resampled curve) is not explained away by an odd floor.

Pure numpy: the caller (:func:`petro.targets.nmr.compute_targets`) says how petro's permeability
follows from a convention.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

FFI_RULES = ("measured", "phi_minus_bvi")
CONVENTIONS = ("auto", "fixed")
MIN_VENDOR_MD = 0.01     # vendor K below this is not compared (files round it to 1e-4 mD)
TOLERANCE_DEC = 0.01     # within this many decades a depth agrees
MARGIN = 0.01            # share a convention read from the file must gain over the settings
#                          (and at least half the share of depths that disagree with them)
MIN_DEPTHS = 10          # fewer compared depths: the convention is not read from the file
GOOD = 0.95              # agreement below this is reported


@dataclass(frozen=True)
class Convention:
    """How BVI, FFI and phi enter Timur-Coates: a floor on BVI (v/v, 0 for none), the FFI rule
    ('measured', or 'phi_minus_bvi': FFI = phi - BVI after the floor), which NMR porosity is
    phi ('total': TCMR / MPHS; 'effective': CMRP_3MS / MPHE) and which BVI is floored (the
    curve, total - FFI or effective - FFI)."""

    bvi_floor: float
    ffi: str
    phi: str = "total"
    bvi: str = ""        # which BVI: 'curve' (BFV / MBVI), 'total_minus_ffi',
    #                      'effective_minus_ffi'; '' the well's own (targets.bvi)

    def apply(self, phi: np.ndarray, bvi: np.ndarray,
              ffi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """BVI and FFI (v/v) under this convention; NaN stays NaN."""
        if self.bvi_floor > 0:
            bvi = np.maximum(bvi, self.bvi_floor)
        if self.ffi == "phi_minus_bvi":     # no free fluid where BVI (floored) exceeds phi
            ffi = np.maximum(phi - bvi, 0.0)
        return bvi, ffi

    def describe(self, with_phi: bool = False) -> str:
        """In words; phi is said when it is the effective porosity or ``with_phi``, BVI when it
        is not the curve."""
        floor = f"BVI floor {self.bvi_floor:g} v/v" if self.bvi_floor > 0 else "no BVI floor"
        return floor + (", FFI = phi - BVI" if self.ffi == "phi_minus_bvi" else
                        ", FFI as measured") + \
            (f", phi = {self.phi} NMR porosity" if with_phi or self.phi == "effective" else "") + \
            (f", BVI = {_BVI_WORDS[self.bvi]}" if self.bvi in _BVI_WORDS else "")


_BVI_WORDS = {"total_minus_ffi": "total porosity - FFI",
              "effective_minus_ffi": "effective porosity - FFI"}


@dataclass(frozen=True)
class Agreement:
    """Petro's permeability against the vendor's over the ``n`` depths with vendor K >=
    0.01 mD: the share within 0.01 decade and the median log10(petro / vendor), decades (NaN
    where petro gives no permeability at any of them)."""

    n: int
    share: float
    median_dec: float

    def describe(self) -> str:
        return f"{self.share:.1%} within {TOLERANCE_DEC:g} decade (median {self.median_dec:+.3f})"


def agreement(perm: np.ndarray, vendor: np.ndarray) -> Agreement:
    """Agreement of ``perm`` (mD, NaN where petro masks) with ``vendor`` (mD)."""
    perm, vendor = np.asarray(perm, float), np.asarray(vendor, float)
    with np.errstate(invalid="ignore"):
        sel = np.isfinite(vendor) & (vendor >= MIN_VENDOR_MD)
        both = sel & np.isfinite(perm) & (perm > 0)
    diff = np.log10(perm[both]) - np.log10(vendor[both])
    n = int(sel.sum())
    share = float(np.count_nonzero(np.abs(diff) <= TOLERANCE_DEC) / n) if n else float("nan")
    return Agreement(n, share, float(np.median(diff)) if diff.size else float("nan"))


def implied_bvi(vendor: np.ndarray, phi: np.ndarray, ffi: np.ndarray, rule: str, *, c: float,
                m: float, n: float) -> np.ndarray:
    """The BVI (v/v) that gives the vendor's permeability ``vendor`` (mD) by Timur-Coates with
    ``phi`` (v/v) and the FFI rule ``rule`` (see the module docstring)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (np.asarray(vendor, float) / (np.asarray(phi, float) * 100.0 / c) ** m) ** (1 / n)
        return phi / (1.0 + ratio) if rule == "phi_minus_bvi" else ffi / ratio


def read_floor(implied: np.ndarray, bvi: np.ndarray) -> float | None:
    """The BVI floor (v/v) the vendor's implied BVI shows: the median of the implied BVI where it
    is above petro's (by more than 5 % and 0.0002 v/v), rounded to 0.0001 v/v; None where fewer
    than 3 depths are raised."""
    with np.errstate(invalid="ignore"):
        raised = np.isfinite(implied) & np.isfinite(bvi) & (implied > bvi * 1.05 + 2e-4)
    if np.count_nonzero(raised) < 3:
        return None
    floor = round(float(np.median(implied[raised])), 4)
    return floor if floor > 0 else None


@dataclass(frozen=True)
class VendorMatch:
    """Petro's permeability against the vendor curve of one well: the convention used, where it
    came from, and the agreement of the settings (``before``) and of the targets (``after``)."""

    curve: str                 # canonical name (KTIM, KSDR)
    original: str              # as the file spells it (KTIM, MPERM, ...)
    settings: Convention
    used: Convention
    source: str                # 'settings' or the curve the convention was read from
    before: Agreement
    after: Agreement
    best: Convention           # the best convention the file shows
    best_agreement: Agreement

    def to_dict(self) -> dict:
        return {"curve": self.curve, "original": self.original, "source": self.source,
                "settings": asdict(self.settings), "used": asdict(self.used),
                "before": asdict(self.before), "after": asdict(self.after),
                "best": asdict(self.best), "best_agreement": asdict(self.best_agreement)}


def candidates(settings: Convention, vendor, phis: dict[str, np.ndarray],
               bvis: dict[str, np.ndarray], ffi, *, c: float, m: float,
               n: float) -> list[Convention]:
    """The settings first, then, for each NMR porosity the well has (``phis``: 'total',
    'effective'), each BVI it has (``bvis``: 'curve', 'total_minus_ffi',
    'effective_minus_ffi') and the settings' FFI rule and the other (the settings' choices
    first): the floor the vendor curve shows under them, and no floor."""
    out = [settings]
    with np.errstate(invalid="ignore"):    # only the compared depths show the convention
        vendor = np.where(np.asarray(vendor, float) >= MIN_VENDOR_MD, vendor, np.nan)
    for which in sorted(phis, key=lambda k: k != settings.phi):
        for b in sorted(bvis, key=lambda k: k != settings.bvi):
            for rule in sorted(FFI_RULES, key=lambda r: r != settings.ffi):
                floor = read_floor(implied_bvi(vendor, phis[which], ffi, rule, c=c, m=m, n=n),
                                   bvis[b])
                for cand in ([Convention(floor, rule, which, b)] if floor else []) + \
                        [Convention(0.0, rule, which, b)]:
                    if cand not in out:
                        out.append(cand)
    return out


def explains(before: Agreement, better: Agreement) -> bool:
    """Whether a convention with agreement ``better`` explains the vendor's curve where the
    settings (``before``) do not: it at least halves the share of depths that disagree, by at
    least ``MARGIN``."""
    return better.share - before.share >= max(MARGIN, (1.0 - before.share) / 2)


def match_convention(settings: Convention, mode: str, curve: str, original: str, vendor,
                     phis: dict[str, np.ndarray], bvis: dict[str, np.ndarray], ffi,
                     permeability: Callable[[Convention], np.ndarray], *, c: float,
                     m: float, n: float) -> VendorMatch:
    """Compare petro's permeability (``permeability(convention)``: mD, NaN where masked) with
    the vendor's and choose the convention: under ``mode='auto'`` the candidate with the best
    agreement when it :func:`explains` the vendor's curve, else (and always under 'fixed') the
    settings. Fewer than ``MIN_DEPTHS`` compared depths: the settings, compared only."""
    before = agreement(permeability(settings), vendor)
    scored = [(settings, before)]
    if before.n >= MIN_DEPTHS:
        scored += [(cand, agreement(permeability(cand), vendor))
                   for cand in candidates(settings, vendor, phis, bvis, ffi, c=c, m=m,
                                          n=n)[1:]]
    best, best_agr = max(scored, key=lambda s: s[1].share)    # the first of equals: settings
    if mode == "auto" and explains(before, best_agr):
        return VendorMatch(curve, original, settings, best, curve, before, best_agr, best,
                           best_agr)
    return VendorMatch(curve, original, settings, settings, "settings", before, before, best,
                       best_agr)


def disagreement_message(vm: VendorMatch) -> tuple[bool, str] | None:
    """What to say when the targets do not reproduce the vendor curve (agreement below
    ``GOOD``): (True, message) for a warning when the file shows a convention that
    :func:`explains` it better than the one used (an explicit setting), (False, message) for a
    note when none does; None when the agreement is good or nothing was compared."""
    a = vm.after
    if not a.n or a.share >= GOOD:
        return None
    how = f"Timur-Coates, {vm.used.describe()}" if vm.curve == "KTIM" else "SDR"
    said = (f"petro's permeability ({how}) is within {TOLERANCE_DEC:g} decade of the file's "
            f"{vm.original} at {a.share:.1%} of the {a.n} depths with {vm.original} >= "
            f"{MIN_VENDOR_MD:g} mD (median {a.median_dec:+.3f} decade)")
    if explains(a, vm.best_agreement):
        return True, (f"{said}; the file's own convention "
                      f"({vm.best.describe(vm.best.phi != vm.used.phi)}) gives "
                      f"{vm.best_agreement.share:.1%}. Kept as set (targets.convention: fixed); "
                      f"targets.convention: auto follows the file")
    return False, (f"{said}: no BVI floor, FFI rule, NMR porosity or BVI explains the difference "
                   f"(the vendor may have used other inputs: a T2 cutoff, other constants; or "
                   f"resampled its curve)")


def summary(report: dict) -> str:
    """A target report's Timur-Coates convention and vendor agreement in a few lines, for a
    table."""
    conv, v = report.get("convention"), report.get("vendor")
    lines = []
    if v:
        lines.append(f"{v['original']}, {v['after']['n']} depths >= {MIN_VENDOR_MD:g} mD:")
        lines += [f"{what} {Agreement(**v[key]).describe()}"
                  for key, what in (("before", "settings"), ("after", "targets"))]
    else:
        lines.append("no vendor permeability")
    if conv:
        lines.append(Convention(conv["bvi_floor"], conv["ffi"], conv.get("phi", "total"),
                                conv.get("bvi", "")).describe()
                     + (" (read from the file)" if conv["source"] != "settings" else
                        " (settings)"))
    return "\n".join(lines)
