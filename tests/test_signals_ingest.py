"""Ingestion: idempotent by the sender's id, bad rows by line number, bounded memory."""

from __future__ import annotations

import itertools
import json
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from core.db import UnitOfWork
from core.errors import InvalidInput
from core.models import AuditEvent, MemoryBlock, Signal
from core.signals import analyze, import_signals
from core.signals.simulation import Campaign, as_csv, as_jsonl, simulate
from tests.conftest import World

HEADER = "id,type,occurred_at,agent,thread,segment,reply_text,objection\n"


def _signals(uow: Callable[..., UnitOfWork], workspace_id: int | None = None) -> list[Signal]:
    with uow(readonly=True) as u:
        query = select(Signal).order_by(Signal.id)
        if workspace_id is not None:
            query = query.where(Signal.workspace_id == workspace_id)
        return list(u.session.scalars(query))


def test_importing_the_same_file_twice_stores_each_signal_once(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World
) -> None:
    lines = list(as_csv(simulate(Campaign(agents=("sdr-emea", "ae-emea"), sends_per_agent=40))))

    first = import_signals(engine, "T0001", lines)
    second = import_signals(engine, "T0001", lines, batch_size=7)

    rows = len(lines) - 1
    assert (first.new, first.known, first.bad) == (rows, 0, [])
    assert (second.new, second.known, second.bad) == (0, rows, [])
    assert len(_signals(uow)) == rows


def test_good_rows_are_stored_and_bad_rows_are_reported_by_line(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World
) -> None:
    text = (
        HEADER  # line 1
        + "s1,email_sent,2026-11-02T09:00:00Z,sdr-emea,t1,Healthcare,,\n"  # 2
        + "s2,email_clicked,2026-11-02T09:00:00Z,sdr-emea,t1,,,\n"  # 3
        + "s3,email_replied,yesterday,sdr-emea,t1,,,\n"  # 4
        + "\n"  # 5: blank, skipped
        + 's4,email_replied,2026-11-02T11:00:00+02:00,sdr-emea,t1,,"Thanks.\n'  # 6
        + 'We are in a budget freeze.",Budget  Freeze\n'  # 7: the same record
        + "s5,email_opened,2026-11-02T10:00:00Z,sdr-nobody,t1,,,\n"  # 8
        + ",email_opened,2026-11-02T10:00:00Z,sdr-emea,t1,,,\n"  # 9
        + "s6,email_opened,,,t1,,,\n"  # 10
        + "s7,email_opened,2026-11-02T10:00:00Z,sdr-emea,t1,,,,surplus\n"  # 11
        + f"{'x' * 201},email_opened,2026-11-02T10:00:00Z,sdr-emea,t1,,,\n"  # 12
        + "s8,meeting_booked,2026-11-02 12:30,sdr-emea,t1,,,\n"  # 13
    )

    result = import_signals(engine, "T0001", text.splitlines(keepends=True))

    assert [(row.line, row.reason) for row in result.bad] == [
        (3, "unknown type 'email_clicked'; one of email_sent, email_opened, email_replied, "
         "meeting_booked, bounced, unsubscribed"),
        (4, "occurred_at 'yesterday' is not an ISO 8601 time"),
        (8, "unknown agent 'sdr-nobody'"),
        (9, "missing id"),
        (10, "missing occurred_at, agent"),
        (11, "has 9 fields but the header names 8"),
        (12, "id is 201 characters; the limit is 200"),
    ]  # fmt: skip
    assert (result.new, result.known, result.bad_total) == (3, 0, 7)
    stored = {signal.external_id: signal for signal in _signals(uow)}
    assert sorted(stored) == ["s1", "s4", "s8"]
    assert stored["s1"].segment == "healthcare"
    assert stored["s4"].reply_text == "Thanks.\nWe are in a budget freeze."
    assert stored["s4"].objection == "budget freeze"
    # Times keep their instant; one without an offset is UTC.
    assert stored["s4"].occurred_at == datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    assert stored["s8"].occurred_at == datetime(2026, 11, 2, 12, 30, tzinfo=UTC)


