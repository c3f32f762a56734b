"""Pictures of predicted wells: a depth-track PNG per well and one ``index.html`` per batch.

Written by batch predict (``petro predict DATA -o OUT``; ``--no-plots`` skips them), in
``OUT``:

``plots/<well>.png``
    The well's input logs, a strip of each image kind the models use, PHIE and PERM with their
    P10-P90 band, the depths out of the training domain shaded, and the ``NOV_<curve>``
    residual of the curve the diagnosis names (:func:`petro.plots.predicted_well_plot`).
    Drawn by the well's own task (local process or Dask worker), from the images reduced for
    display where the well was read (:func:`petro.plots.image_preview`): no process holds more
    than one well's images.
``plots/<well>.json``
    The well's row of the index (diagnosis, share flagged, input coverage, curve verdicts,
    links), written by the same task after the picture, also when the picture could not be
    drawn (the row then has no picture link, and a rerun predicts the well again).
``index.html``
    One row per well of the batch (after welly's QC table): the rows of the wells predicted
    now or in an earlier run into the folder, and the wells that failed with their reason.

A picture that cannot be drawn is a warning naming the well: its LAS file and Parquet part are
written before and stay. Every file is written atomically.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote, unquote

import numpy as np
import pandas as pd

from petro.app.engine import os_error_words
from petro.io.atomic import atomic_file, atomic_write_json, atomic_write_text, safe_name
from petro.io.verdicts import verdict_rows
from petro.models.diagnosis import well_shifts
from petro.problems import Problem, warning
from petro.vocab import DEPTH, INPUT_COVERAGE, KEY_INPUT_COVERAGE, parse_feature

PICTURES = "plots"
INDEX = "index.html"


def image_kinds(models) -> list[str]:
    """The image kinds (``resistive``, ``acoustic_amplitude``, ...) the models take inputs of."""
    return sorted({f.kind for m in models for f in map(parse_feature, m.inputs) if f.is_image})


def picture_path(out_dir: str | Path, name: str) -> Path:
    return Path(out_dir) / PICTURES / f"{safe_name(name)}.png"


def row_path(out_dir: str | Path, name: str) -> Path:
    return Path(out_dir) / PICTURES / f"{safe_name(name)}.json"


def _link(out_dir: str | Path, path: Path | None) -> str | None:
    """A link from ``index.html`` to ``path``: relative, percent-encoded (a well file name
    may hold '%' from :func:`safe_name`)."""
    return None if path is None else quote(Path(path).relative_to(out_dir).as_posix())


def residual_curve(pred: pd.DataFrame, consistency: dict | None,
                   inputs: pd.DataFrame | None = None) -> str | None:
    """The curve whose ``NOV_`` residual the diagnosis names (the worst-shifted one, when the
    well is flagged for it; ``inputs``: the well's feature table, whose levels also vote), else
    None."""
    shifts = well_shifts(pred, consistency, inputs)
    return shifts[0]["curve"] if shifts and shifts[0]["flagged"] else None


def draw(pw, pred: pd.DataFrame, inputs: pd.DataFrame, previews: dict, kinds: list[str],
         residual: str | None, out_dir: str | Path) -> Path:
    """The well's picture, written atomically; ``pred``: the predicted columns by depth,
    ``inputs``: the well's feature table (its log columns are drawn)."""
    from petro.plots import LOG_TRACKS, predicted_well_plot

    logs = [c for cols, *_ in LOG_TRACKS for c in cols if c in inputs]
    frame = pd.DataFrame({DEPTH: pw.depth})
    if logs:
        frame = frame.merge(inputs[[DEPTH, *logs]].drop_duplicates(DEPTH), on=DEPTH, how="left")
    frame = pd.concat([frame, pred.reset_index(drop=True)], axis=1)
    path = picture_path(out_dir, pw.name)
    with atomic_file(path) as tmp:
        predicted_well_plot(frame, tmp, title=pw.name, residual=residual,
                            images={k: previews[k] for k in kinds if k in previews})
    return path


def picture(pw, pred: pd.DataFrame, inputs: pd.DataFrame, summary: dict, previews: dict,
            models, out_dir: str | Path) -> Path | None:
    """The well's picture and index row (:func:`draw`, :func:`write_row`). Never raises: a
    picture or row that cannot be written is a warning on ``pw`` (its LAS file and Parquet part
    are written already); without them the well is predicted again by the next run."""
    path = None
    try:
        cons = next((m.consistency for m in models if m.consistency), None)
        path = draw(pw, pred, inputs, previews, image_kinds(models),
                    residual_curve(pred, cons, inputs),
                    out_dir)
    except Exception as err:   # noqa: BLE001 -- a picture is never worth the well's outputs
        _failed(pw, "no picture drawn", err)
    try:
        _row(pw, out_dir, path, summary)
    except OSError as err:
        _failed(pw, "its row of index.html not written", err)
    return path


def _failed(pw, what: str, err: Exception) -> None:
    words = os_error_words(err) if isinstance(err, OSError) else f"{type(err).__name__}: {err}"
    pw.problems.append(warning(f"{what} ({words}); its LAS file is written", well=pw.name,
                               code="picture_failed"))


def _row(pw, out_dir: str | Path, path: Path | None, summary: dict) -> None:
    write_row(out_dir, pw.name, {
        "well": pw.name, "status": "predicted", "diagnosis": pw.diagnosis,
        "flagged": pw.ood_fraction, "coverage": _mean(pw.columns.get(INPUT_COVERAGE)),
        "key_coverage": _mean(pw.columns.get(KEY_INPUT_COVERAGE)),
        "verdicts": verdict_rows(summary.get("verdicts", [])),
        "picture": _link(out_dir, path), "las": _link(out_dir, pw.path)})


def _mean(values: np.ndarray | None) -> float | None:
    if values is None or not np.isfinite(values).any():
        return None
    return float(np.nanmean(values))


def write_row(out_dir: str | Path, name: str, row: dict) -> Path:
    return atomic_write_json(row_path(out_dir, name), row, sort_keys=True)


def pictured(out_dir: str | Path, name: str) -> bool:
    """True when the well's index row and the picture it links are there (else a rerun
    predicts the well again, to draw them)."""
    try:
        link = json.loads(row_path(out_dir, name).read_text()).get("picture")
    except (OSError, ValueError, AttributeError):
        return False
    return bool(link) and (Path(out_dir) / unquote(link)).is_file()


def write_index(out_dir: str | Path, names: Iterable[str], failed: list[Problem]) -> Path:
    """``index.html`` of the wells ``names`` of a batch: the row each well's task wrote (this
    run or an earlier one into ``out_dir``), or, for a well in ``failed`` (the errors of this
    run, by well), the reason it failed."""
    from petro.plots import predictions_index

    reasons: dict[str, list[str]] = {}
    for p in failed:
        reasons.setdefault(p.well, []).append(p.message)
    rows = []
    for name in names:
        if name in reasons:
            rows.append({"well": name, "status": "failed", "problems": reasons[name]})
            continue
        try:
            row = json.loads(row_path(out_dir, name).read_text())
        except (OSError, ValueError):
            row = {"well": name, "status": "no picture",
                   "problems": ["predicted with --no-plots: run again with plots"]}
        rows.append(row)
    return atomic_write_text(Path(out_dir) / INDEX,
                             predictions_index(rows, f"petro predictions in {Path(out_dir)}"))
