"""Memory health: stale, unused, duplicated and contradicting memory, found within what the
viewer may tidy, each with the action that tidies it (archive, refresh, merge), audited."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core import clock, memory, use_cases
from core.coaching import CoachingNote
from core.db import UnitOfWork
from core.errors import InvalidInput, PermissionDenied
from core.health import REMEMBER_SECONDS, Health
from core.models import AuditEvent, BlockStatus, MemoryBlock
from core.permissions import Actor
from tests.conftest import ADMIN, AMER_MANAGER, EMEA_MANAGER, MEMBER, World
from tests.slack.conftest import sdr_learning
from tests.test_cli import Run, run  # noqa: F401  (fixtures)

MANAGER = Actor.member(EMEA_MANAGER)


@pytest.fixture
def now() -> Iterator[datetime]:
    """The clock stands still (at the wall clock's time: the HTTP server's threads, which
    read the wall clock, see the same ages)."""
    instant = datetime.now(UTC).replace(microsecond=0)
    with clock.frozen_at(instant):
        yield instant


def coach(uow: Callable[..., UnitOfWork], text: str, agent: str = "sdr-emea") -> int:
    [(block, _, _)] = use_cases.coach(uow(), "T0001", [CoachingNote(text, MANAGER, agent)])  # type: ignore[misc]
    return block.id


@pytest.fixture
def untidy(uow: Callable[..., UnitOfWork], world: World, now: datetime) -> dict[str, int]:
    """sdr-emea's memory with one item of each kind the health check finds."""
    long_ago = now - timedelta(days=120)
    with clock.frozen_at(long_ago):
        stale = coach(uow, "Lead with compliance for hospital CTOs")
        with uow() as u:
            unused = sdr_learning(u.session, world, "Webinar invitations go unanswered").id
    first = coach(uow, "Open with the ROI calculator for CFOs")
    again = coach(uow, "Open with the ROI calculator for the finance chief")
    price = coach(uow, "Mention pricing in the first email")
    no_price = coach(uow, "Never mention pricing in the first email")
    with uow() as u:
        original = sdr_learning(u.session, world, "Tuesday sends open best")
    copy = use_cases.promote(uow(), "T0001", original.id, "team", MANAGER).block.id
    with uow() as u:
        u.session.get(MemoryBlock, original.id).status = BlockStatus.SUPERSEDED  # type: ignore[union-attr]
    return {
        "stale": stale,
        "unused": unused,
        "first": first,
        "again": again,
        "price": price,
        "no_price": no_price,
        "copy": copy,
        "original": original.id,
    }


def health_of(uow: Callable[..., UnitOfWork], user: str) -> Health:
    return use_cases.memory_health(uow(readonly=True), "T0001", Actor.member(user))


def test_health_finds_each_kind_once_with_the_action_that_tidies_it(
    uow: Callable[..., UnitOfWork], untidy: dict[str, int]
) -> None:
    health = health_of(uow, EMEA_MANAGER)

    found = {(i.kind, i.block_id, i.action, i.other_id) for i in health.items}
    assert found == {
        ("conflict", untidy["price"], "archive", untidy["no_price"]),
        ("duplicate", untidy["again"], "merge", untidy["first"]),
        ("superseded_copy", untidy["copy"], "archive", None),
        ("stale_coaching", untidy["stale"], "archive", None),
        ("unused", untidy["unused"], "archive", None),
    }
    assert health.counts["duplicate"] == 1 and health.total == 5
    conflict = next(i for i in health.items if i.kind == "conflict")
    assert "Never mention pricing" in conflict.reason and conflict.owner == "sdr-emea"


def test_only_what_the_viewer_may_tidy_is_shown(
    uow: Callable[..., UnitOfWork], untidy: dict[str, int]
) -> None:
    assert health_of(uow, AMER_MANAGER).items == []  # another team's agents
    member = health_of(uow, MEMBER)
    assert (member.items, member.may_tidy) == ([], False)
    assert len(health_of(uow, ADMIN).items) == 5
    operator = use_cases.memory_health(uow(readonly=True), "T0001", Actor.system("operator"))
    assert len(operator.items) == 5


def test_merging_a_duplicate_archives_it_keeps_the_higher_importance_and_is_audited(
    uow: Callable[..., UnitOfWork], untidy: dict[str, int]
) -> None:
    with pytest.raises(PermissionDenied):
        use_cases.merge(
            uow(), "T0001", untidy["first"], untidy["again"], Actor.member(AMER_MANAGER)
        )

    kept = use_cases.merge(uow(), "T0001", untidy["first"], untidy["again"], MANAGER)

    assert kept.id == untidy["first"]
    with uow(readonly=True) as u:
        dropped = u.session.get(MemoryBlock, untidy["again"])
        assert dropped is not None and dropped.status is BlockStatus.ARCHIVED
        assert dropped.status_reason == f"merged into block {untidy['first']}"
        actions = [
            (e.action, e.outcome)
            for e in u.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
            if e.action in ("merge", "archive")
        ]
    assert actions == [("archive", "refused"), ("archive", "ok"), ("merge", "ok")]
    assert "duplicate" not in {i.kind for i in health_of(uow, EMEA_MANAGER).items}
    with pytest.raises(InvalidInput):
        use_cases.merge(uow(), "T0001", untidy["first"], untidy["first"], MANAGER)
    with pytest.raises(InvalidInput):  # different brains
        use_cases.merge(uow(), "T0001", untidy["first"], untidy["copy"], MANAGER)