def test_json_lines_are_detected_and_bad_lines_reported(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World
) -> None:
    good = {"id": 17, "type": "email_sent", "occurred_at": "2026-11-02T09:00:00Z"}
    lines = [
        json.dumps({**good, "agent": "sdr-emea", "template": "Case-Study"}) + "\n",  # 1
        "   \n",  # 2: blank
        "{not json\n",  # 3
        "[1, 2]\n",  # 4
        json.dumps({**good, "id": "x2", "agent": "sdr-emea", "segment": ["a"]}) + "\n",  # 5
        json.dumps({**good, "id": "x3", "agent": "sdr-emea", "type": None}) + "\n",  # 6
        json.dumps({**good, "id": "x4", "agent": "@ae-emea", "unknown_field": 1}),  # 7
    ]

    result = import_signals(engine, "T0001", lines)

    assert [(row.line, row.reason.split(" (")[0]) for row in result.bad] == [
        (3, "not JSON"),
        (4, "not a JSON object but list"),
        (5, "segment is list, not text"),
        (6, "missing type"),
    ]
    assert result.new == 2
    stored = _signals(uow)
    assert [(s.external_id, s.template) for s in stored] == [("17", "case-study"), ("x4", None)]
    assert stored[1].agent_id == world.ae.id


def test_an_id_repeated_within_one_file_is_stored_once(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World
) -> None:
    row = "dup,email_sent,2026-11-02T09:00:00Z,sdr-emea,t1,,,\n"
    result = import_signals(engine, "T0001", [HEADER, row, row, row.replace("dup", "other")])
    assert (result.new, result.known) == (2, 1)
    assert [s.external_id for s in _signals(uow)] == ["dup", "other"]


def test_a_csv_header_without_the_required_columns_is_refused_whole(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World
) -> None:
    with pytest.raises(InvalidInput) as error:
        import_signals(engine, "T0001", ["id,type,agent\n", "s1,email_sent,sdr-emea\n"])
    assert "line 1: the CSV header lacks occurred_at" in str(error.value)
    assert _signals(uow) == []


def test_signals_never_cross_workspaces(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World
) -> None:
    lines = [
        HEADER,
        "s1,email_sent,2026-11-02T09:00:00Z,sdr-emea,t1,,,\n",
        "s2,email_sent,2026-11-02T09:00:00Z,ae-emea,t2,,,\n",  # Acme's agent, not Globex's
    ]
    acme = import_signals(engine, world.workspace, lines)
    globex = import_signals(engine, "T0002", lines)

    assert (acme.new, acme.known) == (2, 0)
    # The same sender id is new in another workspace, and belongs to that workspace's agent.
    assert (globex.new, globex.known) == (1, 0)
    assert [(row.line, row.reason) for row in globex.bad] == [(3, "unknown agent 'ae-emea'")]
    [stored] = _signals(uow, world.other_workspace.id)
    assert stored.agent_id == world.globex_sdr.id


def test_each_batch_is_audited_with_what_it_stored(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World
) -> None:
    lines = list(as_jsonl(simulate(Campaign(agents=("sdr-emea",), sends_per_agent=10))))
    import_signals(engine, "T0001", lines, batch_size=10)
    with uow(readonly=True) as u:
        events = list(
            u.session.scalars(select(AuditEvent).where(AuditEvent.action == "signals.import"))
        )
    assert len(events) == -(-len(lines) // 10)
    assert sum(int(event.detail.split()[0]) for event in events) == len(lines)
    assert {event.actor for event in events} == {"system:signals"}


@pytest.mark.slow
def test_100000_rows_stream_in_bounded_memory_and_become_a_few_blocks(
    engine: Engine, uow: Callable[..., UnitOfWork], world: World, tmp_path: Path
) -> None:
    campaign = Campaign(
        agents=("sdr-emea", "ae-emea", "sdr-amer"),
        sends_per_agent=30_000,
        effects={"subject_format": {"question": 0.4}},
    )
    path = tmp_path / "signals.csv"
    with path.open("w", encoding="utf-8") as out:
        out.writelines(itertools.islice(as_csv(simulate(campaign)), 100_001))

    tracemalloc.start()
    try:
        with path.open(encoding="utf-8", newline="") as lines:
            result = import_signals(engine, "T0001", lines)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert (result.new, result.bad_total) == (100_000, 0)
    # The file is 20 MB and its rows as Python objects well over 100 MB; a batch is a few.
    assert path.stat().st_size > 15_000_000
    assert peak < 20_000_000, f"peak {peak:,} bytes"
    with uow() as u:
        analysis = analyze(u.session, world.workspace)
    with uow(readonly=True) as u:
        blocks = u.session.scalar(select(func.count()).select_from(MemoryBlock))
    assert blocks == len(analysis.created) == analysis.holding
    assert 3 <= blocks <= 12  # one per finding (the planted one, per agent and team)
