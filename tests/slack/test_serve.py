"""`salesbrain serve --http` as an operator runs it: migrates, registers the bot's
workspace, answers signed Slack requests on its port, and on SIGTERM stores and confirms
the notes it acknowledged, and answers the cycles it was asked to run, before it exits."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from subprocess import Popen

from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.after_ack import DRAIN_SECONDS, AfterAck
from bot.app import create_app
from bot.listeners.commands.brain import STOPPING
from bot.server import create_web_app
from core import clock, intake, memory, use_cases
from core.db import UnitOfWork
from core.intake import Command
from core.models import Intake
from tests.conftest import ADMIN, EMEA_MANAGER, World
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SlackSender, running
from tests.fakes.socket_mode import FakeSocketMode
from tests.slack.conftest import BOT_TOKEN, SIGNING_SECRET, slack_settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_serve(database_url: str, slack: FakeSlack, *arguments: str, **env: str) -> Popen[str]:
    """`salesbrain serve ARGUMENTS --no-scheduler` in a process of its own."""
    environment = {
        **os.environ,
        "SALESBRAIN_DATABASE_URL": database_url,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": slack.api_url,
        **env,
    }
    if "SLACK_APP_TOKEN" not in env:
        environment.pop("SLACK_APP_TOKEN", None)
    salesbrain = str(Path(sys.executable).parent / "salesbrain")
    return subprocess.Popen(
        [salesbrain, "serve", *arguments, "--no-scheduler"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def started(server: Popen[str], send: SlackSender) -> SlackSender:
    """`send` once the server answers its health check (within 60 s: a loaded machine
    takes seconds to import and migrate)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            if send.get("/healthz").status == 200:
                return send
        except OSError:
            pass
        if server.poll() is not None:
            raise AssertionError(f"serve exited {server.returncode}:\n{server.communicate()[0]}")
        assert time.monotonic() < deadline, "serve did not start within 60 s"
        time.sleep(0.1)


@contextmanager
def serving(
    database_url: str, slack: FakeSlack, output: list[str], *arguments: str, **env: str
) -> Iterator[SlackSender]:
    """`serve --http ARGUMENTS` in a process of its own (with `env` added to its
    environment), stopped with SIGTERM at the end (it must then exit 0); what it printed is
    appended to `output`."""
    port = free_port()
    address = ("--host", "127.0.0.1", "--port", str(port))
    server = start_serve(database_url, slack, "--http", *address, *arguments, **env)
    try:
        yield started(server, SlackSender(f"http://127.0.0.1:{port}", SIGNING_SECRET, slack))
    finally:
        server.terminate()
        output.append(server.communicate(timeout=30)[0])
    assert server.returncode == 0, output[-1]


@contextmanager
def serving_socket_mode(
    database_url: str, slack: FakeSlack, output: list[str]
) -> Iterator[Callable[[str, str, str, str], None]]:
    """`serve --socket` connected to a fake Socket Mode server, stopped with SIGTERM at the
    end (it must then exit 0); yields `deliver(command, text, user, response_url)`, which
    returns once the command is acknowledged. What it printed is appended to `output`."""
    triggers = itertools.count()
    with FakeSocketMode() as socket:
        slack.socket_url = socket.url
        server = start_serve(database_url, slack, "--socket", SLACK_APP_TOKEN="xapp-test-app-token")

        def deliver(command: str, text: str, user: str, response_url: str) -> None:
            payload = {"team_id": "T0001", "user_id": user, "channel_id": "C0001"}
            payload |= {"command": command, "text": text, "response_url": response_url}
            socket.deliver("slash_commands", {**payload, "trigger_id": f"t{next(triggers)}"})

        try:
            socket.wait_connected(timeout=30)
            yield deliver
        finally:
            server.terminate()
            output.append(server.communicate(timeout=30)[0])
    assert server.returncode == 0, output[-1]


def test_serve_http_answers_slack_on_a_fresh_database(tmp_path: Path, slack: FakeSlack) -> None:
    output: list[str] = []
    with serving(f"sqlite:///{tmp_path / 'serve.db'}", slack, output) as send:
        reply = send.command("/brain", "agents", "U0SOMEONE")

    assert reply.status == 200 and "No agents yet" in reply.text
    assert BOT_TOKEN not in output[0] and SIGNING_SECRET not in output[0]
    assert '"asked": "/brain"' in output[0]
    assert "will be unused" not in output[0]  # Bolt's warning: our client carries the token


