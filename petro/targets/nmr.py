"""NMR targets from summary curves or from the T2 distribution.

Timur-Coates (free-fluid model)::

    k [mD] = (phi [p.u.] / C) ** m * (FFI / BVI) ** n          (C = 10, m = 4, n = 2)

SDR::

    k [mD] = a * phi [v/v] ** m * T2LM [ms] ** n                (a = 4 mD/ms^2 sandstone; less in
                                                                carbonates; m = 4, n = 2)

From a T2 distribution (bin porosities ``a_j`` between log-spaced edges ``e_j .. e_j+1``) the part
of a bin above a cutoff ``c`` is taken proportional on log T2::

    f_j(c) = clip((log e_j+1 - log c) / (log e_j+1 - log e_j), 0, 1)

so FFI = sum a_j f_j(T2cut), effective porosity = sum a_j f_j(clay cutoff), clay-bound = total -
effective, BVI = total - FFI (clay-bound water included, as the vendor's BFV), and T2LM =
10 ** (sum a_j log10 t_j / sum a_j) with t_j the geometric bin centre (total distribution).

Two porosities are set apart (both logged with the model): ``porosity`` is the porosity TARGET
(default effective: CMRP_3MS / MPHE, else TCMR - CBW, else from the T2 distribution) and
``perm_porosity`` is phi inside Timur-Coates / SDR (default total NMR porosity TCMR / MPHS, the
Schlumberger KTIM / KSDR convention). The default BVI is the bound-fluid curve (BFV / BVI / MBVI)
when the file has one, else TCMR - FFI.

Vendors differ in two details of Timur-Coates: a floor on BVI (``bvi_floor``) and FFI as measured
or phi - BVI after the floor (``ffi``). By default (``convention: auto``) a well whose file
carries the vendor's permeability (KTIM, MRIL's MPERM) gets the floor and rule that reproduce it,
read from that curve (:mod:`petro.targets.vendor`: BVI >= 0.02 v/v and FFI = TCMR - BVI on the JB
11-6TFH CMR well, whose KTIM petro then matches within 0.01 decade at every depth); a well without
one gets ``bvi_floor`` and ``ffi`` (default: no floor, FFI as measured, the textbook relation).
Every well's agreement with its vendor curve is reported.

Samples that cannot give a target (porosity <= 0 or above ``max_porosity``, BVI <= 0, NULL inputs,
permeability outside ``[min_perm, max_perm]``) are masked with a reason; no inf or NaN reaches
training.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import NamedTuple

import numpy as np
import pandas as pd

from petro.errors import ConfigError, InputError
from petro.problems import Problem, Severity
from petro.targets.vendor import CONVENTIONS, FFI_RULES, Convention, VendorMatch, agreement, \
    disagreement_message, match_convention
from petro.vocab import (CLAY_CUTOFF_MS, FLAG, LITHOLOGY_CUTOFF_MS, NMR_POROSITY_CURVES, REASON,
                         VALID, VENDOR_PERMEABILITY)
from petro.well import Well

POROSITY_CHOICES = ("effective", "total")
PERM_POROSITY_CHOICES = ("total", "effective")
BVI_CHOICES = ("auto", "curve", "total_minus_ffi", "effective_minus_ffi", "t2")
SOURCE_CHOICES = ("auto", "curves", "t2")
PERM_CHOICES = ("timur_coates", "sdr")


@dataclass
class TargetParams:
    """Parameters of the NMR targets; every one is logged with the models.

    Attributes
    ----------
    lithology : 'carbonate' or 'clastic'; sets the default T2 cutoff (92 ms / 33 ms)
    t2_cutoff_ms : T2 cutoff between bound and free fluid, ms (None: by lithology)
    clay_cutoff_ms : clay-bound water cutoff, ms
    porosity : the porosity TARGET: 'effective' (PHIE_NMR, else total - clay-bound) or 'total'
        (TCMR)
    perm_porosity : phi inside Timur-Coates and SDR: 'total' (TCMR / MPHS, the KTIM / KSDR
        convention; a well without a total porosity uses its effective porosity, with a
        warning) or 'effective'
    source : 'curves' (summary curves), 't2' (from the distribution), 'auto' (curves when present)
    bvi : 'curve' (BVI curve), 'total_minus_ffi', 'effective_minus_ffi', 't2', or 'auto'
        (BVI curve, else TCMR - FFI, else effective - FFI with a warning; from a T2
        distribution: total - FFI)
    permeability : 'timur_coates' or 'sdr'
    convention : how BVI and FFI enter Timur-Coates. 'auto' (default): where the file has the
        vendor's Timur-Coates permeability (KTIM, MRIL's MPERM), the BVI floor and FFI rule that
        reproduce it, read from it (:mod:`petro.targets.vendor`); elsewhere ``bvi_floor`` and
        ``ffi``. 'fixed': ``bvi_floor`` and ``ffi`` on every well. Either way the targets are
        compared with the vendor's curve and the agreement reported (a warning where an explicit
        setting agrees worse than the file's own convention)
    bvi_floor : v/v; BVI below it is raised to it in Timur-Coates (0: no floor; Schlumberger's
        KTIM uses 0.02 on the JB 11-6TFH well)
    ffi : FFI in Timur-Coates: 'measured' (the FFI curve, or the T2 distribution above the
        cutoff) or 'phi_minus_bvi' (phi - BVI after the floor)
    coates_c, coates_m, coates_n : Timur-Coates constant and exponents (phi in p.u.)
    sdr_a, sdr_m, sdr_n : SDR constant (mD/ms^n) and exponents (phi in v/v, T2LM in ms)
    min_porosity, max_porosity : v/v; outside is masked
    min_perm, max_perm : mD, the range a permeability target may take
    perm_out_of_range : 'clip' (default: a tight or very permeable sample stays in training at
        the limit, flagged in FLAG, so the model is not trained on the middle of the range only)
        or 'mask' (the sample is left out with a reason)
    """

    lithology: str = "carbonate"
    t2_cutoff_ms: float | None = None
    clay_cutoff_ms: float = CLAY_CUTOFF_MS
    porosity: str = "effective"
    perm_porosity: str = "total"
    source: str = "auto"
    bvi: str = "auto"
    permeability: str = "timur_coates"
    convention: str = "auto"
    bvi_floor: float = 0.0
    ffi: str = "measured"
    coates_c: float = 10.0
    coates_m: float = 4.0
    coates_n: float = 2.0
    sdr_a: float = 4.0
    sdr_m: float = 4.0
    sdr_n: float = 2.0
    min_porosity: float = 0.005
    max_porosity: float = 0.5
    min_perm: float = 1e-4
    max_perm: float = 1e5
    perm_out_of_range: str = "clip"

    def __post_init__(self):
        if self.lithology not in LITHOLOGY_CUTOFF_MS:
            raise ConfigError(f"targets.lithology {self.lithology!r}: choose one of "
                              f"{sorted(LITHOLOGY_CUTOFF_MS)}")
        for name, value, choices in (("perm_out_of_range", self.perm_out_of_range,
                                      ("clip", "mask")),
                                     ("porosity", self.porosity, POROSITY_CHOICES),
                                     ("perm_porosity", self.perm_porosity,
                                      PERM_POROSITY_CHOICES),
                                     ("bvi", self.bvi, BVI_CHOICES),
                                     ("source", self.source, SOURCE_CHOICES),
                                     ("permeability", self.permeability, PERM_CHOICES),
                                     ("convention", self.convention, CONVENTIONS),
                                     ("ffi", self.ffi, FFI_RULES)):
            if value not in choices:
                raise ConfigError(f"targets.{name} {value!r}: choose one of {list(choices)}")
        if self.cutoff_ms <= self.clay_cutoff_ms:
            raise ConfigError("targets.t2_cutoff_ms must be above clay_cutoff_ms")
        if self.coates_c <= 0 or self.sdr_a <= 0:
            raise ConfigError("targets.coates_c and targets.sdr_a must be positive")
        if not 0.0 <= self.bvi_floor < self.max_porosity:
            raise ConfigError(f"targets.bvi_floor {self.bvi_floor!r}: a volume in v/v, from 0 "
                              f"(no floor) to below max_porosity ({self.max_porosity:g})")

    @property
    def cutoff_ms(self) -> float:
        return float(self.t2_cutoff_ms if self.t2_cutoff_ms is not None
                     else LITHOLOGY_CUTOFF_MS[self.lithology])

    def as_params(self) -> dict[str, object]:
        """Flat dict for MLflow (``targets.`` prefix), the resolved cutoff included."""
        d = {f"targets.{k}": v for k, v in asdict(self).items()}
        d["targets.t2_cutoff_ms"] = self.cutoff_ms
        return d


def timur_coates(phi: np.ndarray, ffi: np.ndarray, bvi: np.ndarray, *, c: float = 10.0,
                 m: float = 4.0, n: float = 2.0) -> np.ndarray:
    """Timur-Coates permeability, mD.

    Parameters
    ----------
    phi : array, v/v (converted to p.u. inside, as the formula's C assumes)
    ffi, bvi : arrays, v/v (only their ratio matters)

    >>> float(timur_coates(np.array([0.20]), np.array([0.15]), np.array([0.05]))[0])
    144.0
    """
    phi_pu = np.asarray(phi, dtype=float) * 100.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return (phi_pu / c) ** m * (np.asarray(ffi, float) / np.asarray(bvi, float)) ** n


def sdr(phi: np.ndarray, t2lm_ms: np.ndarray, *, a: float = 4.0, m: float = 4.0,
        n: float = 2.0) -> np.ndarray:
    """SDR permeability, mD: ``a * phi**m * T2LM**n`` (phi v/v, T2LM ms).

    >>> round(float(sdr(np.array([0.2]), np.array([100.0]))[0]), 6)
    64.0
    """
    return a * np.asarray(phi, float) ** m * np.asarray(t2lm_ms, float) ** n


def fraction_above(edges_ms: np.ndarray, cutoff_ms: float) -> np.ndarray:
    """Share of each T2 bin above ``cutoff_ms``, interpolated on log T2 inside the cut bin."""
    le = np.log10(np.asarray(edges_ms, dtype=float))
    if np.any(np.diff(le) <= 0):
        raise InputError("T2 bin edges must increase")
    return np.clip((le[1:] - np.log10(cutoff_ms)) / (le[1:] - le[:-1]), 0.0, 1.0)


def t2_partition(amplitudes: np.ndarray, edges_ms: np.ndarray, *, cutoff_ms: float,
                 clay_cutoff_ms: float = CLAY_CUTOFF_MS) -> dict[str, np.ndarray]:
    """Split a T2 distribution into total, effective, BVI, FFI, clay-bound and T2LM.

    Parameters
    ----------
    amplitudes : array (n_depth, n_bins), porosity per bin, v/v
    edges_ms : array (n_bins + 1,), bin boundaries, ms
    """
    a = np.asarray(amplitudes, dtype=float)
    edges = np.asarray(edges_ms, dtype=float)
    if a.shape[1] != edges.size - 1:
        raise InputError(f"T2 distribution has {a.shape[1]} bins but {edges.size} edges")
    total = a.sum(axis=1)
    eff = a @ fraction_above(edges, clay_cutoff_ms)
    ffi = a @ fraction_above(edges, cutoff_ms)
    centres = np.sqrt(edges[:-1] * edges[1:])
    with np.errstate(divide="ignore", invalid="ignore"):
        t2lm = 10 ** ((a @ np.log10(centres)) / total)
    t2lm[~(total > 0)] = np.nan
    nan = np.isnan(a).any(axis=1)
    out = {"TCMR": total, "PHIE_NMR": eff, "FFI": ffi, "BVI": eff - ffi, "CBW": total - eff,
           "T2LM": t2lm}
    for v in out.values():
        v[nan] = np.nan
    return out


def _curve(well: Well, name: str) -> np.ndarray | None:
    if name in well.curves.columns:
        v = well.curves[name].to_numpy(dtype=float)
        return v if np.isfinite(v).any() else None
    return None


def porosity_units(well: Well) -> tuple[Well, list[str]]:
    """Check the NMR porosity curves' units against their values (after ingest's conversion).

    A curve whose 95th percentile is above 1.5 cannot be a v/v porosity: it was in p.u. under a
    v/v (or missing) unit. It is divided by 100 and the decision is reported, never silently.
    """
    notes = []
    curves = well.curves
    for name in NMR_POROSITY_CURVES:
        v = _curve(well, name)
        if v is None:
            continue
        unit = well.provenance[name].unit if name in well.provenance else "?"
        p95 = float(np.nanpercentile(v, 95))
        if p95 > 1.5:
            curves = curves.copy() if curves is well.curves else curves
            curves[name] = v / 100.0
            notes.append(f"{name}: values up to {p95:.1f} under unit {unit!r} are p.u.; "
                         f"divided by 100")
        else:
            notes.append(f"{name}: v/v (file unit {unit!r})")
    if curves is well.curves:
        return well, notes
    return replace(well, curves=curves), notes


class Targets(NamedTuple):
    """What :func:`compute_targets` returns for one well."""

    table: pd.DataFrame        # the targets on the well's depth grid (see compute_targets)
    report: dict               # the source used, counts per mask reason, notes
    problems: list[Problem]    # choices the settings could not honour, disagreement with the
                               # vendor's permeability (the well named)


@dataclass
class _Volumes:
    """The NMR volumes of one well (v/v; T2LM in ms) and where they came from."""

    total: np.ndarray | None
    eff: np.ndarray | None
    ffi: np.ndarray
    bvi: np.ndarray
    t2lm: np.ndarray | None
    source: str
    cutoff_used: bool      # whether the T2 cutoff shaped the targets (the LAS header says)
    bvi_choice: str        # which BVI ``bvi`` is (targets.bvi's words)
    bvis: dict             # the BVIs a vendor's curve may show, by the same words (``bvi`` too)


def compute_targets(well: Well, params: TargetParams | None = None) -> Targets:
    """Targets of one well on its depth grid.

    Returns
    -------
    Targets
        ``table``: DataFrame indexed by depth (m) with PHIE (v/v), BVI, FFI (v/v), T2LM (ms),
        PERM (mD), LOG10_PERM, VALID (bool), REASON (why a sample is masked, '' when valid) and
        FLAG, and the vendor comparison curves KTIM / KSDR where the file has them;
        ``report``: dict with the source used, counts per mask reason and notes, the Timur-Coates
        convention used (``convention``, None for SDR) and the agreement with the vendor's
        permeability (``vendor``, None without one; see
        :class:`petro.targets.vendor.VendorMatch`);
        ``problems``: the choices the settings could not honour (warnings, code
        ``target_fallback``) and a disagreement with the vendor's permeability (code
        ``vendor_perm_disagrees``), the well named.
    """
    p = params or TargetParams()
    well, notes = porosity_units(well)
    warnings: list[str] = []   # choices the settings could not honour (reported as problems)
    vol = _volumes(well, p, notes, warnings)
    phi_target, phi, perm_phi_used = _porosities(well, p, vol, warnings)
    t2lm = vol.t2lm if vol.t2lm is not None else np.full(len(well.curves), np.nan)

    # the NMR porosities phi can be in Timur-Coates (the vendor's curve may show the other; phi
    # is one of them) and the BVIs (vol.bvis)
    phis = {k: v for k, v in (("total", vol.total), ("effective", vol.eff)) if v is not None}
    bvis = vol.bvis

    def target(conv: Convention) -> tuple[np.ndarray, ...]:
        phi_c = phis.get(conv.phi, phi)
        bvi_c = bvis.get(conv.bvi, vol.bvi)
        bvi, ffi = conv.apply(phi_c, bvi_c, vol.ffi) if p.permeability == "timur_coates" \
            else (vol.bvi, vol.ffi)
        perm = _permeability(p, phi_c, ffi, bvi, t2lm)
        return (bvi, ffi) + _mask(p, phi_c, phi_target, ffi, bvi, t2lm, perm)

    settings = Convention(p.bvi_floor, p.ffi, perm_phi_used, vol.bvi_choice)
    vm = _vendor_match(well, p, settings, phis, bvis, vol, target)
    used = vm.used if vm else settings
    perm_phi_used = used.phi
    bvi, ffi, reason, flag, perm = target(used)
    valid = reason == ""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_perm = np.where(valid, np.log10(np.where(valid, perm, 1.0)), np.nan)
    table = pd.DataFrame({"PHIE": np.where(valid, phi_target, np.nan),
                          "BVI": bvi, "FFI": ffi, "T2LM": t2lm,
                          "PERM": np.where(valid, perm, np.nan), "LOG10_PERM": log_perm,
                          VALID: valid, REASON: reason,
                          FLAG: np.where(valid, flag, "")}, index=well.curves.index)
    for vendor in VENDOR_PERMEABILITY:
        v = _curve(well, vendor)
        if v is not None:
            table[vendor] = v
    report = _report(well, p, vol, reason, flag, notes + warnings, perm_phi_used)
    report["convention"] = None if p.permeability != "timur_coates" else {
        "bvi_floor": used.bvi_floor, "ffi": used.ffi, "phi": used.phi, "bvi": used.bvi,
        "source": vm.source if vm else "settings"}
    report["vendor"] = vm.to_dict() if vm else None
    problems = [Problem(Severity.WARNING, f"targets: {m}", well=well.name, code="target_fallback")
                for m in warnings] + _vendor_problems(well, vm)
    return Targets(table, report, problems)


def _vendor_match(well: Well, p: TargetParams, settings: Convention, phis: dict, bvis: dict,
                  vol: _Volumes, target) -> VendorMatch | None:
    """Petro's permeability against the vendor's of the same model (KTIM for Timur-Coates, KSDR
    for SDR) where the file has it, and the Timur-Coates convention chosen by
    ``targets.convention`` (:func:`petro.targets.vendor.match_convention`; ``phis``, ``bvis``:
    the NMR porosities phi can be and the BVIs, by name); None without one."""
    name = "KTIM" if p.permeability == "timur_coates" else "KSDR"
    vendor = _curve(well, name)
    if vendor is None:
        return None
    original = well.provenance[name].original if name in well.provenance else name

    def perm(conv: Convention) -> np.ndarray:
        *_, reason, _, k = target(conv)
        return np.where(reason == "", k, np.nan)

    if p.permeability != "timur_coates":     # SDR: no floor or FFI rule to read; compared only
        a = agreement(perm(settings), vendor)
        return VendorMatch(name, original, settings, settings, "settings", a, a, settings, a)
    return match_convention(settings, p.convention, name, original, vendor, phis, bvis,
                            vol.ffi, perm, c=p.coates_c, m=p.coates_m, n=p.coates_n)


def _vendor_problems(well: Well, vm: VendorMatch | None) -> list[Problem]:
    said = disagreement_message(vm) if vm else None
    if said is None:
        return []
    is_warning, message = said
    return [Problem(Severity.WARNING if is_warning else Severity.INFO, f"targets: {message}",
                    well=well.name, curve=vm.original, code="vendor_perm_disagrees")]


def _files(well: Well) -> str:
    return ", ".join(well.files)


def _volumes(well: Well, p: TargetParams, notes: list[str], warnings: list[str]) -> _Volumes:
    """Choose the source (summary curves or the T2 distribution) and read the volumes from it."""
    have_curves = _curve(well, "FFI") is not None and (
        _curve(well, "TCMR") is not None or _curve(well, "PHIE_NMR") is not None)
    if p.source == "t2" or (p.source == "auto" and not have_curves):
        return _volumes_from_t2(well, p, warnings)
    if not have_curves:
        raise InputError(f"well {well.name}: targets.source=curves needs FFI and TCMR or "
                         f"PHIE_NMR curves", path=_files(well))
    return _volumes_from_curves(well, p, notes, warnings)


def _partition(well: Well, p: TargetParams) -> dict[str, np.ndarray]:
    return t2_partition(well.t2_bins.amplitudes, well.t2_bins.edges_ms, cutoff_ms=p.cutoff_ms,
                        clay_cutoff_ms=p.clay_cutoff_ms)


def _volumes_from_t2(well: Well, p: TargetParams, warnings: list[str]) -> _Volumes:
    """Total, effective, FFI, BVI and T2LM from the T2 distribution, BVI = total - FFI (clay-bound
    water included, as the vendor's BFV) unless ``targets.bvi`` asks for effective - FFI."""
    if well.t2_bins is None and p.source == "t2":
        unused = [x.message for x in well.problems if x.code == "t2_unusable"]
        raise InputError(f"well {well.name}: targets.source=t2 but the well has no usable T2 "
                         f"distribution" + (f" ({unused[0]})" if unused else ""),
                         path=_files(well))
    if well.t2_bins is None:
        raise InputError(f"well {well.name}: no NMR: neither FFI with TCMR/PHIE_NMR curves "
                         f"nor a T2 distribution was found", path=_files(well))
    part = _partition(well, p)
    total, eff, ffi, bvi, t2lm = (part[k] for k in ("TCMR", "PHIE_NMR", "FFI", "BVI", "T2LM"))
    choice = "total_minus_ffi" if p.bvi in ("auto", "total_minus_ffi", "curve") \
        else "effective_minus_ffi"
    if p.bvi == "curve":
        warnings.append("targets.bvi=curve: no BVI curve is used with a T2 distribution; "
                        "BVI = total - FFI")
    if choice == "total_minus_ffi":
        bvi = total - ffi
    source = (f"T2 distribution ({len(well.t2_bins.edges_ms) - 1} bins, cutoff "
              f"{p.cutoff_ms:g} ms), BVI: {choice}")
    return _Volumes(total, eff, ffi, bvi, t2lm, source, cutoff_used=True, bvi_choice=choice,
                    bvis={choice: bvi})


def _volumes_from_curves(well: Well, p: TargetParams, notes: list[str],
                         warnings: list[str]) -> _Volumes:
    """The volumes from the summary curves; an effective porosity the file does not give is
    TCMR - CBW, else from the T2 distribution."""
    total, eff, ffi = _curve(well, "TCMR"), _curve(well, "PHIE_NMR"), _curve(well, "FFI")
    cbw = _curve(well, "CBW")
    cutoff_used = False
    if eff is None and total is not None:
        if cbw is not None:
            eff = total - cbw
            notes.append("effective porosity = TCMR - CBW")
        elif well.t2_bins is not None:
            eff = _partition(well, p)["PHIE_NMR"]
            notes.append("effective porosity from the T2 distribution")
            cutoff_used = True
    bvi, choice, t2_bvi = _bvi_from_curves(well, p, total, eff, ffi, warnings)
    # the BVIs a vendor's permeability may have used (read from it under convention: auto)
    bvis = {k: v for k, v in (("curve", _curve(well, "BVI")),
                              ("total_minus_ffi", None if total is None else total - ffi),
                              ("effective_minus_ffi", None if eff is None else eff - ffi))
            if v is not None}
    bvis[choice] = bvi
    return _Volumes(total, eff, ffi, bvi, _curve(well, "T2LM"),
                    f"summary curves (BVI: {choice})", cutoff_used or t2_bvi, choice, bvis)


def _bvi_from_curves(well: Well, p: TargetParams, total, eff, ffi,
                     warnings: list[str]) -> tuple[np.ndarray, str, bool]:
    """BVI by ``targets.bvi`` (auto: the curve, else TCMR - FFI, else effective - FFI with a
    warning); returns it, the choice and whether the T2 cutoff was used."""
    bvi_curve = _curve(well, "BVI")
    choice = p.bvi
    if choice == "auto":
        choice = "curve" if bvi_curve is not None else \
            "total_minus_ffi" if total is not None else "effective_minus_ffi"
        if choice == "effective_minus_ffi":
            warnings.append("no BVI curve and no total porosity (TCMR/MPHS): BVI = effective "
                            "porosity - FFI")
    if choice == "curve":
        if bvi_curve is None:
            raise InputError(f"well {well.name}: targets.bvi=curve but no BVI curve (BFV, "
                             f"MBVI)", path=_files(well))
        return bvi_curve, choice, False
    if choice == "total_minus_ffi":
        if total is None:
            raise InputError(f"well {well.name}: targets.bvi=total_minus_ffi needs TCMR")
        return total - ffi, choice, False
    if choice == "t2":
        if well.t2_bins is None:
            raise InputError(f"well {well.name}: targets.bvi=t2 needs a T2 distribution")
        return _partition(well, p)["BVI"], choice, True
    if eff is None:
        raise InputError(f"well {well.name}: BVI = effective - FFI needs an effective "
                         f"porosity (CMRP_3MS, MPHE) or TCMR with CBW")
    return eff - ffi, choice, False


def _porosities(well: Well, p: TargetParams, vol: _Volumes,
                warnings: list[str]) -> tuple[np.ndarray, np.ndarray, str]:
    """The porosity target, phi inside the permeability transform and which porosity that is
    (a well without a total porosity uses its effective one, with a warning)."""
    if p.porosity == "effective" and vol.eff is None:
        raise InputError(f"well {well.name}: targets.porosity=effective needs CMRP_3MS/MPHE, "
                         f"TCMR with CBW, or a T2 distribution", path=_files(well))
    if p.porosity == "total" and vol.total is None:
        raise InputError(f"well {well.name}: targets.porosity=total needs TCMR/MPHS")
    phi_target = vol.eff if p.porosity == "effective" else vol.total
    perm_phi_used = p.perm_porosity
    if p.perm_porosity == "total" and vol.total is None:
        perm_phi_used = "effective"
        warnings.append("no total NMR porosity (TCMR/MPHS): phi in the permeability transform is "
                        "the effective porosity")
    if perm_phi_used == "effective" and vol.eff is None:
        raise InputError(f"well {well.name}: targets.perm_porosity=effective needs CMRP_3MS/MPHE, "
                         f"TCMR with CBW, or a T2 distribution", path=_files(well))
    phi = vol.eff if perm_phi_used == "effective" else vol.total
    return phi_target, phi, perm_phi_used


def _permeability(p: TargetParams, phi, ffi, bvi, t2lm) -> np.ndarray:
    """Timur-Coates or SDR permeability, mD (not yet masked or clipped)."""
    if p.permeability == "timur_coates":
        return timur_coates(phi, ffi, bvi, c=p.coates_c, m=p.coates_m, n=p.coates_n)
    return sdr(phi, t2lm, a=p.sdr_a, m=p.sdr_m, n=p.sdr_n)


def _mark(reason: np.ndarray, cond, why: str) -> None:
    """Give the samples where ``cond`` holds and that have no reason yet the reason ``why``."""
    cond = np.asarray(cond) & (reason == "")
    reason[cond] = why


def _mask(p: TargetParams, phi, phi_target, ffi, bvi, t2lm,
          perm) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Why each sample cannot give a target ('' when it can), the clip flag, and the
    permeability clipped to ``[min_perm, max_perm]`` (``perm_out_of_range: clip``)."""
    n = len(perm)
    reason = np.full(n, "", dtype=object)
    _mark(reason, ~np.isfinite(phi) | ~np.isfinite(phi_target), "porosity NULL")
    _mark(reason, (phi <= p.min_porosity) | (phi_target <= p.min_porosity),
          "porosity <= min_porosity")
    _mark(reason, (phi > p.max_porosity) | (phi_target > p.max_porosity),
          "porosity > max_porosity")
    if p.permeability == "timur_coates":
        _mark(reason, ~np.isfinite(ffi) | ~np.isfinite(bvi), "FFI/BVI NULL")
        _mark(reason, bvi <= 0, "BVI <= 0")
        _mark(reason, ffi < 0, "FFI < 0")
    else:
        _mark(reason, ~np.isfinite(t2lm) | (t2lm <= 0), "T2LM NULL or <= 0")
    flag = np.full(n, "", dtype=object)
    with np.errstate(invalid="ignore"):
        _mark(reason, ~np.isfinite(perm), "permeability not finite")
        if p.perm_out_of_range == "clip":
            ok = reason == ""
            flag[ok & (perm < p.min_perm)] = "clipped to min_perm"
            flag[ok & (perm > p.max_perm)] = "clipped to max_perm"
            perm = np.clip(perm, p.min_perm, p.max_perm)
        else:
            _mark(reason, perm < p.min_perm, "permeability < min_perm")
            _mark(reason, perm > p.max_perm, "permeability > max_perm")
    return reason, flag, perm


def _report(well: Well, p: TargetParams, vol: _Volumes, reason, flag, notes: list[str],
            perm_phi_used: str) -> dict:
    """The target report of one well: source, counts per mask reason and per clip, notes."""
    valid = reason == ""
    counts = pd.Series(reason[~valid]).value_counts().to_dict()
    return {"well": well.name, "source": vol.source, "cutoff_used": vol.cutoff_used,
            "n": int(len(reason)), "valid": int(valid.sum()),
            "masked": {str(k): int(v) for k, v in counts.items()},
            "clipped": {str(k): int(v) for k, v in
                        pd.Series(flag[valid & (flag != "")]).value_counts().items()},
            "notes": notes, "porosity": p.porosity, "perm_porosity": perm_phi_used,
            "porosity_curves": {k: well.provenance[k].unit for k in ("TCMR", "PHIE_NMR", "FFI",
                                                                     "BVI")
                                if k in well.provenance}}
