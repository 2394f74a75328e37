"""The chat services: agents named in messages, events handled once, reactions promoting."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import select

from core import deliveries, directory, memory, report_messages
from core.coaching import Coaching, coach
from core.coaching import CoachingNote as Note
from core.db import UnitOfWork
from core.errors import InvalidInput, NotFound, PermissionDenied
from core.models import AuditEvent
from core.permissions import Actor
from tests.conftest import EMEA_MANAGER, MEMBER, World


@pytest.mark.parametrize(
    ("text", "handle", "rest"),
    [
        ("@sdr-emea Lead with compliance", "sdr-emea", "Lead with compliance"),
        ("SDR-EMEA  Lead with compliance ", "sdr-emea", "Lead with compliance"),
        ("<@U0BOT1|sdr-emea> Lead with compliance", "sdr-emea", "Lead with compliance"),
        ("@Alex Morgan Ask early", "ae-emea", "Ask early"),
        ("@alex-morgan Ask early", "ae-emea", "Ask early"),
        ("@dir-emea", "dir-emea", ""),
    ],
)
def test_an_agent_is_named_by_handle_display_name_or_mention(
    uow: Callable[..., UnitOfWork], world: World, text: str, handle: str, rest: str
) -> None:
    with uow() as u:
        u.session.merge(world.ae).display_name = "Alex Morgan"
    with uow(readonly=True) as u:
        agent, remainder = directory.mentioned_agent(u.session, world.workspace, text)
    assert (agent.handle, remainder) == (handle, rest)


def test_an_unknown_or_missing_agent_is_a_clear_error(
    uow: Callable[..., UnitOfWork], world: World
) -> None:
    with uow(readonly=True) as u, pytest.raises(NotFound, match="agents: ae-emea, dir-amer"):
        directory.mentioned_agent(u.session, world.workspace, "@sdr-mars hello")
    with uow(readonly=True) as u, pytest.raises(InvalidInput, match="name an agent"):
        directory.mentioned_agent(u.session, world.workspace, "  @ ")
    with uow(readonly=True) as u, pytest.raises(NotFound):
        # Globex's agents are not Acme's.
        directory.mentioned_agent(u.session, world.other_workspace, "@ae-emea hi")


def test_an_event_is_handled_once_even_when_delivered_concurrently(
    uow: Callable[..., UnitOfWork], world: World
) -> None:
    results: list[bool] = []
    start = threading.Barrier(4)

    def deliver() -> None:
        start.wait()
        with uow() as u:
            results.append(deliveries.first_delivery(u.session, world.workspace, "Ev0001"))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False, False, False, True]
    with uow() as u:  # the same id in another workspace is another event
        assert deliveries.first_delivery(u.session, world.other_workspace, "Ev0001")


def test_a_reaction_promotes_only_the_mapped_learning_with_the_promote_emoji(
    uow: Callable[..., UnitOfWork], world: World
) -> None:
    with uow() as u:
        learning = memory.write_learning(
            u.session,
            world.workspace,
            u.session.merge(world.sdr),
            "Tuesdays work",
            by=Actor.agent("sdr-emea"),
            importance=0.5,
        )
        report_messages.remember_report_message(
            u.session, world.workspace, channel="C1", ts="1.1", block_id=learning.id
        )
    manager = Actor.member(EMEA_MANAGER, "slack")
    with uow() as u:
        ws = u.session.merge(world.workspace)
        assert (
            report_messages.promote_by_reaction(
                u.session, ws, channel="C1", ts="1.1", emoji="tada", by=manager
            )
            is None
        )
        assert (
            report_messages.promote_by_reaction(
                u.session, ws, channel="C1", ts="9.9", emoji="brain", by=manager
            )
            is None
        )
        outcome = report_messages.promote_by_reaction(
            u.session, ws, channel="C1", ts="1.1", emoji="brain", by=manager
        )
    assert outcome is not None
    promoted, message = outcome
    assert (promoted.tier.value, promoted.promoted_from_id, message.block_id) == (
        "team",
        learning.id,
        learning.id,
    )


def test_notes_from_chat_are_stored_together_each_checked_on_its_own(
    uow: Callable[..., UnitOfWork], world: World
) -> None:
    manager, member = Actor.member(EMEA_MANAGER, "slack"), Actor.member(MEMBER, "slack")
    notes = [
        Note(
            "@sdr-emea Lead with compliance",
            manager,
            source_ref="slack:/coach C1",
            delivery="command:t1",
        ),
        Note("@sdr-mars Be brief", manager, delivery="command:t2"),
        Note("@ae-emea   ", manager, delivery="command:t3"),
        Note("@sdr-emea Push harder", member, delivery="command:t4"),
        Note("@ae-emea Ask for the budget owner", manager, delivery="command:t5"),
        Note("@sdr-emea Lead with compliance", manager, delivery="command:t1"),
    ]
    with uow() as u:
        outcomes = coach(u.session, world.workspace, notes)

    stored, unknown, empty, refused, second, repeated = outcomes
    assert isinstance(stored, Coaching) and isinstance(second, Coaching)
    assert (stored.agent.handle, stored.block.content) == ("sdr-emea", "Lead with compliance")
    assert (stored.block.source_ref, stored.block.source_by) == ("slack:/coach C1", EMEA_MANAGER)
    assert second.agent.handle == "ae-emea" and second.block.id != stored.block.id
    assert isinstance(unknown, NotFound) and "agents: ae-emea" in str(unknown)
    assert isinstance(empty, InvalidInput) and str(empty) == "note: is empty"
    assert isinstance(refused, PermissionDenied)
    assert repeated is None  # the same delivery twice in one batch
    with uow(readonly=True) as u:
        contents = {b.content for b in memory.list_blocks(u.session, world.workspace)}
        coached = u.session.scalars(select(AuditEvent.target).where(AuditEvent.action == "coach"))
        assert contents == {"Lead with compliance", "Ask for the budget owner"}
        assert sorted(coached) == sorted(f"block:{b.id}" for b in (stored.block, second.block))
    with uow() as u:  # deliveries stored before are not stored again; refused ones are tried
        again = coach(u.session, world.workspace, [notes[0], notes[3], notes[4]])
    assert again[0] is None and again[2] is None and isinstance(again[1], PermissionDenied)
