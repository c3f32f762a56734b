"""Input groups kept only where they help, decided on training wells only.

A model's candidate inputs fall into groups (:func:`input_groups`): the conventional logs
(``logs``: always kept), their windowed statistics (``windowed_logs``: the logs at the scale of
the beds, :mod:`petro.features.logs`), and per image kind its window statistics
(``amp_stats``) and the patch columns its learned embedding is fitted on (``amp_embedding``).
:func:`decide_groups` keeps or drops each group by its measured gain on the rows it is given:
grouped K-fold over their wells (``input_groups.inner_folds``, default 5: leave-one-well-out up
to 5 wells; wells never split),
a P50 booster with the spec's parameters (the same as the search's first trial; at most
``input_groups.trees`` rounds, default 100, the learning rate raised to match:
:func:`decision_spec`) fitted on each inner fold's training wells and applied to its held-out
wells, pooled RMSE (p.u. or decades).

- the windowed logs are kept when the logs with them beat the logs alone;
- each image group is measured against the logs *with* their windowed statistics, whether or
  not those are kept: an image window also summarises the logs' neighbouring samples, and that
  smoothing is no reason to keep an image;
- a group is kept when its gain exceeds ``min_gain`` (default 0.02) of the reference's inner
  RMSE and is positive in most inner folds (the noise of a gain measured on a handful of wells
  is its spread over the inner folds; 2 % also stops a group being kept for a gain nobody would
  notice); when no image group passes alone but all of them together do, all are kept.

The same inner fits also decide the P50's boosting rounds (``input_groups.rounds``, default
on; :func:`choose_rounds`). Every model boosts from a ridge fit on the conventional logs (the
linear base, :func:`petro.models.train.fit_linear_base`); where the logs explain the target
nearly linearly and single samples are noisy, the boosters mostly learn the training wells'
noise, and a model worse than its own linear base is worse than ridge regression on the same
logs (measured: a 5-well field with density noise +/-0.02 g/cc, logs-only porosity 0.957 p.u.
with all rounds against 0.925 for the base alone). Each fit is read after 1 %, 3 %, ... 100 % of
its rounds; when stopping early beats all the rounds by more than ``min_gain`` of the inner RMSE,
the P50 keeps the fewest rounds within 0.5 % of the best, for the model (its kept groups) and for
its logs-only sibling (the kept log groups). The quantile heads keep every round (their shape
sets the P10-P90 band, which the blind conformal step then calibrates).

Blind-well validation decides inside each outer fold on that fold's training wells only
(:func:`petro.models.validation.validate`), so the blind figures are free of the decision; the
final model decides the same way on every training well. The cost: (image groups + 2) x inner
folds P50 fits per decision (40 for 3 image kinds, 6 groups, and 5 inner folds; one more
combination when no image group passes alone), of at most ``trees`` rounds, without input
selection. The decisions of one model share their fits (:func:`decision_fits`): with
leave-one-well-out inner folds, N blind-well folds train on N(N-1)/2 well sets, not N(N-1),
and the final decision's on one more per inner fold at most (the demo: 19 well sets, 152 fits
a model instead of 280). With 3 inner folds over 4 training wells (one fold
trained on 2 wells) the gains were noise enough that image groups were kept in 2-4 of 5 blind
folds on a field whose images carry nothing beyond the logs (permeability 0.569 decades against
0.557 logs only); leave-one-well-out kept none beyond one fold in five (0.542 against 0.542).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from sklearn.model_selection import GroupKFold

from petro.models.runtime import SIBLING
from petro.models.spec import ModelSpec
from petro.models.tasks import TaskMap, run_tasks
from petro.models.train import P50_REACH, fit_bundle, lgb_params
from petro.vocab import by_image_prefix, is_windowed_log, parse_feature

LOGS, WINDOWED, IMAGES = "logs", "windowed_logs", "images"
DEFAULT_INNER_FOLDS = 5
DEFAULT_MIN_GAIN = 0.02
DEFAULT_TREES = 100
# the P50's boosting rounds: the decision's curve is read at these shares of its rounds, and the
# fewest rounds within ROUNDS_TOLERANCE of the best inner RMSE are kept
ROUNDS_SHARES = (0.01, 0.03, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.55, 0.7, 0.85, 1.0)
ROUNDS_TOLERANCE = 0.005
MODEL = "model"          # GroupDecision.rounds keys: the model's, and its sibling's (SIBLING)


def group_of(feature: str) -> str:
    """The input group of a feature column (module docstring)."""
    if is_windowed_log(feature):
        return WINDOWED
    name = parse_feature(feature)
    if not name.is_image:
        return LOGS
    return f"{name.block}_{'embedding' if name.is_patch else 'stats'}"


def is_image_group(group: str) -> bool:
    return group not in (LOGS, WINDOWED)


def input_groups(features: list[str]) -> dict[str, list[str]]:
    """The features by group, groups in the order they first appear (the logs first)."""
    out: dict[str, list[str]] = {LOGS: []}
    for f in features:
        out.setdefault(group_of(f), []).append(f)
    return {g: cols for g, cols in out.items() if cols}


def group_settings(spec: ModelSpec) -> dict:
    """The spec's ``input_groups`` settings with defaults."""
    cfg = dict(spec.input_groups or {})
    return {"select": bool(cfg.get("select", True)),
            "rounds": bool(cfg.get("rounds", True)),
            "inner_folds": int(cfg.get("inner_folds", DEFAULT_INNER_FOLDS)),
            "min_gain": float(cfg.get("min_gain", DEFAULT_MIN_GAIN)),
            "trees": int(cfg.get("trees", DEFAULT_TREES))}


