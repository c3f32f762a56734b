"""``petro serve``: MLflow's own scoring app behind a guard on what MLflow's server leaves open.

The app is MLflow's (:func:`mlflow.pyfunc.scoring_server.init`, the one ``mlflow models serve``
runs: same routes, same request formats, same replies); :class:`RequestGuard`, a plain ASGI
middleware on ``POST /invocations``, adds:

- a request without ``Content-Type`` gets 415 with a message (MLflow 3.x answers 500: its
  ``invocations`` splits a None header);
- a body over ``max_body_bytes`` gets 413 before it is read whole (by ``Content-Length``, else
  while chunks arrive). MLflow has no limit, and its error for a malformed JSON body quotes the
  whole body (a byte string's repr: up to 4x its size): a 50 MB junk body got a 352 MB reply
  and a 1.35 GB worker peak;
- a JSON or CSV body that is not UTF-8 gets 400 naming the first bad byte, before MLflow quotes
  it;
- error replies lose MLflow's ``stack_trace`` (server paths; the empty CSV and Parquet errors
  carry one) and keep at most ``MESSAGE_CHARS`` characters of their message (a reply over
  ``PARSE_BYTES`` is not parsed whole: its code and the start of its message are read).

Replies with status < 400 pass through untouched (streamed, no copy). The petro model itself
returns JSON ``null`` for a missing value when served (``petro/serving/pyfunc_model.py``), under
either server. Nothing of MLflow is patched: the guard relies only on ``init(model)`` returning an
ASGI app and on error replies being MLflow's JSON (``error_code``, ``message``).
"""

from __future__ import annotations

import json
import logging
import re

# default request-size limit; a 10,000-row well of the 42-input demo model is 7.8 MB as JSON,
# 1.3 MB as Parquet (README "Performance")
MAX_BODY_MB = 64
# an error reply keeps at most this many characters of its message
MESSAGE_CHARS = 1000
# error replies larger than this are trimmed from their start, not parsed whole
PARSE_BYTES = 2**20
TEXT_TYPES = (b"application/json", b"text/csv")
CONTENT_TYPES = "application/json, text/csv or application/vnd.apache.parquet"

log = logging.getLogger(__name__)


