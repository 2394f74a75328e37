"""A brain with something to ask about: coaching, a learning promoted to the Team Brain,
and a cycle of sdr-emea that handed a warm reply to ae-emea; all at a fixed instant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from core import coaching, memory, tasks
from core.coaching import CoachingNote
from core.db import UnitOfWork
from core.heartbeat.backends.offline import OfflineBackend
from core.permissions import Actor
from tests.conftest import EMEA_MANAGER, World
from tests.cycles import run_now

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
QUESTIONS = (
    "what does sdr-emea know about hospital CTOs?",
    "why did cycle {cycle} hand off to ae-emea?",
    "which coaching worked this month?",
    "what changed in the Team Brain this week?",
)
COACHING_TEXT = "With hospital CTOs, lead with HIPAA compliance and uptime, not price."


@dataclass(frozen=True)
class Stocked:
    coaching_id: int
    learning_id: int
    team_copy_id: int
    cycle_id: int

    def questions(self) -> list[str]:
        return [q.format(cycle=self.cycle_id) for q in QUESTIONS]


def stock_the_brain(engine: Engine, world: World) -> Stocked:
    """Run at NOW (the caller freezes the clock)."""
    manager = Actor.member(EMEA_MANAGER)
    with UnitOfWork(engine) as uow:
        s = uow.session
        [note] = coaching.coach(
            s, world.workspace, [CoachingNote(COACHING_TEXT, manager, agent="sdr-emea")]
        )
        learning = memory.write_learning(
            s,
            world.workspace,
            s.merge(world.sdr),
            "Hospital CTOs reply to short subject lines that name their EHR system.",
            by=Actor.agent("sdr-emea"),
            importance=0.6,
        )
        s.flush()
        copy = memory.promote(s, world.workspace, learning.id, "team", by=manager)
        tasks.give_task(
            s,
            world.workspace,
            "sdr-emea",
            "Hospital CTO at St Mary's replied: interested, wants a demo next week",
            by=manager,
        )
        uow.commit()
        ids = (note.block.id, learning.id, copy.id)  # type: ignore[union-attr]
    cycle = run_now(engine, world.workspace, "sdr-emea", OfflineBackend())
    assert cycle["handoff_task_ids"], cycle
    return Stocked(*ids, cycle_id=cycle["id"])
