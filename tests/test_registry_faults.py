"""A registry that fails while petro logs: a real `mlflow server` behind a fault-injecting HTTP
proxy written here. Whatever fails, nothing is promoted on an error, champion points at a
complete version, petro stops within a bound with a message, and the trained models kept in
./petro-pending are logged again with `petro models log-pending`, from where the run stopped."""

from __future__ import annotations

import http.client
import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.conftest import free_port, petro_cli, team_pipeline
from tests.test_shared_registry import server  # noqa: F401 (fixture)

BOUND_S = 30   # from the fault to petro's exit (the HTTP retries alone: < 9 s a request)
HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade",
       "host", "content-length"}


class FaultProxy:
    """An HTTP proxy in front of the MLflow server. Faults: ``refuse`` (a predicate on method and
    path: answered 503 without reaching the server), ``die_after`` (after forwarding a request
    whose path contains it, the proxy stops listening and drops every connection, as a killed
    server), ``drop_after`` (after that many forwarded requests every connection is closed
    without an answer), ``hold`` (the first request whose path contains it hangs until
    ``release``, then is dropped). ``seen`` lists (method, path) of every request."""

    def __init__(self, upstream: str, port: int | None = None):
        self.upstream = upstream.split("://", 1)[1]
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.refuse = None
        self.die_after: str | None = None
        self.drop_after: int | None = None
        self.hold: str | None = None         # the first request whose path contains it waits
        self.held = threading.Event()        # ... is set when it arrives,
        self.release = threading.Event()     # ... then, once this is set, it is dropped
        self.dead = False
        self.fault_at: float | None = None     # time.monotonic() of the first fault
        self.seen: list[tuple[str, str]] = []
        self.forwarded = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = b""
                    while True:
                        size = int(self.rfile.readline().strip().split(b";")[0], 16)
                        chunk = self.rfile.read(size + 2)
                        if size == 0:
                            return out
                        out += chunk[:-2]
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _handle(self):
                body = self._body()
                proxy.seen.append((self.command, self.path))
                if proxy.hold and proxy.hold in self.path and not proxy.held.is_set():
                    proxy.held.set()
                    proxy.release.wait(timeout=120)
                    self.close_connection = True
                    return
                if proxy.dead or (proxy.drop_after is not None
                                  and proxy.forwarded >= proxy.drop_after):
                    proxy.fault_at = proxy.fault_at or time.monotonic()
                    self.close_connection = True       # no answer: a dropped connection
                    return
                if proxy.refuse and proxy.refuse(self.command, self.path):
                    proxy.fault_at = proxy.fault_at or time.monotonic()
                    self._answer(503, {"Content-Type": "text/plain"}, b"unavailable")
                    return
                conn = http.client.HTTPConnection(proxy.upstream, timeout=60)
                conn.request(self.command, self.path, body=body,
                             headers={k: v for k, v in self.headers.items()
                                      if k.lower() not in HOP})
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                proxy.forwarded += 1
                self._answer(resp.status, {k: v for k, v in resp.getheaders()
                                           if k.lower() not in HOP}, data)
                if proxy.die_after and proxy.die_after in self.path:
                    proxy.kill()

            def _answer(self, status, headers, data):
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def kill(self):
        """Stop listening (new connections refused) and drop every open connection."""
        self.fault_at = self.fault_at or time.monotonic()
        self.dead = True
        threading.Thread(target=self.httpd.shutdown, daemon=True).start()
        self.httpd.socket.close()

    def close(self):
        if not self.dead:
            self.kill()
        self.thread.join(timeout=10)


def _champion_lookup_refused(proxy: FaultProxy, attempts: int = 4):
    """A predicate refusing the champion lookup alone: the first ``attempts`` reads of the
    registered model once petro has tagged it after registering the new version (MLflow reads
    it again, through the same endpoint, before it sets a tag or an alias)."""
    refused = []

    def refuse(method: str, path: str) -> bool:
        created = any("/registered-models/set-tag" in p for _, p in proxy.seen)
        if created and method == "GET" and "/registered-models/get" in path \
                and len(refused) < attempts:
            refused.append(path)
            return True
        return False
    return refuse


def _env(env_with_venv, url):
    env = {k: v for k, v in env_with_venv.items() if not k.startswith("MLFLOW_")}
    env["MLFLOW_TRACKING_URI"] = url
    return env


NAME = "petro-porosity"


