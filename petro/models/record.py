"""The model record: every field of a fitted model's state, in one typed place.

A :class:`ModelRecord` is what ``bundle.json`` holds (besides the runtime's own ``format`` and
``boosters`` keys, added when the bundle is saved): :meth:`ModelRecord.to_dict` gives the plain
JSON dict the runtime (:mod:`petro.models.runtime`, which imports no petro module) reads as
``Bundle.meta``, and :meth:`ModelRecord.from_dict` reads one back. Training fills it in steps:
the fit (:func:`petro.models.train.fit_model`: what the model is, its inputs, its answer), the
trust metadata (:func:`petro.models.trust.trust_meta`) and the provenance
(:func:`petro.models.pipeline.train_model`: blind-well figures, target parameters, the recipe
that rebuilds the inputs from files, the training path). An optional field that is None is left
out of the JSON (the runtime then takes its default).

Nested fields stay JSON values (lists, dicts of numbers); their layout is documented where they
are fitted: ``pca`` (the patch embedding, :mod:`petro.models.embedding`), ``linear_base``
(:func:`petro.models.train.fit_linear_base`), ``novelty`` (:mod:`petro.models.novelty`),
``consistency`` (:mod:`petro.models.consistency`), ``aliases``, ``input_units``, ``missing``
(:mod:`petro.models.trust`), ``conformal_bins`` (:mod:`petro.models.conformal`),
``plausibility`` (:mod:`petro.models.plausibility`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from petro.models.runtime import MIN_INPUT_COVERAGE

# keys the runtime adds to bundle.json when it saves a bundle (not part of the record)
RUNTIME_KEYS = ("format", "boosters", "files")


@dataclass
class ModelRecord:
    """A fitted model's state as stored in its ``bundle.json`` (see the module docstring)."""

    # what the model predicts
    name: str                       # the spec's name
    target: str                     # 'porosity' | 'permeability' (petro.vocab.TARGETS)
    column: str                     # the target table column learnt (PHIE, LOG10_PERM)
    output: str                     # prefix of the predicted columns (PHIE_ML, PERM_P10 ...)
    unit: str                       # unit of the predicted columns (v/v, mD)
    transform: str                  # 'none' | 'log10': model space -> output unit
    # its inputs and the boosters' matrix
    features: list[str]             # input columns, in the order of the input matrix
    model_features: list[str]       # the boosters' columns: kept inputs, then PCA scores
    pca: list[dict]                 # learned embedding of the image patches, per image kind
    # its answer
    quantiles: list[float]          # P10 / P90 levels of the quantile boosters
    conformal: dict[str, float]     # {"lo", "hi"}: conformal widening (model space)
    clip: list[float]               # [lo, hi]: predictions clipped to (model space)
    n_train: int                    # training rows with a finite target
    linear_base: dict | None = None        # ridge trend the boosters correct (init score)
    conformal_bins: dict | None = None     # Mondrian adjustment per novelty bin
    # trust
    min_input_coverage: float = MIN_INPUT_COVERAGE   # below this share of inputs: no answer
    novelty: dict | None = None            # the novelty detector, thresholds from blind wells
    aliases: dict | None = None            # vendor mnemonic -> [input column, value | log10]
    input_units: dict | None = None        # per input: quantity, unit, range, other units
    missing: dict | None = None            # missing-input term: weights, requires, threshold
    consistency: dict | None = None        # cross-log relations (NOV_<curve>), levels
    ood_policy: str | None = None          # widen | withhold | keep (runtime default: keep)
    plausibility: dict | None = None       # per input: [min, max, unit] no rock or tool exceeds
    # provenance
    cv: dict | None = None                 # {"pooled": blind metrics, "wells": [...]}
    target_params: dict | None = None      # the target computation's parameters
    recipe: dict | None = None             # what rebuilds the inputs from files
    training: dict | None = None           # lightgbm.dask path: {"path", "sample_rows", "rows"}
    # input groups and the logs-only sibling (petro.models.groups, petro.models.pipeline)
    input_groups: dict | None = None       # the final decision: kept groups, gains, reason
    image_inputs: dict | None = None       # image prefix -> the model's inputs of that kind
    logs_only: dict | None = None          # the logs-only sibling's record (its own bundle)
    curve_verdicts: dict | None = None     # training well -> its inputs left out or masked
                                           # (petro.quality verdicts as dicts)

    def to_dict(self) -> dict:
        """The JSON dict of the record (``Bundle.meta``); fields that are None are left out."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) is not None}

    @classmethod
    def from_dict(cls, meta: dict) -> "ModelRecord":
        """The record of a ``Bundle.meta`` / ``bundle.json`` dict (the runtime's ``format`` and
        ``boosters`` keys are not part of it). Raises ValueError naming unknown keys."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(meta) - known - set(RUNTIME_KEYS))
        if unknown:
            raise ValueError(f"model record: unknown keys {unknown}; known: {sorted(known)}")
        return cls(**{k: v for k, v in meta.items() if k in known})
