"""The window between Slack accepting a report and salesbrain storing its ts.

    .venv/bin/python bench/outbox_window.py [--reports 200] [--database-url postgresql://...]

A deliverer that dies inside this window leaves a report Slack has but the outbox does not
know about: when its claim lapses, another deliverer posts it again. The window is what the
SlackSink does after chat.postMessage returns: one small transaction storing the ts. This
delivers `--reports` reports through the real SlackSink to the fake Slack on 127.0.0.1 and
times that transaction for each (Slack's own latency, from its accepting the post to its
answer reaching us, comes on top in production).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import web_client  # noqa: E402
from bot.reports import SlackSink  # noqa: E402
from core import clock, directory  # noqa: E402
from core.db import make_engine, unit_of_work  # noqa: E402
from core.heartbeat import leases, outbox  # noqa: E402
from core.heartbeat.backends.offline import OfflineBackend  # noqa: E402
from core.heartbeat.config import HeartbeatSettings  # noqa: E402
from core.heartbeat.cycle import run_cycle  # noqa: E402
from core.settings import Settings  # noqa: E402
from migrations import schema  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402

SETTINGS = HeartbeatSettings(lease_seconds=120, outbox_batch=1000)


class TimedSink(SlackSink):
    """The SlackSink, timing the transaction that stores a posted report's ts."""

    windows: list[float] = []

    def _remember_report(self, cycle_id: int, channel: str, ts: str) -> None:
        started = time.perf_counter()
        super()._remember_report(cycle_id, channel, ts)
        self.windows.append((time.perf_counter() - started) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=200)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/window.db"
        schema.upgrade(url)
        engine = make_engine(url)
        with unit_of_work(engine) as session:
            workspace = directory.create_workspace(session, "T0WINDOW", "Window")
            directory.create_team(session, workspace, "emea", "EMEA")
            agent = directory.create_agent(
                session, workspace, "sdr-emea", team="emea", role="sdr", channel="C0REPORTS"
            )
        for _ in range(args.reports):
            with unit_of_work(engine) as session:
                claim = leases.claim_agent(
                    session, session.merge(agent), "bench", now=clock.now(), lease_seconds=120
                )
            run_cycle(engine, claim, OfflineBackend(), SETTINGS)
        with FakeSlack() as slack:
            settings = Settings.model_validate(
                {"SALESBRAIN_DATABASE_URL": url, "SLACK_API_URL": slack.api_url}
            )
            client = web_client(settings, "xoxb-bench")
            sink = TimedSink(engine, lambda _: client)
            run = outbox.deliver_pending(engine, [sink], SETTINGS, "bench")
        engine.dispose()
    windows = sorted(TimedSink.windows)
    print(f"database: {url.split(':', 1)[0]}; reports delivered: {run.delivered}")
    print(
        "window from Slack's answer to the stored ts, ms: "
        f"p50 {statistics.median(windows):.2f}, "
        f"p95 {windows[round(0.95 * (len(windows) - 1))]:.2f}, max {windows[-1]:.2f}"
    )


if __name__ == "__main__":
    main()
