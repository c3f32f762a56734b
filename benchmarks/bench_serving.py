"""Serving throughput: `mlflow models serve` over HTTP against in-process pyfunc predict.

Needs a registered model: run `petro demo` first (or give --tracking-uri and --model). Starts the
server as a process on a free loopback port, then measures, for the same rows:
- in-process `model.predict` on 1 row (repeated) and on 10,000 rows,
- HTTP `POST /invocations` with 1 row (sequential requests) and with 10,000 rows,
and where the time of one request goes (JSON encoding, schema enforcement, petro's predict).
Ratios are taken within this one run.

Run: python benchmarks/bench_serving.py [--tracking-uri sqlite:///mlruns/mlflow.db]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import requests


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


def main() -> None:
    import mlflow
    from mlflow.models.utils import _enforce_schema

    from petro.io.tables import dataframe_split

    ap = argparse.ArgumentParser()
    ap.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI",
                                                             "sqlite:///mlruns/mlflow.db"))
    ap.add_argument("--model", default="models:/petro-permeability@champion")
    ap.add_argument("--features", default="petro-demo/features.parquet",
                    help="a feature table (written with `petro features` if absent)")
    ap.add_argument("--data", default="petro-demo/field")
    args = ap.parse_args()
    mlflow.set_tracking_uri(args.tracking_uri)
    model = mlflow.pyfunc.load_model(args.model)
    feats = model.metadata.get_input_schema().input_names()
    fpath = Path(args.features)
    if not fpath.exists():
        subprocess.run([sys.executable, "-m", "petro.cli", "features", args.data, "-o", str(fpath),
                        "--no-targets"], check=True)
    table = pd.read_parquet(fpath).reindex(columns=feats)
    big = table.sample(10_000, replace=len(table) < 10_000, random_state=0).reset_index(drop=True)
    one = big.iloc[:1]

    port = free_port()
    env = dict(os.environ, MLFLOW_TRACKING_URI=args.tracking_uri)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "models", "serve", "-m", args.model,
                             "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if requests.get(f"{base}/ping", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        sess = requests.Session()
        body_one = json.dumps(dataframe_split(one))
        body_big = json.dumps(dataframe_split(big))
        hdr = {"Content-Type": "application/json"}
        n1 = 200
        t_local_1 = best(lambda: [model.predict(one) for _ in range(n1)], 3) / n1
        t_local_big = best(lambda: model.predict(big), 3)
        sess.post(f"{base}/invocations", data=body_one, headers=hdr).raise_for_status()
        t_http_1 = best(lambda: [sess.post(f"{base}/invocations", data=body_one, headers=hdr)
                                 for _ in range(n1)], 3) / n1
        t_http_big = best(lambda: sess.post(f"{base}/invocations", data=body_big, headers=hdr), 3)
        # where the time of a request goes, measured in this process
        schema = model.metadata.get_input_schema()
        t_json_1 = best(lambda: json.dumps(dataframe_split(one)), 50)
        t_json_big = best(lambda: json.dumps(dataframe_split(big)), 3)
        t_enf_1 = best(lambda: _enforce_schema(one, schema), 50)
        t_enf_big = best(lambda: _enforce_schema(big, schema), 3)
        inner = model.unwrap_python_model().bundle
        t_petro_1 = best(lambda: inner.predict(one), 50)
        t_petro_big = best(lambda: inner.predict(big), 3)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"model {args.model}: {len(feats)} input columns")
    print(f"{'':28s}{'1-row':>14s}{'10,000-row':>16s}")
    print(f"{'in-process rows/s':28s}{1 / t_local_1:14.0f}{10_000 / t_local_big:16.0f}")
    print(f"{'served (HTTP) rows/s':28s}{1 / t_http_1:14.0f}{10_000 / t_http_big:16.0f}")
    print(f"{'served / in-process':28s}{t_local_1 / t_http_1:14.3f}{t_local_big / t_http_big:16.3f}")
    print("where one request's time goes (ms):")
    for name, a, b in (("request total (HTTP)", t_http_1, t_http_big),
                       ("in-process pyfunc predict", t_local_1, t_local_big),
                       ("  MLflow schema enforcement", t_enf_1, t_enf_big),
                       ("  petro runtime predict", t_petro_1, t_petro_big),
                       ("client JSON encoding", t_json_1, t_json_big)):
        print(f"  {name:30s}{a * 1e3:10.2f}{b * 1e3:14.1f}")


if __name__ == "__main__":
    main()
