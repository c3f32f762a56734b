"""Input groups kept only where they help (petro.models.groups), the autoencoder embedding
(petro.models.embedding) and the logs-only sibling answering rows without the model's images
(petro.models.runtime)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from petro.models.embedding import fit_embedding
from petro.models.groups import decide_groups, decision_fits, group_of, input_groups
from petro.models.runtime import pca_scores
from petro.models.spec import ModelSpec

LOGS = ["GR", "RHOB", "NPHI", "DT", "LOG10_RT", "PEF"]
AMP = ["amp_mean_w050", "amp_std_w050", "amp_p10_w050"]     # acoustic window statistics
RES = ["res_mean_w050", "res_std_w050", "res_p10_w050"]     # resistive window statistics


def _spec(**kw) -> ModelSpec:
    return ModelSpec(name="t", target="porosity", params={"n_estimators": 80}, baselines=[],
                     pca_components=0, conformal=False, **kw)


def _field(amp_signal: float, seed: int = 0, wells: int = 5, rows: int = 150):
    """``wells`` wells; porosity from the density plus ``amp_signal`` x a vug term that only
    the acoustic statistics see; the resistive statistics are noise."""
    rng = np.random.default_rng(seed)
    X, y, w = [], [], []
    for i in range(wells):
        logs = rng.normal(size=(rows, len(LOGS)))
        vug = rng.normal(size=rows)
        amp = np.column_stack([vug + 0.1 * rng.normal(size=rows),
                               rng.normal(size=(rows, len(AMP) - 1))])
        res = rng.normal(size=(rows, len(RES)))
        X.append(np.hstack([logs, amp, res]))
        y.append(0.15 + 0.03 * logs[:, 1] + amp_signal * 0.03 * vug + 0.005 * rng.normal(size=rows))
        w += [f"W{i}"] * rows
    return np.vstack(X), np.concatenate(y), np.asarray(w), LOGS + AMP + RES


def test_groups_by_kind_and_representation():
    feats = ["GR", "RHOB_wmed_w050", "amp_mean_w050", "amp_patch_03", "res_vug_w150"]
    assert [group_of(f) for f in feats] == ["logs", "windowed_logs", "amp_stats",
                                            "amp_embedding", "res_stats"]
    assert list(input_groups(feats)) == ["logs", "windowed_logs", "amp_stats", "amp_embedding",
                                         "res_stats"]


def test_an_image_kind_that_sees_the_porosity_is_kept_noise_is_dropped():
    X, y, wells, feats = _field(amp_signal=1.0)
    d = decide_groups(X, y, wells, feats, _spec())
    assert d.kept == ["logs", "amp_stats"]
    amp, res = d.groups["amp_stats"], d.groups["res_stats"]
    assert amp["keep"] and amp["gain"] > 1.0          # p.u.: the vug term is 3 p.u. of spread
    assert amp["positive_folds"] == len(amp["fold_gains"]) == 5   # leave-one-well-out
    assert not res["keep"] and res["gain"] < res["floor"]
    assert d.features(feats) == LOGS + AMP


def test_images_that_carry_nothing_beyond_the_logs_are_all_dropped():
    X, y, wells, feats = _field(amp_signal=0.0, seed=1)
    d = decide_groups(X, y, wells, feats, _spec())
    assert d.kept == ["logs"]
    assert d.features(feats) == LOGS
    assert all(not v["keep"] for v in d.groups.values())
    # the decision is a function of the rows and the seed only
    assert decide_groups(X, y, wells, feats, _spec()).to_dict() == d.to_dict()
    every = decide_groups(X, y, wells, feats, _spec(input_groups={"select": False}))
    assert every.kept == ["logs", "amp_stats", "res_stats"] and every.groups == {}


def test_decisions_share_their_inner_fits_and_decide_exactly_as_alone():
    """The blind-well folds' and the final decision's inner fits done once (decision_fits):
    each decision is the one it makes fitting its own, gains to the bit; a leave-one-out pair
    of two folds is one fit, not two; fits of other inputs or another spec are not used."""
    X, y, wells, feats = _field(amp_signal=0.5, seed=2, wells=6, rows=80)
    names = sorted(set(wells))
    decisions = [tuple(w for w in names if w != b) for b in names] + [tuple(names)]
    fits = decision_fits(X, y, wells, feats, _spec(), decisions, n_jobs=2)
    # 6 folds of 5 wells: 15 pairs left out; the final 5-fold over 6 wells adds 4 well sets
    assert len({k[0] for k in fits.preds}) == 15 + 4
    for train in decisions:
        at = np.isin(wells, train)
        alone = decide_groups(X[at], y[at], wells[at], feats, _spec())
        shared = decide_groups(X[at], y[at], wells[at], feats, _spec(), fits)
        assert shared.to_dict() == alone.to_dict()
    # pairs: the fit without wells A and B predicts A in B's fold and B in A's
    assert fits.get(np.array(names[2:]), ("logs",), np.array(names[:1])) is not None
    assert fits.get(np.array(names[2:]), ("logs",), np.array(names[1:2])) is not None
    assert not fits.serves(feats[:-1], fits.spec)
    assert not fits.serves(feats, replace(fits.spec, params={"n_estimators": 60}))


def test_autoencoder_embedding_is_seeded_and_row_wise():
    rng = np.random.default_rng(3)
    cols = [f"amp_patch_{i:02d}" for i in range(32)]
    latent = rng.normal(size=(400, 2))
    P = latent @ rng.normal(size=(2, 32)) + 0.05 * rng.normal(size=(400, 32))
    a = fit_embedding(P, cols, 3, method="autoencoder", seed=5)
    b = fit_embedding(P, cols, 3, method="autoencoder", seed=5)
    assert a == b                                    # same rows + seed -> the same encoder
    assert fit_embedding(P, cols, 3, method="autoencoder", seed=6) != a
    (g,) = a
    assert g["method"] == "autoencoder" and g["names"] == [f"amp_pc{i}" for i in (1, 2, 3)]
    S = pca_scores(P, g)
    assert S.shape == (400, 3) and np.isfinite(S).all() and np.abs(S).max() <= 1.0   # tanh
    np.testing.assert_array_equal(pca_scores(P[7:8], g), S[7:8])   # a row's own scores
    # the bottleneck carries the two latent factors (linear fit of the latents on the scores)
    A = np.column_stack([S, np.ones(len(S))])
    resid = latent - A @ np.linalg.lstsq(A, latent, rcond=None)[0]
    assert (resid.var(axis=0) / latent.var(axis=0)).max() < 0.2
    Q = P.copy()
    Q[:3] = np.nan                                   # no patch value: no score
    assert np.isnan(pca_scores(Q, g)[:3]).all()


@pytest.mark.parametrize("method", ["pca", "autoencoder"])
def test_embedding_spec_is_checked(method):
    assert _spec(embedding=method).embedding == method
    from petro.errors import ConfigError

    with pytest.raises(ConfigError, match="embedding"):
        _spec(embedding="umap")


def test_boosters_that_only_fit_noise_are_cut_back_towards_the_linear_base():
    """Porosity linear in the density (the ridge base is the whole answer): the P50's rounds
    are cut, to what the inner folds measured; the quantile heads keep every round."""
    from petro.models.train import fit_bundle, lgb_params
    X, y, wells, _ = _field(amp_signal=0.0, seed=1)
    X = X[:, :len(LOGS)]
    d = decide_groups(X, y, wells, LOGS, _spec())
    assert d.kept == ["logs"] and "logs_only" not in d.rounds   # no image: no sibling
    r = d.rounds["model"]
    assert r["of"] == 80 and r["rounds"] <= 8               # at most a tenth of the rounds
    assert r["rmse"] < r["rmse_all"] and r["rmse"] <= min(r["curve"].values()) * 1.005
    spec = d.spec_for(_spec())
    assert lgb_params(spec, "regression")[1] == r["rounds"]  # same learning rate: same rounds
    assert lgb_params(spec, "quantile", 0.1)[1] == 80
    b = fit_bundle(X, y, LOGS, spec)
    assert b.heads["p50"].num_trees() == r["rounds"] and b.heads["p10"].num_trees() == 80


def test_a_rock_the_logs_explain_nonlinearly_keeps_its_rounds():
    """Porosity a step function of the density (two facies): a linear base cannot follow it,
    the boosters must, and the decision keeps most of their rounds."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(5 * 150, len(LOGS)))
    y = 0.15 + 0.04 * np.where(X[:, 1] > 0.3, 1.0, -1.0) * np.abs(X[:, 2]) \
        + 0.003 * rng.normal(size=X.shape[0])
    wells = np.repeat([f"W{i}" for i in range(5)], 150)
    d = decide_groups(X, y, wells, LOGS, _spec())
    r = d.rounds["model"]
    assert r["rounds"] == r["of"] == 80                       # every round helps
    assert r["curve"]["80"] < 0.6 * r["curve"]["1"]           # the first round: ~the base
    assert d.spec_for(_spec()) == _spec()                     # nothing to cut


def test_rounds_are_left_alone_when_asked():
    X, y, wells, _ = _field(amp_signal=0.0, seed=1)
    d = decide_groups(X[:, :len(LOGS)], y, wells, LOGS, _spec(input_groups={"rounds": False}))
    assert d.rounds == {} and d.spec_for(_spec()) == _spec()