def test_a_recently_surfaced_block_is_not_unused(
    uow: Callable[..., UnitOfWork], untidy: dict[str, int], world: World, now: datetime
) -> None:
    with uow() as u:
        block = memory.get_block(u.session, u.session.merge(world.workspace), untidy["unused"])
        block.last_surfaced_at = now - timedelta(days=3)

    kinds = {i.block_id: i.kind for i in health_of(uow, EMEA_MANAGER).items}
    assert untidy["unused"] not in kinds
    assert untidy["unused"] in {
        i.block_id
        for i in use_cases.memory_health(uow(readonly=True), "T0001", MANAGER, days=2).items
    }


def test_memory_health_and_merge_at_the_command_line(
    run: Run,  # noqa: F811
    uow: Callable[..., UnitOfWork],
    untidy: dict[str, int],
) -> None:
    listed = run("memory", "health", "--workspace", "T0001")
    shown = run("memory", "health", "--workspace", "T0001", "--json").json()

    assert listed.code == 0, listed.err
    merge = f"salesbrain memory merge {untidy['first']} {untidy['again']} --by USER"
    assert merge in listed.out
    assert shown["counts"]["conflict"] == 1 and len(shown["items"]) == 5
    member = run("memory", "health", "--workspace", "T0001", "--by", MEMBER, "--json").json()
    assert member["items"] == []
    assert run("memory", "health", "--workspace", "T0001", "--days", "0").code == 2

    refused = run("memory", "merge", "1", "2", "--by", AMER_MANAGER, "--workspace", "T0001")
    merged = run(
        "memory",
        "merge",
        str(untidy["first"]),
        str(untidy["again"]),
        "--by",
        EMEA_MANAGER,
        "--workspace",
        "T0001",
    )
    assert (refused.code, refused.err.count("\n")) == (3, 1)
    assert (
        merged.out == f"block {untidy['again']} merged into block {untidy['first']} "
        "(importance 0.90)\n"
    )
    assert run("memory", "merge", "1", "99999", "--by", ADMIN, "--workspace", "T0001").code == 4


def home_health_of(uow: Callable[..., UnitOfWork], user: str) -> Health:
    return use_cases.home(uow(readonly=True), "T0001", Actor.member(user)).health


def test_the_home_shows_remembered_health_until_memory_changes(
    uow: Callable[..., UnitOfWork], untidy: dict[str, int], world: World, now: datetime
) -> None:
    first = home_health_of(uow, EMEA_MANAGER)

    assert home_health_of(uow, EMEA_MANAGER) is first  # not found again
    assert home_health_of(uow, AMER_MANAGER).items == []  # each viewer's own
    assert len(home_health_of(uow, ADMIN).items) == 5
    with uow() as u:
        memory.archive(
            u.session, u.session.merge(world.workspace), untidy["stale"], by=MANAGER, reason="old"
        )
    after = home_health_of(uow, EMEA_MANAGER)
    assert untidy["stale"] not in {i.block_id for i in after.items}
    # A block edited in place (a refreshed copy) is a change too.
    with uow() as u:
        block = memory.get_block(u.session, u.session.merge(world.workspace), untidy["first"])
        block.content = "Never open with the ROI calculator"
        block.updated_at = now + timedelta(seconds=1)
    assert home_health_of(uow, EMEA_MANAGER) is not after


def test_remembered_health_is_found_again_after_a_minute(
    uow: Callable[..., UnitOfWork], untidy: dict[str, int], world: World, now: datetime
) -> None:
    first = home_health_of(uow, EMEA_MANAGER)
    # Surfacing in a cycle writes no new state: the minute bounds how long it goes unseen.
    with uow() as u:
        block = memory.get_block(u.session, u.session.merge(world.workspace), untidy["unused"])
        block.last_surfaced_at = now

    with clock.frozen_at(now + timedelta(seconds=REMEMBER_SECONDS - 1)):
        assert home_health_of(uow, EMEA_MANAGER) is first
    with clock.frozen_at(now + timedelta(seconds=REMEMBER_SECONDS)):
        later = home_health_of(uow, EMEA_MANAGER)
    assert untidy["unused"] in {i.block_id for i in first.items}
    assert untidy["unused"] not in {i.block_id for i in later.items}
