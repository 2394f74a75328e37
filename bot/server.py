"""The HTTP server behind `salesbrain serve --http`: Bolt's Starlette adapter under uvicorn.

Routes: POST /slack/events (commands, events and interactivity, signature-verified here,
then by Bolt; a known person's /coach with text is acknowledged here, before Bolt's
dispatch: `_acknowledged_early`), GET /slack/install and GET /slack/oauth_redirect (when
OAuth is configured), POST /signals (JSON Lines of signals, bearer token
SALESBRAIN_SIGNALS_TOKEN; the answer is the import's `{"new", "known", "bad": [{"line",
"reason"}]}`), GET /healthz.

Every request leaves one JSON log line: what was asked (the command, event type, action or
form), the workspace, the latency and the outcome. Bodies, headers, tokens and secrets are
never logged.
"""

from __future__ import annotations

import asyncio
import codecs
import gc
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import anyio.from_thread
import uvicorn
from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_bolt.request.internals import parse_body
from sqlalchemy import text
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.after_ack import AfterAck, Traffic
from bot.app import SalesbrainApp
from bot.listeners import errors
from bot.listeners.commands.coach import EarlyCoach
from bot.workspace import OUTCOME
from core import use_cases
from core.db import UnitOfWork, unavailable
from core.errors import DomainError
from core.permissions import Actor
from core.settings import SIGNALS_MAX_BYTES

EVENTS_PATH = "/slack/events"
# Slack's requests are a few kilobytes; anything far larger is not from Slack.
MAX_SLACK_BODY = 1_000_000
# Threads dispatching Slack requests at once. Python runs one at a time; every thread more
# costs CPU in switching (40, anyio's default, made each /brain help twice as expensive),
# while a few keep a request that waits (on Slack, on the database) from stalling the rest.
# A plain executor: anyio's worker threads cost ~90 us of CPU a hand-off, asyncio's ~25.
DISPATCHERS = 8

SENDER = Actor.system("signals", origin="http")
# What Bolt answers for a listener's `ack()`: the ack of a /coach acknowledged before Bolt.
ACKED = BoltResponse(status=200, body="")

requests_log = logging.getLogger("salesbrain.requests")
slack_log = logging.getLogger("salesbrain.slack")


