"""petro's shared vocabulary, defined once at the bottom of the stack.

Every layer spells these names the same way by importing them from here: the NMR curve sets, the
target columns and their units, the feature-name grammar (build and parse), the predicted output
columns and their units, metric keys and report scales, and the physical constants that more than
one layer uses. The model runtime (:mod:`petro.models.runtime`) ships without petro and keeps its
own literals; a test checks that they equal these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# ------------------------------------------------------------------------------ NMR curves
# canonical mnemonics (see petro/data/aliases.yaml for the vendor spellings)
NMR_POROSITY_CURVES = ("TCMR", "PHIE_NMR", "BVI", "FFI", "CBW")      # v/v
NMR_CURVES = NMR_POROSITY_CURVES + ("T2LM", "KTIM", "KSDR")
VENDOR_PERMEABILITY = ("KTIM", "KSDR")                             # comparison only, never input
NMR_MARKERS = ("FFI", "TCMR", "PHIE_NMR")                          # any of these: the run is NMR


def is_nmr(curve_names, has_t2: bool = False) -> bool:
    """True when a well (or a file) carries NMR: a T2 distribution or a porosity summary curve."""
    return has_t2 or any(c in curve_names for c in NMR_MARKERS)


# ------------------------------------------------------------------------------ constants
# T2 cutoffs (ms) between capillary-bound and free fluid, by lithology; clay-bound cutoff
LITHOLOGY_CUTOFF_MS = {"clastic": 33.0, "sandstone": 33.0, "carbonate": 92.0}
CLAY_CUTOFF_MS = 3.0
# matrix and fluid: bulk density g/cm3, compressional slowness us/ft, PEF b/e
MATRIX = {"calcite": (2.71, 47.6, 5.08), "dolomite": (2.87, 43.5, 3.14),
          "quartz": (2.65, 55.5, 1.81)}
FLUID_DENSITY = 1.0      # g/cm3, fresh mud filtrate
FLUID_SLOWNESS = 189.0   # us/ft

# ------------------------------------------------------------------------------ targets
# columns of the per-well target table, with their units (LAS spelling)
TARGET_COLUMNS = {"PHIE": "V/V", "BVI": "V/V", "FFI": "V/V", "T2LM": "MS", "PERM": "MD",
                  "LOG10_PERM": "LOG10(MD)"}
VALID, REASON, FLAG = "VALID", "REASON", "FLAG"
WELL, DEPTH = "WELL", "DEPT"


@dataclass(frozen=True)
class Target:
    """A quantity petro learns: its table column, output prefix, unit, transform and how its
    errors are reported (``report_scale`` times the model-space error, in ``report_unit``)."""

    name: str
    column: str          # column of the target table the model learns
    output: str          # prefix of the predicted columns (PHIE_ML, PERM_ML, ...)
    unit: str            # unit of the predicted columns
    las_unit: str        # the same, as written in LAS
    transform: str       # 'none' or 'log10' (model space -> output)
    report_scale: float  # model-space error x scale = reported error
    report_unit: str
    metric: str          # primary metric key (pooled blind-well RMSE in report units)
    description: str


TARGETS = {
    "porosity": Target("porosity", "PHIE", "PHIE", "v/v", "V/V", "none", 100.0, "p.u.", "rmse_pu",
                       "effective porosity"),
    "permeability": Target("permeability", "LOG10_PERM", "PERM", "mD", "MD", "log10", 1.0,
                           "decades", "rmse_dec", "permeability"),
}


# ------------------------------------------------------------------------------ outputs
ML, P10, P90 = "ML", "P10", "P90"
NOVELTY, OOD_FLAG = "NOVELTY", "OOD_FLAG"
INPUT_COVERAGE = "INPUT_COVERAGE"
KEY_INPUT_COVERAGE = "KEY_INPUT_COVERAGE"
# 1 where the answer at a depth comes from the conventional logs only: the model's logs-only
# sibling answered (the depth has none of the model's image inputs), or the model uses no image
LOGS_ONLY = "LOGS_ONLY"
# NOV_<curve>: a curve minus what the training wells' relation with the other logs expects
NOV_PREFIX = "NOV_"
# the whole-well term of NOVELTY (rows sent as one well); NaN when the rows were taken one by one
WELL_NOVELTY = "WELL_NOVELTY"


def output_columns(output: str) -> list[str]:
    """Predicted value columns of a model with output prefix ``output`` (P50, P10, P90)."""
    return [f"{output}_{ML}", f"{output}_{P10}", f"{output}_{P90}"]


OUTPUT_DESCRIPTIONS = {
    ML: "{what} predicted by petro (P50)", P10: "{what}, 10th percentile",
    P90: "{what}, 90th percentile",
    NOVELTY: "Novelty, largest over the models; the file taken as one well (whole-well shift "
             "test on); above 1: out of domain",
    OOD_FLAG: "1 = inputs unlike the training wells of any of the models (largest over them)",
    INPUT_COVERAGE: "Share of the model's inputs present at this depth",
    KEY_INPUT_COVERAGE: "Importance-weighted share of the model's inputs present at this depth",
    LOGS_ONLY: "1 = answered from the conventional logs only (no image input of the model here)",
    WELL_NOVELTY: "Whole-well part of the novelty (cross-log shift and level tests; rows sent as "
                  "one well, else missing)",
}

# ------------------------------------------------------------------------------ metrics
BASELINE_LABELS = {"model": "petro", "logs_only": "logs only", "train_mean": "train mean",
                   "petrophysical": "density porosity / poro-perm",
                   "random_forest": "random forest", "hist_gbm": "hist GBM",
                   "ridge": "ridge (logs)", "ridge_windowed": "ridge (windowed logs)"}
COVERAGE = "coverage_p10_p90"
IN_DOMAIN = "in_domain_rate"


def metric_name(label: str, key: str) -> str:
    """MLflow metric name of a pooled metric: ``blind_rmse_pu``, ``baseline_ridge_rmse_pu``."""
    return f"blind_{key}" if label == "model" else f"baseline_{label}_{key}"


# ------------------------------------------------------------------------------ features
# conventional-log inputs are data (petro/data/aliases.yaml `input:` flags); what is not an image
# column is a log column
LOGS_BLOCK = "logs"

# image kinds and the prefix of their feature columns
IMAGE_KINDS = ("acoustic_amplitude", "acoustic_transit_time", "resistive", "density", "gamma",
               "other")
IMAGE_PREFIX = {"acoustic_amplitude": "amp", "acoustic_transit_time": "tt", "resistive": "res",
                "density": "den", "gamma": "gam", "other": "img"}
PREFIX_KIND = {v: k for k, v in IMAGE_PREFIX.items()}
IMAGE_STATS = ("mean", "std", "p10", "p50", "p90", "vug", "azc", "vhet", "glcmc", "glcmh", "ent",
               "cov")


def window_label(w_m: float) -> str:
    """Window length in m as it appears in a column name: 0.15 -> ``w015`` (cm)."""
    return f"w{int(round(w_m * 100)):03d}"


def image_feature(prefix: str, stat: str, window_m: float | None = None) -> str:
    """``amp_mean_w050``; ``amp_het`` (no window)."""
    return f"{prefix}_{stat}_{window_label(window_m)}" if window_m is not None else \
        f"{prefix}_{stat}"


def patch_feature(prefix: str, j: int) -> str:
    return f"{prefix}_patch_{j:02d}"


def pc_feature(prefix: str, i: int) -> str:
    """The learned embedding's i-th score (1-based) of an image kind: ``amp_pc1``."""
    return f"{prefix}_pc{i}"


