"""Serving: the real `mlflow models serve` (or `petro serve`) against in-process pyfunc predict,
with bad requests.

Uses a registered petro model (default: the demo's permeability champion; if it cannot be loaded,
`petro demo` is run first into --workdir). Starts `mlflow models serve -w WORKERS` (``--server
petro``: `petro serve`, MLflow's app behind petro's request guard, one worker) on a free loopback
port and measures, in one run:

- one-row latency from one client: p50 / p95 of sequential requests (JSON ``dataframe_split``);
- throughput with 8 concurrent clients sending 1-row requests, with bad requests mixed in (every
  ``--bad-every``-th: malformed JSON, unconvertible value, no rows, no known column, ragged
  rows, wrong top-level key): every bad one must get a 4xx and every good one 200 with the same
  numbers as in-process ``model.predict`` (rtol 1e-12) in strict JSON (no bare NaN), else the
  benchmark fails;
- a whole-well request (10,000 rows) as JSON, as Parquet and as CSV, rows/s against in-process
  predict of the same rows (answers compared too; for CSV also whether the body parses back, as
  MLflow parses it with ``pd.read_csv``, to the same float64 bits);
- where one in-process request's time goes (pyfunc predict, petro runtime).

Workers: keep MLflow's default single worker. With ``-w N`` (N > 1) uvicorn binds the listening
socket itself and its accepted connections lose TCP_NODELAY (uvicorn issue #3149), so every
keep-alive request after the first waits ~40 ms for a delayed ACK: measured here p50 47 ms with
``-w 2`` against 4 ms with ``-w 1``, whatever the model does.

Whole well: a 10,000-row JSON body is ~44 MB of text with all 219 demo inputs, ~8 MB with the 42
of a ``max_inputs: 40`` model; MLflow's ``json.loads`` of it takes about as long as the in-process
prediction, so JSON is at best about 0.5x; the same rows as Parquet
(``Content-Type: application/vnd.apache.parquet``, exact float64) are parsed in milliseconds.
CSV (``Content-Type: text/csv``, ``DataFrame.to_csv(index=False)``) needs no client library
beyond pandas; pandas writes the shortest repr of each float and parses it back exactly.

Targets (issue 14): one-row p50 <= 15 ms, >= 80 requests/s with 8 clients on 2 cores, whole-well
>= 0.5x in-process rows/s. The clients run on the same machine as the server and take CPU from it.

Run: python benchmarks/bench_serving.py [--workers 1] [--server mlflow|petro] [--json out.json]
         [--tracking-uri sqlite:///mlruns/mlflow.db] [--model models:/petro-permeability@champion]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import requests

BAD_BODIES = [
    ("malformed JSON", "{not json"),
    ("unconvertible value", json.dumps({"dataframe_split": {"columns": ["GR"], "data": [["abc"]]}})),
    ("no rows", json.dumps({"dataframe_split": {"columns": ["GR"], "data": []}})),
    ("no known column", json.dumps({"dataframe_split": {"columns": ["NOPE"], "data": [[1.0]]}})),
    ("ragged rows", json.dumps({"dataframe_split": {"columns": ["GR", "RHOB"], "data": [[1.0]]}})),
    ("wrong key", json.dumps({"rows": [[1.0]]})),
]
JSON_HDR = {"Content-Type": "application/json"}


def strict(text: str):
    """The reply parsed as strict JSON (``JSON.parse`` refuses a bare NaN or Infinity)."""
    def refuse(token):
        raise ValueError(f"not strict JSON: {token}")
    return json.loads(text, parse_constant=refuse)


def predictions(r) -> pd.DataFrame:
    return pd.DataFrame(strict(r.text)["predictions"]).astype(float)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def best(fn, repeat):
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return min(out)


def load_or_train(args):
    import mlflow

    from petro.serving import load_model

    mlflow.set_tracking_uri(args.tracking_uri)
    try:
        return load_model(args.model)
    except Exception as err:  # noqa: BLE001 - no model yet: train the demo
        print(f"({err.__class__.__name__}: no model yet; running `petro demo` into "
              f"{args.workdir}, a few minutes)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "petro.cli", "demo", "--workdir", args.workdir,
                        "--tracking-uri", args.tracking_uri], check=True,
                       stdout=subprocess.DEVNULL)
        return load_model(args.model)


def start_server(args, port):
    env = dict(os.environ, MLFLOW_TRACKING_URI=args.tracking_uri)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    if args.server == "petro":
        cmd = [sys.executable, "-m", "petro.cli", "serve", "-m", args.model]
    else:
        cmd = [sys.executable, "-m", "mlflow", "models", "serve", "-m", args.model,
               "--env-manager", "local", "-w", str(args.workers)]
    cmd += ["--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited ({proc.returncode}): {' '.join(cmd)}")
        try:
            if requests.get(f"{base}/ping", timeout=1).status_code == 200:
                return proc, base
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit("server did not answer /ping within 180 s")


def same(got: pd.DataFrame, want: pd.DataFrame) -> bool:
    got = got[list(want.columns)].to_numpy(float)
    return got.shape == want.shape and np.allclose(got, want.to_numpy(float), rtol=1e-12,
                                                   atol=0.0, equal_nan=True)


def hammer(base, bodies, local, clients, per_client, bad_every):
    """8 clients x per_client requests; returns (seconds, n_good, n_bad, failures)."""
    failures, lock = [], threading.Lock()
    counts = {"good": 0, "bad": 0}

    def client(seed):
        rng = np.random.default_rng(seed)
        with requests.Session() as sess:
            for k in range(per_client):
                if bad_every and (k + seed) % bad_every == 0:
                    name, body = BAD_BODIES[int(rng.integers(len(BAD_BODIES)))]
                    r = sess.post(f"{base}/invocations", data=body, headers=JSON_HDR, timeout=60)
                    ok = 400 <= r.status_code < 500 and "Traceback" not in r.json().get(
                        "message", "")
                    with lock:
                        counts["bad"] += 1
                        if not ok:
                            failures.append((name, r.status_code, r.text[:200]))
                    continue
                i = int(rng.integers(len(bodies)))
                r = sess.post(f"{base}/invocations", data=bodies[i], headers=JSON_HDR, timeout=60)
                try:
                    ok = r.status_code == 200 and same(predictions(r), local.iloc[[i]])
                except ValueError:
                    ok = False
                with lock:
                    counts["good"] += 1
                    if not ok:
                        failures.append(("good row", i, r.status_code, r.text[:200]))

    threads = [threading.Thread(target=client, args=(s,)) for s in range(clients)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - t, counts["good"], counts["bad"], failures


def main() -> int:
    from petro.io.tables import dataframe_split
    from petro.serving import model_info

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI",
                                                             "sqlite:///mlruns/mlflow.db"))
    ap.add_argument("--model", default="models:/petro-permeability@champion")
    ap.add_argument("--workdir", default="petro-demo", help="where `petro demo` writes its field")
    ap.add_argument("--features", default=None,
                    help="feature table (default: written from WORKDIR/field with petro features)")
    ap.add_argument("--workers", type=int, default=1,
                    help="mlflow models serve -w (default 1, MLflow's default; see the docstring)")
    ap.add_argument("--server", choices=["mlflow", "petro"], default="mlflow",
                    help="mlflow models serve (default) or petro serve (one worker)")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=100, help="per client")
    ap.add_argument("--bad-every", type=int, default=10, help="every n-th request is bad; 0: none")
    ap.add_argument("--sequential", type=int, default=300, help="one-client requests for p50/p95")
    ap.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args()

    model = load_or_train(args)
    feats = model_info(model)["inputs"]
    fpath = Path(args.features or Path(args.workdir) / "features.parquet")
    if not fpath.exists():
        subprocess.run([sys.executable, "-m", "petro.cli", "features",
                        str(Path(args.workdir) / "field"), "-o", str(fpath), "--no-targets"],
                       check=True, stdout=subprocess.DEVNULL)
    table = pd.read_parquet(fpath).reindex(columns=feats)
    big = table.sample(10_000, replace=len(table) < 10_000, random_state=0).reset_index(drop=True)
    rows = table.sample(min(len(table), 500), random_state=1).reset_index(drop=True)
    local_rows = model.predict(rows)
    bodies = [json.dumps(dataframe_split(rows.iloc[[i]])) for i in range(len(rows))]
    body_big = json.dumps(dataframe_split(big))
    buf = io.BytesIO()
    big.to_parquet(buf)
    parquet_big = buf.getvalue()
    csv_big = big.to_csv(index=False)
    back = pd.read_csv(io.StringIO(csv_big))   # what MLflow does with a text/csv body
    csv_exact = bool(list(back.columns) == list(big.columns) and np.array_equal(
        back.to_numpy(float), big.to_numpy(float), equal_nan=True))

    # in-process
    one = rows.iloc[:1]
    n1 = 200
    t_local_1 = best(lambda: [model.predict(one) for _ in range(n1)], 3) / n1
    t_local_big = best(lambda: model.predict(big), 3)
    local_big = model.predict(big)
    inner = model.unwrap_python_model().bundle
    t_petro_1 = best(lambda: [inner.predict(one) for _ in range(n1)], 3) / n1

    proc, base = start_server(args, free_port())
    failures = []
    try:
        with requests.Session() as sess:
            for b in bodies[:20]:   # warm up every worker
                sess.post(f"{base}/invocations", data=b, headers=JSON_HDR).raise_for_status()
            lat = []
            for k in range(args.sequential):
                i = k % len(bodies)
                t = time.perf_counter()
                r = sess.post(f"{base}/invocations", data=bodies[i], headers=JSON_HDR)
                lat.append(time.perf_counter() - t)
                try:
                    ok = r.status_code == 200 and same(predictions(r), local_rows.iloc[[i]])
                except ValueError:
                    ok = False
                if not ok:
                    failures.append(("sequential", i, r.status_code, r.text[:200]))
        secs, n_good, n_bad, fails = hammer(base, bodies, local_rows, args.clients,
                                            args.requests, args.bad_every)
        failures += fails
        with requests.Session() as sess:
            def post_big(data, ctype):
                r = sess.post(f"{base}/invocations", data=data, headers={"Content-Type": ctype},
                              timeout=600)
                r.raise_for_status()
                return r
            exact = {}
            for name, data, ctype in (("json", body_big, "application/json"),
                                      ("parquet", parquet_big, "application/vnd.apache.parquet"),
                                      ("csv", csv_big, "text/csv")):
                r = post_big(data, ctype)
                got = predictions(r)
                if not same(got, local_big):
                    failures.append((f"whole well {name}", "answers differ from in-process"))
                exact[name] = bool(np.array_equal(got[list(local_big.columns)].to_numpy(float),
                                                  local_big.to_numpy(float), equal_nan=True))
            t_http_big = best(lambda: post_big(body_big, "application/json"), 3)
            t_http_pq = best(lambda: post_big(parquet_big, "application/vnd.apache.parquet"), 3)
            t_http_csv = best(lambda: post_big(csv_big, "text/csv"), 3)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()

    p50, p95 = (float(np.percentile(lat, q)) for q in (50, 95))
    rps = (n_good + n_bad) / secs
    ratio_json = t_local_big / t_http_big
    ratio_pq = t_local_big / t_http_pq
    ratio_csv = t_local_big / t_http_csv
    server = ("petro serve" if args.server == "petro" else
              f"mlflow models serve -w {args.workers}")
    print(f"model {args.model}: {len(feats)} input columns; server: {server}; "
          f"{os.cpu_count()} CPUs (clients on the same machine); load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"one-row latency, 1 client:   p50 {p50 * 1e3:6.1f} ms   p95 {p95 * 1e3:6.1f} ms   "
          f"(target p50 <= 15 ms)")
    print(f"{args.clients} clients, 1-row requests: {rps:6.0f} requests/s ({n_good} good, {n_bad} bad "
          f"in {secs:.1f} s; target >= 80/s)")
    print(f"bad requests answered 4xx and good ones equal to in-process, in strict JSON: "
          f"{'all' if not failures else f'NO, {len(failures)} failures'}")
    for f in failures[:10]:
        print("   ", f)
    print(f"whole well (10,000 rows): in-process {10_000 / t_local_big:8.0f} rows/s; served JSON "
          f"{10_000 / t_http_big:8.0f} rows/s = {ratio_json:.2f}x; served Parquet "
          f"{10_000 / t_http_pq:8.0f} rows/s = {ratio_pq:.2f}x; served CSV {10_000 / t_http_csv:8.0f} "
          f"rows/s = {ratio_csv:.2f}x  (target >= 0.5x)")
    print(f"whole-well bodies: JSON {len(body_big) / 1e6:.1f} MB, Parquet "
          f"{len(parquet_big) / 1e6:.1f} MB, CSV {len(csv_big) / 1e6:.1f} MB; CSV parses back to "
          f"the same float64 bits: {'yes' if csv_exact else 'NO'}; served answers bit-equal to "
          f"in-process: " + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in exact.items()))
    print(f"in-process one row: pyfunc predict {t_local_1 * 1e3:.2f} ms, of which petro runtime "
          f"{t_petro_1 * 1e3:.2f} ms")
    if args.json:
        res = {"benchmark": "serving", "model": args.model, "inputs": len(feats),
               "server": args.server, "workers": args.workers, "clients": args.clients, "cpus": os.cpu_count(),
               "p50_ms": p50 * 1e3, "p95_ms": p95 * 1e3, "requests_per_s": rps,
               "good": n_good, "bad": n_bad, "failures": len(failures),
               "whole_well_json_ratio": ratio_json, "whole_well_parquet_ratio": ratio_pq,
               "whole_well_csv_ratio": ratio_csv, "csv_float64_exact": csv_exact,
               "whole_well_bit_equal": exact,
               "body_mb": {"json": len(body_big) / 1e6, "parquet": len(parquet_big) / 1e6,
                           "csv": len(csv_big) / 1e6},
               "load_average": os.getloadavg(),
               "inprocess_rows_per_s": 10_000 / t_local_big,
               "inprocess_one_row_ms": t_local_1 * 1e3, "petro_one_row_ms": t_petro_1 * 1e3,
               "machine": f"{platform.machine()} {platform.node()}",
               "table": [
                   {"what": "served one-row latency p50 (1 client)", "value": p50 * 1e3,
                    "unit": "ms", "target": "<= 15 ms", "ok": p50 * 1e3 <= 15},
                   {"what": f"served requests/s, {args.clients} clients, {server}",
                    "value": rps, "unit": "/s", "target": ">= 80/s", "ok": rps >= 80},
                   {"what": "bad requests 4xx, good ones = in-process (strict JSON)",
                    "value": not failures,
                    "target": "all", "ok": not failures},
                   {"what": "served whole well (10,000 rows, JSON) / in-process rows/s",
                    "value": ratio_json, "unit": "x", "target": ">= 0.5x",
                    "ok": ratio_json >= 0.5},
                   {"what": "served whole well (10,000 rows, Parquet) / in-process rows/s",
                    "value": ratio_pq, "unit": "x", "target": ">= 0.5x", "ok": ratio_pq >= 0.5},
                   {"what": "served whole well (10,000 rows, CSV) / in-process rows/s",
                    "value": ratio_csv, "unit": "x", "target": ">= 0.5x",
                    "ok": ratio_csv >= 0.5}]}
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
