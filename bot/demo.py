"""`salesbrain demo`: a team of five agents over a few simulated days, on the offline backend.

A fresh SQLite file, a simulated clock (core.clock), no network and no tokens. A manager
coaches the SDR, tasks arrive, the heartbeat runs the agents every few simulated hours, and
the end shows what the memory did: which coaching informed how many cycles, what was
learned, handed off and promoted, that a model upgrade kept every block, the measured
impact of the coaching, and the team's weekly digest.

The simulated prospects answer with a planted effect: each of the SDR's cycles sends a
batch of emails, tied to the cycle (the signals' `cycle`), whose results arrive hours
later; healthcare prospects reply more often when the compliance angle was used, that is,
when Maya's coaching note was in the cycle's context. So the impact the demo measures is
real in its data, not printed by it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.demo_director import approving
from bot.runner import HeartbeatRunner
from core import clock, coaching, digest, directory, impact, memory, tasks
from core.db import UnitOfWork, make_engine, unit_of_work
from core.errors import InvalidInput
from core.heartbeat import outbox
from core.heartbeat.backends.offline import OfflineBackend
from core.heartbeat.config import HeartbeatSettings
from core.heartbeat.cycle import CycleResult
from core.heartbeat.replay import replay, replayable
from core.lifecycle import model_status
from core.models import (
    DEFAULT_MODEL,
    Agent,
    AuditEvent,
    BlockType,
    Cycle,
    CycleStatus,
    MemoryBlock,
    SourceKind,
    Task,
    Tier,
    Workspace,
)
from core.permissions import Actor
from core.signals import import_signals
from core.signals.simulation import Campaign, as_csv, simulate
from migrations import schema

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # a Monday morning
OFFICE_HOURS = (8, 18)
TICK = timedelta(minutes=30)
MANAGER = "U0MAYA"
# ads-emea starts on a model whose end of life (2026-11-30, salesbrain's record of the SDK's
# table) falls in the demo's week: deprecated on every simulated day, so its reports warn.
OLD_MODEL = "claude-sonnet-4-5"
NEW_MODEL = DEFAULT_MODEL

AGENTS = [
    ("dir-emea", "director", "8h", "Make the team's best learnings everyone's practice"),
    ("sdr-emea", "sdr", "3h", "Book meetings with CTOs of healthcare providers in DACH"),
    ("ae-emea", "account_executive", "4h", "Close healthcare deals opened by the SDR"),
    ("mkt-emea", "marketing_manager", "6h", "Fill the healthcare pipeline with demand"),
    ("ads-emea", "ad_manager", "6h", "Lower the cost per qualified healthcare lead"),
]


class SimulatedClock:
    """The demo's time: it only moves when the demo moves it."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current


Act = Callable[[Engine, int], object]


@dataclass(frozen=True)
class Event:
    """Something that happens at a moment of the demo (coaching, a task, signals, an upgrade)."""

    day: int
    hour: int
    say: str
    act: Act


def _use_case(work: Callable[[UnitOfWork, Workspace], object]) -> Act:
    def act(engine: Engine, workspace_id: int) -> object:
        with UnitOfWork(engine) as uow:
            return work(uow, uow.session.get_one(Workspace, workspace_id))

    return act


def _coach(handle: str, text: str) -> Act:
    return _use_case(
        lambda u, ws: coaching.coach_one(u.session, ws, handle, text, by=Actor.member(MANAGER))
    )


def _task(handle: str, title: str, detail: str = "") -> Act:
    return _use_case(
        lambda u, ws: tasks.add_task(
            u.session, ws, handle, title, detail=detail, by=Actor.member(MANAGER)
        )
    )