class Faults:
    """What the cases share: the server, the user's folder, the trained run kept by case 1,
    a client of the server, and the fault table (seconds)."""

    def __init__(self, server_info: dict, tmp_path: Path, env_with_venv: dict):
        from mlflow import MlflowClient

        self.server, self.tmp, self.base_env = server_info, tmp_path, env_with_venv
        self.work = tmp_path / "user"
        self.work.mkdir()
        self.client = MlflowClient(server_info["url"], server_info["url"])
        self.kept: Path | None = None
        self.times: dict[str, tuple[float, float | None]] = {}

    def env(self, url: str) -> dict:
        return _env(self.base_env, url)

    def petro(self, *args, url: str):
        return petro_cli(*args, cwd=self.work, env=self.env(url))

    def failing(self, label: str, proxy: FaultProxy, *args):
        """Run petro through a faulty proxy: exit 2 and a message naming the command that logs
        the kept folder; the seconds of the command and from the fault to its exit are kept."""
        t0 = time.monotonic()
        r = self.petro(*args, url=proxy.url)
        t1 = time.monotonic()
        self.times[label] = (round(t1 - t0, 1), round(t1 - (proxy.fault_at or t1), 1))
        out = (r.stdout + r.stderr).replace("\n", "")
        assert r.returncode == 2, out
        assert "petro models log-pending" in out
        return out

    def case(self, name: str) -> Path:
        """A copy of the kept trained run, to log in one case."""
        shutil.copytree(self.kept, self.tmp / name)
        return self.tmp / name

    def versions(self) -> list[int]:
        return sorted(int(v.version) for v in self.client.search_model_versions(f"name='{NAME}'"))

    def champion_complete(self) -> str:
        """Champion points at a version whose run finished and holds its model; its number."""
        champ = self.client.get_model_version_by_alias(NAME, "champion")
        assert self.client.get_run(champ.run_id).info.status == "FINISHED"
        assert self.client.get_logged_model(champ.source.split("/")[-1]).status == "READY"
        files = {f.path.rsplit("/", 1)[-1]
                 for f in self.client.list_artifacts(champ.run_id, "validation")}
        assert "per_well_metrics.csv" in files
        return str(champ.version)


def test_faults_never_promote_stop_in_time_and_keep_the_models(server, small_field,  # noqa: F811
                                                                tmp_path, env_with_venv):
    f = Faults(server, tmp_path, env_with_venv)
    _killed_during_training(f, team_pipeline(tmp_path, small_field))
    _503_on_the_champion_lookup(f)
    _killed_after_created_version(f)
    _connections_dropped(f)
    _interrupted(f)
    print("fault table (command s, from the fault to the exit s):", f.times)
    for case, (_, after_fault) in f.times.items():
        if after_fault is not None and case != "killed during training":   # trains on there
            assert after_fault < BOUND_S, (case, after_fault)


