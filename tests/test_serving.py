"""Issue 27 over real HTTP: `mlflow models serve` and `petro serve` (MLflow's app behind petro's
request guard) of a registered petro model that carries the physical input ranges.

What the model controls (impossible values refused, JSON ``null`` for missing values) is checked
under both servers; what only petro's guard can (no Content-Type, body size, trimmed errors)
under `petro serve`."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import requests

from petro.io.tables import dataframe_split
from tests.conftest import served_model

CHECKED = "models:/petro-permeability@champion"
LIMIT_MB = 1


def strict_json(text: str):
    """``json.loads`` that refuses NaN / Infinity, as ``JSON.parse`` in a browser does."""
    def refuse(token):
        raise ValueError(f"not JSON: {token}")
    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def checked(trained):
    """The permeability champion as training registered it: its record carries the
    plausibility ranges of its inputs (petro/data/plausibility.yaml), which the served model
    applies."""
    from petro.serving import load_model, model_info
    from petro.tracking import setup
    from tests.test_e2e import _rows

    setup(trained["uri"])
    model = load_model(CHECKED)
    bundle = model.unwrap_python_model().bundle
    assert bundle.meta["plausibility"]["RHOB"][:2] == [1.0, 4.0], bundle.meta["plausibility"]
    rows = _rows(trained["field"], "SYN-01", bundle.features)
    assert model_info(model)["inputs"] == bundle.inputs
    return model, rows


@pytest.fixture(scope="module")
def petro_server(trained, checked, tmp_path_factory):
    """`petro serve --max-body-mb 1` of the checked model."""
    with served_model(CHECKED, trained["uri"], tmp_path_factory.mktemp("petro"),
                      server="petro", extra=("--max-body-mb", str(LIMIT_MB))) as base:
        yield base


@pytest.fixture(scope="module")
def mlflow_server(trained, checked, tmp_path_factory):
    """`mlflow models serve` of the checked model."""
    with served_model(CHECKED, trained["uri"],
                      tmp_path_factory.mktemp("mlflow")) as base:
        yield base


@pytest.fixture(params=["mlflow", "petro"])
def server(request):
    return request.param, request.getfixturevalue(f"{request.param}_server")


def _post(base, body, headers=None, **kw):
    data = body if isinstance(body, (bytes, str)) or body is None or hasattr(body, "__next__") \
        else json.dumps(body)
    return requests.post(f"{base}/invocations", data=data, timeout=120,
                         headers={"Content-Type": "application/json"} if headers is None
                         else headers, **kw)


def test_answers_equal_in_process_and_replies_are_strict_json(server, checked):
    """A row without most inputs gets no prediction: the reply says null, not NaN; the other
    rows' numbers are in-process's, and a whole well says its whole-well term."""
    _, base = server
    model, rows = checked
    sent = pd.concat([rows.iloc[:20], rows.iloc[:1][["GR"]]], ignore_index=True)
    local = model.predict(sent)
    assert local["PERM_ML"].isna().iloc[-1] and local["WELL_NOVELTY"].isna().all()
    r = _post(base, dataframe_split(sent))
    assert r.status_code == 200, r.text
    reply = strict_json(r.text)["predictions"]
    assert reply[-1]["PERM_ML"] is None and reply[0]["WELL_NOVELTY"] is None
    got = pd.DataFrame(reply)[list(local.columns)].astype(float)
    np.testing.assert_array_equal(got.to_numpy(), local.to_numpy(float))
    r = _post(base, {**dataframe_split(rows), "params": {"well": True}})
    whole = pd.DataFrame(strict_json(r.text)["predictions"]).astype(float)
    local = model.predict(rows, params={"well": True})
    assert whole["WELL_NOVELTY"].notna().all()
    np.testing.assert_array_equal(whole[list(local.columns)].to_numpy(), local.to_numpy(float))


@pytest.mark.parametrize("change,words", [
    ({"RHOB": -2.5}, "RHOB = -2.5 g/cm3 in row 3 (DEPT "),
    ({"LOG10_RT": 99.0}, "LOG10_RT = 99 log10 ohm.m in row 3"),
    ({"LOG10_RT": None, "RT": -5.0}, "'RT' (taken as LOG10_RT, its log10) = -5 ohm.m in row 3"),
])
def test_impossible_values_get_400_naming_column_and_row(server, checked, change, words):
    _, base = server
    _, rows = checked
    sent = rows.iloc[:6].assign(DEPT=1000.0 + np.arange(6))
    for col, value in change.items():
        if value is None:
            sent = sent.drop(columns=[col])
        else:
            sent[col] = sent[col].astype(float) if col in sent else np.nan
            sent.loc[sent.index[3], col] = value
    r = _post(base, dataframe_split(sent))
    assert r.status_code == 400, r.text
    msg = r.json()["message"]
    assert words in msg and "not physically possible" in msg and "Traceback" not in msg


def test_error_messages_quote_values_short(server):
    _, base = server
    r = _post(base, {"dataframe_split": {"columns": ["GR"], "data": [["x" * 100_000]]}})
    assert r.status_code == 400
    assert len(r.content) < 6_000 and "(100,002 characters)" in r.json()["message"]


def test_no_content_type_is_415_with_a_message(petro_server):
    r = requests.post(f"{petro_server}/invocations", timeout=30,
                      data=b'{"dataframe_split": {"columns": ["GR"], "data": [[50.0]]}}')
    assert "Content-Type" not in r.request.headers
    assert r.status_code == 415 and "Content-Type: application/json" in r.json()["message"]


def test_body_over_the_limit_is_413_before_it_is_read(petro_server):
    big = b"x" * (LIMIT_MB * 2**20 + 1)
    r = _post(petro_server, big)
    assert r.status_code == 413 and "--max-body-mb" in r.json()["message"]

    def chunks():   # no Content-Length: counted as it arrives
        for _ in range(4):
            yield b"y" * (2**19)
    r = _post(petro_server, chunks())
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    assert r.status_code == 413
    # the server is still there
    assert requests.get(f"{petro_server}/ping", timeout=10).status_code == 200


def test_junk_body_gets_a_short_reply(petro_server):
    """MLflow's own message for a body that is not JSON quotes all of it (a 50 MB body got a
    352 MB reply); petro serve refuses a body that is not UTF-8 itself and keeps the start of
    MLflow's message for the others."""
    r = _post(petro_server, b"{" + np.random.default_rng(0).bytes(900_000))
    assert r.status_code == 400 and "not UTF-8 text (byte " in r.json()["message"]
    assert len(r.content) < 400
    r = _post(petro_server, b'{"dataframe_split": ' + b"a" * 900_000)
    assert r.status_code == 400
    msg = r.json()["message"]
    assert len(r.content) < 1_500 and "valid JSON" in msg and "cut by petro serve" in msg


