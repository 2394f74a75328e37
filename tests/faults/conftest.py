"""The heartbeat under model faults: the real SDK against a fake Messages API that misbehaves."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from core.db import unit_of_work
from core.heartbeat.backends.anthropic import AnthropicBackend
from core.heartbeat.config import HeartbeatSettings
from core.models import AuditEvent, MemoryBlock, Task
from tests.cycles import anthropic_backend
from tests.fakes.anthropic_api import FakeAnthropic

QUICK = HeartbeatSettings(
    lease_seconds=120,
    model_timeout_seconds=2,
    model_connect_timeout_seconds=1,
    model_max_retries=2,
    max_turns=3,
)


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(hang_seconds=5) as server:
        yield server


def backend(fake: FakeAnthropic, settings: HeartbeatSettings = QUICK) -> AnthropicBackend:
    return anthropic_backend(fake.url, settings)


def writes(engine: Engine) -> tuple[list[tuple[int, str, str, str]], list[tuple[int, str]]]:
    """Every block (id, tier, type, content) and task (id, status): what a fault may not move."""
    with unit_of_work(engine, readonly=True) as session:
        found = session.execute(
            select(MemoryBlock.id, MemoryBlock.tier, MemoryBlock.type, MemoryBlock.content)
        )
        blocks = [(i, str(tier), str(type_), content) for i, tier, type_, content in found]
        tasks = [(i, str(s)) for i, s in session.execute(select(Task.id, Task.status))]
        return sorted(blocks), sorted(tasks)


def refusals(engine: Engine) -> list[str]:
    with unit_of_work(engine, readonly=True) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.outcome == "refused"))
        return sorted(event.action for event in events)
