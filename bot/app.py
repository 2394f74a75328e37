"""The Bolt app: salesbrain's listeners over one database, talking to the Slack Web API.

One workspace runs on a bot token (SLACK_BOT_TOKEN); many workspaces install the app
through OAuth (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET), their tokens kept by slack_sdk's
SQLAlchemy installation store in our database. The Web API client talks to SLACK_API_URL,
waits out rate limits (429 with Retry-After) and retries Slack's server errors.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.oauth.callback_options import CallbackOptions, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy.engine import Engine

from bot import installation_store, workspace
from bot.after_ack import AfterAck
from bot.intake import CommandIntake, FollowUp
from bot.listeners import assistant, register_listeners
from bot.listeners.commands import brain, coach
from bot.listeners.commands.coach import CoachAck, CoachingQueue, EarlyCoach, coaching_queue
from bot.listeners.payloads import ShapeCheckedApp
from bot.reports import SlackChartPoster, SlackNoticePoster, SlackSink
from bot.runner import HeartbeatRunner
from core import chart_notices, installations
from core.ask import answer_writer
from core.db import UnitOfWork
from core.errors import InvalidInput
from core.heartbeat.backends import backend_from_settings
from core.heartbeat.outbox import CONSOLE, ConsoleSink
from core.lifecycle import end_of_life
from core.models import DEFAULT_MODEL, Workspace
from core.notices import ConsolePoster
from core.settings import Settings

BOT_SCOPES = [
    "commands",
    "chat:write",
    "reactions:read",
    "users:read",
    "channels:history",
    "groups:history",
    "app_mentions:read",
    # Ask the brain in Slack's AI app pane: its events, status and suggested prompts, and
    # the questions asked in the app's direct messages (bot/listeners/assistant.py).
    "assistant:write",
    "im:history",
    # member_joined_channel: the bot invited to an agent's channel delivers what waited.
    "channels:read",
    "groups:read",
    # Charts uploaded into report and digest threads (bot/reports.py SlackChartPoster).
    "files:write",
]
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
OAUTH_STATE_SECONDS = 600

log = logging.getLogger("salesbrain.slack")


class SalesbrainApp(ShapeCheckedApp):
    """salesbrain's Bolt app, and the /coach its HTTP server acknowledges before Bolt's
    dispatch (`early_coach`, bot/server.py; Socket Mode has none)."""

    early_coach: EarlyCoach | None = None


def web_client(settings: Settings, token: str | None = None) -> WebClient:
    """A Web API client at SLACK_API_URL that waits out rate limits and retries Slack's 5xx."""
    base_url = settings.slack_api_url.rstrip("/") + "/"
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=10,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def bot_clients(settings: Settings, engine: Engine) -> Callable[[Workspace], WebClient]:
    """The Web API client that speaks for salesbrain in a workspace: the bot token of a
    single-workspace app, or the one its OAuth install stored."""
    by_team = team_clients(settings, engine)
    return lambda workspace: by_team(workspace.slack_team_id)


def team_clients(settings: Settings, engine: Engine) -> Callable[[str], WebClient]:
    """The Web API client that speaks for salesbrain in a Slack team, by its team id."""
    if settings.slack_client_id and settings.slack_client_secret:
        store = SQLAlchemyInstallationStore(
            client_id=settings.slack_client_id,
            engine=engine,
            bots_table_name=installation_store.BOTS_TABLE,
            installations_table_name=installation_store.INSTALLATIONS_TABLE,
        )

        def installed(team_id: str) -> WebClient:
            bot = store.find_bot(enterprise_id=None, team_id=team_id)
            if bot is None or not bot.bot_token:
                raise LookupError(f"salesbrain is not installed in {team_id}")
            return web_client(settings, bot.bot_token)

        return installed
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    if not token:
        raise InvalidInput("SLACK_BOT_TOKEN", "is not set: reports cannot be posted to Slack")
    client = web_client(settings, token)
    return lambda team_id: client


def follow_up(settings: Settings, engine: Engine) -> FollowUp:
    """How answers after an ack reach their person: the response URL, else a direct message."""
    return FollowUp(team_clients(settings, engine))


