"""The fitted-model runtime: what a served or loaded petro model runs.

This module depends on numpy, pandas and lightgbm only (no other petro module), so a logged model
can ship it as code and load anywhere those packages are installed. A *bundle* is a folder with
``bundle.json`` (features, target transform, conformal adjustments, novelty detector, output
columns and units) and one LightGBM text model per quantile (``booster_p50.txt`` etc.): no pickle.

Prediction on a DataFrame of per-depth rows:

- columns are matched by name; model features that are absent are treated as missing (LightGBM
  routes NaN). A column that differs from a model input only in case (``rhob``), or is a known
  vendor alias of one (``RHOZ``, ``TNPH``, ``DTCO``, ``AT90``: the alias table stored in the
  bundle at training time, ``aliases``), is mapped to that input: log10 taken where the input is
  a log10 column, and a unit conversion applied when its values only make sense in another unit
  of the quantity (kg/m3 density, us/m slowness, % porosity); an alias whose values fit no unit
  raises :class:`InputSchemaError` naming the canonical column. The canonical column wins over an
  alias. Other columns (WELL, DEPT, comments) are ignored (listed in ``ignored_columns``);
- a value no rock, hole or tool can give (bundle key ``plausibility``: ``{input: [min, max,
  unit]}``, the ranges of ``petro/data/plausibility.yaml`` stored at training time, log10 inputs
  in log10 of the unit; ``+-inf`` counts as outside) raises :class:`InputSchemaError` naming the
  column, the row and the range: a wrong unit or an unconverted null marker (-999.25) is refused,
  not answered (bundles without the key are not checked). Messages quote at most
  ``QUOTE_CHARS`` characters of a value;
- ``{OUT}_ML`` is the P50 (median) prediction, ``{OUT}_P10`` / ``{OUT}_P90`` the conformalised
  10 % / 90 % quantiles, in the output unit (v/v porosity, mD permeability);
- ``INPUT_COVERAGE`` is the share of the model's input columns present in the row; below
  ``min_input_coverage`` (0.3 unless the bundle says otherwise) the row gets no prediction (NaN)
  and ``OOD_FLAG`` 1: a guess from a handful of inputs is not given as an answer;
- ``KEY_INPUT_COVERAGE`` is the importance-weighted share of inputs present (blind-well gain
  importance; a derived column, PHID, counts as missing when its source curve, RHOB, is). The
  missing share, divided by its threshold (``missing``: calibrated on the training rows), is a
  novelty term: a row without the density log is not "in domain" for a model trained with it;
- ``NOV_<curve>`` (``NOV_RHOB``, ``NOV_NPHI``, ``NOV_DT``, ``NOV_LOG10_RT`` ...; bundle key
  ``consistency``): the curve minus what the training wells' relation with the other logs expects
  (ridge on robust-scaled inputs), in the curve's unit: +0.15 on NOV_RHOB is a density reading
  0.15 g/cm3 above the density-neutron-sonic relation. Divided by its robust scale, the largest
  per depth over the threshold is a novelty term, and so is, when the caller says the rows are
  one well (``predict(df, well=True)``; served: ``"params": {"well": true}``) and there are at
  least ``min_rows`` of them, each curve's median over the rows: a whole well shifted inside the
  training range (a miscalibrated or wrong-matrix log) is flagged. So is (``consistency.levels``)
  a well whose median of any input curve, cross-log relation or not, lies further from the
  training median, in robust spreads, than that curve's threshold (calibrated on training wells
  left out one at a time): a shifted neutron in a field without density, sonic or resistivity.
  Without ``well`` a row's answer does not depend on the rows sent with it;
- ``WELL_NOVELTY`` is that whole-well term (the same on every row with the checked curves), NaN
  when the rows were taken one by one (``well`` not set, or fewer than ``min_rows``): it says
  why the same depth can get another NOVELTY (and band) sent with its well than alone;
- ``LOGS_ONLY`` is 1 where the answer comes from the conventional logs only. A model that uses
  image inputs carries its logs-only sibling (bundle key ``logs_only``: a whole bundle of its
  own, validated on the same blind wells, with its P10/P90 and novelty detector; its boosters
  are the bundle's ``logs_only.<head>``): a row that has none of the model's inputs of one of
  its image kinds (``image_inputs``: the model's image inputs per kind) is answered by the
  sibling, every other row by the model. A model that uses no image input answers every row
  from the logs (1 everywhere). The choice is made row by row;
- ``NOVELTY`` is the largest, over input blocks (conventional logs; each image kind), robust
  Mahalanobis distance of the row's inputs to the training wells divided by that block's
  threshold calibrated on blind wells (1.0 = edge of the domain), and of the terms above;
  ``OOD_FLAG`` is 1 where ``NOVELTY > 1``. Blocks keep a few unusual inputs from being diluted
  by a hundred usual ones;
- the P50 is clipped to the bundle's ``clip`` range (the training targets +- a quarter of their
  span); the P10-P90 band keeps its calibrated half-widths around it, and under
  ``ood_policy: widen`` a flagged row's bounds move out with its novelty up to the ``clip``
  range (never inside the calibrated band): a band is never narrower out of domain than in
  domain.

``Bundle.save`` records each booster file's size and sha256 in ``bundle.json`` (``files``);
``Bundle.load`` checks them before LightGBM parses a file (LightGBM aborts the process on a
truncated model), and raises :class:`BundleError` naming the file. Bundles saved before the record
load unchecked.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

FORMAT = 1
QUANTILE_KEYS = ("p10", "p50", "p90")
# below this share of its inputs present, a row gets no prediction (the bundle may set its own)
MIN_INPUT_COVERAGE = 0.3
# under ood_policy 'widen', a flagged row's P10-P90 half-widths are multiplied by its novelty,
# capped at this factor
WIDEN_CAP = 5.0
# novelty of a row lacking a conventional curve that every training row had (bundle key
# missing.required): out of domain, the band widened x1.5 under 'widen'
REQUIRED_MISSING_NOVELTY = 1.5
# output columns besides {OUT}_ML/_P10/_P90 (petro.vocab spells the same; a test checks)
NOVELTY, OOD_FLAG, INPUT_COVERAGE = "NOVELTY", "OOD_FLAG", "INPUT_COVERAGE"
KEY_INPUT_COVERAGE = "KEY_INPUT_COVERAGE"
LOGS_ONLY = "LOGS_ONLY"
NOV_PREFIX = "NOV_"
# the logs-only sibling: its record under this bundle key, its boosters as "<key>.<head>"
SIBLING = "logs_only"
WELL_NOVELTY = "WELL_NOVELTY"
# an error message quotes at most this many characters of a value sent (a request's junk is
# not echoed back)
QUOTE_CHARS = 200


class InputSchemaError(ValueError):
    """The input rows cannot be used (no rows, no usable column, non-numeric or physically
    impossible values)."""


class BundleError(ValueError):
    """The bundle's files are damaged or missing (checked before LightGBM reads them)."""