@pytest.mark.parametrize("ctype", ["text/csv", "application/vnd.apache.parquet"])
def test_empty_bodies_keep_the_message_not_the_trace(petro_server, ctype):
    r = _post(petro_server, b"", headers={"Content-Type": ctype})
    assert r.status_code == 400
    err = r.json()
    assert "stack_trace" not in err and "Failed to parse input" in err["message"]
    assert "site-packages" not in r.text


def test_parquet_and_csv_bodies_answer_like_in_process(petro_server, checked):
    model, rows = checked
    local = model.predict(rows).to_numpy(float)
    buf = io.BytesIO()
    rows.to_parquet(buf)
    for data, ctype in ((buf.getvalue(), "application/vnd.apache.parquet"),
                        (rows.to_csv(index=False), "text/csv")):
        r = _post(petro_server, data, headers={"Content-Type": ctype})
        assert r.status_code == 200, r.text
        got = pd.DataFrame(strict_json(r.text)["predictions"]).astype(float).to_numpy()
        np.testing.assert_array_equal(got, local)


def test_damaged_model_is_a_message_not_a_crash(trained, checked, tmp_path, env_with_venv):
    """Issue 27.4: a truncated booster used to kill `mlflow models serve` inside LightGBM."""
    import mlflow

    from petro.errors import ModelError
    from petro.serving import load_model

    path = mlflow.artifacts.download_artifacts(CHECKED, dst_path=str(tmp_path))
    booster = next((tmp_path).rglob("booster_p90.txt"))
    booster.write_bytes(booster.read_bytes()[:1000])
    with pytest.raises(ModelError, match="booster_p90.txt: 1,000 bytes"):
        load_model(path)
    r = subprocess.run([sys.executable, "-m", "petro.cli", "serve", "-m", path, "--port", "1"],
                       env=dict(env_with_venv, MLFLOW_TRACKING_URI=trained["uri"]), cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "booster_p90.txt" in r.stderr + r.stdout


@pytest.mark.parametrize("tail", ["a\\u", 'é"\\\n\t', "\U0001F600x", "plain "])
def test_trim_error_keeps_code_and_start_of_message(tail):
    """Small replies are parsed (stack_trace dropped); large ones read from their start only;
    escapes cut in the middle never give invalid JSON."""
    from petro.serving.server import MESSAGE_CHARS, PARSE_BYTES, trim_error

    for n in (10, PARSE_BYTES // len(tail) + 10):
        msg = "Ensure the input is valid. Input: " + tail * n
        body = json.dumps({"error_code": "BAD_REQUEST", "message": msg,
                           "stack_trace": "File /srv/site-packages/x.py"}).encode()
        out = strict_json(trim_error(body).decode())
        assert out["error_code"] == "BAD_REQUEST" and "stack_trace" not in out
        assert out["message"][:MESSAGE_CHARS] == msg[:MESSAGE_CHARS][:len(out["message"])]
        assert len(out["message"]) <= MESSAGE_CHARS + 80
        assert ("cut by petro serve" in out["message"]) == (len(msg) > MESSAGE_CHARS)


def test_not_utf8_names_the_first_bad_byte():
    from petro.serving.server import not_utf8

    assert not_utf8(b'{"a": 1}') is None and not_utf8("é".encode()) is None
    assert not_utf8(b"ab\xffcd") == 2
