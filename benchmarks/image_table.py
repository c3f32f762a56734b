"""The README's image table (issue 25) from ``demo_table.py`` outputs, one per field and image
representation: ``python benchmarks/image_table.py RUNS_DIR``.

``RUNS_DIR`` holds ``<field>_<variant>.txt``, each the output of

    python benchmarks/demo_table.py --workdir RUNS_DIR/<field>_<variant> [--set ...] <spec>

with ``<spec>`` by variant: ``stats`` (window statistics, no embedding): ``--spec
pca_components=0 --spec 'input_groups={select: false}'``; ``pca``: ``--spec 'input_groups={select:
false}'``; ``ae``: ``--spec embedding=autoencoder --spec 'input_groups={select: false}'``; ``sel``
(the shipped specs: groups decided blind); ``selae`` (the same with the autoencoder). The
``stats`` / ``pca`` / ``ae`` variants keep every input group; their logs-only sibling is the
logs with their windowed statistics. Image gain = sibling RMSE minus petro's (positive: the
images help).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

VARIANTS = {"stats": "window statistics", "pca": "statistics + PCA",
            "ae": "statistics + autoencoder", "sel": "selection (PCA), 3 inner folds", "sello": "selection (PCA), shipped",
            "selae": "selection (autoencoder)"}
ROW = re.compile(r"^\| (porosity|log10 permeability) RMSE[^|]*\| \*\*([\d.]+)\*\* \| ([\d.-]+) \|")
COV = re.compile(r"^- (porosity|permeability): blind P10-P90 coverage ([\d.]+)")
KEPT = re.compile(r"final kept \[([^\]]*)\]")


def parse(path: Path) -> dict:
    """Petro's and the sibling's RMSE, coverage and the final kept groups per target."""
    out: dict[str, dict] = {}
    target = None
    for line in path.read_text().splitlines():
        m = ROW.match(line)
        if m:
            t = "porosity" if m.group(1) == "porosity" else "permeability"
            out.setdefault(t, {}).update(rmse=float(m.group(2)), logs=float(m.group(3)))
        m = COV.match(line)
        if m:
            target = m.group(1)
            out.setdefault(target, {})["coverage"] = float(m.group(2))
        m = KEPT.search(line)
        if m and target:
            kept = [g.strip(" '") for g in m.group(1).split(",")]
            out[target]["kept"] = [g for g in kept if g not in ("logs",)]
    wall = re.search(r"wall ([\d.]+) s, CPU ([\d.]+) s", path.read_text())
    out["cpu"] = float(wall.group(2)) if wall else float("nan")
    return out


def main(argv=None) -> int:
    runs = Path((argv or sys.argv[1:])[0])
    fields = sorted({p.stem.rsplit("_", 1)[0] for p in runs.glob("*_*.txt")},
                    key=lambda f: (f != "demo", f))
    print("| field | images as | porosity RMSE, p.u. (logs only) | image gain, p.u. | "
          "permeability RMSE, dec (logs only) | image gain, dec | P10-P90 coverage | "
          "groups the final model kept (porosity; permeability) |")
    print("|---|---|---|---|---|---|---|---|")
    for f in fields:
        for v, label in VARIANTS.items():
            p = runs / f"{f}_{v}.txt"
            if not p.exists() or "RMSE" not in p.read_text():
                continue
            r = parse(p)
            po, pe = r.get("porosity", {}), r.get("permeability", {})
            cells = [f, label]
            for t in (po, pe):
                cells += [f"{t['rmse']:.3f} ({t['logs']:.3f})", f"{t['logs'] - t['rmse']:+.3f}"]
            cells.append(f"{po.get('coverage', float('nan')):.3f} / "
                         f"{pe.get('coverage', float('nan')):.3f}")
            cells.append("; ".join(", ".join(t.get("kept", [])) or "logs only" for t in (po, pe))
                         if v.startswith("sel") else "every group")
            print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
