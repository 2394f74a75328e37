"""`salesbrain serve --http` as an operator runs it: migrates, registers the bot's
workspace, and answers signed Slack requests on its port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SlackSender
from tests.slack.conftest import BOT_TOKEN, SIGNING_SECRET


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_http_answers_slack_on_a_fresh_database(tmp_path: Path, slack: FakeSlack) -> None:
    port = free_port()
    env = {
        **os.environ,
        "SALESBRAIN_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": slack.api_url,
    }
    env.pop("SLACK_APP_TOKEN", None)
    salesbrain = str(Path(sys.executable).parent / "salesbrain")
    command = [salesbrain, "serve", "--http", "--host", "127.0.0.1"]
    server = subprocess.Popen(
        [*command, "--port", str(port), "--no-scheduler"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
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
        reply = send.command("/brain", "agents", "U0SOMEONE")
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0]

    assert reply.status == 200 and "No agents yet" in reply.text
    assert BOT_TOKEN not in output and SIGNING_SECRET not in output
    assert '"asked": "/brain"' in output
