"""`salesbrain serve`: the Slack app over HTTP (production) or Socket Mode."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Sequence

import click
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackApiError, SlackRequestError
from sqlalchemy.engine import Engine

from bot.after_ack import AfterAck, Traffic
from bot.app import command_intake, create_app, follow_up, heartbeat_runner, web_client
from bot.listeners.commands.coach import coaching_queue
from bot.server import create_web_app, http_server, serve_http
from core import installations
from core.db import UnitOfWork, engine_for
from core.errors import InvalidInput
from core.settings import Settings, get_settings
from migrations import schema

FACTORY = "bot.server:from_environment"


def register(cli: click.Group) -> None:
    cli.add_command(serve)


@click.command()
@click.option("--http", "mode", flag_value="http", help="Serve Slack over HTTP (/slack/events).")
@click.option("--socket", "mode", flag_value="socket", help="Connect through Socket Mode.")
@click.option("--port", default=3000, show_default=True, help="HTTP port.")
@click.option("--host", default="0.0.0.0", show_default=True, help="HTTP address to bind.")
@click.option(
    "--workers", default=1, show_default=True, help="HTTP worker processes (one per core)."
)
@click.option("--no-scheduler", is_flag=True, help="Answer Slack only; run no heartbeats.")
def serve(mode: str | None, port: int, host: str, workers: int, no_scheduler: bool) -> None:
    """Run the Slack app (Socket Mode when SLACK_APP_TOKEN is set, else HTTP)."""
    settings = get_settings()
    mode = mode or ("socket" if settings.slack_app_token else "http")
    _configure_logging()
    schema.upgrade(settings.database_url)
    engine = engine_for(settings.database_url)
    runner = heartbeat_runner(settings, engine)
    traffic = Traffic()  # the acks this process answers go first
    coaching = coaching_queue(engine, follow_up=follow_up(settings, engine), traffic=traffic)
    after_ack = AfterAck(traffic=traffic)
    intake = command_intake(settings, engine)
    app = create_app(
        settings,
        engine,
        socket_mode=mode == "socket",
        runner=runner,
        coaching=coaching,
        after_ack=after_ack,
        intake=intake,
    )
    if settings.slack_bot_token:
        _register_bot_workspace(settings, engine)
    if not no_scheduler:
        click.echo(f"salesbrain: heartbeat scheduler on ({runner.backend.name} backend)")
        runner.start()
    if workers == 1 or mode == "socket":
        # Commands acknowledged by a process that died are done here (with --workers, each
        # worker process sweeps for itself).
        intake.start()
    # SIGTERM stops serve as Ctrl-C does, through the `finally` below (uvicorn, having shut
    # down gracefully, raises the signal again; the default would end the process there).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        stop = [intake.close, after_ack.close, coaching.close]
        _serve(app, engine, settings, mode, host, port, workers, stop, traffic)
    except KeyboardInterrupt:
        click.echo("salesbrain: stopping")
    finally:
        # The cycles asked for are answered, the notes acknowledged stored and confirmed;
        # running cycles finish. What is not done by then stays in the intake.
        intake.close()
        after_ack.close()
        coaching.close()
        if not no_scheduler:
            runner.stop()


def _serve(
    app: App,
    engine: Engine,
    settings: Settings,
    mode: str,
    host: str,
    port: int,
    workers: int,
    on_shutdown: Sequence[Callable[[], None]],
    traffic: Traffic,
) -> None:
    if mode == "socket":
        if not settings.slack_app_token:
            raise InvalidInput(
                "SLACK_APP_TOKEN", "is not set: Socket Mode needs an app-level token"
            )
        click.echo("salesbrain: Socket Mode, connecting to Slack")
        SocketModeHandler(app, settings.slack_app_token.get_secret_value()).start()
        return
    click.echo(f"salesbrain: HTTP on {host}:{port} (POST /slack/events, GET /healthz)")
    if workers > 1:
        # uvicorn's supervisor starts the workers; each builds the app from the environment.
        from uvicorn.supervisors import Multiprocess

        server = http_server(FACTORY, host, port, workers)
        socket = server.config.bind_socket()
        Multiprocess(server.config, sockets=[socket]).run()
        return
    token = settings.signals_token.get_secret_value() if settings.signals_token else None
    web_app = create_web_app(
        app,
        engine,
        token,
        signals_limit=settings.signals_max_bytes,
        on_shutdown=on_shutdown,
        traffic=traffic,
    )
    serve_http(web_app, host, port)


def _register_bot_workspace(settings: Settings, engine: Engine) -> None:
    """With one bot token, its workspace is the one we serve: make sure it is registered."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    try:
        identity = web_client(settings, token).auth_test()
    except SlackApiError as error:
        raise InvalidInput(
            "SLACK_BOT_TOKEN", f"Slack refused it (auth.test: {error.response.get('error')})"
        ) from None
    except (SlackRequestError, OSError) as error:
        raise InvalidInput(
            "SLACK_API_URL", f"Slack is unreachable at {settings.slack_api_url} ({error})"
        ) from None
    with UnitOfWork(engine) as uow:
        installations.workspace_installed(uow.session, identity["team_id"], identity.get("team"))
        uow.commit()


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # slack_sdk redacts tokens, but its debug output shows whole payloads: keep it quiet.
    for noisy in ("slack_sdk", "slack_bolt", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
