"""Two deliverers and a slow Slack: a claim that lapses half-way through a batch never
makes a report go out twice."""

from __future__ import annotations

import threading
import time
from collections import Counter

from sqlalchemy.engine import Engine

from bot.app import web_client
from bot.reports import SlackSink
from core import directory
from core.db import unit_of_work
from core.heartbeat import outbox
from core.heartbeat.backends.offline import OfflineBackend
from core.heartbeat.models import OutboxStatus
from tests.conftest import World
from tests.cycles import FAST, run_now
from tests.fakes.slack_api import FakeSlack
from tests.slack.conftest import BOT_TOKEN, slack_settings

CHANNEL = "C0REPORTS"
REPORTS = 8
# A batch of 8 posts at 0.5 s each takes 4 s; its claim lapses after 2.5 s. (Each message's
# claim is renewed for 2.5 s before its post: ample for one post, even on a loaded machine.)
SLOW = FAST.model_copy(update={"outbox_claim_seconds": 2.5, "outbox_batch": 50})


def test_two_deliverers_and_a_slow_slack_post_each_report_once(
    db_url: str, engine: Engine, world: World
) -> None:
    with unit_of_work(engine) as session:
        directory.update_agent(session, session.merge(world.workspace), "sdr-emea", channel=CHANNEL)
    cycle_ids = [
        run_now(engine, world.workspace, "sdr-emea", OfflineBackend())["id"] for _ in range(REPORTS)
    ]
    with FakeSlack() as slack:
        slack.api_delay = 0.5
        client = web_client(slack_settings(db_url, slack), BOT_TOKEN)
        sink = SlackSink(engine, lambda workspace: client)
        runs: list[outbox.DeliveryRun] = []
        until = time.monotonic() + 30  # bounded

        def deliverer(name: str) -> None:
            for _ in range(50):
                run = outbox.deliver_pending(engine, [sink], SLOW, name)
                runs.append(run)
                with unit_of_work(engine, readonly=True) as session:
                    if outbox.pending_count(session) == 0 or time.monotonic() > until:
                        return
                time.sleep(0.05)

        threads = [threading.Thread(target=deliverer, args=(f"w{i}",)) for i in range(2)]
        for thread in threads:
            thread.start()
            time.sleep(2.7)  # the second starts after the first's batch claim has lapsed
        for thread in threads:
            thread.join(timeout=40)
        posts = [c for c in slack.calls_to("chat.postMessage") if "thread_ts" not in c.args]

    headers = Counter(post.args["blocks"][0]["text"]["text"].split(" · ")[1] for post in posts)
    assert headers == Counter({f"cycle {cycle_id}": 1 for cycle_id in cycle_ids})
    assert sum(run.delivered for run in runs) == REPORTS
    assert sum(run.lost for run in runs) >= 1, "the second deliverer took over lapsed messages"
    with unit_of_work(engine, readonly=True) as session:
        assert outbox.pending_count(session) == 0
        statuses = {m.status for m in session.query(outbox.OutboxMessage)}
    assert statuses == {OutboxStatus.DELIVERED}