def test_notes_acknowledged_before_sigterm_are_stored_and_confirmed(
    db_url: str, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World
) -> None:
    slack.response_delay = 0.3  # confirmations still being posted when SIGTERM comes
    output: list[str] = []
    with serving(db_url, slack, output) as send:
        replies = [send.command("/coach", f"@sdr-emea Note {n}", EMEA_MANAGER) for n in range(30)]
    # serve has exited: each note was stored once and its person told, though the acks
    # came back before the notes were stored.

    assert all(reply.status == 200 for reply in replies)
    assert "Traceback" not in output[0]
    with uow(readonly=True) as u:
        stored = sorted(b.content for b in memory.list_blocks(u.session, world.workspace))
    assert stored == sorted(f"Note {n}" for n in range(30))
    assert all(len(slack.responses(reply.response_url)) == 1 for reply in replies)


def test_serve_socket_mode_stops_on_sigterm_and_confirms_what_it_acknowledged(
    db_url: str, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World
) -> None:
    slack.response_delay = 0.3
    output: list[str] = []
    with serving_socket_mode(db_url, slack, output) as deliver:
        for n in range(5):
            deliver("/coach", f"@sdr-emea Note {n}", EMEA_MANAGER, slack.response_url(f"s{n}"))

    assert "salesbrain: stopping" in output[0] and "Traceback" not in output[0]
    with uow(readonly=True) as u:
        stored = sorted(b.content for b in memory.list_blocks(u.session, world.workspace))
    assert stored == [f"Note {n}" for n in range(5)]
    assert all(len(slack.responses(f"s{n}")) == 1 for n in range(5))


# A serve killed right after its acks holds their commands in the intake for a second; the
# other sweeps five times a second.
KILLED = {"SALESBRAIN_INTAKE_LEASE_SECONDS": "1", "SALESBRAIN_INTAKE_SWEEP_SECONDS": "60"}
SURVIVOR = {"SALESBRAIN_INTAKE_SWEEP_SECONDS": "0.2"}


def held_by_a_dead_serve(engine: Engine, slack: FakeSlack) -> None:
    """A /coach another serve acknowledged, held, and died with (its lease has lapsed)."""
    command = {"team_id": "T0001", "user_id": EMEA_MANAGER, "channel_id": "C0001"}
    command |= {"text": "@sdr-emea Note dead", "trigger_id": "trigger-dead"}
    raw = {**command, "response_url": slack.response_url("dead")}
    lapsing = Command("T0001", "coach", "command:trigger-dead", raw, lease_seconds=0.001)
    [held] = use_cases.receive(UnitOfWork(engine), [lapsing], owner="serve-that-died:1")
    assert held is not None


def test_notes_acknowledged_by_a_serve_killed_after_its_acks_are_stored_once_by_another(
    db_url: str, engine: Engine, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World
) -> None:
    # A note another serve acknowledged before it died, and 40 notes acknowledged by a serve
    # SIGKILLed as soon as its last ack is back: whatever it had not stored is stored by the
    # serve that remains, each note exactly once.
    port = free_port()
    address = ("--http", "--host", "127.0.0.1", "--port", str(port))
    killed = start_serve(db_url, slack, *address, **KILLED)
    try:
        send = started(killed, SlackSender(f"http://127.0.0.1:{port}", SIGNING_SECRET, slack))
        # Now, after its first sweep (at start): its next one would come after its death.
        held_by_a_dead_serve(engine, slack)
        with ThreadPoolExecutor(8) as pool:
            replies = list(
                pool.map(
                    lambda n: send.command("/coach", f"@sdr-emea Note {n}", EMEA_MANAGER),
                    range(40),
                )
            )
        os.kill(killed.pid, signal.SIGKILL)
    finally:
        killed.kill()
        killed.communicate(timeout=30)
    assert all((reply.status, reply.body) == (200, "") for reply in replies)
    with uow(readonly=True) as u:
        left = intake.pending(u.session)
    output: list[str] = []
    with serving(db_url, slack, output, **SURVIVOR):
        deadline = time.monotonic() + 60
        while True:
            with uow(readonly=True) as u:
                if intake.pending(u.session) == 0:
                    break
            assert time.monotonic() < deadline, "the intake was not taken over"
            time.sleep(0.2)

    assert left >= 1  # the dead serve's note at least
    with uow(readonly=True) as u:
        stored = sorted(b.content for b in memory.list_blocks(u.session, world.workspace))
    assert stored == sorted([f"Note {n}" for n in range(40)] + ["Note dead"])
    [confirmed] = slack.responses("dead")
    assert "Stored block" in confirmed["text"]
    assert all(len(slack.responses(reply.response_url)) <= 1 for reply in replies)
    assert "acknowledged commands from the intake" in output[0]