def quote(value, limit: int = QUOTE_CHARS) -> str:
    """``repr(value)`` for a message, cut to ``limit`` characters with the full length said."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"


class Bundle:
    """A fitted petro model: LightGBM boosters plus JSON metadata (see module docstring)."""

    def __init__(self, meta: dict, boosters: dict[str, lgb.Booster]):
        self.meta = meta
        self.boosters = boosters     # every booster, the sibling's included (saved as they are)
        self.heads = {k: b for k, b in boosters.items() if "." not in k}   # this model's
        sib = meta.get(SIBLING)
        self.sibling = Bundle(sib, {k.split(".", 1)[1]: b for k, b in boosters.items()
                                    if k.startswith(SIBLING + ".")}) if sib else None
        self.features: list[str] = list(meta["features"])            # input columns
        # every column the model reads: its inputs, then those only its logs-only sibling takes
        self.inputs: list[str] = self.features + (
            [f for f in self.sibling.features if f not in self.features] if self.sibling else [])
        self.model_features: list[str] = list(meta.get("model_features", self.features))
        self._keep = [self.features.index(f) for f in self.model_features
                      if f in self.features]
        self.ignored_columns: list[str] = []
        self.mapped_columns: dict[str, str] = {}
        miss = meta.get("missing") or {}
        self._miss_w = np.asarray([float(miss.get("weights", {}).get(f, 0.0))
                                   for f in self.features])
        self._miss_thr = float(miss.get("threshold", 0.0))
        self._required = [self.features.index(f) for f in miss.get("required", [])
                          if f in self.features]
        self._miss_req = [(self.features.index(d), [self.features.index(c) for c in src])
                          for d, src in (miss.get("requires") or {}).items()]
        # physically possible range of each checked input (None: an open bound)
        self.plausibility: dict[str, list] = {f: r for f, r in
                                              (meta.get("plausibility") or {}).items()
                                              if f in self.features}
        self._checked = np.asarray([self.features.index(f) for f in self.plausibility], dtype=int)
        self._lo = np.asarray([-np.inf if r[0] is None else float(r[0])
                               for r in self.plausibility.values()])
        self._hi = np.asarray([np.inf if r[1] is None else float(r[1])
                               for r in self.plausibility.values()])

    # ------------------------------------------------------------------ persistence
    @classmethod
    def load(cls, path: str | os.PathLike) -> "Bundle":
        """Read a bundle folder; each booster file is checked against the size and sha256
        recorded when it was saved (when recorded) before LightGBM parses it."""
        path = Path(path)
        try:
            meta = json.loads((path / "bundle.json").read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise BundleError(f"{path / 'bundle.json'} cannot be read ({err}): the model's files "
                              f"are damaged or incomplete; {REPAIR}") from err
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path}: bundle format {meta.get('format')} is not {FORMAT}; "
                             f"retrain or upgrade petro")
        record = meta.pop("files", None) or {}   # the saved copy's, not the model's state
        for k in meta["boosters"]:
            name = f"booster_{k}.txt"
            check_file(path / name, record.get(name))
        boosters = {k: lgb.Booster(model_file=str(path / f"booster_{k}.txt"))
                    for k in meta["boosters"]}
        return cls(meta, boosters)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the bundle folder atomically (a temporary sibling folder, then rename); the
        booster files first, then ``bundle.json`` with their sizes and sha256 (``files``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            files = {}
            for k, b in self.boosters.items():
                name = f"booster_{k}.txt"
                b.save_model(str(tmp / name))
                files[name] = file_record(tmp / name)
            meta = dict(self.meta, boosters=sorted(self.boosters), format=FORMAT, files=files)
            (tmp / "bundle.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
            if path.exists():
                shutil.rmtree(path)
            os.replace(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return path

    # ------------------------------------------------------------------ prediction
    @property
    def output(self) -> str:
        return self.meta["output"]

    def matrix(self, df: pd.DataFrame) -> np.ndarray:
        """Model input matrix (rows, features) from a DataFrame; absent features are NaN.
        Raises :class:`InputSchemaError` for rows the model cannot use (module docstring)."""
        if not isinstance(df, pd.DataFrame):
            df = pd.DataFrame(df)
        df, mapped, self.ignored_columns = self._resolve(df)
        self.mapped_columns = mapped
        known = [c for c in self.features if c in df.columns]
        if not known:
            raise InputSchemaError(
                f"none of the model's input columns is present (first expected: "
                f"{', '.join(self.features[:8])} ...); send the columns `petro features` writes")
        if len(df) == 0:
            raise InputSchemaError("no rows to predict: the request holds columns but no data")
        try:
            X = np.array(df.reindex(columns=self.features).to_numpy(dtype=float), copy=True)
        except (ValueError, TypeError):
            X = np.full((len(df), len(self.features)), np.nan)
            for j, c in enumerate(self.features):
                if c in df.columns:
                    col = pd.to_numeric(df[c], errors="coerce")
                    bad = col.isna() & df[c].notna()
                    if bad.any():
                        raise InputSchemaError(
                            f"column {quote(c)}: non-numeric value {quote(df[c][bad].iloc[0])} "
                            f"in row {int(np.flatnonzero(bad)[0])}") from None
                    X[:, j] = col.to_numpy(dtype=float)
        if self._checked.size:
            self._check_plausible(X, df, mapped)
        X[~np.isfinite(X)] = np.nan
        return X

    def _check_plausible(self, X: np.ndarray, df: pd.DataFrame, mapped: dict[str, str]) -> None:
        """Raise :class:`InputSchemaError` for the first value (in row order) outside its input's
        physically possible range; NaN is missing, +-inf is outside a bounded side."""
        sub = X[:, self._checked]
        with np.errstate(invalid="ignore"):
            out = (sub < self._lo) | (sub > self._hi)
        if not out.any():
            return
        row, k = (int(i) for i in np.argwhere(out)[0])
        target = self.features[int(self._checked[k])]
        sent = next((c for c, t in mapped.items() if t == target), None)
        alias = (self.meta.get("aliases") or {}).get(str(sent).strip().upper(), [None, "value"])
        how = "log10" if sent is not None and alias[1] == "log10" else "value"
        value = float(10 ** sub[row, k]) if how == "log10" else float(sub[row, k])
        raise InputSchemaError(self._impossible(sent, target, how, row, value, df,
                                                int(out.sum())))

    def _impossible(self, sent: str | None, target: str, how: str, row: int, value: float,
                    df: pd.DataFrame, count: int) -> str:
        """The message for an impossible value of input ``target`` (sent as column ``sent``, an
        alias, or None: under its own name; ``how`` 'log10': ``value`` is as sent, before log10)."""
        lo, hi, unit = self.plausibility[target]
        if how == "log10":   # the range of the curve itself, in its own unit
            unit = unit.removeprefix("log10").strip()
            lo, hi = (None if b is None else 10.0 ** b for b in (lo, hi))
        name = target if sent is None else f"{quote(sent)} (taken as {target}" + (
            ", its log10)" if how == "log10" else ")")
        depth = ""
        if "DEPT" in df.columns:
            d = pd.to_numeric(pd.Series([df["DEPT"].iloc[row]]), errors="coerce").iloc[0]
            depth = f" (DEPT {d:g})" if np.isfinite(d) else ""
        rng = f"{'-inf' if lo is None else f'{lo:g}'} .. {'inf' if hi is None else f'{hi:g}'}"
        more = f"; {count} values of the request are outside their range" if count > 1 else ""
        return (f"{name} = {value:g} {unit} in row {row}{depth} is not physically possible "
                f"(possible: {rng} {unit}){more}. A wrong unit, a null marker such as -999.25 "
                f"sent as a number, or a shifted column? Send a missing value as null")

    def resolve_columns(self, df: pd.DataFrame) -> pd.DataFrame:
        """Map case variants and known aliases of the model's inputs to the canonical columns
        (with log10 / unit conversion); other unknown columns are recorded in
        ``ignored_columns``, the mapped ones in ``mapped_columns``. Raises
        :class:`InputSchemaError` for an alias whose values fit no unit of its quantity, or
        that a log10 input cannot take (zero or negative)."""
        df, self.mapped_columns, self.ignored_columns = self._resolve(df)
        return df

    def _resolve(self, df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str], list[str]]:
        """:meth:`resolve_columns` without state (requests are served on several threads):
        (the frame with the canonical columns added, {column sent: input}, ignored columns)."""
        feats = set(self.features)
        upper = {f.upper(): f for f in self.features}
        aliases = self.meta.get("aliases") or {}
        ignored, mapped = [], {}
        new = {}
        for c in df.columns:
            if c in feats:
                continue
            key = str(c).strip().upper()
            how = "value"
            if key in upper:
                target = upper[key]
            elif key in aliases:
                target, how = aliases[key]
            else:
                ignored.append(str(c))
                continue
            if target in df.columns or target in new:
                ignored.append(str(c))   # the canonical (or first) column wins
                continue
            col = pd.to_numeric(df[c], errors="coerce")
            bad = col.isna() & df[c].notna()
            if bad.any():
                raise InputSchemaError(f"column {quote(c)} (taken as {target}): non-numeric value "
                                       f"{quote(df[c][bad].iloc[0])} in row "
                                       f"{int(np.flatnonzero(bad)[0])}")
            v = col.to_numpy(dtype=float)
            if how == "log10" and target in self.plausibility:
                nonpos = np.flatnonzero(np.isfinite(v) & (v <= 0))
                if nonpos.size:   # no log10: not a value the curve can take
                    raise InputSchemaError(self._impossible(
                        str(c), target, how, int(nonpos[0]), float(v[nonpos[0]]), df,
                        int(nonpos.size)))
            new[target] = self._to_unit(str(c), target, how, v)
            mapped[str(c)] = target
        if not new:
            return df, mapped, ignored
        return pd.concat([df, pd.DataFrame(new, index=df.index)], axis=1), mapped, ignored

    def _to_unit(self, name: str, target: str, how: str, v: np.ndarray) -> np.ndarray:
        """Values of an aliased column in the unit of input ``target`` (see module docstring)."""
        info = (self.meta.get("input_units") or {}).get(target)
        if how == "log10":
            with np.errstate(divide="ignore", invalid="ignore"):
                v = np.log10(np.where(v > 0, v, np.nan))
        if not info:
            return v
        ok = v[np.isfinite(v)]
        if ok.size == 0:
            return v
        lo, hi = info["range"]
        med = float(np.median(ok))
        for scale, offset in [(1.0, 0.0)] + [tuple(f) for f in info.get("factors", [])]:
            if target.startswith("LOG10_"):
                m = med + np.log10(scale) if scale > 0 else np.nan
            else:
                m = med * scale + offset
            if lo <= m <= hi:
                if (scale, offset) == (1.0, 0.0):
                    return v
                return v + np.log10(scale) if target.startswith("LOG10_") else v * scale + offset
        raise InputSchemaError(
            f"column {quote(name)} is taken as the model input {target} "
            f"({info.get('unit', '')}), but "
            f"its median {med:g} is outside the training wells' range [{lo:g}, {hi:g}] in every "
            f"known unit; send it as {target} in {info.get('unit', 'the canonical unit')}")

    def design(self, X: np.ndarray) -> np.ndarray:
        """Model matrix from the input matrix: the input columns the boosters use, then the
        learned embedding (PCA scores of the image patches)."""
        parts = [X[:, self._keep]]
        for g in self.meta.get("pca", []):
            idx = [self.features.index(c) for c in g["columns"]]
            parts.append(pca_scores(X[:, idx], g))
        return np.hstack(parts) if len(parts) > 1 else parts[0]

    def base(self, Xm: np.ndarray) -> np.ndarray:
        """The linear petrophysical base the boosters correct (0 when the model has none)."""
        lb = self.meta.get("linear_base")
        if not lb:
            return np.zeros(Xm.shape[0])
        return linear_base(Xm[:, [self.model_features.index(f) for f in lb["features"]]], lb)

    def raw_quantiles(self, X: np.ndarray, *, design: bool = True) -> dict[str, np.ndarray]:
        """Model outputs in the model's (possibly log10) target space, before conformal."""
        Xm = self.design(X) if design else X
        base = self.base(Xm)
        return {k: base + b.predict(Xm, num_threads=1) for k, b in self.heads.items()}

    def clipped(self, q: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The quantiles ``q`` (model space) with the P50 clipped to the training range
        (``clip``) and the P10 and P90 moved with it, keeping their distance from it (as
        :meth:`band` answers and blind validation scores them); ``q`` itself without a
        ``clip``."""
        lim = self.meta.get("clip")
        if not lim:
            return q
        shift = np.clip(q["p50"], lim[0], lim[1]) - q["p50"]
        return {k: v + shift for k, v in q.items()}

    def novelty_distances(self, X: np.ndarray, *, design: bool = True) -> np.ndarray:
        """Raw robust Mahalanobis distance per novelty block (rows, blocks)."""
        Xm = self.design(X) if design else X
        return block_distances(self.meta["novelty"], Xm, self.model_features)

    def novelty(self, X: np.ndarray, *, design: bool = True) -> np.ndarray:
        """Novelty score per row: the largest block distance / that block's calibrated threshold."""
        nov = self.meta.get("novelty")
        if not nov:
            return np.full(X.shape[0], np.nan)
        thr = np.asarray([b["threshold"] for b in nov["blocks"]], dtype=float)
        return (self.novelty_distances(X, design=design) / thr).max(axis=1)

    def predict(self, df: pd.DataFrame, well: bool = False, nulls: bool = False) -> pd.DataFrame:
        """Predict rows; ``well=True`` says the rows are one well (the per-well shift test of the
        cross-log residuals then applies; without it every row's answer is its own).
        ``nulls=True``: a missing (NaN) or non-finite output is None, in an object column, so a
        JSON writer gives ``null`` (the served reply); else float columns with NaN."""
        index = df.index if isinstance(df, pd.DataFrame) else None
        X = self.matrix(df)
        out = self.predict_matrix(X, index=index, well=well)
        if "image_inputs" in self.meta:   # a model of this petro: which of the two answered
            lacking = self.lacks_images(X)
            if self.sibling is not None and lacking.any():   # the sibling answers there
                alt = self.sibling.predict_matrix(self.sibling.matrix(df), index=index,
                                                  well=well)
                for c in out.columns:
                    if c in alt.columns:
                        out[c] = np.where(lacking, alt[c].to_numpy(), out[c].to_numpy())
            out[LOGS_ONLY] = lacking.astype(np.int64)
        if nulls:
            out = pd.DataFrame({c: none_where_missing(out[c].to_numpy()) for c in out.columns},
                               index=index)
        return out

    def lacks_images(self, X: np.ndarray) -> np.ndarray:
        """Rows the model does not answer from its images: every row when it uses none, else
        the rows without any of its inputs of at least one of its image kinds."""
        kinds = self.meta.get("image_inputs") or {}
        if not kinds or self.sibling is None:
            return np.full(X.shape[0], not kinds)
        gone = np.zeros(X.shape[0], dtype=bool)
        for cols in kinds.values():
            idx = [self.features.index(c) for c in cols]
            gone |= ~np.isfinite(X[:, idx]).any(axis=1)
        return gone

    def input_coverage(self, X: np.ndarray) -> np.ndarray:
        """Share of the model's input columns present (finite) in each row."""
        return np.isfinite(X).mean(axis=1) if X.shape[1] else np.zeros(X.shape[0])

    def missing_share(self, X: np.ndarray) -> np.ndarray:
        """Importance-weighted share of the model's inputs absent in each row (0 when the bundle
        has no importance weights)."""
        if not self._miss_w.size or not self._miss_w.sum():
            return np.zeros(X.shape[0])
        M = ~np.isfinite(X)
        for j, src in self._miss_req:   # a derived column is missing when its source curve is
            M[:, j] |= M[:, src].any(axis=1)
        return row_dot(M.astype(float), self._miss_w) / self._miss_w.sum()

    def predict_matrix(self, X: np.ndarray, index=None, well: bool = False,
                       nulls: bool = False) -> pd.DataFrame:
        coverage = self.input_coverage(X)
        missing = self.missing_share(X)
        lacking = coverage < float(self.meta.get("min_input_coverage", MIN_INPUT_COVERAGE))
        Xm = self.design(X)
        q = self.raw_quantiles(Xm, design=False)
        nov = self.novelty(Xm, design=False)
        if self._miss_thr > 0:
            nov = np.fmax(nov, missing / self._miss_thr)
        if self._required:   # a curve every training row had is absent: out of domain
            gone = ~np.isfinite(X[:, self._required]).all(axis=1)
            nov = np.where(gone, np.fmax(nov, REQUIRED_MISSING_NOVELTY), nov)
        resid, cons_nov, well_nov = self.consistency(X, well)
        well_nov = np.fmax(well_nov, self.level_term(X, well))   # whole-well terms
        nov = np.fmax(np.fmax(nov, cons_nov), well_nov)
        policy = self.meta.get("ood_policy", "keep")
        p50, lo, hi = self.band(q, nov, policy)
        if self.meta.get("transform") == "log10":
            p50, lo, hi = 10 ** p50, 10 ** lo, 10 ** hi
        flag = ((nov > 1.0) | lacking).astype(np.int64)
        # too few inputs (or flagged under 'withhold'): no prediction is given
        hold = lacking | ((flag == 1) if policy == "withhold" else False)
        p50, lo, hi = (np.where(hold, np.nan, v) for v in (p50, lo, hi))
        nov = np.where(lacking, np.nan, nov)
        o = self.output
        cols = {f"{o}_ML": p50, f"{o}_P10": lo, f"{o}_P90": hi, NOVELTY: nov, OOD_FLAG: flag,
                INPUT_COVERAGE: coverage, KEY_INPUT_COVERAGE: 1.0 - missing,
                WELL_NOVELTY: well_nov, **{f"{NOV_PREFIX}{c}": r for c, r in resid.items()}}
        if nulls:
            cols = {c: none_where_missing(v) for c, v in cols.items()}
        return pd.DataFrame(cols, index=index)

    def band(self, q: dict[str, np.ndarray], nov: np.ndarray, policy: str) \
            -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """P50, P10, P90 in model space from the raw quantiles ``q`` and the rows' novelty.

        The band is conformalised (per novelty bin) and ordered around the P50. The P50 alone is
        clipped to the training range (``clip``); a clipped row's band moves with it, keeping
        its width (clipping the bounds too gave a row far out of domain a zero-width band).
        Under ``widen`` a flagged row's half-widths are multiplied by its novelty (x1 to x5), a
        bound stopping at the ``clip`` range but never inside the calibrated band: the band is
        never narrower out of domain than in domain."""
        q = self.clipped(q)
        p50 = q["p50"]
        adj_lo, adj_hi = self.conformal_adjustment(nov)
        lo = q["p10"] - adj_lo
        hi = q["p90"] + adj_hi
        lo, hi = np.minimum(lo, p50), np.maximum(hi, p50)
        lim = self.meta.get("clip")
        if policy == "widen":   # flagged depths: the band grows with the novelty (x1 to x5)
            f = np.clip(np.nan_to_num(nov, nan=1.0), 1.0, WIDEN_CAP)
            wlo, whi = p50 - (p50 - lo) * f, p50 + (hi - p50) * f
            if lim:
                wide = f > 1.0
                wlo = np.where(wide, np.minimum(lo, np.maximum(wlo, lim[0])), wlo)
                whi = np.where(wide, np.maximum(hi, np.minimum(whi, lim[1])), whi)
            lo, hi = wlo, whi
        return p50, lo, hi

    def conformal_adjustment(self, nov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Conformal widening of P10/P90 per row: one adjustment, or (bundle key
        ``conformal_bins``, Mondrian) the adjustment of the row's novelty bin."""
        bins = self.meta.get("conformal_bins")
        if not bins:
            conf = self.meta.get("conformal") or {"lo": 0.0, "hi": 0.0}
            return np.full(nov.shape, float(conf["lo"])), np.full(nov.shape, float(conf["hi"]))
        adj = np.asarray(bins["adj"], dtype=float)[novelty_bin(bins["edges"], nov)]
        return adj, adj

    def consistency(self, X: np.ndarray, well: bool = False) \
            -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        """Cross-log residuals per checked curve (curve unit), their novelty term per row, and
        the whole-well part of it (NaN unless ``well`` and at least ``min_rows`` rows)."""
        cons = self.meta.get("consistency") or {}
        n = X.shape[0]
        well_term = np.full(n, np.nan)
        if not cons.get("curves"):
            return {}, np.full(n, np.nan), well_term
        resid, Z = {}, []
        for m in cons["curves"]:
            t = self.features.index(m["target"])
            idx = [self.features.index(f) for f in m["inputs"]]
            Zi = (X[:, idx] - np.asarray(m["center"])) / np.asarray(m["scale"])
            have = np.isfinite(Zi).any(axis=1)
            Zi = np.where(np.isfinite(Zi), Zi, 0.0)
            r = np.where(have, X[:, t] - (row_dot(Zi, np.asarray(m["coef"])) + m["intercept"]), np.nan)
            resid[m["target"]] = r
            Z.append(r / m["resid_scale"])
        Z = np.column_stack(Z)
        ok = np.isfinite(Z)
        Zd = np.abs(depth_residuals(Z, cons["curves"]))
        with np.errstate(invalid="ignore"):
            term = np.where(ok.any(axis=1), np.nanmax(np.where(ok, Zd, -1.0), axis=1),
                            np.nan) / cons["depth_threshold"]
            if well and n >= cons.get("min_rows", 30):
                cnt = ok.sum(axis=0)
                med = np.array([np.median(Z[ok[:, j], j]) if cnt[j] else 0.0
                                for j in range(Z.shape[1])])
                shift = np.abs(med - well_centers(cons["curves"])) \
                    / well_thresholds(cons["curves"], cons["well_threshold"])
                well_term = np.where(ok, shift, 0.0).max(axis=1, initial=0.0)
                term = np.fmax(term, well_term)
        return resid, term, well_term

    def level_term(self, X: np.ndarray, well: bool = False) -> np.ndarray:
        """The whole-well level test (bundle key ``consistency.levels``): per input curve with
        at least ``min_rows`` values (:func:`level_values`: over the whole well, or only in its
        shale for a shale-point test), the well's median in robust spreads from the training
        median, over the curve's threshold (calibrated on training wells left out); the largest
        over tests, the same on every row. NaN unless ``well`` and at least ``min_rows``
        rows, or when no curve is tested."""
        lev = (self.meta.get("consistency") or {}).get("levels") or {}
        n = X.shape[0]
        min_rows = int(lev.get("min_rows", 30))
        if not well or n < min_rows or not lev.get("curves"):
            return np.full(n, np.nan)
        worst = np.nan
        for c in lev["curves"]:
            reading = level_reading(X, self.features, c, min_rows)
            if reading is not None:
                z = abs(reading[1]) / c["threshold"]
                worst = z if not np.isfinite(worst) else max(worst, z)
        return np.full(n, worst)


REPAIR = ("download the model again (a fresh `mlflow.pyfunc.load_model`, or delete the "
          "partial local copy), or re-log and register it (`petro run`)")


def well_centers(relations: list[dict]) -> np.ndarray:
    """Each cross-log relation's whole-well centre (standardized residual; 0 for models fitted
    before per-curve tests: :func:`petro.models.consistency.well_tests`)."""
    return np.array([float(m.get("well_center", 0.0)) for m in relations])


def well_thresholds(relations: list[dict], default: float) -> np.ndarray:
    """Each cross-log relation's whole-well threshold (residual spreads): its own, else the
    model's one ``well_threshold`` (``default``)."""
    return np.array([float(m.get("well_threshold", default)) for m in relations])


def depth_residuals(Z: np.ndarray, relations: list[dict]) -> np.ndarray:
    """The standardized cross-log residuals ``Z`` (rows x ``relations``) as the per-depth test
    reads them: a relation marked ``one_sided: slow`` (a sonic) counts only a curve reading
    slower than the others expect; faster is the rock's secondary porosity (vugs, fractures),
    which the sonic does not see, and reads 0."""
    out = np.array(Z, dtype=float, copy=True)
    for j, m in enumerate(relations):
        if m.get("one_sided") == "slow":
            out[:, j] = np.where(out[:, j] < 0, 0.0, out[:, j])
    return out


def shale_rows(gr: np.ndarray, quantile: float) -> np.ndarray:
    """The shale rows of one well: its gamma ray ``gr`` at or above the well's own
    ``quantile`` of it (a well's own scale: a GR miscalibrated by a factor keeps its shale)."""
    ok = np.isfinite(gr)
    if not ok.any():
        return ok
    return ok & (gr >= np.quantile(gr[ok], quantile))


def level_values(X: np.ndarray, features: list[str], test: dict) -> np.ndarray:
    """The finite values of one well's rows ``X`` (columns ``features``) that a level test
    (an entry of ``consistency.levels.curves``) reads: the curve over the whole well, or, with
    ``shale`` (a GR quantile), only on the well's shale rows (:func:`shale_rows`), where a
    neutron reads the shale's hydrogen index rather than the rock's porosity."""
    v = X[:, features.index(test["curve"])]
    if test.get("shale") is not None:
        v = v[shale_rows(X[:, features.index("GR")], float(test["shale"]))]
    return v[np.isfinite(v)]


def level_reading(X: np.ndarray, features: list[str], test: dict,
                  min_rows: int) -> tuple[float, float] | None:
    """One well's reading of a level test (:func:`level_values`): its median and that median's
    distance from the training centre in robust spreads (signed); None with fewer values than
    the test's ``min_rows`` (else ``min_rows``)."""
    v = level_values(X, features, test)
    if v.size < int(test.get("min_rows", min_rows)):
        return None
    med = float(np.median(v))
    return med, (med - float(test["center"])) / float(test["scale"])


def file_record(path: Path) -> dict:
    """Size (bytes) and sha256 of a file, as ``bundle.json`` records each booster file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return {"bytes": path.stat().st_size, "sha256": h.hexdigest()}


def check_file(path: Path, want: dict | None) -> None:
    """Raise :class:`BundleError` when a bundle file is absent or differs from its record
    (``want``: size and sha256 from ``bundle.json``; None for bundles saved before the record:
    only its presence is checked)."""
    if not path.is_file():
        raise BundleError(f"{path}: the model file is missing; {REPAIR}")
    if not want:
        return
    size = path.stat().st_size
    if size != want["bytes"]:
        raise BundleError(f"{path}: {size:,} bytes, {want['bytes']:,} when the model was saved "
                          f"(truncated or changed since); {REPAIR}")
    if file_record(path)["sha256"] != want["sha256"]:
        raise BundleError(f"{path}: its content differs from the model's record (sha256; the "
                          f"file was changed or damaged since the model was saved); {REPAIR}")


def none_where_missing(v: np.ndarray) -> np.ndarray:
    """``v`` as objects with None where it is NaN or +-inf (JSON ``null``); ``v`` itself when
    it has none (or is not float)."""
    if v.dtype.kind != "f":
        return v
    bad = ~np.isfinite(v)
    if not bad.any():
        return v
    out = v.astype(object)
    out[bad] = None
    return out


def novelty_bin(edges, nov: np.ndarray) -> np.ndarray:
    """Index of each row's novelty bin (``edges``: the bins' lower edges; no novelty = 0)."""
    edges = np.asarray(edges, dtype=float)
    k = np.searchsorted(edges, np.nan_to_num(np.asarray(nov, dtype=float), nan=0.0), side="right")
    return np.clip(k - 1, 0, edges.size - 1)


def row_dot(A: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``A @ v`` with each row summed on its own (numpy's pairwise sum along the row, no BLAS):
    a row's value never depends on which other rows came with it. BLAS takes other kernels for
    one row and for many, so a depth predicted alone (one served request) differed from the
    same depth predicted with its well in the last digits."""
    return (A * v).sum(axis=1)


def row_matmul(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A @ B``, each output column by :func:`row_dot` (B has few columns here)."""
    out = np.empty((A.shape[0], B.shape[1]))
    for k in range(B.shape[1]):
        out[:, k] = row_dot(A, B[:, k])
    return out


def pca_scores(X: np.ndarray, g: dict) -> np.ndarray:
    """Embedding scores of patch columns (``g``: one image kind's embedding; PCA unless
    ``g["method"]`` is 'autoencoder'): median-imputed, then centred and projected (PCA), or
    standardised and passed through the encoder's tanh layers (autoencoder); rows without any
    patch value stay NaN."""
    med = np.asarray(g["median"], dtype=float)
    missing = ~np.isfinite(X).any(axis=1)
    Z = np.where(np.isfinite(X), X, med) - np.asarray(g["mean"], dtype=float)
    if g.get("method") == "autoencoder":
        S = Z / np.asarray(g["scale"], dtype=float)
        for W, b in zip(g["weights"], g["biases"]):
            S = np.tanh(row_matmul(S, np.asarray(W, dtype=float)) + np.asarray(b, dtype=float))
    else:
        S = row_matmul(Z, np.asarray(g["components"], dtype=float).T)
    S[missing] = np.nan
    return S


def block_distances(nov: dict, X: np.ndarray, features: list[str]) -> np.ndarray:
    """Robust Mahalanobis distance of every row to each block's training cloud: (rows, blocks)."""
    out = np.empty((X.shape[0], len(nov["blocks"])))
    for k, b in enumerate(nov["blocks"]):
        idx = [features.index(f) for f in b["features"]]
        out[:, k] = mahalanobis(X[:, idx], np.asarray(b["center"], dtype=float),
                                np.asarray(b["scale"], dtype=float),
                                np.asarray(b["precision"], dtype=float))
    return out


def mahalanobis(X: np.ndarray, center: np.ndarray, scale: np.ndarray,
                precision: np.ndarray) -> np.ndarray:
    """Distance sqrt(z' P z / p) of rows of X, z = (x - center) / scale, NaN taken as the center."""
    z = (X - center) / scale
    z = np.where(np.isfinite(z), z, 0.0)
    d2 = row_dot(row_matmul(z, precision), z)
    return np.sqrt(np.maximum(d2, 0.0) / max(1, z.shape[1]))


def linear_base(X: np.ndarray, lb: dict) -> np.ndarray:
    """Ridge prediction on median-imputed, standardised columns (parameters in ``lb``)."""
    med = np.asarray(lb["median"], dtype=float)
    Z = np.where(np.isfinite(X), X, med)
    Z = (Z - np.asarray(lb["mean"], dtype=float)) / np.asarray(lb["scale"], dtype=float)
    return row_dot(Z, np.asarray(lb["coef"], dtype=float)) + float(lb["intercept"])
