"""The weekly digest and the coaching commands as a user runs them: what they print, when
the scheduler posts a digest (once, however many ticks and workers), and the refusals."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.cli import main
from bot.runner import HeartbeatRunner
from core import clock, directory, restatements
from core.db import UnitOfWork
from core.heartbeat.backends.offline import OfflineBackend
from core.heartbeat.outbox import CONSOLE
from core.models import MemoryBlock, Notice, OutboxStatus, Workspace
from core.notices import ConsolePoster
from core.permissions import Actor
from core.signals import import_signals
from tests.conftest import ADMIN, EMEA_MANAGER, World
from tests.cycles import FAST
from tests.test_coaching_impact import HEADER, NOTE_AT, coach_sdr, sdr_cycle, send_rows

# A Monday 09:00 UTC, the default slot.
MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
WS = ("--workspace", "T0001")


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def coached(engine: Engine, uow: Callable[..., UnitOfWork], world: World, cli_env: str) -> int:
    """A coaching note on sdr-emea with results before and after it; the command line
    pointed at the same database."""
    note = coach_sdr(uow, "Lead with the compliance angle when you write to healthcare CTOs.")
    with_note = [sdr_cycle(uow, world, NOTE_AT + timedelta(days=d), [note]) for d in (1, 2)]
    rows = [HEADER.strip()]
    send_rows(rows, "old", 400, NOTE_AT - timedelta(days=20), 0.02, [None])
    send_rows(rows, "new", 300, NOTE_AT + timedelta(days=1), 0.12, with_note)
    assert import_signals(engine, "T0001", [row + "\n" for row in rows]).bad == []
    return note


def test_coaching_impact_prints_each_notes_rates_and_json_for_scripts(
    coached: int, capsys: pytest.CaptureFixture[str]
) -> None:
    note = coached

    code, out, err = _cli(capsys, "coaching", "impact", "--workspace", "T0001")
    assert (code, err) == (0, "")
    assert f"#{note} to sdr-emea by {EMEA_MANAGER}" in out
    assert "With the note: better than before it." in out

    code, out, _ = _cli(capsys, "coaching", "impact", "--agent", "sdr-emea", "--json", *WS)
    [shown] = json.loads(out)["notes"]
    assert shown["block_id"] == note and shown["with"]["sends"] > 250
    assert shown["without"]["sends"] == 0
    assert [c["verdict"] for c in shown["comparisons"]] == [
        "not enough evidence yet",
        "better",
    ]

    code, _, err = _cli(capsys, "coaching", "impact", "--agent", "sdr-nobody", *WS)
    assert code == 4 and err.startswith("error: ") and len(err.splitlines()) == 1


def test_memory_show_gives_a_coaching_notes_impact_and_the_cycles_that_confirmed_a_block(
    coached: int,
    uow: Callable[..., UnitOfWork],
    world: World,
    capsys: pytest.CaptureFixture[str],
) -> None:
    note = coached
    with uow() as u:
        workspace = u.session.get_one(Workspace, world.workspace.id)
        block = u.session.get_one(MemoryBlock, note)
        restatements.confirm(u.session, workspace, block, Actor.agent("sdr-emea"), "cycle:7")
        u.commit()

    code, out, _ = _cli(capsys, "memory", "show", str(note), "--workspace", "T0001")
    assert code == 0
    assert "in 1: cycle 7 (sdr-emea)" in out
    assert f"sends written with coaching #{note}" in out

    _, out, _ = _cli(capsys, "memory", "show", str(note), "--workspace", "T0001", "--json")
    shown = json.loads(out)["block"]
    assert shown["confirmed_by"][0]["cycle"] == 7
    assert shown["impact"]["block_id"] == note


def test_digest_prints_the_teams_week_in_its_sections(
    coached: int, capsys: pytest.CaptureFixture[str]
) -> None:
    note = coached

    with clock.frozen_at(NOTE_AT + timedelta(days=6)):
        code, out, err = _cli(capsys, "digest", "--team", "emea", "--workspace", "T0001")

    assert (code, err) == (0, "")
    for title in (
        "What the team's brain learned",
        "Coaching that moved a metric",
        "Promoted to the Team Brain",
        "Findings superseded",
        "Stale Team Brain copies",
        "Blocks that never surfaced",
        "Proposals still waiting",
    ):
        assert f"{title}:" in out
    assert f"#{note} to sdr-emea: sends written with coaching #{note}" in out

    code, _, err = _cli(capsys, "digest", "--team", "apac", "--workspace", "T0001")
    assert code == 4 and "apac" in err


def test_only_an_admin_sets_when_the_digest_is_posted_and_a_bad_day_is_bad_input(
    world: World, cli_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _cli(capsys, "workspace", "set", "--digest-day", "fri", "--by", ADMIN, *WS)
    assert code == 0
    assert out.endswith("weekly digests: fri at 09:00 UTC\n")
    code, _, err = _cli(capsys, "workspace", "set", "--digest-hour", "7", "--by", EMEA_MANAGER, *WS)
    assert code == 3 and len(err.splitlines()) == 1
    code, _, err = _cli(capsys, "workspace", "set", "--digest-day", "someday", "--by", ADMIN, *WS)
    assert code == 2 and "one of mon, tue" in err
    code, _, err = _cli(capsys, "workspace", "set", "--digest-hour", "24", "--by", ADMIN, *WS)
    assert code == 2 and "0 to 23" in err
    _, out, _ = _cli(
        capsys, "workspace", "set", "--digest-hour", "16", "--by", ADMIN, *WS, "--json"
    )
    assert json.loads(out)["digest"] == {"day": "fri", "hour": 16}


def test_the_digest_is_posted_once_at_its_slot_by_however_many_ticks_and_workers(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World
) -> None:
    with uow() as u:
        workspace = u.session.get_one(Workspace, world.workspace.id)
        directory.update_agent(
            u.session, workspace, "dir-emea", channel="C0EMEA", by=Actor.member(ADMIN)
        )
        u.commit()
    out = io.StringIO()
    workers = [
        HeartbeatRunner(
            engine,
            OfflineBackend(),
            FAST,
            posts={CONSOLE: ConsolePoster(out)},
            worker=f"w{i}",
            workspace_id=world.workspace.id,
        )
        for i in range(2)
    ]

    with clock.frozen_at(MONDAY_9 - timedelta(minutes=5)):
        assert workers[0].queue_digests() == []  # not yet
    for moment in (MONDAY_9, MONDAY_9 + timedelta(minutes=5), MONDAY_9 + timedelta(hours=3)):
        with clock.frozen_at(moment):
            for worker in workers:
                worker.queue_digests()
                worker.deliver()
    with clock.frozen_at(MONDAY_9 + timedelta(days=2)):
        assert workers[1].queue_digests() == []  # a missed slot is not posted days later

    with uow(readonly=True) as u:
        posted = {n.key: (n.destination, n.status) for n in u.session.scalars(select(Notice))}
    assert posted == {
        "digest:emea:2026-11-23": ("slack:C0EMEA", OutboxStatus.PENDING),  # for Slack
        "digest:amer:2026-11-23": (CONSOLE, OutboxStatus.DELIVERED),  # no channel: console
    }
    assert out.getvalue().count("Weekly digest of Americas Sales (amer)") == 1