class RequestGuard:
    """ASGI middleware around MLflow's scoring app (see the module docstring)."""

    def __init__(self, app, max_body_bytes: int = MAX_BODY_MB * 2**20):
        self.app = app
        self.max_body_bytes = int(max_body_bytes)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("path") != "/invocations" \
                or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if not headers.get(b"content-type", b"").strip():
            await _reply(send, 415, "BAD_REQUEST", f"petro serve: the request has no "
                         f"Content-Type; send Content-Type: {CONTENT_TYPES}")
            return
        body = await self._body(headers, receive, send)
        if body is None:
            return
        bad = not_utf8(body) if headers[b"content-type"].strip().lower().startswith(TEXT_TYPES) \
            else None
        if bad is not None:
            await _reply(send, 400, "BAD_REQUEST", f"petro serve: the body is not UTF-8 text "
                         f"(byte {bad:,} is not); send JSON or CSV as UTF-8, or Parquet with "
                         f"Content-Type: application/vnd.apache.parquet")
            return
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        try:
            await self.app(scope, replay, _TrimErrors(send))
        except Exception:  # noqa: BLE001 - MLflow's app raised past its own handlers
            log.exception("petro serve: unexpected error in /invocations")
            await _reply(send, 500, "INTERNAL_ERROR", "petro serve: unexpected error while "
                         "predicting (the server log has the details)", quiet=True)

    async def _body(self, headers: dict, receive, send) -> bytes | None:
        """The whole request body, or None once a 413 has been sent (over the limit)."""
        limit = self.max_body_bytes
        try:
            declared = int(headers.get(b"content-length", b"-1"))
        except ValueError:
            declared = -1
        if declared > limit:
            await _too_large(send, declared, limit)
            return None
        chunks, size = [], 0
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return None
            part = msg.get("body", b"")
            size += len(part)
            if size > limit:
                await _too_large(send, size, limit, more=True)
                return None
            chunks.append(part)
            if not msg.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class _TrimErrors:
    """An ASGI ``send`` that passes replies < 400 through and rewrites error replies: no
    ``stack_trace``, the message cut to ``MESSAGE_CHARS``."""

    def __init__(self, send):
        self.send = send
        self.start = None
        self.chunks: list[bytes] = []

    async def __call__(self, message):
        if message["type"] == "http.response.start":
            if message["status"] < 400:
                await self.send(message)
            else:
                self.start = message
            return
        if self.start is None or message["type"] != "http.response.body":
            await self.send(message)
            return
        self.chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = trim_error(b"".join(self.chunks))
        headers = [(k, v) for k, v in self.start.get("headers", [])
                   if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await self.send(dict(self.start, headers=headers))
        await self.send({"type": "http.response.body", "body": body, "more_body": False})
        self.start, self.chunks = None, []


def not_utf8(body: bytes) -> int | None:
    """Offset of the first byte that is not UTF-8 in ``body``, None when it all is."""
    if body.isascii():
        return None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.start
    return None


_CODE = re.compile(r'"error_code": "([A-Z_]+)"')
# the escaped text of the message up to its end, or to the first escape cut off in the middle
_MESSAGE = re.compile(r'"message": "((?:[^"\\]|\\u[0-9a-fA-F]{4}|\\["\\/bfnrt])*)')


def trim_error(body: bytes, limit: int = MESSAGE_CHARS) -> bytes:
    """An error reply's body without ``stack_trace`` and with its message cut to ``limit``
    characters (a JSON object; other bodies are cut as text). A body over ``PARSE_BYTES`` is
    read from its start only (MLflow's replies begin with ``error_code`` and ``message``)."""
    if len(body) > PARSE_BYTES:
        head = body[:8 * limit + 1024].decode("utf-8", "ignore")
        code, msg = _CODE.search(head), _MESSAGE.search(head)
        text = json.loads(f'"{msg.group(1)}"') if msg else head
        return json.dumps({"error_code": code.group(1) if code else "BAD_REQUEST",
                           "message": f"{text[:limit]}... (cut by petro serve: a reply of "
                                      f"{len(body):,} bytes)"}).encode()
    try:
        err = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _cut(body.decode("utf-8", "replace"), limit).encode()
    if not isinstance(err, dict):
        return body if len(body) <= limit else _cut(body.decode(), limit).encode()
    err.pop("stack_trace", None)
    if isinstance(err.get("message"), str):
        err["message"] = _cut(err["message"], limit)
    return json.dumps(err).encode()


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... (cut by petro serve: {len(text):,} characters)"


async def _too_large(send, size: int, limit: int, more: bool = False) -> None:
    what = f"over {limit / 2**20:g} MB" if more else f"{size / 2**20:.1f} MB"
    await _reply(send, 413, "BAD_REQUEST", f"petro serve: the request body is {what}, over "
                 f"the limit of {limit / 2**20:g} MB (petro serve --max-body-mb); send a whole "
                 f"well as Parquet (Content-Type: application/vnd.apache.parquet, ~6x smaller "
                 f"than JSON) or in parts", close=True)


async def _reply(send, status: int, code: str, message: str, *, close: bool = False,
                 quiet: bool = False) -> None:
    body = json.dumps({"error_code": code, "message": message}).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]
    if close:   # the rest of the body is not read: the connection is not reused
        headers.append((b"connection", b"close"))
    try:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})
    except Exception:  # noqa: BLE001 - a reply had already started: nothing more to send
        if not quiet:
            raise


def build_app(model, max_body_bytes: int = MAX_BODY_MB * 2**20):
    """MLflow's scoring app of a loaded pyfunc ``model`` behind :class:`RequestGuard`."""
    from mlflow.pyfunc import scoring_server

    return RequestGuard(scoring_server.init(model), max_body_bytes)


def serve(uri: str, host: str = "127.0.0.1", port: int = 5000,
          max_body_mb: float = MAX_BODY_MB) -> None:
    """Load model ``uri`` and serve it until interrupted (one uvicorn worker: the model is
    loaded once; ``mlflow models serve -w N`` loses TCP_NODELAY, see README "Performance")."""
    import uvicorn

    from petro.serving import load_model

    app = build_app(load_model(uri), int(max_body_mb * 2**20))
    uvicorn.run(app, host=host, port=port, log_level="info")