def create_web_app(
    app: App,
    engine: Engine,
    signals_token: str | None = None,
    *,
    signals_limit: int = SIGNALS_MAX_BYTES,
    on_shutdown: Sequence[Callable[[], None]] = (),
    traffic: Traffic | None = None,
) -> Starlette:
    """The ASGI application serving the Slack app (and, with OAuth, its install pages), and
    the signals webhook for senders holding `signals_token` (bodies up to `signals_limit`
    bytes). Slack's requests in flight are counted in `traffic`, for the work after acks to
    wait its turn. When the server shuts down (SIGTERM, SIGINT), after the last request,
    each of `on_shutdown` runs (in a thread)."""

    traffic = traffic or Traffic()
    dispatchers = ThreadPoolExecutor(DISPATCHERS, thread_name_prefix="slack-dispatch")
    early = app.early_coach if isinstance(app, SalesbrainApp) else None

    secret = _signing_secret(app).encode()

    async def slack_events(request: Request) -> Response:
        traffic.arrived()
        try:
            return await answer_slack(request)
        finally:
            traffic.left()

    async def answer_slack(request: Request) -> Response:
        # Verify first, then parse: nothing of an unsigned body is read as JSON or a form,
        # and no listener, error handler or outbound call ever sees it.
        try:
            raw = await _read_body(request, MAX_SLACK_BODY)
        except BodyTooLarge:
            return JSONResponse({"error": "request too large"}, status_code=413)
        problem = _unverified(secret, request, raw)
        if problem is not None:
            request.state.reason = problem
            return JSONResponse({"error": "invalid request"}, status_code=401)
        if early is not None and b"coach" in raw:  # a cheap look before parsing
            answered = await _acknowledged_early(early, request, raw)
            if answered is not None:
                return answered
        try:
            bolt_request = _bolt_request(request, raw)
        except MalformedBody as error:
            request.state.reason = f"malformed: {error}"
            return JSONResponse({"error": f"malformed request: {error}"}, status_code=400)
        # Bolt's App is synchronous (so are our services): dispatch off the event loop so that
        # one slow request never holds up the acks of the others, in a few threads only.
        loop = asyncio.get_running_loop()
        bolt_response: BoltResponse = await loop.run_in_executor(
            dispatchers, app.dispatch, bolt_request
        )
        _describe(request, bolt_request)
        return to_starlette_response(bolt_response)

    async def install(request: Request) -> Response:
        flow = app.oauth_flow
        assert flow is not None
        bolt_request = to_bolt_request(request, b"")  # the OAuth pages read the query only
        return to_starlette_response(
            await run_in_threadpool(flow.handle_installation, bolt_request)
        )

    async def oauth_redirect(request: Request) -> Response:
        flow = app.oauth_flow
        assert flow is not None
        bolt_request = to_bolt_request(request, b"")  # the OAuth pages read the query only
        request.state.asked = "oauth_redirect"
        return to_starlette_response(await run_in_threadpool(flow.handle_callback, bolt_request))

    async def healthz(request: Request) -> Response:
        try:
            await run_in_threadpool(_ping, engine)
        except Exception as error:  # the database is down: say so, and which kind of error
            return JSONResponse({"ok": False, "database": type(error).__name__}, status_code=503)
        return JSONResponse({"ok": True})

    async def signals(request: Request) -> Response:
        request.state.asked = "signals"
        request.state.workspace = request.query_params.get("workspace")
        if not _bearer_matches(request, signals_token):
            return JSONResponse(
                {"error": "POST /signals needs the bearer token SALESBRAIN_SIGNALS_TOKEN"},
                status_code=401,
                headers={"www-authenticate": "Bearer"},
            )
        declared = request.headers.get("content-length") or ""
        if declared.isdigit() and int(declared) > signals_limit:
            return _signals_too_large(signals_limit, None)
        body = _Body(request.stream(), signals_limit)
        try:
            result = await run_in_threadpool(
                use_cases.import_signals,
                UnitOfWork(engine),
                request.state.workspace,
                body.lines(),
                "jsonl",
                SENDER,
            )
        except DomainError as error:
            status = {2: 400, 3: 403, 4: 404}.get(error.exit_code, 500)
            return JSONResponse({"error": " ".join(error.message.split())}, status_code=status)
        except UnicodeDecodeError as error:
            return JSONResponse({"error": f"the body is not UTF-8 ({error.reason})"}, 400)
        except Exception as error:
            if not unavailable(error):
                raise
            # Restarting, failing over: what was stored is kept, and a resend skips it.
            return JSONResponse(
                {"error": "the database is unavailable: send the same lines again later"},
                status_code=503,
                headers={"retry-after": "5"},
            )
        if body.cut_off:
            return _signals_too_large(signals_limit, result.as_dict())
        # The good lines are stored either way; 422 says that some were not.
        return JSONResponse(result.as_dict(), status_code=422 if result.bad_total else 200)

    routes = [
        Route(EVENTS_PATH, slack_events, methods=["POST"]),
        Route("/signals", signals, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    if app.oauth_flow is not None:
        routes += [
            Route(app.oauth_flow.install_path, install, methods=["GET"]),
            Route(app.oauth_flow.redirect_uri_path, oauth_redirect, methods=["GET"]),
        ]

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        for stop in on_shutdown:
            await run_in_threadpool(stop)

    return Starlette(routes=routes, middleware=[Middleware(RequestLog)], lifespan=lifespan)


class BodyTooLarge(Exception):
    """The body is longer than the route takes."""


class MalformedBody(Exception):
    """A signed body that is not a Slack payload; says what is wrong with it."""


# Slack's headers, exactly: seconds since the epoch, and an HMAC-SHA256 in hex.
TIMESTAMP = re.compile(r"[0-9]{1,12}")
SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
# Slack's own rule: a request signed longer ago (or further ahead) than this is replayed.
MAX_REQUEST_AGE = 5 * 60


async def _read_body(request: Request, limit: int) -> bytes:
    """The whole body, counted as it arrives (any transfer encoding): past `limit` bytes the
    rest is never read."""
    declared = request.headers.get("content-length") or ""
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _signing_secret(app: App) -> str:
    # Bolt keeps the secret it verifies with; the server verifies with that very secret, before
    # Bolt parses the body (Bolt verifies again, after parsing).
    return str(getattr(app, "_signing_secret", "") or "")


def _unverified(secret: bytes, request: Request, raw: bytes) -> str | None:
    """Why the request is not verifiably Slack's (None when it is): Slack's signature is an
    HMAC-SHA256 of `v0:<timestamp>:<body>`, the timestamp within five minutes of now."""
    timestamp = request.headers.get("x-slack-request-timestamp") or ""
    signature = request.headers.get("x-slack-signature") or ""
    if not secret:
        return "unverified: no signing secret"
    if not TIMESTAMP.fullmatch(timestamp):
        return "unverified: no timestamp" if not timestamp else "unverified: malformed timestamp"
    if not SIGNATURE.fullmatch(signature):
        return "unverified: no signature" if not signature else "unverified: malformed signature"
    if abs(time.time() - int(timestamp)) > MAX_REQUEST_AGE:
        return "unverified: stale timestamp"
    # Over the bytes as they came: a body that is not UTF-8 is verified, then refused (400).
    signed = b"v0:" + timestamp.encode() + b":" + raw
    expected = "v0=" + hmac.new(secret, signed, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return "unverified: forged signature"
    return None


def _bolt_request(request: Request, raw: bytes) -> BoltRequest:
    """The signed body as Bolt's request; MalformedBody when it is no Slack payload."""
    try:
        bolt_request = to_bolt_request(request, raw)
    except UnicodeDecodeError:
        raise MalformedBody("the body is not UTF-8") from None
    except RecursionError:
        raise MalformedBody("the body nests too deeply") from None
    except ValueError:
        raise MalformedBody("the body is not JSON") from None
    except (TypeError, AttributeError, KeyError, IndexError):
        # Bolt reads the team, user and channel while building the request: the body is a
        # JSON value of another shape than Slack's.
        raise MalformedBody("the body is not a Slack payload") from None
    return bolt_request


async def _acknowledged_early(early: EarlyCoach, request: Request, raw: bytes) -> Response | None:
    """The ack of a signed /coach with text that `early` takes, held in the intake from the
    event loop, without Bolt: with 50 acks in flight an ack waits for 50 times the CPU of
    one, and Bolt's dispatch and a dispatcher thread waiting for the hold were half of it
    (EarlyCoach says what was measured). None when Bolt answers the request: any other body,
    or one Bolt could not parse either (its path says what is wrong with it)."""
    content_type = (request.headers.get("content-type") or "").split(";")[0] or None
    try:
        body = parse_body(raw.decode(), content_type)  # Bolt's own parsing of a body
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    command = early.command(body) if isinstance(body, dict) else None
    if command is None:
        return None
    # The request log's line, as `_describe` writes it for Bolt's path.
    request.state.asked = body["command"]
    request.state.workspace = command.team_id
    try:
        await early.ack.hold_on_loop(command)
    except Exception as error:  # the same one-line answer as Bolt's error handler gives
        request.state.outcome = errors.failed(error, slack_log)
        return to_starlette_response(errors.command_error(error))
    return to_starlette_response(ACKED)


def _bearer_matches(request: Request, token: str | None) -> bool:
    scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


class _Body:
    """A request body's lines, read from the event loop as the import asks for them (run in a
    worker thread), so that a large upload is never held in memory whole. Past `limit` bytes
    reading stops: the lines before are imported, the rest never read (`cut_off`)."""

    def __init__(self, chunks: AsyncIterator[bytes], limit: int) -> None:
        self._chunks, self._limit = chunks, limit
        self.cut_off = False

    def lines(self) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8-sig")()
        # The unfinished line in pieces: a long line costs its length, not its length squared.
        pending: list[str] = []
        size = 0
        while True:
            try:
                chunk = anyio.from_thread.run(self._chunks.__anext__)
            except StopAsyncIteration:
                break
            size += len(chunk)
            if size > self._limit:
                self.cut_off = True
                return  # the line cut in two is not imported
            first, *complete = decoder.decode(chunk).split("\n")
            pending.append(first)
            if complete:
                *complete, rest = complete
                yield "".join(pending) + "\n"
                yield from (line + "\n" for line in complete)
                pending = [rest]
        last = "".join(pending) + decoder.decode(b"", final=True)
        if last:
            yield last


def _signals_too_large(limit: int, imported: dict[str, Any] | None) -> Response:
    """413: with what was imported before the limit, when the body declared no length."""
    error = f"the body is over {limit:,} bytes: send the signals in smaller parts"
    if imported is not None:
        error += " (the lines before the limit were imported; importing them again is harmless)"
    return JSONResponse({"error": error, **(imported or {})}, status_code=413)


def _ping(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def _describe(request: Request, bolt_request: BoltRequest) -> None:
    """What a Slack request asked for, and from which workspace, for the request log."""
    body: dict[str, Any] = bolt_request.body or {}
    kind, event, view = body.get("type"), body.get("event"), body.get("view")
    asked = body.get("command")
    if asked is None and kind == "event_callback" and isinstance(event, dict):
        asked = "event:" + str(event.get("type"))
    elif asked is None and kind == "block_actions" and isinstance(body.get("actions"), list):
        ids = (a.get("action_id", "?") if isinstance(a, dict) else "?" for a in body["actions"])
        asked = "action:" + ",".join(map(str, ids))
    elif asked is None and kind in ("view_submission", "view_closed") and isinstance(view, dict):
        asked = f"{kind}:{view.get('callback_id')}"
    elif asked is None:
        asked = kind
    request.state.asked = str(asked)[:100] if asked is not None else None
    request.state.workspace = bolt_request.context.team_id
    request.state.outcome = bolt_request.context.get(OUTCOME)


OUTCOMES = {2: "ok", 3: "redirect", 4: "rejected", 5: "error"}


class RequestLog:
    """One JSON line per request. Plain ASGI (not BaseHTTPMiddleware), to stay cheap."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        logged = False

        def log() -> None:
            nonlocal logged
            logged = True
            state = scope.get("state") or {}
            line = {
                "method": scope["method"],
                "path": scope["path"],
                "asked": state.get("asked"),
                "workspace": state.get("workspace"),
                "status": status,
                "outcome": state.get("outcome") or OUTCOMES.get(status // 100, "other"),
                "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            }
            if state.get("reason"):  # why a request was turned away
                line["reason"] = state["reason"]
            requests_log.info(json.dumps(line))

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # Before the status line leaves: the line is there when the client has the
                # answer. (At the last body message it was not, for an empty body: uvicorn
                # writes the head at once, and an ack's client had all of it before the line.)
                log()
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if not logged:
                log()


WORKER_START_SECONDS = 60


def http_server(web_app: Starlette | str, host: str, port: int, workers: int = 1) -> uvicorn.Server:
    """uvicorn for the app; our own request log replaces its access log.

    With several workers uvicorn starts that many processes, each building the app from the
    environment (`web_app` is then the import string of a factory)."""
    config = uvicorn.Config(
        web_app,
        host=host,
        port=port,
        workers=workers,
        factory=isinstance(web_app, str),
        access_log=False,
        log_config=None,
        lifespan="on",
        # A worker imports and builds the app before it answers the supervisor's ping: seconds
        # on a busy machine. uvicorn's 5 s default killed workers that were only starting.
        timeout_worker_healthcheck=WORKER_START_SECONDS,
    )
    return uvicorn.Server(config)


def serve_http(web_app: Starlette, host: str, port: int) -> None:
    """Serve the app until stopped (SIGINT, SIGTERM)."""
    _spare_the_collector()
    http_server(web_app, host, port).run()


def _spare_the_collector() -> None:
    """Leave what starting made (modules, the app, its caches) out of the garbage collector's
    full passes: it lives as long as the process, and a full pass over it stopped every
    request for 0.1-0.2 s now and then (bench/slack_ack.py: /coach ack p99 170-230 ms with
    those pauses, 70-110 ms without)."""
    gc.collect()
    gc.freeze()


def from_environment() -> Starlette:
    """The web app as configured by the environment (each worker process builds its own)."""
    from bot.app import command_intake, create_app, follow_up, heartbeat_runner
    from bot.listeners.commands.coach import coaching_queue
    from core.db import engine_for
    from core.settings import get_settings

    settings = get_settings()
    engine = engine_for(settings.database_url)
    token = settings.signals_token.get_secret_value() if settings.signals_token else None
    # The scheduler runs in the parent process; a worker runs cycles on request only.
    traffic = Traffic()  # the acks this process answers go first
    coaching = coaching_queue(engine, follow_up=follow_up(settings, engine), traffic=traffic)
    after_ack = AfterAck(traffic=traffic)
    intake = command_intake(settings, engine)
    runner = heartbeat_runner(settings, engine)
    app = create_app(
        settings,
        engine,
        runner=runner,
        coaching=coaching,
        after_ack=after_ack,
        intake=intake,
    )
    web_app = create_web_app(
        app,
        engine,
        token,
        signals_limit=settings.signals_max_bytes,
        on_shutdown=[intake.close, after_ack.close, coaching.close],
        traffic=traffic,
    )
    # Each worker process sweeps the intake for commands whose holder died.
    intake.start()
    _spare_the_collector()
    return web_app