def _upgrade(handle: str) -> Act:
    """The manager's upgrade: the model's state on the simulated day, a replay of the agent's
    last cycle on the new model (nothing written), then the one-field change."""

    def upgrade(engine: Engine, workspace_id: int) -> str:
        with unit_of_work(engine, readonly=True) as session:
            workspace = session.get_one(Workspace, workspace_id)
            agent = directory.get_agent(session, workspace, handle)
            state = f"{handle} runs on {agent.model}: {model_status(agent.model).describe()}"
            last = session.scalar(
                select(func.max(Cycle.id)).where(
                    Cycle.agent_id == agent.id, Cycle.status == CycleStatus.SUCCEEDED
                )
            )
            trial = replayable(session, workspace, last, NEW_MODEL) if last else None
        lines = [state + " (salesbrain models)"]
        if trial is not None:
            tried = replay(engine, trial, OfflineBackend(), HeartbeatSettings())
            lines.append(
                f"salesbrain cycles replay {tried.cycle_id} --model {NEW_MODEL}: "
                f"{len(tried.replay.tool_calls)} tool calls as cycle {tried.cycle_id} made "
                f"{len(tried.original.tool_calls)}, over {tried.memory}; "
                "nothing written"
            )
        with unit_of_work(engine) as session:
            workspace = session.get_one(Workspace, workspace_id)
            agent = directory.get_agent(session, workspace, handle)
            before = memory.brain_size(session, agent)
            directory.update_agent(
                session, workspace, handle, model=NEW_MODEL, by=Actor.member(MANAGER)
            )
            after = memory.brain_size(session, agent)
        lines.append(f"{handle}'s memory: {_size(before)} before the upgrade, {_size(after)} after")
        return "\n        ".join(lines)

    return upgrade


# The SDR's prospects: mostly healthcare, replying at REPLY_RATE; healthcare ones reply at
# COMPLIANCE_REPLY_RATE to an email written with the compliance angle in mind.
PROSPECTS = {"segment": {"healthcare": 6.0}}
REPLY_RATE = 0.023
COMPLIANCE_REPLY_RATE = 0.085
SENDS_PER_CYCLE = 60
RESULTS_AFTER = timedelta(hours=5)


def _signals(
    handle: str, sends: int, *, days_ago: int = 14, days: float = 14, seed: int = 7
) -> Act:
    """Email results of sends over `days` from `days_ago` (tied to no cycle), with one real
    effect planted: question subject lines (a finding needs a week of sends: not a burst)."""

    def arrive(engine: Engine, workspace_id: int) -> str:
        campaign = Campaign(
            agents=(handle,),
            sends_per_agent=sends,
            reply_rate=REPLY_RATE,
            weights=PROSPECTS,
            effects={"subject_format": {"question": 0.45}},
            start=START - timedelta(days=days_ago),
            days=days,
            seed=seed,
            id_prefix=f"sig{seed}-",
        )
        result = import_signals(engine, "T0DEMO", as_csv(simulate(campaign)))
        return f"{result.new:,} signals stored: {sends:,} sends and their opens, replies, meetings"

    return arrive


@dataclass(frozen=True)
class Batch:
    """The emails the SDR sent in one cycle; their results arrive RESULTS_AFTER later."""

    cycle_id: int
    sent_at: datetime
    coached: bool  # Maya's compliance note was in the cycle's context


