"""Reports per second one `serve` replica delivers, at the pace it delivers them.

    .venv/bin/python bench/outbox_rate.py [--channels 100] [--reports-per-channel 3] \
        [--senders 1,8] [--slack-delay 0.1] [--database-url postgresql://...]

For each number of senders (`SALESBRAIN_HEARTBEAT_OUTBOX_SENDERS`), a fresh database gets
`--channels` agents, each reporting to its own channel, and `--reports-per-channel` cycles
each (offline backend). The reports are then delivered through the real SlackSink to the
fake Slack on 127.0.0.1, which answers every Web API call after `--slack-delay` seconds, on
the serve process's schedule: a delivery pass every 5 s (bot/runner.py DELIVERY_SECONDS),
until none is left. The rate is the reports delivered over the time from the first pass to
the end of the last one. `--database-url` names an empty database per run with
`{senders}` in it (postgresql+psycopg://.../rate{senders}); the default is a SQLite file.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import web_client  # noqa: E402
from bot.reports import SlackSink  # noqa: E402
from bot.runner import DELIVERY_SECONDS  # noqa: E402
from core import clock, directory  # noqa: E402
from core.db import make_engine, unit_of_work  # noqa: E402
from core.heartbeat import leases, outbox  # noqa: E402
from core.heartbeat.backends.offline import OfflineBackend  # noqa: E402
from core.heartbeat.config import HeartbeatSettings  # noqa: E402
from core.heartbeat.cycle import run_cycle  # noqa: E402
from core.models import Agent  # noqa: E402
from core.settings import Settings  # noqa: E402
from migrations import schema  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402

# Bounded: a run that has not delivered everything after this many passes stops.
MAX_PASSES = 200


def queue_reports(url: str, channels: int, per_channel: int) -> int:
    """An empty database given `channels` agents and their cycles' reports queued; how many."""
    schema.upgrade(url)
    engine = make_engine(url)
    with unit_of_work(engine) as session:
        workspace = directory.create_workspace(session, "T0RATE", "Rate")
        directory.create_team(session, workspace, "emea", "EMEA")
        for n in range(channels):
            directory.create_agent(
                session, workspace, f"sdr-{n}", team="emea", role="sdr", channel=f"C{n:08d}"
            )
    settings = HeartbeatSettings(lease_seconds=120)
    with unit_of_work(engine, readonly=True) as session:
        agents = list(session.query(Agent).order_by(Agent.id))
    for _ in range(per_channel):
        for agent in agents:
            with unit_of_work(engine) as session:
                claim = leases.claim_agent(
                    session, session.merge(agent), "bench", now=clock.now(), lease_seconds=120
                )
            run_cycle(engine, claim, OfflineBackend(), settings)
    engine.dispose()
    return channels * per_channel


def deliver_all(url: str, api_url: str, senders: int) -> tuple[int, float, int]:
    """Deliver every queued report as serve does; (delivered, seconds, passes)."""
    engine = make_engine(url)
    settings = Settings.model_validate({"SALESBRAIN_DATABASE_URL": url, "SLACK_API_URL": api_url})
    client = web_client(settings, "xoxb-bench")
    sink = SlackSink(engine, lambda _: client)
    heartbeat = HeartbeatSettings(outbox_senders=senders)
    delivered, passes = 0, 0
    started = time.perf_counter()
    ended = started
    while passes < MAX_PASSES:
        passes += 1
        pass_started = time.perf_counter()
        run = outbox.deliver_pending(engine, [sink], heartbeat, f"bench-{senders}")
        ended = time.perf_counter()
        delivered += run.delivered
        with unit_of_work(engine, readonly=True) as session:
            if outbox.pending_count(session) == 0:
                break
        time.sleep(max(0.0, pass_started + DELIVERY_SECONDS - time.perf_counter()))
    engine.dispose()
    return delivered, ended - started, passes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--channels", type=int, default=100)
    parser.add_argument("--reports-per-channel", type=int, default=3)
    parser.add_argument("--senders", default="1,8")
    parser.add_argument("--slack-delay", type=float, default=0.1)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as slack:
        slack.api_delay = args.slack_delay
        for senders in [int(n) for n in args.senders.split(",")]:
            url = (args.database_url or f"sqlite:///{tmp}/rate-{{senders}}.db").format(
                senders=senders
            )
            queued = queue_reports(url, args.channels, args.reports_per_channel)
            posts_before = len(slack.calls_to("chat.postMessage"))
            delivered, seconds, passes = deliver_all(url, slack.api_url, senders)
            posts = len(slack.calls_to("chat.postMessage")) - posts_before
            print(
                f"database: {url.split(':', 1)[0]}; senders {senders}: {delivered}/{queued} "
                f"reports ({posts} posts) in {seconds:.1f} s ({passes} passes): "
                f"{delivered / seconds:.1f} reports/s"
            )


if __name__ == "__main__":
    main()
