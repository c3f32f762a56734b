"""The README's performance table, from the benchmarks' ``--json`` outputs.

Each benchmark run with ``--json FILE`` writes its figures; a figure meant for the table is an entry
of the list ``"table"``: ``{"what": ..., "value": ..., "unit": ..., "target": ..., "ok": bool}``.
A JSON without ``"table"`` contributes its numeric ``*_ratio`` fields. A benchmark whose JSON is
missing or unreadable gets a row saying how to produce it, so the table never silently drops one.

Run: python benchmarks/perf_table.py [--dir benchmarks/results] [--run image,serving,ingest,scale,embedding]
  --run NAMES   run these benchmarks first (each with --json into --dir); serving needs a
                registered model (`petro demo`), see bench_serving.py --help
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
# name -> (script, JSON file, what it measures)
BENCHMARKS = {
    "ingest": ("bench_ingest.py", "ingest.json", "image LAS reading"),
    "image": ("bench_image_features.py", "image_features.json", "image features"),
    "serving": ("bench_serving.py", "serving.json", "served model"),
    "scale": ("bench_scale.py", "scale.json", "per-well work on Dask (wells/min, memory)"),
    "embedding": ("bench_embedding.py", "embedding.json", "image embedding (PCA, autoencoder)"),
}


def run(name: str, out_dir: Path, extra: list[str]) -> int:
    script, fname, _ = BENCHMARKS[name]
    cmd = [sys.executable, str(HERE / script), "--json", str(out_dir / fname), *extra]
    print(f"running: {' '.join(cmd)}", file=sys.stderr)
    return subprocess.run(cmd, stdout=sys.stderr).returncode


def _fmt(v) -> str:
    if isinstance(v, bool) or v is None:
        return "-" if v is None else ("yes" if v else "no")
    if isinstance(v, (int, float)):
        if abs(v) >= 100:
            return f"{v:,.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.2f}"      # 1.66 is not shown as 1.7 beside a ">= 1.7" target
    return str(v)


def rows_of(name: str, data: dict) -> list[list[str]]:
    """Table rows of one benchmark's JSON."""
    script = BENCHMARKS[name][0]
    entries = data.get("table")
    if entries is None:   # no curated figures: its ratios
        entries = [{"what": k.replace("_", " "), "value": v}
                   for k, v in data.items() if k.endswith("_ratio") and isinstance(v, (int, float))]
    out = []
    for e in entries:
        ok = e.get("ok")
        out.append([e.get("what", "?"), f"{_fmt(e.get('value'))} {e.get('unit', '')}".strip(),
                    str(e.get("target", "")), "" if ok is None else ("yes" if ok else "**no**"),
                    f"`{script}`"])
    return out


def table(out_dir: Path) -> str:
    lines = ["| Measure | Measured | Target | Met | Benchmark |",
             "|---|---|---|---|---|"]
    machines = set()
    for name, (script, fname, what) in BENCHMARKS.items():
        path = out_dir / fname
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            lines.append(f"| {what} | not measured | | | `python benchmarks/{script} --json "
                         f"{path}` |")
            continue
        except (OSError, json.JSONDecodeError) as err:
            lines.append(f"| {what} | unreadable {path.name}: {err} | | | `{script}` |")
            continue
        if data.get("machine"):
            machines.add(str(data["machine"]))
        rows = rows_of(name, data)
        if not rows:
            lines.append(f"| {what} | no figures in {path.name} | | | `{script}` |")
        lines += ["| " + " | ".join(r) + " |" for r in rows]
    note = ("Ratios are taken within one run of each benchmark on the same machine"
            + (f" ({', '.join(sorted(machines))})" if machines else "") + "; absolute times vary "
            "with the machine and its load.")
    return "\n".join(lines) + "\n\n" + note + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default=str(HERE / "results"), help="where the JSON files are")
    ap.add_argument("--run", default="", help="comma-separated benchmarks to run first: "
                    + ",".join(BENCHMARKS))
    ap.add_argument("--serving-args", default="", help="extra arguments of bench_serving.py")
    args = ap.parse_args(argv)
    out_dir = Path(args.dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in filter(None, (n.strip() for n in args.run.split(","))):
        if name not in BENCHMARKS:
            ap.error(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
        extra = args.serving_args.split() if name == "serving" else []
        if run(name, out_dir, extra) != 0:
            print(f"benchmark {name} failed; its row shows the previous result, if any",
                  file=sys.stderr)
    print(table(out_dir), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