class Outreach:
    """The SDR's sends: a batch per succeeded cycle, its results imported when they arrive,
    each signal tied to its cycle; the planted effect follows the cycle's context."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.batches: list[Batch] = []

    def on_cycle(self, result: CycleResult) -> None:
        if result.handle != SDR or result.status is not CycleStatus.SUCCEEDED:
            return
        with unit_of_work(self.engine, readonly=True) as session:
            cycle = session.get_one(Cycle, result.cycle_id)
            note = session.scalar(
                select(MemoryBlock.id).where(
                    MemoryBlock.agent_id == cycle.agent_id,
                    MemoryBlock.content.startswith(COMPLIANCE_NOTE[:30]),
                )
            )
            coached = note is not None and note in impact.blocks_in(cycle.context)
        self.batches.append(Batch(result.cycle_id, clock.now(), coached))

    def arrive(self, now: datetime) -> str | None:
        """Import the results that have arrived by `now`; what arrived, in a line."""
        due = [batch for batch in self.batches if batch.sent_at + RESULTS_AFTER <= now]
        if not due:
            return None
        self.batches = [batch for batch in self.batches if batch not in due]
        replies = sends = 0
        for batch in due:
            healthcare = COMPLIANCE_REPLY_RATE if batch.coached else REPLY_RATE
            campaign = Campaign(
                agents=(SDR,),
                sends_per_agent=SENDS_PER_CYCLE,
                reply_rate=REPLY_RATE,
                weights=PROSPECTS,
                effects={
                    "subject_format": {"question": 0.45},
                    "segment": {"healthcare": healthcare},
                },
                start=batch.sent_at,
                days=0.1,
                seed=batch.cycle_id,
                id_prefix=f"cycle{batch.cycle_id}-",
                cycle=batch.cycle_id,
            )
            signals = list(simulate(campaign))
            import_signals(self.engine, "T0DEMO", as_csv(iter(signals)))
            sends += SENDS_PER_CYCLE
            replies += sum(1 for signal in signals if signal["type"] == "email_replied")
        cycles = ", ".join(str(batch.cycle_id) for batch in due)
        return (
            f"Results of {SDR}'s {sends} emails from cycle{'s' if len(due) > 1 else ''} "
            f"{cycles} arrive, each signal tied to its cycle: {replies} "
            f"repl{'y' if replies == 1 else 'ies'}"
        )


def _size(brain: dict[str, int]) -> str:
    return ", ".join(f"{count} {tier}" for tier, count in brain.items()) + " blocks"


SDR = "sdr-emea"
COMPLIANCE_NOTE = (
    "Lead with the compliance angle (HIPAA, audit trails) when you write to "
    "healthcare CTOs; they buy risk reduction before features."
)

EVENTS = [
    Event(1, 8, "Maya (sales manager) coaches sdr-emea", _coach(SDR, COMPLIANCE_NOTE)),
    Event(
        1,
        8,
        "Maya gives sdr-emea a prospect list",
        _task("sdr-emea", "Write first-touch emails to 12 healthcare CTOs on the DACH list"),
    ),
    Event(
        1,
        9,
        "Maya asks mkt-emea for the campaign",
        _task("mkt-emea", "Plan the Q1 healthcare campaign and its paid budget"),
    ),
    Event(
        1,
        10,
        "Maya coaches ads-emea",
        _coach(
            "ads-emea",
            "Cap healthcare cost per click at EUR 8 and pause any ad set above it for a day.",
        ),
    ),
    Event(
        1,
        13,
        "A prospect replies to sdr-emea",
        _task(
            "sdr-emea",
            "Reply from Dana Weber (CTO, Mercy Health): interested in a demo",
            "Dana wrote: “The audit trail point is exactly our problem. Can we see a demo "
            "next Tuesday?”",
        ),
    ),
    Event(
        2,
        8,
        "Maya coaches ae-emea",
        _coach(
            "ae-emea",
            "Open every healthcare demo with the audit-log walkthrough before any feature tour.",
        ),
    ),
    Event(
        2,
        8,
        "Two weeks of sdr-emea's email results arrive (salesbrain signals import)",
        _signals("sdr-emea", 2000),
    ),
    Event(
        2,
        9,
        "Maya upgrades ads-emea off a model that reaches end of life, after trying the new one",
        _upgrade("ads-emea"),
    ),
    Event(
        2,
        10,
        "Another prospect replies to sdr-emea",
        _task(
            "sdr-emea",
            "Reply from Jonas Brandt (CIO, Klinikum Nord): wants a call about audit logs",
            "Jonas wrote: “Send me times for a call; compliance is on our board agenda.”",
        ),
    ),
    Event(
        2,
        14,
        "Maya asks ads-emea to review the ads",
        _task("ads-emea", "Review the landing page copy behind the healthcare ads"),
    ),
    Event(2, 17, "Maya approves what the director proposed", approving(MANAGER)),
    Event(
        3,
        8,
        "This week's results of sdr-emea's 400 sends arrive: the finding's numbers move",
        _signals("sdr-emea", 400, days_ago=0, days=2, seed=8),
    ),
    Event(
        3,
        9,
        "Maya gives sdr-emea a new list",
        _task("sdr-emea", "Write first-touch emails to 10 hospital CISOs in Austria"),
    ),
]


def run_demo(out: TextIO, *, days: int = 3, path: str | None = None) -> Path:
    """Run the demo, print the reports and the memory's story; return the database path."""
    database = _fresh_database(path)
    url = f"sqlite:///{database}"
    out.write(f"salesbrain demo: a fresh SQLite database at {database}\n")
    schema.upgrade(url)
    engine = make_engine(url)
    sim = SimulatedClock(START)
    try:
        with clock.running_on(sim.now):
            _story(engine, sim, out, days)
    finally:
        engine.dispose()
    out.write(
        f"\nLook around: export SALESBRAIN_DATABASE_URL=sqlite:///{database}\n"
        "  salesbrain cycles list | salesbrain cycles show ID | salesbrain memory list\n"
    )
    return database


