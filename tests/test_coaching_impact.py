"""Coaching impact: the figures per note match a recomputation from the raw signals; a
clearly harmful note is flagged to its author once; the cycle field of a signal is checked."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from core import clock, coaching, impact, use_cases
from core.db import UnitOfWork
from core.models import Cycle, CycleStatus, CycleTrigger, Notice, Signal, Workspace
from core.permissions import Actor
from core.signals import import_signals
from tests.conftest import EMEA_MANAGER, World

NOTE_AT = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
HEADER = "id,type,occurred_at,agent,thread,cycle\n"


def coach_sdr(uow: Callable[..., UnitOfWork], text: str, at: datetime = NOTE_AT) -> int:
    with clock.frozen_at(at), uow() as u:
        workspace = u.session.get_one(Workspace, u.workspaces.named_or_only("T0001").id)
        block = coaching.coach_one(
            u.session, workspace, "sdr-emea", text, by=Actor.member(EMEA_MANAGER)
        )
        u.commit()
        return block.id


def sdr_cycle(uow: Callable[..., UnitOfWork], world: World, at: datetime, seen: list[int]) -> int:
    """A succeeded cycle of sdr-emea that had these blocks in its context."""
    with uow() as u:
        cycle = Cycle(
            workspace_id=world.workspace.id,
            agent_id=world.sdr.id,
            status=CycleStatus.SUCCEEDED,
            trigger=CycleTrigger.SCHEDULE,
            task="Write first-touch emails",
            context={"blocks": [{"id": i} for i in seen], "new_coaching": [], "findings": []},
            backend="offline",
            model="claude-sonnet-5-5",
            started_at=at,
        )
        u.session.add(cycle)
        u.session.flush()
        u.commit()
        return cycle.id


def send_rows(
    rows: list[str], seed: str, count: int, start: datetime, reply: float, cycles: list[int | None]
) -> None:
    """CSV rows of `count` sends from `start`, each tied to one of `cycles` (None: no cycle),
    some bounced, some replied to (at `reply`), with an open or two that change nothing."""
    rnd = random.Random(seed)
    for i in range(count):
        thread, at = f"{seed}-t{i}", start + timedelta(hours=i)
        cycle = rnd.choice(cycles)
        tied = "" if cycle is None else str(cycle)
        rows.append(f"{seed}-s{i},email_sent,{at.isoformat()},sdr-emea,{thread},{tied}")
        if rnd.random() < 0.05:
            rows.append(f"{seed}-b{i},bounced,{(at + timedelta(minutes=5)).isoformat()},"
                        f"sdr-emea,{thread},")  # fmt: skip
            continue
        if rnd.random() < 0.5:
            rows.append(f"{seed}-o{i},email_opened,{(at + timedelta(hours=1)).isoformat()},"
                        f"sdr-emea,{thread},")  # fmt: skip
        if rnd.random() < reply:
            rows.append(f"{seed}-r{i},email_replied,{(at + timedelta(hours=3)).isoformat()},"
                        f"sdr-emea,{thread},")  # fmt: skip


def _recomputed(
    signals: list[Signal], contexts: dict[int, tuple[datetime, set[int]]], note: int
) -> dict[str, tuple[int, int]]:
    """(replies, delivered sends) with, without and before the note, from the raw rows."""
    threads: dict[str, list[Signal]] = {}
    for signal in signals:
        threads.setdefault(signal.thread or signal.external_id, []).append(signal)
    counts = {"with": [0, 0], "without": [0, 0], "before": [0, 0]}
    for events in threads.values():
        kinds = {signal.type.value for signal in events}
        if "email_sent" not in kinds or "bounced" in kinds:
            continue
        replied = int("email_replied" in kinds)
        sent_at = min(signal.occurred_at for signal in events)
        cycle = next((s.cycle_id for s in events if s.cycle_id is not None), None)
        if sent_at < NOTE_AT:
            counts["before"][0] += replied
            counts["before"][1] += 1
        if cycle is None:
            continue
        started_at, seen = contexts[cycle]
        side = "with" if note in seen else "without" if started_at >= NOTE_AT else None
        if side is not None:
            counts[side][0] += replied
            counts[side][1] += 1
    return {side: (c[0], c[1]) for side, c in counts.items()}


def _wilson(successes: int, n: int) -> tuple[float, float]:
    z, p = 1.959963984540054, successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_impact_figures_match_a_recomputation_from_the_raw_signals(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World
) -> None:
    note = coach_sdr(uow, "Lead with the compliance angle when you write to healthcare CTOs.")
    with_note = [sdr_cycle(uow, world, NOTE_AT + timedelta(days=d), [note]) for d in (1, 2, 3)]
    without = [sdr_cycle(uow, world, NOTE_AT + timedelta(days=d), []) for d in (1, 4)]
    before = sdr_cycle(uow, world, NOTE_AT - timedelta(days=3), [])
    rows = [HEADER.strip()]
    send_rows(rows, "old", 400, NOTE_AT - timedelta(days=20), 0.03, [None, before])
    send_rows(rows, "new", 300, NOTE_AT + timedelta(days=1), 0.12, [*with_note, None])
    send_rows(rows, "rest", 300, NOTE_AT + timedelta(days=1), 0.03, [*without, None])
    result = import_signals(engine, "T0001", [row + "\n" for row in rows])
    assert result.bad == []

    [measured] = use_cases.coaching_impact(uow(readonly=True), "T0001", "sdr-emea")

    with uow(readonly=True) as u:
        signals = list(u.session.scalars(select(Signal).where(Signal.agent_id == world.sdr.id)))
        contexts = {
            c.id: (c.started_at, impact.blocks_in(c.context))
            for c in u.session.scalars(select(Cycle))
        }
    expected = _recomputed(signals, contexts, note)
    got = {
        "with": measured.with_note,
        "without": measured.without_note,
        "before": measured.before_note,
    }
    for side, (replies, sends) in expected.items():
        rate = got[side]
        assert (rate.replies, rate.sends) == (replies, sends), side
        low, high = _wilson(replies, sends)
        assert math.isclose(rate.low, low, abs_tol=1e-9), side
        assert math.isclose(rate.high, high, abs_tol=1e-9), side
    assert expected["with"][1] > 150 and expected["without"][1] > 150
    assert [c.verdict for c in measured.comparisons] == [impact.Verdict.BETTER] * 2
    assert not measured.negative
    assert "sends written with coaching #" in measured.summary()


def test_a_note_with_few_sends_says_the_evidence_is_not_enough_yet(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World
) -> None:
    note = coach_sdr(uow, "Mention the audit trail in the first line.")
    cycle = sdr_cycle(uow, world, NOTE_AT + timedelta(days=1), [note])
    rows = [HEADER.strip()]
    send_rows(rows, "few", 12, NOTE_AT + timedelta(days=1), 0.2, [cycle])
    import_signals(engine, "T0001", [row + "\n" for row in rows])

    [measured] = use_cases.coaching_impact(uow(readonly=True), "T0001", "sdr-emea")

    assert {c.verdict for c in measured.comparisons} == {impact.Verdict.NOT_ENOUGH}
    assert measured.conclusion().startswith("Not enough evidence yet")
    assert not measured.negative and not measured.moved


def test_a_clearly_harmful_note_is_flagged_to_its_author_once(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World
) -> None:
    note = coach_sdr(uow, "Open every email with a long company history paragraph.")
    with_note = [sdr_cycle(uow, world, NOTE_AT + timedelta(days=d), [note]) for d in (1, 2)]
    rows = [HEADER.strip()]
    send_rows(rows, "old", 500, NOTE_AT - timedelta(days=25), 0.10, [None])
    send_rows(rows, "bad", 500, NOTE_AT + timedelta(days=1), 0.01, with_note)
    import_signals(engine, "T0001", [row + "\n" for row in rows])

    for _ in range(2):  # a second look finds it flagged already
        with uow() as u:
            workspace = u.session.get_one(Workspace, world.workspace.id)
            agent = u.session.get_one(type(world.sdr), world.sdr.id)
            impact.flag_negative(u.session, workspace, agent)
            u.commit()

    with uow(readonly=True) as u:
        [notice] = u.session.scalars(select(Notice)).all()
    assert notice.key == f"coaching-flag:block:{note}"
    assert notice.destination == f"slack:{EMEA_MANAGER}"
    assert f"Your coaching #{note} to sdr-emea looks like it hurts" in notice.text


def test_a_signal_naming_a_cycle_that_is_not_its_agents_is_refused_by_line(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World
) -> None:
    mine = sdr_cycle(uow, world, NOTE_AT, [])
    text = (
        HEADER  # line 1
        + f"a1,email_sent,2026-11-02T09:00:00Z,sdr-emea,t1,{mine}\n"  # 2: stored with its cycle
        + f"a2,email_sent,2026-11-02T09:00:00Z,ae-emea,t2,{mine}\n"  # 3: not ae-emea's cycle
        + "a3,email_sent,2026-11-02T09:00:00Z,sdr-emea,t3,99999\n"  # 4: no such cycle
        + "a4,email_sent,2026-11-02T09:00:00Z,sdr-emea,t4,twelve\n"  # 5: not a number
        + "a5,email_sent,2026-11-02T09:00:00Z,sdr-emea,t5,\n"  # 6: no cycle: fine
    )

    result = import_signals(engine, "T0001", text.splitlines(keepends=True))

    assert [(row.line, row.reason) for row in result.bad] == [
        (3, f"cycle {mine} is not a cycle of agent ae-emea"),
        (4, "cycle 99999 is not a cycle of agent sdr-emea"),
        (5, "cycle 'twelve' is not a cycle id (a whole number)"),
    ]
    with uow(readonly=True) as u:
        stored: dict[str, Any] = {
            s.external_id: s.cycle_id for s in u.session.scalars(select(Signal))
        }
    assert stored == {"a1": mine, "a5": None}
