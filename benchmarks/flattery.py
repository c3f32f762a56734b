"""How much tuning on the blind folds flattered the blind metric: ``python benchmarks/flattery.py``.

On the demo field (the packaged demo pipeline, field written first when the folder is empty),
for porosity and permeability, with the specs' own search (same trials, same seed):

- untuned: the spec's parameters, leave-one-well-out (LOWO) blind RMSE;
- old way: the search scored on the LOWO folds themselves and the best trial's LOWO RMSE
  reported (what petro reported and gated on before nested CV);
- nested: the search run inside each outer LOWO fold on that fold's training wells only
  (grouped K-fold inner CV), the outer blind well never seen by the selection (what petro
  reports and gates on now).

"flattery" = nested - old way: how much lower the old figure was than a selection-free one.

``--max-inputs N`` measures the input selection instead (untuned specs, LOWO): all inputs; the N
kept inside each fold on its training wells (what petro does); the N kept on every well, blind
well included, then cross-validated (the leaky way); flattery = in-fold - leaky.
Options: ``--trials N`` / ``--inner-folds K`` override the specs' search; ``--workdir DIR`` reuses a demo folder (``field/``, ``cache/``) such as the one
``benchmarks/demo_table.py --workdir DIR`` leaves.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", help="demo folder to (re)use; default: a temporary one")
    ap.add_argument("--trials", type=int, help="override the specs' tuning.trials")
    ap.add_argument("--inner-folds", type=int, help="override the specs' tuning.inner_folds")
    ap.add_argument("--max-inputs", type=int, help="measure input selection with this N instead")
    args = ap.parse_args(argv)
    from petro.app.training import training_table
    from petro.app.wells import read_wells
    from petro.config import load_config, packaged
    from petro.features.table import model_features, usable_features
    from petro.models.selection import select_inputs
    from petro.models.tuning import tune, tuning_settings
    from petro.models.validation import cross_validate
    from petro.vocab import is_patch_feature

    tmp = None if args.workdir else tempfile.TemporaryDirectory(prefix="petro-flattery-")
    work = Path(args.workdir or tmp.name)
    cfg = load_config(packaged("pipelines", "demo.yaml"),
                      overrides={"data": str(work / "field"),
                                 "ingest.cache_dir": str(work / "cache")})
    t0 = time.perf_counter()
    table = training_table(read_wells(cfg))
    n_wells = int(table["WELL"].nunique())
    rows = []
    if args.max_inputs:
        n = args.max_inputs
        print(f"Demo field ({n_wells} NMR wells), pooled blind RMSE (LOWO, untuned specs), "
              f"input selection N = {n}\n")
        print("| target | unit | all inputs | N kept in each fold | N kept on all wells (leaky) "
              "| flattery (in-fold - leaky) |")
        print("|---|---|---|---|---|---|")
        for spec in cfg.specs:
            spec = replace(spec, tuning={}, baselines=[], max_inputs=n)
            feats = usable_features(table, model_features(table.columns, spec.features, cfg.logs))
            key = "rmse_pu" if spec.target == "porosity" else "rmse_dec"
            fold = cross_validate(table, feats, spec, n_jobs=cfg.n_jobs).pooled["model"][key]
            leaky_in = select_inputs(table[feats].to_numpy(float),
                                     table[spec.column].to_numpy(float), feats, spec)
            leaky = cross_validate(table, leaky_in, replace(spec, max_inputs=0),
                                   n_jobs=cfg.n_jobs).pooled["model"][key]
            every = cross_validate(table, feats, replace(spec, max_inputs=0),
                                   n_jobs=cfg.n_jobs).pooled["model"][key]
            print(f"| {spec.name} | {spec.report_unit} | {every:.3f} | {fold:.3f} | {leaky:.3f} "
                  f"| {fold - leaky:+.3f} |")
        if tmp is not None:
            tmp.cleanup()
        return 0
    for spec in cfg.specs:
        over = {k: v for k, v in (("trials", args.trials), ("inner_folds", args.inner_folds))
                if v is not None}
        spec = replace(spec, tuning={**spec.tuning, **over})
        feats = usable_features(table, model_features(table.columns, spec.features, cfg.logs))
        if not spec.pca_components:
            feats = [f for f in feats if not is_patch_feature(f)]
        s = tuning_settings(spec)
        # the old way: the search scored on the LOWO folds (one grouped fold per well = LOWO)
        lowo = replace(spec, tuning={**spec.tuning, "inner_folds": n_wells})
        _, trials = tune(table, feats, lowo)
        untuned, old = float(trials["blind_rmse"].iloc[0]), float(trials["blind_rmse"].min())
        cv = cross_validate(table, feats, spec, nested=True, n_jobs=cfg.n_jobs)
        key = "rmse_pu" if spec.target == "porosity" else "rmse_dec"
        nested = float(cv.pooled["model"][key])
        rows.append((spec.name, spec.report_unit, s["trials"], s["inner_folds"], untuned, old,
                     nested))
    print(f"Demo field ({n_wells} NMR wells, seed 7), pooled blind RMSE; the specs' search "
          f"(fixed trials, seeded); {time.perf_counter() - t0:.0f} s\n")
    print("| target | unit | trials | untuned (LOWO) | old way: tuned and reported on the LOWO "
          "folds | nested LOWO (inner grouped K-fold) | flattery (nested - old) |")
    print("|---|---|---|---|---|---|---|")
    for name, unit, n, k, untuned, old, nested in rows:
        print(f"| {name} | {unit} | {n} (inner {k}-fold) | {untuned:.3f} | {old:.3f} | "
              f"{nested:.3f} | {nested - old:+.3f} ({100 * (nested - old) / old:+.1f} %) |")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