def _fresh_database(path: str | None) -> Path:
    if path is None:
        return Path(tempfile.mkdtemp(prefix="salesbrain-demo-")) / "demo.db"
    database = Path(path).expanduser().resolve()
    if database.exists():
        raise InvalidInput("db", f"{database} exists; the demo starts from a fresh file")
    return database


def _story(engine: Engine, sim: SimulatedClock, out: TextIO, days: int) -> None:
    with UnitOfWork(engine) as uow:
        workspace = _cast(uow)
    # One cycle at a time, so that the story reads (and replays) the same way every run.
    settings = HeartbeatSettings(concurrency=1, max_workers=1)
    outreach = Outreach(engine)
    runner = HeartbeatRunner(
        engine,
        OfflineBackend(),
        settings,
        sinks=[outbox.ConsoleSink(out)],
        worker="demo",
        on_cycle=outreach.on_cycle,
    )
    end = START + timedelta(days=days)
    pending = sorted(EVENTS, key=lambda e: (e.day, e.hour))
    day = 0
    while sim.current < end:
        if sim.current.hour >= OFFICE_HOURS[1]:
            sim.current = sim.current.replace(hour=OFFICE_HOURS[0], minute=0) + timedelta(days=1)
            continue
        today = (sim.current - START).days + 1
        if today != day:
            day = today
            out.write(f"\n=== Day {day}: {sim.current:%A %d %B %Y} ===\n\n")
        while pending and (pending[0].day, pending[0].hour) <= (today, sim.current.hour):
            event = pending.pop(0)
            note = event.act(engine, workspace.id)
            out.write(f"[{sim.current:%H:%M}] {event.say}\n")
            out.write(f"        {note}\n\n" if isinstance(note, str) else "\n")
        arrived = outreach.arrive(sim.current)
        if arrived:
            out.write(f"[{sim.current:%H:%M}] {arrived}\n\n")
        runner.run_once()
        sim.current += TICK
    runner.stop()
    with UnitOfWork(engine, readonly=True) as uow:
        found = uow.session.get_one(Workspace, workspace.id)
        _epilogue(uow, found, out)
        _digest(uow, found, out)


def _cast(uow: UnitOfWork) -> Workspace:
    session = uow.session
    workspace = directory.create_workspace(session, "T0DEMO", "Acme Health Cloud")
    directory.create_team(session, workspace, "emea", "EMEA Sales")
    directory.set_member(session, workspace, MANAGER, "manager", ["emea"], display_name="Maya")
    for handle, role, every, objective in AGENTS:
        directory.create_agent(
            session,
            workspace,
            handle,
            team="emea",
            role=role,
            every=every,
            objective=objective,
            model=OLD_MODEL if handle == "ads-emea" else None,
        )
    return workspace