def _killed_during_training(f: Faults, pipeline: Path):
    """The server goes away during training: the run stops before logging, the models are kept
    and logged again once the store answers (here straight to the server): v1, champion."""
    proxy = FaultProxy(f.server["url"])
    proxy.die_after = "/health"                   # petro's start-up check passes, then nothing
    out = f.failing("killed during training", proxy, "run", pipeline)
    proxy.close()
    assert f"MLflow tracking server {proxy.url} does not answer" in out
    folders = sorted((f.work / "petro-pending").iterdir())
    assert len(folders) == 1, folders
    assert f"petro models log-pending {folders[0]}" in out
    assert (folders[0] / "models" / "porosity" / "bundle" / "bundle.json").is_file()
    f.kept = f.tmp / "kept"
    shutil.copytree(folders[0], f.kept)           # the same trained run, logged in each case
    r = f.petro("models", "log-pending", folders[0], "--tracking-uri", f.server["url"],
                url=f.server["url"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert not (f.work / "petro-pending").exists()   # logged: the folder is gone
    assert f.champion_complete() == "1"


def _503_on_the_champion_lookup(f: Faults):
    """v2 registered without alias, tagged undecided; once the registry answers, the decision
    is made on the same version."""
    proxy = FaultProxy(f.server["url"])
    proxy.refuse = _champion_lookup_refused(proxy)
    case = f.case("case2")
    out = f.failing("503 on the champion lookup", proxy, "models", "log-pending", case,
                    "--tracking-uri", proxy.url)
    assert "could not be read from the registry" in out
    assert f"`petro models promote {NAME} 2`" in out
    v2 = f.client.get_model_version(NAME, "2")
    assert v2.aliases == [] and v2.tags["petro.decision"] == "undecided"
    assert f.champion_complete() == "1"
    proxy.refuse = None
    r = f.petro("models", "log-pending", case, url=proxy.url)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f.versions() == [1, 2]                                      # not registered twice
    v2 = f.client.get_model_version(NAME, "2")
    assert v2.tags["petro.decision"] == "challenger"                    # ties v1: not better
    assert "does not beat champion v1" in v2.tags["petro.reason"]
    assert f.client.get_run(v2.run_id).info.status == "FINISHED"
    proxy.close()


def _killed_after_created_version(f: Faults):
    """No alias; the server back at the same address: the run resumes, v3 decided, no v4."""
    proxy = FaultProxy(f.server["url"])
    proxy.die_after = "/model-versions/create"
    case = f.case("case3")
    f.failing("killed after Created version", proxy, "models", "log-pending", case,
              "--tracking-uri", proxy.url)
    v3 = f.client.get_model_version(NAME, "3")
    assert v3.aliases == [] and "petro.decision" not in v3.tags
    assert f.champion_complete() == "1"
    proxy.close()
    proxy = FaultProxy(f.server["url"], port=proxy.port)
    r = f.petro("models", "log-pending", case, url=proxy.url)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f.versions() == [1, 2, 3]
    assert f.client.get_model_version(NAME, "3").tags["petro.decision"] == "challenger"
    proxy.close()


def _connections_dropped(f: Faults):
    """Every connection dropped from the 21st request (the 20th uploads the model run's
    validation files): nothing registered; resumed, the stopped run FAILED, a new one logged."""
    proxy = FaultProxy(f.server["url"])
    proxy.drop_after = 20
    case = f.case("case4")
    f.failing("connections dropped from the 21st request", proxy, "models", "log-pending", case,
              "--tracking-uri", proxy.url)
    assert f.versions() == [1, 2, 3]
    state = json.loads((case / "state.json").read_text())["models"]["porosity"]
    assert "model_uri" not in state                # the model run had started, no model logged
    assert f.client.get_run(state["run_id"]).info.status == "RUNNING"  # the server went away
    proxy.close()
    proxy = FaultProxy(f.server["url"], port=proxy.port)
    r = f.petro("models", "log-pending", case, url=proxy.url)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f.versions() == [1, 2, 3, 4]
    assert f.client.get_run(state["run_id"]).info.status == "FAILED"   # the stopped run
    assert f.client.get_model_version(NAME, "4").run_id != state["run_id"]
    assert f.champion_complete() == "1"
    proxy.close()


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupted(f: Faults):
    """Ctrl-C while a request hangs: exit 130, runs KILLED, the models kept and logged after."""
    proxy = FaultProxy(f.server["url"])
    proxy.hold = "/runs/log-inputs"                # the model run's dataset
    case = f.case("case5")
    t0 = time.monotonic()
    # Ctrl-C as a terminal gives it: the test suite may run in the background (nohup, a CI
    # runner's job), where SIGINT is ignored and its children inherit that
    proc = subprocess.Popen([sys.executable, "-m", "petro.cli", "models", "log-pending", case,
                             "--tracking-uri", proxy.url], cwd=f.work, text=True,
                            env=f.env(proxy.url), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=_default_sigint)
    assert proxy.held.wait(timeout=120), proxy.seen
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=BOUND_S)
    f.times["interrupted (SIGINT)"] = (round(time.monotonic() - t0, 1), None)
    proxy.release.set()
    out = (stdout + stderr).replace("\n", "")
    assert proc.returncode == 130, out
    assert "Traceback" not in out
    assert f"interrupted: the trained models are kept in {case}" in out
    state = json.loads((case / "state.json").read_text())
    parent = state["parent_run_id"]
    assert f.client.get_run(state["models"]["porosity"]["run_id"]).info.status == "KILLED"
    assert f.client.get_run(parent).info.status == "KILLED"
    assert f.versions() == [1, 2, 3, 4]                                # nothing registered
    r = f.petro("models", "log-pending", case, url=proxy.url)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f.versions() == [1, 2, 3, 4, 5]
    assert f.client.get_run(parent).info.status == "FINISHED"          # resumed, completed
    proxy.close()
