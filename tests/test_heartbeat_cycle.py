"""The cycle with the offline backend: memory shapes it, and it writes memory and tasks."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.cli.views import block_dict
from core import clock, directory, tasks, use_cases
from core.coaching import coach_one
from core.context import assemble_context
from core.db import UnitOfWork, unit_of_work
from core.directory import OPERATOR, Names
from core.heartbeat import leases
from core.heartbeat.backends import Reasoning
from core.heartbeat.backends.offline import OfflineBackend
from core.heartbeat.brain import Brain
from core.heartbeat.cycle import run_cycle
from core.heartbeat.tools import Toolbox
from core.models import Agent, AuditEvent, MemoryBlock, TaskStatus
from core.permissions import Actor
from core.signals import import_signals
from core.signals.simulation import Campaign, as_csv, simulate
from tests.conftest import EMEA_MANAGER, World
from tests.cycles import (
    FAST,
    all_tasks,
    blocks,
    cycles,
    import_question_subject_effect,
    outbox_of,
    run_now,
    set_autonomy,
)

OFFLINE = OfflineBackend()
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _coach(engine: Engine, world: World, handle: str, text: str) -> int:
    with unit_of_work(engine) as session:
        block = coach_one(session, world.workspace, handle, text, by=Actor.member(EMEA_MANAGER))
        return block.id


def _task(engine: Engine, world: World, handle: str, title: str, detail: str = "") -> int:
    with unit_of_work(engine) as session:
        return tasks.add_task(session, world.workspace, handle, title, detail=detail).id


def test_coaching_surfaces_in_the_next_cycle_and_is_counted(engine: Engine, world: World) -> None:
    with clock.frozen_at(MONDAY):
        block_id = _coach(engine, world, "sdr-emea", "Lead with compliance for healthcare CTOs")
    with clock.frozen_at(MONDAY + timedelta(hours=1)):
        cycle = run_now(engine, world.workspace, "sdr-emea", OFFLINE)

    assert cycle["status"] == "succeeded"
    [shown] = [b for b in cycle["context"]["blocks"] if b["id"] == block_id]
    assert shown["type"] == "coaching"
    assert {"importance", "recency", "relevance", "score"} <= set(shown)
    assert cycle["context"]["new_coaching"] == [block_id]
    assert f"coaching #{block_id}" in cycle["report"]
    assert "Lead with compliance" in cycle["report"]
    report = outbox_of(engine, cycle["id"])
    assert report is not None and f"#{block_id} coaching" in report.text

    with clock.frozen_at(MONDAY + timedelta(hours=2)):
        again = run_now(engine, world.workspace, "sdr-emea", OFFLINE)
    assert again["context"]["new_coaching"] == []  # no longer new, still in context
    assert block_id in [b["id"] for b in again["context"]["blocks"]]
    [coached] = [b for b in blocks(engine) if b.id == block_id]
    assert coached.times_surfaced == 2
    assert coached.last_surfaced_at == MONDAY + timedelta(hours=2)


def test_a_slack_report_is_queued_as_its_cycle_and_a_console_report_as_its_text(
    engine: Engine, world: World
) -> None:
    with clock.frozen_at(MONDAY), unit_of_work(engine) as session:
        directory.update_agent(session, world.workspace, "sdr-emea", channel="C0SALES")
    with clock.frozen_at(MONDAY + timedelta(hours=1)):
        to_slack = run_now(engine, world.workspace, "sdr-emea", OFFLINE)
        to_console = run_now(engine, world.workspace, "ae-emea", OFFLINE)

    slack, console = outbox_of(engine, to_slack["id"]), outbox_of(engine, to_console["id"])
    assert slack is not None and console is not None
    assert (slack.destination, slack.cycle_id, slack.text) == ("slack:C0SALES", to_slack["id"], "")
    assert console.destination == "console" and "ae-emea · cycle" in console.text


def test_offline_reasoning_changes_when_memory_changes(engine: Engine, world: World) -> None:
    task = "Write first-touch emails to healthcare CTOs"
    with clock.frozen_at(MONDAY):
        _task(engine, world, "sdr-emea", task)
        bare = run_now(engine, world.workspace, "sdr-emea", OFFLINE)
        block_id = _coach(engine, world, "sdr-emea", "Open with the audit trail for healthcare")
        _task(engine, world, "sdr-emea", task)
    with clock.frozen_at(MONDAY + timedelta(minutes=5)):
        coached = run_now(engine, world.workspace, "sdr-emea", OFFLINE)

    assert "no guidance in memory yet" in bare["report"]
    assert f"coaching #{block_id}" in coached["report"]
    [done_bare, done_coached] = [t for t in all_tasks(engine) if t.title == task]
    assert "no guidance" in (done_bare.outcome or "")
    assert "Open with the audit trail" in (done_coached.outcome or "")


def test_a_handoff_reaches_the_other_agents_next_brain_assembly(
    engine: Engine, world: World
) -> None:
    with clock.frozen_at(MONDAY):
        _coach(engine, world, "sdr-emea", "Lead with compliance for healthcare CTOs")
        reply = _task(
            engine,
            world,
            "sdr-emea",
            "Reply from Dana (Mercy Health): interested in a demo",
            "Dana: Tuesday works.",
        )
        sdr_cycle = run_now(engine, world.workspace, "sdr-emea", OFFLINE)
    [handoff_id] = sdr_cycle["handoff_task_ids"]
    handoff = next(t for t in all_tasks(engine) if t.id == handoff_id)
    assert (handoff.agent_id, handoff.from_agent_id) == (world.ae.id, world.sdr.id)
    assert handoff.title.startswith("Follow up: Reply from Dana")
    assert "Tuesday works" in handoff.detail
    assert next(t for t in all_tasks(engine) if t.id == reply).status is TaskStatus.DONE

    with clock.frozen_at(MONDAY + timedelta(hours=1)):
        ae_cycle = run_now(engine, world.workspace, "ae-emea", OFFLINE)
    assert ae_cycle["task"]["id"] == handoff_id
    assert ae_cycle["context"]["open_tasks"] == [
        {"id": handoff_id, "title": handoff.title, "from_agent": "sdr-emea"}
    ]
    assert ae_cycle["handoff_task_ids"] == []  # not sent straight back to the SDR
    assert next(t for t in all_tasks(engine) if t.id == handoff_id).status is TaskStatus.DONE

    # The SDR's next cycle sees the outcome in the task's record; it is no learning (an echo
    # of a hand-off carries no knowledge and would outrank what does).
    with clock.frozen_at(MONDAY + timedelta(hours=2)):
        sdr_next = run_now(engine, world.workspace, "sdr-emea", OFFLINE)
    assert sdr_next["context"]["outcomes"] == [handoff_id]
    assert sdr_next["new_block_ids"] == []
    assert not [b for b in blocks(engine) if b.type.value == "learning"]


def test_changing_the_model_changes_the_next_cycle_and_nothing_in_memory(
    engine: Engine, world: World
) -> None:
    with clock.frozen_at(MONDAY):
        _coach(engine, world, "sdr-emea", "Lead with compliance for healthcare CTOs")
        first = run_now(engine, world.workspace, "sdr-emea", OFFLINE)

    def snapshot() -> tuple[list[dict[str, object]], list[tuple[int, float]]]:
        with unit_of_work(engine, readonly=True) as session:
            names = Names.of(session, world.workspace)
            stored = [
                block_dict(b, names)
                for b in session.scalars(select(MemoryBlock).order_by(MemoryBlock.id))
            ]
            agent = session.get_one(Agent, world.sdr.id)
            with clock.frozen_at(MONDAY + timedelta(hours=1)):
                context = assemble_context(session, agent, "Book healthcare meetings")
            return stored, [(b.id, b.score) for b in context.blocks]

    before = snapshot()
    with clock.frozen_at(MONDAY + timedelta(minutes=30)), unit_of_work(engine) as session:
        directory.update_agent(session, world.workspace, "sdr-emea", model="claude-opus-5")
    assert snapshot() == before

    with clock.frozen_at(MONDAY + timedelta(hours=1)):
        second = run_now(engine, world.workspace, "sdr-emea", OFFLINE)
    assert (first["model"], second["model"]) == ("claude-sonnet-5-5", "claude-opus-5")
    assert [b["id"] for b in first["context"]["blocks"]] == [
        b["id"] for b in second["context"]["blocks"]
    ]


def test_a_deprecated_model_is_named_in_the_report_with_the_date_and_the_upgrade(
    engine: Engine, world: World
) -> None:
    # A week before claude-sonnet-4-5's end of life (the fixture table's record of it).
    with clock.frozen_at(MONDAY), unit_of_work(engine) as session:
        directory.update_agent(session, world.workspace, "sdr-emea", model="claude-sonnet-4-5")
    with clock.frozen_at(MONDAY):
        cycle = run_now(engine, world.workspace, "sdr-emea", OFFLINE)
    report = outbox_of(engine, cycle["id"])
    assert report is not None
    assert cycle["status"] == "succeeded"
    assert "claude-sonnet-4-5, which reaches end of life on 2026-11-30" in report.text
    assert "salesbrain agent set sdr-emea --model claude-sonnet-5-5" in report.text


def test_the_day_after_its_end_of_life_the_agents_cycle_fails_and_says_how_to_upgrade(
    engine: Engine, world: World
) -> None:
    with clock.frozen_at(MONDAY), unit_of_work(engine) as session:
        directory.update_agent(session, world.workspace, "sdr-emea", model="claude-sonnet-4-5")
    with clock.frozen_at(datetime(2026, 12, 1, 9, 0, tzinfo=UTC)):
        cycle = run_now(engine, world.workspace, "sdr-emea", OFFLINE)
    assert cycle["status"] == "failed" and cycle["tool_calls"] == []
    assert cycle["error"] == (
        "model retired on 2026-11-30: `salesbrain agent set sdr-emea --model claude-sonnet-5-5`"
    )
    report = outbox_of(engine, cycle["id"])
    assert report is not None and f"Failed: {cycle['error']}" in report.text


def test_a_worker_whose_lease_lapsed_writes_nothing(engine: Engine, world: World) -> None:
    _task(engine, world, "sdr-emea", "Reply from Dana: interested")
    with clock.frozen_at(MONDAY), unit_of_work(engine) as session:
        agent = session.get_one(Agent, world.sdr.id)
        slow = leases.claim_agent(session, agent, "slow", now=MONDAY, lease_seconds=60)
    with clock.frozen_at(MONDAY + timedelta(seconds=61)), unit_of_work(engine) as session:
        agent = session.get_one(Agent, world.sdr.id)
        leases.claim_agent(session, agent, "fast", now=clock.now(), lease_seconds=60)
    before = (len(blocks(engine)), len(all_tasks(engine)))
    with clock.frozen_at(MONDAY + timedelta(seconds=62)):
        result = run_cycle(engine, slow, OFFLINE, FAST)
    assert result is not None and result.status.value == "skipped"
    assert (len(blocks(engine)), len(all_tasks(engine))) == before
    assert all(t.status is TaskStatus.OPEN for t in all_tasks(engine))
    [skipped] = cycles(engine)
    assert "another worker took the agent" in (skipped.error or "")
    assert outbox_of(engine, skipped.id) is None
    with unit_of_work(engine, readonly=True) as session:
        assert (session.get_one(Agent, world.sdr.id).lease_owner or "").startswith("fast/")


def test_new_findings_become_a_learning_and_the_director_promotes_the_team_pattern(
    engine: Engine, world: World
) -> None:
    import_question_subject_effect(engine)

    with clock.frozen_at(MONDAY):
        sdr = run_now(engine, world.workspace, "sdr-emea", OFFLINE)
    [finding_id] = sdr["context"]["findings"]
    # The rule the SDR takes from it quotes the finding: it confirms the finding's block
    # instead of storing a copy whose numbers would freeze.
    [learned] = [c for c in sdr["tool_calls"] if c["name"] == "record_learning"]
    assert learned["input"]["content"].startswith('Write "question" subject lines: Subject lines')
    assert (learned["status"], learned["confirmed_block_id"]) == ("applied", finding_id)
    assert learned["result"].startswith(f"ok: block {finding_id} (personal learning) already says")
    assert sdr["new_block_ids"] == []
    assert not [b for b in blocks(engine) if b.source_kind.value == "agent_cycle"]
    with unit_of_work(engine, readonly=True) as session:
        confirmed = session.scalars(select(AuditEvent).where(AuditEvent.action == "confirm"))
        assert [(e.actor, e.target, e.detail) for e in confirmed] == [
            ("agent:sdr-emea", f"block:{finding_id}", f"cycle:{sdr['id']}")
        ]
    report = outbox_of(engine, sdr["id"])
    assert report is not None and f"confirmed block {finding_id} (it already says" in report.text
    with clock.frozen_at(MONDAY + timedelta(hours=1)):
        assert run_now(engine, world.workspace, "sdr-emea", OFFLINE)["new_block_ids"] == []
        run_now(engine, world.workspace, "ae-emea", OFFLINE)
        director = run_now(engine, world.workspace, "dir-emea", OFFLINE)

    assert director["context"]["candidates"]
    [proposal] = [c for c in director["tool_calls"] if c["name"] == "propose_promotion"]
    # The workspace's autonomy is `propose`: the promotion waits for a manager.
    assert proposal["status"] == "applied" and "block_id" not in proposal
    assert "waits for a manager's approval" in proposal["result"]
    assert not [b for b in blocks(engine) if b.tier.value == "team"]
    [waiting] = use_cases.director_proposals(UnitOfWork(engine), "T0001", "pending")
    approved = use_cases.approve_proposal(
        UnitOfWork(engine), "T0001", waiting.id, Actor.member(EMEA_MANAGER)
    )
    [promoted] = [b for b in blocks(engine) if b.id == approved.block_id]
    assert (promoted.tier.value, promoted.team_id) == ("team", world.emea.id)
    assert promoted.promoted_by == "dir-emea"
    assert promoted.promoted_from_id == proposal["input"]["block_id"]
    with clock.frozen_at(MONDAY + timedelta(hours=2)):
        again = run_now(engine, world.workspace, "dir-emea", OFFLINE)
    assert proposal["input"]["block_id"] not in again["context"]["candidates"]


class RacedByAnOperator:
    """Learns twice and completes its task, while an operator completes that task first."""

    name = "raced"

    def __init__(self, engine: Engine, world: World) -> None:
        self.engine, self.world = engine, world

    def reason(self, brain: Brain, toolbox: Toolbox, *, seconds_left: float) -> Reasoning:
        assert brain.task is not None
        toolbox.call(
            "record_learning", {"content": "Audit-trail openers get replies", "importance": 0.5}
        )
        toolbox.call("complete_task", {"task_id": brain.task.id, "outcome": "Wrote to Dana"})
        toolbox.call("record_learning", {"content": "Tuesday sends get opened", "importance": 0.5})
        toolbox.call("finish_cycle", {"summary": "Wrote to Dana."})
        with unit_of_work(self.engine) as session:
            tasks.complete_task(
                session, self.world.workspace, brain.task.id, "by hand", by=OPERATOR
            )
        return Reasoning(self.name, brain.model)


def test_a_call_refused_when_the_cycle_writes_leaves_the_rest_of_the_cycle_standing(
    engine: Engine, world: World
) -> None:
    task_id = _task(engine, world, "sdr-emea", "Write to Dana at Mercy Health")
    cycle = run_now(engine, world.workspace, "sdr-emea", RacedByAnOperator(engine, world))

    assert cycle["status"] == "succeeded"
    statuses = [(call["name"], call["status"]) for call in cycle["tool_calls"]]
    assert statuses == [
        ("record_learning", "applied"),
        ("complete_task", "refused"),
        ("record_learning", "applied"),
        ("finish_cycle", "applied"),
    ]
    assert "is already done" in cycle["tool_calls"][1]["result"]
    learned = [b for b in blocks(engine) if b.id in cycle["new_block_ids"]]
    assert [b.content for b in learned] == [
        "Audit-trail openers get replies",
        "Tuesday sends get opened",
    ]
    assert all(b.source_ref == f"cycle:{cycle['id']}" for b in learned)
    [task] = [t for t in all_tasks(engine) if t.id == task_id]
    assert task.outcome == "by hand"
    with unit_of_work(engine, readonly=True) as session:
        refused = list(session.scalars(select(AuditEvent).where(AuditEvent.outcome == "refused")))
    assert [(e.action, e.target) for e in refused] == [
        ("tool.complete_task", f"cycle:{cycle['id']}")
    ]
    report = outbox_of(engine, cycle["id"])
    assert report is not None and "complete_task: task" in report.text


def test_the_director_refreshes_a_team_copy_whose_finding_moved_and_flags_one_that_stopped(
    engine: Engine, world: World
) -> None:
    first = Campaign(
        agents=("sdr-emea", "ae-emea"),
        sends_per_agent=600,
        effects={"subject_format": {"question": 0.45}},
        objections={},
        id_prefix="a-",
    )
    more = replace(first, seed=7, id_prefix="b-", start=first.start + timedelta(days=20))
    set_autonomy(engine, "apply")  # the director promotes at once
    reversal = replace(
        first,
        seed=2,
        id_prefix="c-",
        sends_per_agent=6_000,
        effects={"subject_format": {"question": 0.08}},
    )

    def team_cycles(campaign: Campaign, day: int) -> dict[str, Any]:
        assert import_signals(engine, "T0001", as_csv(simulate(campaign))).bad_total == 0
        with clock.frozen_at(MONDAY + timedelta(days=day)):
            run_now(engine, world.workspace, "sdr-emea", OFFLINE)
            run_now(engine, world.workspace, "ae-emea", OFFLINE)
            return run_now(engine, world.workspace, "dir-emea", OFFLINE)

    promoted = team_cycles(first, 0)
    [proposal] = [c for c in promoted["tool_calls"] if c["name"] == "propose_promotion"]
    copy_id = proposal["block_id"]
    assert promoted["context"]["stale"] == []

    refreshing = team_cycles(more, 1)

    assert refreshing["context"]["stale"] == [copy_id]
    [refresh] = [c for c in refreshing["tool_calls"] if c["name"] == "refresh_team_copy"]
    assert (refresh["status"], refresh["block_id"]) == ("applied", copy_id)
    assert f"refreshed team brain block {copy_id} from its finding" in refreshing["actions"]
    by_id = {block.id: block for block in blocks(engine)}
    copy = by_id[copy_id]
    assert copy.content == by_id[copy.promoted_from_id or 0].content
    assert copy.updated_at == MONDAY + timedelta(days=1)

    stopped = team_cycles(reversal, 2)

    assert stopped["context"]["stale"] == [copy_id]
    assert not [c for c in stopped["tool_calls"] if c["name"] == "refresh_team_copy"]
    assert (
        f"Team brain block {copy_id} no longer matches its finding: a manager may archive it "
        f"(/brain forget {copy_id})."
    ) in stopped["report"]
    assert {block.id: block for block in blocks(engine)}[copy_id].content == copy.content


class Learns:
    """Records the given learnings, then finishes."""

    name = "learns"

    def __init__(self, *contents: str) -> None:
        self.contents = contents

    def reason(self, brain: Brain, toolbox: Toolbox, *, seconds_left: float) -> Reasoning:
        for content in self.contents:
            toolbox.call("record_learning", {"content": content, "importance": 0.6})
        toolbox.call("finish_cycle", {"summary": "Learned."})
        return Reasoning(self.name, brain.model)


def test_a_learning_that_restates_a_block_the_agent_reads_confirms_it_instead(
    engine: Engine, world: World
) -> None:
    with clock.frozen_at(MONDAY):
        coaching = _coach(engine, world, "sdr-emea", "Lead with compliance for healthcare CTOs")
        first = run_now(
            engine, world.workspace, "sdr-emea", Learns("Tuesday sends to CTOs get opened more.")
        )
    [learning_id] = first["new_block_ids"]

    with clock.frozen_at(MONDAY + timedelta(hours=3)):
        again = run_now(
            engine,
            world.workspace,
            "sdr-emea",
            Learns(
                "tuesday sends to CTOs get  opened more",  # its own learning, restated
                "Lead with compliance for healthcare CTOs.",  # the coaching, restated
                "Lead with compliance for healthcare CTOs, and ask for the CISO too",  # more
            ),
        )

    calls = [c for c in again["tool_calls"] if c["name"] == "record_learning"]
    assert [c.get("confirmed_block_id") for c in calls] == [learning_id, coaching, None]
    assert calls[0]["result"] == (
        f"ok: block {learning_id} (personal learning) already says this: confirmed it, no new block"
    )
    [new] = again["new_block_ids"]
    assert new == calls[2]["block_id"]
    assert len([b for b in blocks(engine) if b.type.value == "learning"]) == 2