def decision_spec(spec: ModelSpec, trees: int) -> ModelSpec:
    """The spec the decision's P50 fits use: every input (no selection), and at most ``trees``
    boosting rounds with the learning rate raised to keep rounds x rate (the spec's 300 x 0.04
    become 100 x 0.12: a third of the cost, the same reach)."""
    params = dict(spec.params)
    n = int(params.get("n_estimators", 100))
    if 0 < trees < n:
        params["learning_rate"] = float(params.get("learning_rate", 0.1)) * n / trees
        params["n_estimators"] = trees
    return replace(spec, max_inputs=0, params=params)


@dataclass
class GroupDecision:
    """Which input groups a model keeps and why: per group its inner-CV RMSE without and with
    it, the gain (report unit), the gain per inner fold and the verdict."""

    kept: list[str]
    groups: dict[str, dict] = field(default_factory=dict)
    reason: str = ""
    rounds: dict[str, dict] = field(default_factory=dict)   # MODEL / SIBLING: choose_rounds

    def features(self, features: list[str]) -> list[str]:
        """``features`` of the kept groups, in their order."""
        return [f for f in features if group_of(f) in self.kept]

    def spec_for(self, spec: ModelSpec, which: str = MODEL) -> ModelSpec:
        """``spec`` with the P50's boosting reach chosen for the model (``MODEL``) or its
        logs-only sibling (``SIBLING``); ``spec`` itself when none was chosen."""
        chosen = self.rounds.get(which)
        if not chosen or chosen["rounds"] >= chosen["of"]:
            return spec
        return replace(spec, params={**spec.params, P50_REACH: chosen["reach"]})

    def to_dict(self) -> dict:
        return {"kept": list(self.kept), "groups": self.groups, "reason": self.reason,
                "rounds": self.rounds}


def rounds_grid(spec: ModelSpec) -> list[int]:
    """The boosting rounds at which a decision fit of ``spec`` is read (its last: all)."""
    rounds = lgb_params(spec, "regression")[1]
    return sorted({max(1, round(f * rounds)) for f in ROUNDS_SHARES})


@dataclass(frozen=True)
class Inner:
    """A P50 model's inner-CV errors: pooled and per-inner-fold RMSE (report unit) with all
    its rounds, and the pooled RMSE after each of ``grid`` rounds (``curve``)."""

    rmse: float
    per_fold: np.ndarray
    grid: list[int]
    curve: np.ndarray


