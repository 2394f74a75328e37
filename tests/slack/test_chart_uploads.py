"""Charts uploaded into Slack threads: a report about a finding gets the finding's chart, a
weekly digest the team's weeks and its coaching's before and after; each once, whatever is
delivered again or by whom; nothing when there is nothing to draw; a failed upload never
touches the report. Through the server's own runner, against the fake Slack over HTTP."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from bot import charts
from bot.app import heartbeat_runner
from bot.runner import HeartbeatRunner
from core import chart_notices, clock, directory, notices
from core.db import UnitOfWork
from core.models import Notice, OutboxMessage, OutboxStatus, Workspace
from core.permissions import Actor
from tests.conftest import ADMIN, World
from tests.cycles import import_question_subject_effect
from tests.fakes.slack_api import FakeSlack, Upload
from tests.slack.conftest import slack_settings
from tests.test_chart_edges import png_size
from tests.test_digest import MONDAY_9, coached  # noqa: F401  (a fixture)
from tests.test_heartbeat_cycle import MONDAY

CHANNEL, TEAM_CHANNEL = "C0REPORTS", "C0EMEA"


def runner(db_url: str, engine: Engine, slack: FakeSlack, worker: str = "w1") -> HeartbeatRunner:
    """The heartbeat runner `salesbrain serve` builds (offline model), as one worker."""
    built = heartbeat_runner(slack_settings(db_url, slack, SALESBRAIN_LLM="offline"), engine)
    built.worker = worker
    return built


def set_channel(uow: Callable[..., UnitOfWork], handle: str, channel: str) -> None:
    with uow() as u:
        workspace = u.session.get_one(Workspace, u.workspaces.named_or_only("T0001").id)
        directory.update_agent(
            u.session, workspace, handle, channel=channel, by=Actor.member(ADMIN)
        )
        u.commit()


def reports(slack: FakeSlack, channel: str = CHANNEL) -> list[str]:
    """The ts of each top-level message posted in the channel."""
    return [
        str(m["ts"])
        for m in slack.messages.get(channel, [])
        if "thread_ts" not in m and "files" not in m
    ]


def chart_notices_of(uow: Callable[..., UnitOfWork]) -> dict[str, Any]:
    with uow(readonly=True) as u:
        found = u.session.scalars(select(Notice).where(Notice.destination.like("chart:%")))
        return {n.key: (n.text, n.status, n.delivered_ref or n.last_error) for n in found}


@pytest.fixture
def finding_report(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World, slack: FakeSlack, db_url: str
) -> HeartbeatRunner:
    """sdr-emea reports to CHANNEL and has signals whose analysis makes a finding at its
    next cycle; the server's runner, pointed at the fake Slack."""
    set_channel(uow, "sdr-emea", CHANNEL)
    import_question_subject_effect(engine)
    return runner(db_url, engine, slack)


def run_sdr(runner: HeartbeatRunner, at: Any = MONDAY) -> int:
    with clock.frozen_at(at):
        result = runner.run_agent("T0001", "sdr-emea")
    assert result is not None
    return result.cycle_id


def test_a_report_about_a_finding_gets_its_chart_in_its_thread_once_however_often_delivered(
    finding_report: HeartbeatRunner,
    db_url: str,
    engine: Engine,
    slack: FakeSlack,
    uow: Callable[..., UnitOfWork],
) -> None:
    cycle_id = run_sdr(finding_report)

    [report_ts] = reports(slack)
    [upload] = slack.uploads
    assert (upload.channel, upload.thread_ts) == (CHANNEL, report_ts)
    [(key, (what, status, ref))] = chart_notices_of(uow).items()
    assert key == f"chart:cycle:{cycle_id}" and status is OutboxStatus.DELIVERED
    finding = int(what.removeprefix("finding "))
    assert upload.filename == f"finding-{finding}.png" and ref == f"{CHANNEL}:{upload.file_id}"
    assert upload.title is not None and upload.title.startswith(f"Finding #{finding}: open rate")
    assert png_size(upload.data or b"") == (charts.WIDTH, charts.HEIGHT)
    assert len(upload.data or b"") == int(slack.calls_to("upload")[0].args["bytes"])

    # The report delivered again (its outbox message due once more), by two workers.
    with uow() as u:
        u.session.execute(
            update(OutboxMessage).values(
                status=OutboxStatus.PENDING, attempts=1, next_attempt_at=clock.now()
            )
        )
    finding_report.deliver()
    runner(db_url, engine, slack, "w2").deliver()
    # A deliverer that died after Slack took the chart, before it was marked posted.
    with uow() as u:
        u.session.execute(
            update(Notice)
            .where(Notice.destination.like("chart:%"))
            .values(status=OutboxStatus.PENDING, claimed_until=None)
        )
    runner(db_url, engine, slack, "w3").deliver()

    assert reports(slack) == [report_ts]
    assert len(slack.uploads) == 1 and len(slack.calls_to("files.getUploadURLExternal")) == 1
    # A later cycle with no new finding: its report, no chart.
    run_sdr(finding_report, MONDAY + timedelta(hours=1))
    assert len(reports(slack)) == 2 and len(slack.uploads) == 1
    assert len(chart_notices_of(uow)) == 1


