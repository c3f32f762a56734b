"""Issue 27's served-model checks, by hand: impossible values, requests without a Content-Type,
junk, empty and oversized bodies sent to `mlflow models serve --env-manager local` and to
`petro serve` (real processes on loopback ports), and the same frames to ``pyfunc.predict`` in
Python. Every reply must be strict JSON (a parser that refuses bare NaN/Infinity) and no error
reply may exceed 10 kB; an impossible value must get a 400 naming its column (or a masked,
flagged row with P10 < P90).

    python benchmarks/faults_serving.py --tracking-uri sqlite:////tmp/v27/store/mlflow.db \
        --rows /tmp/v27/rows.json [--model models:/petro-permeability@champion] [--md out.md]

(run from the repository root or benchmarks/: it uses bench_serving's server start-up)

``--rows`` is a model-ready request body (``petro features WELL -o rows.json --no-targets``) of a
well the model has not seen. Prints a Markdown table (server, case, status, reply size, verdict).
"""

from __future__ import annotations

import argparse
import json
import re
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import requests
from bench_serving import free_port, start_server, strict

MAX_ERROR_BYTES = 10_000
JSON = {"Content-Type": "application/json"}
CSV = {"Content-Type": "text/csv"}
PARQUET = {"Content-Type": "application/vnd.apache.parquet"}


@contextmanager
def server(kind: str, model: str, uri: str):
    """A real server process (``mlflow`` or ``petro``, bench_serving's start-up); yields its
    base URL once /ping answers."""
    args = argparse.Namespace(tracking_uri=uri, server=kind, model=model, workers=1)
    proc, base = start_server(args, free_port())
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def frames(rows_file: Path) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The good frame (first 5 rows, one of them with missing inputs) and the impossible ones."""
    split = json.loads(rows_file.read_text())["dataframe_split"]
    df = pd.DataFrame(split["data"], columns=split["columns"]).iloc[:5].reset_index(drop=True)
    good = df.copy()
    num = [c for c in good.columns if c not in ("WELL", "DEPT")]
    good.loc[4, num[: len(num) // 2]] = np.nan          # a row with missing inputs
    bad = {}
    for col, val in (("RHOB", -2.5), ("LOG10_RT", 99.0)):
        b = df.copy()
        b.loc[1, col] = val
        bad[f"{col} {val:g}"] = b
    b = df.copy()
    b["RT"] = 10 ** b.pop("LOG10_RT")
    b.loc[1, "RT"] = -5.0
    bad["RT -5"] = b
    return good, bad


def split_body(df: pd.DataFrame) -> bytes:
    data = [[None if isinstance(v, float) and np.isnan(v) else v for v in r]
            for r in df.itertuples(index=False)]
    return json.dumps({"dataframe_split": {"columns": list(df.columns), "data": data}}).encode()


def requests_to_send(good: pd.DataFrame, bad: dict[str, pd.DataFrame]):
    """(case, headers, body, expectation): 'ok', 'refuse COL' (400 naming COL, or a flagged row
    with P10 < P90), '4xx'."""
    rng = np.random.default_rng(27)
    out = [("good rows (one half missing)", JSON, split_body(good), "ok"),
           ("good rows as Parquet", PARQUET, good.to_parquet(), "ok")]
    for name, df in bad.items():
        col = name.split()[0]
        out.append((name, JSON, split_body(df), f"refuse {col}"))
    out += [
        ("no Content-Type", {}, split_body(good), "4xx"),
        ("junk JSON 5 MB (random bytes)", JSON, rng.bytes(5 * 2**20), "4xx"),
        ("junk JSON 5 MB (text)", JSON, b"{" + b"x" * (5 * 2**20), "4xx"),
        ("junk CSV 5 MB (text)", CSV, b"a,b\n" + b"1,x,\n" * 2**20, "4xx"),
        ("junk Parquet 1 MB", PARQUET, rng.bytes(2**20), "4xx"),
        ("empty JSON", JSON, b"", "4xx"),
        ("empty CSV", CSV, b"", "4xx"),
        ("empty Parquet", PARQUET, b"", "4xx"),
        ("body over petro serve's default --max-body-mb 64 (65 MB sent)", JSON,
         b'{"dataframe_split": ' + b" " * (65 * 2**20) + b"}", "4xx"),
    ]
    return out


def names(message: str, col: str) -> bool:
    """Whether petro's part of an error message names column ``col``."""
    start = message.find("petro:")
    return start >= 0 and re.search(rf"\b{col}\b", message[start:]) is not None


