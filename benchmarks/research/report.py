"""One markdown table of the issue-25 research numbers, from the scripts' JSON and the
``demo_table.py`` outputs.

``python benchmarks/research/report.py --log-scale log_scale.json --embedding emb.json
--image-gain gain.json --demo-table demo=a_demo.txt logs=a_logs.txt ...`` (several JSON files
per script are merged; a later file's field replaces an earlier one's).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

TARGETS = (("porosity", "p.u."), ("permeability", "dec"))


def demo_table_numbers(path: str) -> dict[str, tuple[float, float]]:
    """petro's nested blind RMSE and its logs-only ablation per target, from demo_table.py's
    printed table."""
    out = {}
    for line in Path(path).read_text().splitlines():
        m = re.match(r"\| (porosity|log10 permeability) RMSE[^|]*\| \*\*([\d.]+)\*\* \| ([\d.]+)",
                     line)
        if m:
            key = "porosity" if m.group(1) == "porosity" else "permeability"
            out[key] = (float(m.group(2)), float(m.group(3)))
    return out


def _load(paths: list[str]) -> dict:
    """The fields of the scripts' JSON files (a later file's field replaces an earlier one's)."""
    out = {}
    for path in paths:
        if Path(path).exists():
            out.update(json.loads(Path(path).read_text())["fields"])
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--log-scale", nargs="*", default=[], metavar="JSON")
    ap.add_argument("--embedding", nargs="*", default=[], metavar="JSON")
    ap.add_argument("--image-gain", nargs="*", default=[], metavar="JSON")
    ap.add_argument("--demo-table", nargs="*", default=[], metavar="FIELD=FILE")
    args = ap.parse_args(argv)
    demo = {kv.split("=", 1)[0]: demo_table_numbers(kv.split("=", 1)[1])
            for kv in args.demo_table if Path(kv.split("=", 1)[1]).exists()}
    ls, emb, gain = _load(args.log_scale), _load(args.embedding), _load(args.image_gain)
    fields = list(dict.fromkeys(list(demo) + list(ls) + list(emb) + list(gain)))
    cols = [("a", "petro (nested)", lambda f, t: demo.get(f, {}).get(t, (None,))[0]),
            ("a", "petro logs only (nested)",
             lambda f, t: demo.get(f, {}).get(t, (None, None))[1]),
            ("b", "ridge, medians 3/5/9 of 6 logs", lambda f, t: ls.get(f, {}).get(t, {}).get(
                "ridge_med_six")),
            ("b", "ridge, logs + medians, 7 logs", lambda f, t: ls.get(f, {}).get(t, {}).get(
                "ridge_med_all")),
            ("c", "petro untuned", lambda f, t: ls.get(f, {}).get(t, {}).get("petro")),
            ("c", "petro untuned logs only",
             lambda f, t: ls.get(f, {}).get(t, {}).get("petro_logs_only")),
            ("c", "petro untuned + windowed logs",
             lambda f, t: ls.get(f, {}).get(t, {}).get("petro_win")),
            ("c", "same, logs only", lambda f, t: ls.get(f, {}).get(t, {}).get(
                "petro_win_logs_only"))]
    for v in ("logs", "stats", "pca", "ae", "stats+pca", "stats+ae"):
        cols.append(("d", f"LGB bed-scale logs{'' if v == 'logs' else ' + ' + v}",
                     lambda f, t, v=v: emb.get(f, {}).get(t, {}).get(v)))
    for r in ("none", "all", "gain>0", "gain>1se", "gain>2se", "gain>2%"):
        cols.append(("e", f"rule {r}",
                     lambda f, t, r=r: gain.get(f, {}).get(t, {}).get("blind", {}).get(r)))
    print("| item | inputs / model | " + " | ".join(
        f"{f} {t[:4]}." for f in fields for t, _ in TARGETS) + " |")
    print("|---|---|" + "---|" * (2 * len(fields)))
    for item, label, get in cols:
        cells = []
        for f in fields:
            for t, _ in TARGETS:
                v = get(f, t)
                cells.append("-" if v is None else f"{v:.3f}")
        print(f"| {item} | {label} | " + " | ".join(cells) + " |")
    if emb:
        print("\nautoencoder: " + "; ".join(
            f"{f} fit {d['ae_fit_s_per_1000_rows']:.2f} s / 1000 rows, predict "
            f"{1000 * d['ae_predict_s_per_1000_rows']:.2f} ms / 1000 rows" for f, d in emb.items()))
    if gain:
        print("\ninner gain per group (mean over outer folds; SE over inner folds; sd over outer "
              "folds), share of outer folds keeping it under gain>1se:")
        for f, d in gain.items():
            for t, unit in TARGETS:
                g, k = d[t]["gains"], d[t]["kept"]["gain>1se"]
                print(f"- {f} {t}: " + "; ".join(
                    f"{name} {x['mean']:+.3f} {unit} (SE {x['se']:.3f}, sd {x['outer_sd']:.3f}"
                    + ("" if x.get("seed_sd") is None else f", seed sd {x['seed_sd']:.3f}")
                    + (f", kept {k[name]:.0%})" if name in k else ")") for name, x in g.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