def test_a_failed_upload_is_tried_again_and_the_report_stays_posted_once(
    finding_report: HeartbeatRunner, slack: FakeSlack, uow: Callable[..., UnitOfWork]
) -> None:
    # The client's own retries of Slack's 500, then a failure; then a 429 it waits out.
    slack.fail("files.getUploadURLExternal", 500, times=3)
    run_sdr(finding_report)

    [report_ts] = reports(slack)
    assert slack.uploads == []
    [(_, status, _)] = chart_notices_of(uow).values()
    assert status is OutboxStatus.PENDING
    with uow(readonly=True) as u:
        [message] = u.session.scalars(select(OutboxMessage))
        assert message.status is OutboxStatus.DELIVERED

    slack.fail("files.completeUploadExternal", 429, times=1, retry_after=1)
    with clock.frozen_at(clock.now() + timedelta(hours=1)):  # past the notice's backoff
        finding_report.deliver()

    first, second = slack.calls_to("files.completeUploadExternal")
    assert first.args["_failed"] == 429 and second.at - first.at >= 0.9
    [upload] = slack.uploads
    assert upload.thread_ts == report_ts and reports(slack) == [report_ts]


def test_a_channel_that_refuses_the_chart_gives_it_up_and_keeps_the_report(
    finding_report: HeartbeatRunner, slack: FakeSlack, uow: Callable[..., UnitOfWork]
) -> None:
    original = slack.answer

    def removed_after_the_report(method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "files.completeUploadExternal":
            slack.outside.add(CHANNEL)  # the bot was removed from the channel meanwhile
        return original(method, args)

    slack.answer = removed_after_the_report  # type: ignore[method-assign]
    run_sdr(finding_report)

    assert len(reports(slack)) == 1 and slack.uploads == []
    [(_, status, _)] = chart_notices_of(uow).values()
    assert status is OutboxStatus.FAILED  # given up: only a person can let the bot back in
    with uow(readonly=True) as u:
        [message] = u.session.scalars(select(OutboxMessage))
        assert message.status is OutboxStatus.DELIVERED  # the report is not blocked for it


def test_the_weekly_digest_carries_the_teams_chart_and_its_coachings_in_its_thread(
    coached: int,  # noqa: F811
    db_url: str,
    engine: Engine,
    slack: FakeSlack,
    uow: Callable[..., UnitOfWork],
) -> None:
    set_channel(uow, "dir-emea", TEAM_CHANNEL)
    workers = [runner(db_url, engine, slack, f"w{i}") for i in range(2)]

    for moment in (MONDAY_9, MONDAY_9 + timedelta(minutes=5)):
        with clock.frozen_at(moment):
            for worker in workers:
                worker.queue_digests()
                worker.deliver()

    [digest] = slack.calls_to("chat.postMessage")
    assert digest.args["channel"] == TEAM_CHANNEL
    assert "Coaching that moved a metric" in digest.args["text"]
    [digest_ts] = reports(slack, TEAM_CHANNEL)
    uploads = {u.filename: u for u in slack.uploads}
    assert set(uploads) == {"team-emea-weeks.png", f"coaching-{coached}.png"}
    for upload in uploads.values():
        assert (upload.channel, upload.thread_ts) == (TEAM_CHANNEL, digest_ts)
        assert png_size(upload.data or b"") == (charts.WIDTH, charts.HEIGHT)
    assert uploads["team-emea-weeks.png"].title == (
        "Team emea: cycles, learnings and promotions per week"
    )


def test_a_chart_with_nothing_to_draw_is_not_uploaded(
    db_url: str, engine: Engine, slack: FakeSlack, uow: Callable[..., UnitOfWork], world: World
) -> None:
    set_channel(uow, "dir-amer", "C0AMER")
    with clock.frozen_at(MONDAY_9):
        runner(db_url, engine, slack).queue_digests()
    # A quiet team's digest queues no chart; one queued for it anyway draws nothing.
    assert chart_notices_of(uow) == {}
    with clock.frozen_at(MONDAY_9):
        with uow() as u:
            workspace = u.session.get_one(Workspace, world.workspace.id)
            digest = u.session.scalars(select(Notice).where(Notice.destination == "slack:C0AMER"))
            parent = f"{chart_notices.KIND}:notice:{digest.one().id}"
            notices.post_once(u.session, workspace, "test:chart:team", parent, "team amer")
            u.commit()
        runner(db_url, engine, slack).deliver()

    assert [c.args["channel"] for c in slack.calls_to("chat.postMessage")] == ["C0AMER"]
    assert slack.uploads == [] and slack.calls_to("files.getUploadURLExternal") == []
    assert chart_notices_of(uow) == {
        "test:chart:team": ("team amer", OutboxStatus.DELIVERED, "nothing to chart")
    }


def test_matplotlib_is_imported_only_when_a_chart_is_drawn() -> None:
    # It takes seconds: the server, the Slack listeners and the command line start without it.
    code = (
        "import sys, bot.app, bot.cli, bot.reports, bot.server; "
        "sys.exit('matplotlib' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False, timeout=120).returncode == 0


def test_the_fake_slack_keeps_an_upload_only_once_it_is_shared(slack: FakeSlack) -> None:
    # files_upload_v2's three steps, as the fake answers them: a file not shared is no upload.
    shared = slack.answer("files.getUploadURLExternal", {"filename": "x.png", "length": "3"})
    assert shared["upload_url"].startswith(slack.url)
    assert slack.uploads == []
    assert slack.answer("files.completeUploadExternal", {"files": "[]"})["ok"] is False
    assert isinstance(slack.files[shared["file_id"]], Upload)