def create_app(
    settings: Settings,
    engine: Engine,
    client: WebClient | None = None,
    *,
    socket_mode: bool = False,
    runner: HeartbeatRunner | None = None,
    coaching: CoachingQueue | None = None,
    after_ack: AfterAck | None = None,
    intake: CommandIntake | None = None,
) -> SalesbrainApp:
    """The app with every listener registered, for HTTP (signed requests) or Socket Mode;
    with a heartbeat runner, `/brain run` runs an agent's cycle now. A command whose work
    follows its ack is held in `intake` before the ack; /coach notes are stored after the
    ack on `coaching`, other work after the ack is done by `after_ack` (their own by default;
    the server starts the intake's sweep, and closes them all when it stops)."""
    secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    )
    if secret is None and not socket_mode:
        raise InvalidInput("SLACK_SIGNING_SECRET", "is not set: HTTP mode verifies every request")
    bot_token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    oauth = _oauth_settings(settings, engine)
    if oauth is None and bot_token is None:
        raise InvalidInput(
            "SLACK_BOT_TOKEN",
            "is not set: set it (one workspace) or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET "
            "(installs in many workspaces)",
        )
    client = client or web_client(settings, None if oauth else bot_token)
    with _quiet_when_same_token(client, bot_token):
        app = _bolt_app(client, secret, oauth, socket_mode)
    later = after_ack or AfterAck()
    answers = follow_up(settings, engine)
    coaching = coaching or coaching_queue(engine, follow_up=answers)
    intake = intake or command_intake(settings, engine)
    # What the sweep finds in the intake goes to the same queues as what this process acks.
    coach.take_from_intake(intake, coaching)
    brain.take_from_intake(intake, later, engine, runner, answers)
    known = workspace.KnownPeople()
    workspace.attach(app, engine, intake, coaching, later, runner, known)
    if not socket_mode:
        app.early_coach = EarlyCoach(CoachAck(intake, coaching), known)
    register_listeners(app)
    assistant.register(app, answer_writer(settings, settings.heartbeat))
    # The deprecated-model table is read from a file of the anthropic SDK: once, now, not
    # inside the first request that shows a model.
    end_of_life(DEFAULT_MODEL)
    return app


def command_intake(settings: Settings, engine: Engine) -> CommandIntake:
    """The intake of a server: commands held before their acks, swept when their holder dies."""
    return CommandIntake(engine, settings.intake_lease_seconds, settings.intake_sweep_seconds)


def _bolt_app(
    client: WebClient, secret: str | None, oauth: OAuthSettings | None, socket_mode: bool
) -> SalesbrainApp:
    # A payload not of Slack's shape is acknowledged and ignored before anything reads it.
    return SalesbrainApp(
        name="salesbrain",
        logger=log,
        signing_secret=secret,
        request_verification_enabled=not socket_mode,
        client=client,
        oauth_settings=oauth,
        authorize=_cached_authorize(oauth, client) if oauth else None,
        # Checked once at start-up by `serve` (auth.test), not inside a request.
        token_verification_enabled=False,
        # Listeners run in the request's own thread and the answer leaves when they return:
        # work after the ack goes to our own queues (bot/after_ack.py).
        # Bolt's default runs each listener on a pool of 5 and polls for its ack every 10 ms,
        # which cost more CPU than the listener under load.
        process_before_response=True,
    )


@contextmanager
def _quiet_when_same_token(client: WebClient, bot_token: str | None) -> Iterator[None]:
    """Bolt reads SLACK_BOT_TOKEN itself and, given a client too, warns that the token is
    unused: not so when the client carries that very token (ours does, in one workspace)."""
    if client.token is None or client.token != bot_token:
        yield
        return
    warning = warning_client_prioritized_and_token_skipped()

    def not_that_warning(record: logging.LogRecord) -> bool:
        return record.getMessage() != warning

    log.addFilter(not_that_warning)
    try:
        yield
    finally:
        log.removeFilter(not_that_warning)


def _cached_authorize(oauth: OAuthSettings, client: WebClient) -> InstallationStoreAuthorize:
    """Tokens from the installation store, each checked with auth.test once, not per request."""
    return InstallationStoreAuthorize(
        installation_store=oauth.installation_store,
        client_id=oauth.client_id,
        client_secret=oauth.client_secret,
        logger=log,
        cache_enabled=True,
        client=client,
    )


def _oauth_settings(settings: Settings, engine: Engine) -> OAuthSettings | None:
    if not (settings.slack_client_id and settings.slack_client_secret):
        return None
    client_id = settings.slack_client_id

    def installed(args: SuccessArgs) -> BoltResponse:
        with UnitOfWork(engine) as uow:
            installations.workspace_installed(
                uow.session, str(args.installation.team_id), args.installation.team_name
            )
            uow.commit()
        return args.default.success(args)

    return OAuthSettings(
        client_id=client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        scopes=BOT_SCOPES,
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        installation_store=SQLAlchemyInstallationStore(
            client_id=client_id,
            engine=engine,
            bots_table_name=installation_store.BOTS_TABLE,
            installations_table_name=installation_store.INSTALLATIONS_TABLE,
        ),
        state_store=SQLAlchemyOAuthStateStore(
            expiration_seconds=OAUTH_STATE_SECONDS,
            engine=engine,
            table_name=installation_store.OAUTH_STATES_TABLE,
        ),
        callback_options=CallbackOptions(
            success=installed, failure=lambda args: args.default.failure(args)
        ),
    )


def heartbeat_runner(settings: Settings, engine: Engine) -> HeartbeatRunner:
    """The heartbeat runner of a server: reports go to Slack (console without a channel)."""
    heartbeat = settings.heartbeat
    clients = bot_clients(settings, engine)
    return HeartbeatRunner(
        engine,
        backend_from_settings(settings, heartbeat),
        heartbeat,
        sinks=[SlackSink(engine, clients), ConsoleSink(sys.stdout)],
        posts={
            "slack": SlackNoticePoster(engine, clients),
            chart_notices.KIND: SlackChartPoster(engine, clients),
            CONSOLE: ConsolePoster(sys.stdout),
        },
    )
