"""Running one agent's cycle in a test, and reading back what it stored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.cli.views import cycle_json
from core import clock, proposals
from core.db import unit_of_work
from core.heartbeat import leases
from core.heartbeat.backends import Backend
from core.heartbeat.backends.anthropic import AnthropicBackend, make_client
from core.heartbeat.config import HeartbeatSettings
from core.heartbeat.cycle import run_cycle
from core.heartbeat.records import cycle_view, get_cycle
from core.models import Agent, Cycle, MemoryBlock, OutboxMessage, Task, Workspace
from core.permissions import Actor
from core.settings import Settings
from core.signals import import_signals
from core.signals.simulation import Campaign, as_csv, simulate

FAST = HeartbeatSettings(lease_seconds=120)


def anthropic_backend(base_url: str, settings: HeartbeatSettings) -> AnthropicBackend:
    """The anthropic backend with the real SDK, pointed at a fake Messages API."""
    settings_ = Settings(anthropic_api_key="sk-test", anthropic_base_url=base_url)  # type: ignore[call-arg]
    return AnthropicBackend(make_client(settings_, settings), settings)


def run_now(
    engine: Engine,
    workspace: Workspace,
    handle: str,
    backend: Backend,
    settings: HeartbeatSettings = FAST,
) -> dict[str, Any]:
    """Claim one agent now, run its cycle, return the stored cycle as `cycles show --json`."""
    with unit_of_work(engine) as session:
        agent = session.scalars(
            select(Agent).where(Agent.workspace_id == workspace.id, Agent.handle == handle)
        ).one()
        claim = leases.claim_agent(
            session, agent, "test", now=clock.now(), lease_seconds=settings.lease_seconds
        )
    result = run_cycle(engine, claim, backend, settings)
    assert result is not None
    with unit_of_work(engine, readonly=True) as session:
        cycle, agent_handle = get_cycle(session, workspace, result.cycle_id)
        return cycle_json(cycle_view(cycle, agent_handle))


def blocks(engine: Engine) -> list[MemoryBlock]:
    with unit_of_work(engine, readonly=True) as session:
        return list(session.scalars(select(MemoryBlock).order_by(MemoryBlock.id)))


def all_tasks(engine: Engine) -> list[Task]:
    with unit_of_work(engine, readonly=True) as session:
        return list(session.scalars(select(Task).order_by(Task.id)))


def outbox_of(engine: Engine, cycle_id: int) -> OutboxMessage | None:
    with unit_of_work(engine, readonly=True) as session:
        return session.scalar(select(OutboxMessage).where(OutboxMessage.cycle_id == cycle_id))


def cycles(engine: Engine) -> list[Cycle]:
    with unit_of_work(engine, readonly=True) as session:
        return list(session.scalars(select(Cycle).order_by(Cycle.id)))


def import_question_subject_effect(engine: Engine) -> None:
    """Signals for Acme's EMEA SDR and AE with one real effect: question subject lines."""
    # Enough sends that each agent's finding clears Holm's correction (600 did not for one).
    campaign = Campaign(
        agents=("sdr-emea", "ae-emea"),
        sends_per_agent=1_000,
        effects={"subject_format": {"question": 0.45}},
    )
    assert import_signals(engine, "T0001", as_csv(simulate(campaign))).bad_total == 0


def set_autonomy(engine: Engine, autonomy: str, team_id: str = "T0001") -> None:
    """Let director agents apply at once (`apply`, the seed's behaviour) or propose."""
    with unit_of_work(engine) as session:
        workspace = session.scalars(
            select(Workspace).where(Workspace.slack_team_id == team_id)
        ).one()
        # U0ADMIN: the admin of tests.conftest's world.
        proposals.configure(session, workspace, by=Actor.member("U0ADMIN"), autonomy=autonomy)