# Acme's agents: `/brain run @agent` is answered at once, and the agent's cycle report
# follows through the command's response URL (none of them has a report channel).
AGENTS = ["sdr-emea", "ae-emea", "dir-emea", "sdr-amer", "dir-amer"]


def assert_reported(slack: FakeSlack, response_urls: list[str]) -> None:
    """Each agent's cycle report reached its command's response URL, once."""
    for handle, response_url in zip(AGENTS, response_urls, strict=True):
        [answer] = slack.responses(response_url)
        assert answer["blocks"][0]["text"]["text"].startswith(f"{handle} · cycle "), answer


def test_serve_workers_answer_the_cycles_they_acknowledged_before_sigterm(
    db_url: str, slack: FakeSlack, world: World
) -> None:
    # Each worker runs two cycles at once after their acks and the others wait (one worker
    # has three at least) while Slack takes 1.5 s to take each report: SIGTERM comes before
    # the cycles that wait have started.
    slack.response_delay = 1.5
    output: list[str] = []
    with serving(db_url, slack, output, "--workers", "2") as send:
        replies = [send.command("/brain", f"run @{handle}", ADMIN) for handle in AGENTS]
        stopping = time.monotonic()

    assert all(reply.text.startswith("Running ") for reply in replies), output
    assert "Traceback" not in output[0]
    assert_reported(slack, [reply.response_url for reply in replies])
    assert time.monotonic() - stopping < DRAIN_SECONDS


def test_serve_socket_mode_answers_the_cycles_it_acknowledged_before_sigterm(
    db_url: str, slack: FakeSlack, world: World
) -> None:
    slack.response_delay = 0.5
    output: list[str] = []
    with serving_socket_mode(db_url, slack, output) as deliver:
        for n, handle in enumerate(AGENTS):
            deliver("/brain", f"run @{handle}", ADMIN, slack.response_url(f"r{n}"))
        stopping = time.monotonic()

    assert "Traceback" not in output[0]
    assert_reported(slack, [f"r{n}" for n in range(len(AGENTS))])
    assert time.monotonic() - stopping < DRAIN_SECONDS


def test_serve_stops_within_its_drain_bound_when_slack_does_not_take_an_answer(
    db_url: str, slack: FakeSlack, world: World
) -> None:
    slack.response_delay = 60  # longer than the answer's own timeout (30 s)
    output: list[str] = []
    with serving(db_url, slack, output) as send:
        reply = send.command("/brain", "run @sdr-emea", ADMIN)
        slack.wait_for(f"respond/{reply.response_url}", timeout=15)  # and waits for Slack
        stopping = time.monotonic()

    assert time.monotonic() - stopping < DRAIN_SECONDS + 5
    assert "shutting down with answers promised in acks unsent: 1" in output[0]


def test_a_cycle_asked_for_while_the_server_stops_is_left_to_the_next_sweep(
    db_url: str, engine: Engine, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World
) -> None:
    after_ack = AfterAck()
    app = create_app(slack_settings(db_url, slack), engine, after_ack=after_ack)
    after_ack.close()  # as stopping does, while Socket Mode still delivers commands
    with running(create_web_app(app, engine)) as url:
        reply = SlackSender(url, SIGNING_SECRET, slack).command("/brain", "run @sdr-emea", ADMIN)

    assert reply.text.startswith("Running sdr-emea now")
    [later] = slack.responses(reply.response_url)
    assert (later["text"], later["response_type"]) == (STOPPING, "ephemeral")
    with uow(readonly=True) as u:
        [held] = u.session.scalars(select(Intake)).all()
    # Released: the next sweep, of any serve, claims it at once.
    assert held.kind == "brain run" and held.done_at is None
    assert held.claimed_until is not None and held.claimed_until <= clock.now()
