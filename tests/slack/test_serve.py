"""`salesbrain serve --http` as an operator runs it: migrates, registers the bot's
workspace, answers signed Slack requests on its port, and on SIGTERM stores and confirms
the notes it acknowledged before it exits."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from subprocess import Popen

from core import memory
from core.db import UnitOfWork
from tests.conftest import EMEA_MANAGER, World
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SlackSender
from tests.fakes.socket_mode import FakeSocketMode
from tests.slack.conftest import BOT_TOKEN, SIGNING_SECRET


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


@contextmanager
def serving(database_url: str, slack: FakeSlack, output: list[str]) -> Iterator[SlackSender]:
    """`serve --http` in a process of its own, stopped with SIGTERM at the end; what it
    printed is appended to `output`."""
    port = free_port()
    server = start_serve(database_url, slack, "--http", "--host", "127.0.0.1", "--port", str(port))
    try:
        send = SlackSender(f"http://127.0.0.1:{port}", SIGNING_SECRET, slack)
        deadline = time.monotonic() + 30
        while True:
            try:
                if send.get("/healthz").status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "serve did not start"
            time.sleep(0.1)
        yield send
    finally:
        server.terminate()
        output.append(server.communicate(timeout=30)[0])


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
    with FakeSocketMode() as socket:
        slack.socket_url = socket.url
        server = start_serve(db_url, slack, "--socket", SLACK_APP_TOKEN="xapp-test-app-token")
        try:
            socket.wait_connected(timeout=30)
            command = {"team_id": "T0001", "user_id": EMEA_MANAGER, "channel_id": "C0001"}
            for n in range(5):
                socket.deliver(
                    "slash_commands",
                    {
                        **command,
                        "command": "/coach",
                        "text": f"@sdr-emea Note {n}",
                        "response_url": slack.response_url(f"s{n}"),
                        "trigger_id": f"t{n}",
                    },
                )
        finally:
            server.terminate()
            output = server.communicate(timeout=30)[0]

    assert server.returncode == 0, output
    assert "salesbrain: stopping" in output and "Traceback" not in output
    with uow(readonly=True) as u:
        stored = sorted(b.content for b in memory.list_blocks(u.session, world.workspace))
    assert stored == [f"Note {n}" for n in range(5)]
    assert all(len(slack.responses(f"s{n}")) == 1 for n in range(5))
