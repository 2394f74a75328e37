"""The HTTP server behind `salesbrain serve --http`: Bolt's Starlette adapter under uvicorn.

Routes: POST /slack/events (commands, events and interactivity, signature-verified by
Bolt), GET /slack/install and GET /slack/oauth_redirect (when OAuth is configured),
GET /healthz. Every request leaves one JSON log line: what was asked (the command, event
type, action or form), the workspace, the latency and the outcome. Bodies, headers, tokens
and secrets are never logged.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from sqlalchemy import text
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

EVENTS_PATH = "/slack/events"

requests_log = logging.getLogger("salesbrain.requests")


def create_web_app(app: App, engine: Engine) -> Starlette:
    """The ASGI application serving the Slack app (and, with OAuth, its install pages)."""

    async def slack_events(request: Request) -> Response:
        bolt_request = to_bolt_request(request, await request.body())
        # Bolt's App is synchronous (so are our services): dispatch off the event loop so that
        # one slow request never holds up the acks of the others.
        bolt_response: BoltResponse = await run_in_threadpool(app.dispatch, bolt_request)
        _describe(request, bolt_request)
        return to_starlette_response(bolt_response)

    async def install(request: Request) -> Response:
        flow = app.oauth_flow
        assert flow is not None
        bolt_request = to_bolt_request(request, await request.body())
        return to_starlette_response(
            await run_in_threadpool(flow.handle_installation, bolt_request)
        )

    async def oauth_redirect(request: Request) -> Response:
        flow = app.oauth_flow
        assert flow is not None
        bolt_request = to_bolt_request(request, await request.body())
        request.state.asked = "oauth_redirect"
        return to_starlette_response(await run_in_threadpool(flow.handle_callback, bolt_request))

    async def healthz(request: Request) -> Response:
        try:
            await run_in_threadpool(_ping, engine)
        except Exception as error:  # the database is down: say so, and which kind of error
            return JSONResponse({"ok": False, "database": type(error).__name__}, status_code=503)
        return JSONResponse({"ok": True})

    routes = [
        Route(EVENTS_PATH, slack_events, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    if app.oauth_flow is not None:
        routes += [
            Route(app.oauth_flow.install_path, install, methods=["GET"]),
            Route(app.oauth_flow.redirect_uri_path, oauth_redirect, methods=["GET"]),
        ]
    return Starlette(routes=routes, middleware=[Middleware(BaseHTTPMiddleware, dispatch=_log)])


def _ping(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def _describe(request: Request, bolt_request: BoltRequest) -> None:
    """What a Slack request asked for, and from which workspace, for the request log."""
    body: dict[str, Any] = bolt_request.body or {}
    asked = body.get("command")
    if asked is None and body.get("type") == "event_callback":
        asked = "event:" + str((body.get("event") or {}).get("type"))
    elif asked is None and body.get("type") == "block_actions":
        asked = "action:" + ",".join(a.get("action_id", "?") for a in body.get("actions") or [])
    elif asked is None and body.get("type") in ("view_submission", "view_closed"):
        asked = f"{body['type']}:{(body.get('view') or {}).get('callback_id')}"
    elif asked is None:
        asked = body.get("type")
    request.state.asked = asked
    request.state.workspace = bolt_request.context.team_id


OUTCOMES = {2: "ok", 3: "redirect", 4: "rejected", 5: "error"}


async def _log(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    started = time.perf_counter()
    response = await call_next(request)
    line = {
        "method": request.method,
        "path": request.url.path,
        "asked": getattr(request.state, "asked", None),
        "workspace": getattr(request.state, "workspace", None),
        "status": response.status_code,
        "outcome": OUTCOMES.get(response.status_code // 100, "other"),
        "latency_ms": round((time.perf_counter() - started) * 1000, 1),
    }
    requests_log.info(json.dumps(line))
    return response


def http_server(web_app: Starlette, host: str, port: int) -> uvicorn.Server:
    """uvicorn for the app; our own request log replaces its access log."""
    config = uvicorn.Config(
        web_app, host=host, port=port, access_log=False, log_config=None, lifespan="off"
    )
    return uvicorn.Server(config)