def _epilogue(uow: UnitOfWork, workspace: Workspace, out: TextIO) -> None:
    """What the memory did over the demo."""
    session = uow.session
    handles = dict(session.execute(select(Agent.id, Agent.handle)).all())
    blocks = list(
        session.scalars(
            select(MemoryBlock)
            .where(MemoryBlock.workspace_id == workspace.id)
            .order_by(MemoryBlock.id)
        )
    )
    cycles = dict(
        session.execute(
            select(Cycle.status, func.count())
            .where(Cycle.workspace_id == workspace.id)
            .group_by(Cycle.status)
        ).all()
    )
    total = sum(cycles.values())
    out.write("\n=== What the memory did ===\n\n")
    out.write(
        f"{total} cycles ran ({cycles.get(CycleStatus.SUCCEEDED, 0)} succeeded, "
        f"{cycles.get(CycleStatus.FAILED, 0)} failed), offline, no tokens spent.\n\n"
    )
    out.write("Coaching and how many cycles it informed:\n")
    for block in blocks:
        if block.type.value == "coaching":
            author = f" by {block.source_by}" if block.source_by else ""
            out.write(
                f"  #{block.id} to {handles.get(block.agent_id or 0)}{author}: informed "
                f"{_cycles(block.times_surfaced)}: “{block.content[:80]}…”\n"
            )
    # A director's coaching note is written in a cycle too; it is listed with the coaching.
    learned = [
        b
        for b in blocks
        if b.source_kind is SourceKind.AGENT_CYCLE and b.type is not BlockType.COACHING
    ]
    analysed = [b for b in blocks if b.source_kind is SourceKind.SIGNAL_ANALYSIS]
    out.write("\nLearned (by the agents in their cycles):\n")
    for block in learned:
        out.write(f"  #{block.id} {handles.get(block.agent_id or 0)}{_informed(block)}: ")
        out.write(f"{block.content}\n")
    if not learned:
        out.write("  (nothing yet)\n")
    confirmed = dict(
        session.execute(
            select(AuditEvent.target, func.count())
            .where(AuditEvent.workspace_id == workspace.id, AuditEvent.action == "confirm")
            .group_by(AuditEvent.target)
        ).all()
    )
    if analysed:
        out.write("\nFound in performance signals (an agent that takes one in confirms it):\n")
        for block in analysed:
            times = confirmed.get(f"block:{block.id}", 0)
            by = f", confirmed in {_cycles(times)}" if times else ""
            out.write(f"  #{block.id} {handles.get(block.agent_id or 0)}{_informed(block)}{by}: ")
            out.write(f"{block.content}\n")
    out.write("\nHanded off between agents:\n")
    handoffs = session.scalars(
        select(Task)
        .where(Task.workspace_id == workspace.id, Task.from_agent_id.is_not(None))
        .order_by(Task.id)
    )
    for task in handoffs:
        out.write(
            f"  task {task.id} {handles.get(task.from_agent_id or 0)} -> "
            f"{handles.get(task.agent_id)}: {task.title} [{task.status.value}]\n"
        )
    promoted = [b for b in blocks if b.tier is Tier.TEAM and b.promoted_from_id]
    refreshed = dict(
        session.execute(
            select(AuditEvent.target, AuditEvent.actor).where(
                AuditEvent.workspace_id == workspace.id,
                AuditEvent.action == "refresh",
                AuditEvent.outcome == "ok",
            )
        ).all()
    )
    out.write("\nPromoted to the Team Brain:\n")
    for block in promoted:
        by = refreshed.get(f"block:{block.id}", "").removeprefix("agent:")
        again = f", refreshed by {by} when its finding moved" if by else ""
        out.write(
            f"  #{block.id} from #{block.promoted_from_id} by {block.promoted_by}{again}"
            f"{_informed(block)}: {block.content}\n"
        )
    if not promoted:
        out.write("  (nothing yet)\n")
    _impact(uow, workspace, out)
    models = session.execute(
        select(Cycle.model, func.count())
        .join(Agent, Agent.id == Cycle.agent_id)
        .where(Agent.handle == "ads-emea")
        .group_by(Cycle.model)
    ).all()
    out.write(
        "\nModel upgrade: ads-emea ran "
        + " and ".join(f"{count} cycles on {model}" for model, count in sorted(models))
        + "; the upgrade changed one field and left its memory as it was.\n"
    )


def _impact(uow: UnitOfWork, workspace: Workspace, out: TextIO) -> None:
    """What Maya's coaching did to the replies (salesbrain coaching impact)."""
    session = uow.session
    out.write("\nCoaching impact (salesbrain coaching impact):\n")
    agents = session.scalars(select(Agent).where(Agent.workspace_id == workspace.id))
    for note in impact.coaching_impact(session, workspace, agents):
        if not note.with_note.sends:
            continue
        before = note.before_note
        out.write(
            f"  sends written with coaching #{note.block_id}: {note.with_note.rate:.1%} reply, "
            f"n={note.with_note.sends} (95% CI {note.with_note.low:.1%}-"
            f"{note.with_note.high:.1%}), vs {before.rate:.1%} before it, n={before.sends}. "
            f"{note.conclusion()}\n"
        )


def _digest(uow: UnitOfWork, workspace: Workspace, out: TextIO) -> None:
    session = uow.session
    text = digest.weekly_digest(session, workspace, "emea").text()
    out.write("\n=== The weekly digest (salesbrain digest --team emea) ===\n\n")
    out.write(text + "\n")


def _informed(block: MemoryBlock) -> str:
    return f" (informed {_cycles(block.times_surfaced)})"


def _cycles(count: int) -> str:
    return f"{count} cycle" if count == 1 else f"{count} cycles"