def inner_splits(wells: np.ndarray, inner_folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The decision's inner folds over rows of ``wells``: grouped K-fold, at most one per well
    (rows' positions; a function of the wells' labels and row counts only)."""
    k = min(inner_folds, np.unique(wells).size)
    return list(GroupKFold(n_splits=k).split(wells, groups=wells))


def _fit_predict(Xtr: np.ndarray, ytr: np.ndarray, Xte: list[np.ndarray], features: list[str],
                 columns: list[str], spec: ModelSpec) -> list[np.ndarray]:
    """P50 of a decision fit on rows ``Xtr`` (columns ``features``) restricted to ``columns``,
    at each block of rows of ``Xte``, read after each round of :func:`rounds_grid` (the linear
    base with the boosters' first rounds, up to all): one (grid, rows) array per block."""
    idx = [features.index(c) for c in columns]
    b = fit_bundle(Xtr[:, idx], ytr, columns, spec, with_novelty=False, p50_only=True)
    booster, out = b.heads["p50"], []
    for x in Xte:
        Xm = b.design(x[:, idx])
        base = b.base(Xm)
        out.append(np.vstack([base + booster.predict(Xm, num_iteration=k, num_threads=1)
                              for k in rounds_grid(spec)]))
    return out


def _inner_rmse(X: np.ndarray, y: np.ndarray, wells: np.ndarray, folds, features: list[str],
                names: tuple[str, ...], columns: list[str], spec: ModelSpec,
                fits: "DecisionFits | None") -> Inner:
    """The inner-CV errors of a P50 model on ``columns`` (the input groups ``names``): each
    inner fold's predictions from ``fits`` when it has them, else fitted here."""
    grid = rounds_grid(spec)
    pred = np.full((len(grid), y.size), np.nan)
    for tr, te in folds:
        got = fits.get(wells[tr], names, wells[te]) if fits is not None else None
        pred[:, te] = got if got is not None else \
            _fit_predict(X[tr], y[tr], [X[te]], features, columns, spec)[0]
    err = (pred - y) * spec.report_scale
    per_fold = np.array([np.sqrt(np.nanmean(err[-1, te] ** 2)) for _, te in folds])
    curve = np.sqrt(np.nanmean(err ** 2, axis=1))
    return Inner(float(curve[-1]), per_fold, grid, curve)


def choose_rounds(inner: Inner, spec: ModelSpec, min_gain: float) -> dict:
    """The P50's boosting rounds from an inner-CV curve. The rounds must earn their place as
    an input group does: when stopping early beats all the rounds by more than ``min_gain``
    of the inner RMSE (boosters that fit the training wells' noise, not the rock), the P50
    keeps the fewest rounds within ``ROUNDS_TOLERANCE`` of the best (towards the linear base);
    otherwise all of them (a curve that is flat within the noise of a few wells says nothing).
    ``reach``: rounds x learning rate, which the final model's own learning rate turns back
    into rounds (``P50_REACH``)."""
    best = float(inner.curve.min())
    i = len(inner.grid) - 1
    if inner.curve[-1] - best > min_gain * inner.curve[-1]:
        i = int(np.flatnonzero(inner.curve <= best * (1 + ROUNDS_TOLERANCE))[0])
    lr = float(lgb_params(spec, "regression")[0]["learning_rate"])
    return {"rounds": inner.grid[i], "of": inner.grid[-1], "reach": inner.grid[i] * lr,
            "rmse": float(inner.curve[i]), "rmse_all": float(inner.curve[-1]),
            "curve": {str(k): float(v) for k, v in zip(inner.grid, inner.curve)}}


def _verdict(without: Inner, with_: Inner, min_gain: float) -> dict:
    gain = without.rmse - with_.rmse
    per_fold = without.per_fold - with_.per_fold
    floor = min_gain * without.rmse
    positive = int((per_fold > 0).sum())
    keep = bool(gain > floor and positive > per_fold.size / 2)
    return {"rmse_without": without.rmse, "rmse_with": with_.rmse, "gain": gain,
            "floor": floor, "fold_gains": per_fold.tolist(), "positive_folds": positive,
            "keep": keep}


MIN_WELLS = 3   # training wells below which no group is dropped


def _reference(groups: dict[str, list[str]]) -> tuple[str, ...]:
    """What an image group is measured against: the logs with their windowed statistics."""
    return (LOGS, WINDOWED) if WINDOWED in groups else (LOGS,)


def _measured(groups: dict[str, list[str]], settings: dict) -> list[tuple[str, ...]]:
    """The group combinations every decision measures. Selecting (``select``, groups beyond
    the logs, the logs among them): the logs alone, the reference, the reference with each
    image group (all image groups together only when none passes alone). Otherwise, when the
    P50's rounds are chosen (``rounds``): every group, and the log groups without the images
    (the logs-only sibling's)."""
    if settings["select"] and len(groups) > 1 and LOGS in groups:
        ref = _reference(groups)
        return [(LOGS,)] + ([ref] if ref != (LOGS,) else []) + \
            [ref + (g,) for g in groups if is_image_group(g)]
    if not settings["rounds"]:
        return []
    every = tuple(groups)
    logs = tuple(g for g in every if not is_image_group(g))
    return [every] + ([logs] if logs and logs != every else [])


def _well_set(wells: np.ndarray) -> tuple[str, ...]:
    """The wells of some rows (``wells``: the well of each row) as a sorted key."""
    return tuple(np.unique(wells).tolist())


def _decision_folds(wells: np.ndarray, decisions: list[tuple[str, ...]], inner_folds: int):
    """Each decision that can be made (at least ``MIN_WELLS`` of its wells among the rows of
    ``wells``): its rows (mask), their wells and its inner folds (:func:`inner_splits`)."""
    for train in decisions:
        rows = np.isin(wells, list(train))
        w = wells[rows]
        if np.unique(w).size >= MIN_WELLS:
            yield rows, w, inner_splits(w, inner_folds)


def _add_need(need: dict[tuple, dict[tuple, set]], w: np.ndarray, tr: np.ndarray,
              te: np.ndarray, names: tuple[str, ...]) -> None:
    """Record that the fit of ``names`` on the wells of rows ``tr`` must predict those of
    ``te`` (``need``: inner training wells -> combination -> held-out well sets)."""
    need.setdefault(_well_set(w[tr]), {}).setdefault(names, set()).add(_well_set(w[te]))


@dataclass
class DecisionFits:
    """Inner fits shared by several decisions on the same rows (:func:`decision_fits`): the
    P50 predictions of each held-out well set by the fit on each training well set and group
    combination. Decisions of different blind-well folds share most of them: leaving out well
    A in the fold of blind well B trains on the same wells as leaving out B in A's."""

    features: list[str]
    spec: ModelSpec            # the decision fits' (:func:`decision_spec`)
    preds: dict[tuple, np.ndarray] = field(default_factory=dict)

    def serves(self, features: list[str], spec: ModelSpec) -> bool:
        """Whether these fits are a decision's on ``features`` with fit spec ``spec``."""
        return self.features == list(features) and self.spec == spec

    def get(self, train: np.ndarray, names: tuple[str, ...], test: np.ndarray) \
            -> np.ndarray | None:
        """The predictions of the rows of wells ``test`` by the fit on wells ``train`` and
        groups ``names`` (wells: per row; None: not fitted here)."""
        key = (_well_set(train), names, _well_set(test))
        return self.preds.get(key)


def _decision_task(train: tuple[str, ...], tests: list[tuple[str, ...]],
                   combos: list[tuple[str, ...]], Xtr: np.ndarray, ytr: np.ndarray,
                   Xte: list[np.ndarray], features: list[str], groups: dict[str, list[str]],
                   spec: ModelSpec) -> dict[tuple, np.ndarray]:
    """Each group combination of ``combos`` fitted on rows ``Xtr`` (wells ``train``) and
    applied to the rows of each held-out well set of ``tests``; one thread (the result never
    depends on cores)."""
    from threadpoolctl import threadpool_limits

    out = {}
    with threadpool_limits(1):
        for names in combos:
            cols = [f for g in names for f in groups[g]]
            for test, p in zip(tests, _fit_predict(Xtr, ytr, Xte, features, cols, spec)):
                out[(train, names, test)] = p
    return out


class _NotFitted(Exception):
    """A decision needs a fit the shared fits do not have (yet)."""


def _rounds_combos(X: np.ndarray, y: np.ndarray, wells: np.ndarray, features: list[str],
                   groups: dict[str, list[str]], s: dict, fits: "DecisionFits",
                   decisions: list[tuple[str, ...]]) -> dict[tuple, dict[tuple, set]]:
    """The fits the decisions' P50 rounds still need: each decision's kept groups (and its
    logs-only groups), decided from ``fits`` as :func:`decide_groups` will, where the shared
    fits lack them: inner training wells -> combination -> held-out well sets."""
    need: dict[tuple, dict[tuple, set]] = {}
    for rows, w, folds in _decision_folds(wells, decisions, s["inner_folds"]):

        def rmse(names: tuple[str, ...]) -> Inner:
            if any(fits.get(w[tr], names, w[te]) is None for tr, te in folds):
                raise _NotFitted(names)
            return _inner_rmse(X[rows], y[rows], w, folds, features, names, [], fits.spec, fits)

        try:
            kept = tuple(_decide(groups, s, rmse).kept)
        except _NotFitted:      # "every image group together": left to the decision itself
            continue
        for names in {kept, tuple(g for g in kept if not is_image_group(g))}:
            for tr, te in folds:
                if names and fits.get(w[tr], names, w[te]) is None:
                    _add_need(need, w, tr, te, names)
    return need


def _fit_all(need: dict[tuple, dict[tuple, set]], X: np.ndarray, y: np.ndarray,
             wells: np.ndarray, features: list[str], groups: dict[str, list[str]],
             fits: "DecisionFits", n_jobs: int, task_map: TaskMap | None) -> None:
    """The fits of ``need`` (inner training wells -> combination -> held-out well sets) into
    ``fits``, one task per training well set."""
    tasks = []
    for train, combos in need.items():
        at = np.isin(wells, list(train))
        tests = sorted(set().union(*combos.values()))
        tasks.append((train, tests, sorted(combos), X[at], y[at],
                      [X[np.isin(wells, list(t))] for t in tests]))
    for r in run_tasks(_decision_task, tasks, (features, groups, fits.spec),
                       n_jobs=n_jobs, task_map=task_map):
        fits.preds.update(r)


def decision_fits(X: np.ndarray, y: np.ndarray, wells: np.ndarray, features: list[str],
                  spec: ModelSpec, decisions: list[tuple[str, ...]], *, n_jobs: int = 1,
                  task_map: TaskMap | None = None) -> DecisionFits | None:
    """The inner fits of the decisions on the training wells ``decisions`` (each a set of
    wells among ``wells``, the well of each row of ``X``: each blind-well fold's training wells
    and every well for the final model), each distinct fit done once, as the tasks of
    ``task_map`` or in ``n_jobs`` processes (:mod:`petro.models.tasks`). With leave-one-well-out
    inner folds the decisions of N blind-well folds need N(N-1)/2 fits per combination, not
    N(N-1). Then, for the P50's rounds, the fits of each decision's kept groups that the first
    ones lack (decided from them as the decision will). The same rows, columns and seed give
    the same booster wherever it is fitted, so :func:`decide_groups` decides exactly as
    without them. None: nothing to decide."""
    groups = input_groups(features)
    s = group_settings(spec)
    combos = _measured(groups, s)
    if not combos:
        return None
    ok = np.isfinite(y)
    X, y, wells = X[ok], y[ok], np.asarray(wells).astype(str)[ok]
    need: dict[tuple, dict[tuple, set]] = {}
    for _, w, folds in _decision_folds(wells, decisions, s["inner_folds"]):
        for tr, te in folds:
            for names in combos:
                _add_need(need, w, tr, te, names)
    fits = DecisionFits(list(features), decision_spec(spec, s["trees"]))
    _fit_all(need, X, y, wells, features, groups, fits, n_jobs, task_map)
    if s["rounds"]:
        _fit_all(_rounds_combos(X, y, wells, features, groups, s, fits, decisions), X, y, wells,
                 features, groups, fits, n_jobs, task_map)
    return fits


def decide_groups(X: np.ndarray, y: np.ndarray, wells: np.ndarray, features: list[str],
                  spec: ModelSpec, fits: DecisionFits | None = None) -> GroupDecision:
    """Keep or drop each input group of ``features`` (the columns of ``X``) by its gain on
    these rows (targets ``y``, well of each row ``wells``; module docstring), and choose the
    P50's boosting rounds of the model and of its logs-only sibling on the same inner folds
    (:func:`choose_rounds`; ``input_groups.rounds``, default on). ``fits``: inner fits already
    done (:func:`decision_fits`; the others are done here)."""
    groups = input_groups(features)
    s = group_settings(spec)
    ok = np.isfinite(y)
    X, y, wells = X[ok], y[ok], np.asarray(wells).astype(str)[ok]
    n_wells = np.unique(wells).size
    if n_wells < MIN_WELLS:   # two wells: each predicts the other, no spread to judge a gain by
        return GroupDecision(list(groups), {}, f"{n_wells} training well(s): too few to measure "
                                               f"a gain beyond the noise (>= {MIN_WELLS}); every "
                                               f"group kept")
    folds = inner_splits(wells, s["inner_folds"])
    fit_spec = decision_spec(spec, s["trees"])
    fits = fits if fits is not None and fits.serves(features, fit_spec) else None
    measured: dict[tuple[str, ...], Inner] = {}

    def rmse(names: tuple[str, ...]) -> Inner:
        if names not in measured:
            cols = [f for g in names for f in groups[g]]
            measured[names] = _inner_rmse(X, y, wells, folds, features, names, cols, fit_spec,
                                          fits)
        return measured[names]

    decision = _decide(groups, s, rmse)
    if decision.groups:
        decision.reason = f"grouped {len(folds)}-fold over {n_wells} wells; " + decision.reason
    if s["rounds"]:
        kept = tuple(decision.kept)
        logs = tuple(g for g in kept if not is_image_group(g))
        decision.rounds = {MODEL: choose_rounds(rmse(kept), fit_spec, s["min_gain"])}
        if logs and logs != kept:
            decision.rounds[SIBLING] = choose_rounds(rmse(logs), fit_spec, s["min_gain"])
    return decision


def _decide(groups: dict[str, list[str]], s: dict, rmse) -> GroupDecision:
    """The groups kept with settings ``s``, measured by ``rmse`` (group names ->
    :class:`Inner`): every group without a selection or without the logs to measure against."""
    if not s["select"] or len(groups) == 1:
        return GroupDecision(list(groups), {}, "every group kept (input_groups.select: false)"
                             if not s["select"] else "only the conventional logs")
    if LOGS not in groups:
        return GroupDecision(list(groups), {}, "no conventional-log input to measure a group's "
                                               "gain against: every group kept")
    return _keep(groups, rmse, s["min_gain"])


def _keep(groups: dict[str, list[str]], rmse, min_gain: float) -> GroupDecision:
    """The groups kept, measured by ``rmse`` (group names -> :class:`Inner`)."""
    verdicts, kept = {}, [LOGS]
    ref = _reference(groups)
    if WINDOWED in groups:
        verdicts[WINDOWED] = _verdict(rmse((LOGS,)), rmse(ref), min_gain)
        if verdicts[WINDOWED]["keep"]:
            kept.append(WINDOWED)
    images = [g for g in groups if is_image_group(g)]
    for g in images:
        verdicts[g] = _verdict(rmse(ref), rmse(ref + (g,)), min_gain)
    passed = [g for g in images if verdicts[g]["keep"]]
    reason = (f"kept when the gain exceeds {min_gain:.0%} of the inner RMSE without the group "
              f"and is positive in most inner folds (image groups measured against the logs "
              f"with their windowed statistics)")
    if not passed and len(images) > 1:
        together = _verdict(rmse(ref), rmse(ref + tuple(images)), min_gain)
        verdicts[IMAGES] = together
        if together["keep"]:
            passed = images
            reason += "; no image group passed alone, all of them together did"
    return GroupDecision(kept + passed, verdicts, reason)


def sibling_inputs(features: list[str]) -> list[str]:
    """The inputs of ``features`` a logs-only model keeps: every group but the images'."""
    return [f for f in features if not is_image_group(group_of(f))]


def image_inputs(features: list[str]) -> dict[str, list[str]]:
    """The image inputs of ``features`` by image prefix (the runtime's ``image_inputs``)."""
    return by_image_prefix(features)