def verdict(status: int, text: str, expect: str) -> tuple[str, bool]:
    """What the reply says, and whether it meets the expectation."""
    try:
        doc = strict(text)
    except ValueError as e:
        return f"not strict JSON ({str(e)[:60]})", False
    if status >= 400:
        full = str(doc.get("message", doc)) if isinstance(doc, dict) else str(doc)
        start = full.find("petro:")          # MLflow puts its repr of the frame first
        msg = full[max(start, 0):][:160].replace("\n", " ").replace("|", "/")
        size_ok = len(text.encode()) <= MAX_ERROR_BYTES
        if expect.startswith("refuse"):
            col = expect.split()[1]
            return msg, status == 400 and names(full, col) and size_ok
        return msg, expect == "4xx" and status < 500 and size_ok
    if expect == "4xx":
        return "answered 200", False
    preds = pd.DataFrame(doc["predictions"])
    if expect == "ok":
        return f"{len(preds)} rows, nulls {int(preds.isna().sum().sum())}", True
    lo, hi = [c for c in preds.columns if c.endswith("_P10")], \
        [c for c in preds.columns if c.endswith("_P90")]
    flagged = bool(preds.loc[1, "OOD_FLAG"]) if "OOD_FLAG" in preds else False
    narrow = not (preds.loc[1, lo[0]] < preds.loc[1, hi[0]])
    return f"200: row 1 flagged {flagged}, P10 < P90 {not narrow}", flagged and not narrow


def check_server(kind: str, base: str, cases) -> list[dict]:
    rows = []
    for case, headers, body, expect in cases:
        if "max-body" in case and kind != "petro":
            continue                 # MLflow's server has no limit (documented in README)
        r = requests.post(f"{base}/invocations", data=body, headers=headers, timeout=300)
        said, ok = verdict(r.status_code, r.text, expect)
        rows.append({"server": kind, "case": case, "status": r.status_code,
                     "reply_bytes": len(r.content), "ok": ok, "reply": said})
    return rows


def check_pyfunc(model: str, uri: str, good, bad) -> list[dict]:
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    m = mlflow.pyfunc.load_model(model)
    rows = []
    for case, df, expect in [("good rows (one half missing)", good, "ok"),
                             *[(n, d, f"refuse {n.split()[0]}") for n, d in bad.items()]]:
        try:
            out = m.predict(df)
        except Exception as e:  # noqa: BLE001 - the refusal is what is checked
            full = str(e)
            msg = full[max(full.find("petro:"), 0):][:160].replace("\n", " ").replace("|", "/")
            ok = expect.startswith("refuse") and names(full, expect.split()[1])
            rows.append({"server": "pyfunc.predict", "case": case, "status": type(e).__name__,
                         "reply_bytes": len(str(e)), "ok": ok, "reply": msg})
            continue
        ok = expect == "ok"
        rows.append({"server": "pyfunc.predict", "case": case, "status": "DataFrame",
                     "reply_bytes": "", "ok": ok, "reply": f"{len(out)} rows"})
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| server | case | status | reply bytes | meets issue 27 | reply (start) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['server']} | {r['case']} | {r['status']} | {r['reply_bytes']} | "
                     f"{'yes' if r['ok'] else '**no**'} | {r['reply']} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tracking-uri", required=True)
    ap.add_argument("--rows", required=True, type=Path)
    ap.add_argument("--model", default="models:/petro-permeability@champion")
    ap.add_argument("--md", type=Path, help="also write the table here")
    a = ap.parse_args()
    good, bad = frames(a.rows)
    cases = requests_to_send(good, bad)
    rows = check_pyfunc(a.model, a.tracking_uri, good, bad)
    for kind in ("mlflow", "petro"):
        with server(kind, a.model, a.tracking_uri) as base:
            rows += check_server(kind, base, cases)
    table = markdown(rows)
    print(table)
    if a.md:
        a.md.write_text(table + "\n")


if __name__ == "__main__":
    main()