_IMAGE_RE = re.compile(r"^(?P<prefix>[a-z]+)_(?:(?P<stat>[a-z0-9]+)_(?P<w>w\d{3})|"
                       r"(?P<het>het)|patch_(?P<patch>\d+)|pc(?P<pc>\d+))$")


@dataclass(frozen=True)
class FeatureName:
    """A parsed feature column name."""

    name: str
    block: str                 # 'logs' or the image prefix ('amp', 'res', ...)
    kind: str | None = None    # image kind, None for logs
    stat: str | None = None
    window: str | None = None  # 'w050'
    patch: int | None = None
    pc: int | None = None

    @property
    def is_image(self) -> bool:
        return self.kind is not None

    @property
    def is_patch(self) -> bool:
        return self.patch is not None


def parse_feature(name: str) -> FeatureName:
    """Parse a feature column name; anything that is not an image column is a log column."""
    m = _IMAGE_RE.match(name)
    if m and m.group("prefix") in PREFIX_KIND:
        pre = m.group("prefix")
        return FeatureName(name, pre, PREFIX_KIND[pre],
                           stat=m.group("stat") or m.group("het"), window=m.group("w"),
                           patch=int(m.group("patch")) if m.group("patch") else None,
                           pc=int(m.group("pc")) if m.group("pc") else None)
    return FeatureName(name, LOGS_BLOCK)


def feature_block(name: str) -> str:
    """The novelty / input block of a feature column: ``'logs'`` or the image prefix."""
    return parse_feature(name).block


def by_image_prefix(features, patches_only: bool = False) -> dict[str, list[str]]:
    """The image columns of ``features`` (only the patch columns with ``patches_only``) by
    image prefix, in their order."""
    out: dict[str, list[str]] = {}
    for f in features:
        name = parse_feature(f)
        if name.is_patch if patches_only else name.is_image:
            out.setdefault(name.block, []).append(f)
    return out


def is_image_feature(name: str) -> bool:
    return parse_feature(name).is_image


def is_patch_feature(name: str) -> bool:
    return parse_feature(name).is_patch


# windowed statistics of a conventional-log input column over a centred depth window:
# ``RHOB_wmed_w050`` (median over 0.5 m), ``LOG10_RT_wmad_w150`` (robust spread, 1.4826 MAD)
WINDOWED_STATS = ("wmed", "wmad")
_WINDOWED_RE = re.compile(r"^(?P<curve>[A-Z0-9_]+)_(?P<stat>wmed|wmad)_(?P<w>w\d{3})$")


def windowed_log_feature(column: str, stat: str, window_m: float) -> str:
    """``RHOB_wmed_w050``: statistic ``stat`` (:data:`WINDOWED_STATS`) of log column
    ``column`` over a centred window of ``window_m`` m."""
    return f"{column}_{stat}_{window_label(window_m)}"


def is_windowed_log(name: str) -> bool:
    """True for a windowed statistic of a log column (:func:`windowed_log_feature`)."""
    return _WINDOWED_RE.match(name) is not None
