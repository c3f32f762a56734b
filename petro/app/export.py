"""Target logs as LAS files, beside the vendor's KTIM / KSDR for comparison."""

from __future__ import annotations

from pathlib import Path

from petro.app.wells import WellResult
from petro.io.atomic import safe_name
from petro.io.las_writer import write_las
from petro.targets.export import targets_log
from petro.targets.nmr import TargetParams
from petro.vocab import DEPTH


def write_targets(result: WellResult, params: TargetParams, out_dir: str | Path) -> Path | None:
    """Write one well's targets as ``<well>_targets.las``; None when the well has no targets."""
    if result.table is None or result.target_report is None:
        return None
    log = targets_log(result.table, params, result.target_report)
    path = Path(out_dir) / f"{safe_name(result.name)}_targets.las"
    write_las(path, result.table[DEPTH].to_numpy(), log["columns"], units=log["units"],
              descriptions=log["descriptions"], well=result.summary.get("header", {}),
              params=log["params"], fmt="%.6g")
    return path
