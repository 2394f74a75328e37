"""Memory health on the App Home, through the real Bolt app over HTTP: each item with its
button, the buttons tidy within the clicker's rights, and a long list is summarised."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.models.views import View
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.blocks import VIEW_BLOCKS
from core import clock, memory
from core.db import UnitOfWork
from core.models import AuditEvent, BlockStatus, BlockType, MemoryBlock, SourceKind, Tier
from tests.conftest import EMEA_MANAGER, MEMBER, World
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SlackSender
from tests.test_health import now, untidy  # noqa: F401  (fixtures)
from tests.test_signals_review import T0, TEAM_OF_TWO, _analyze_at, _promote_the_candidate


def home_of(send: SlackSender, slack: FakeSlack, user: str) -> dict[str, Any]:
    """The Home tab published for `user` after they open it."""
    seen = len(slack.calls_to("views.publish"))
    send.event({"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home"})
    return latest_home(slack, seen)


def latest_home(slack: FakeSlack, seen: int) -> dict[str, Any]:
    view: dict[str, Any] = slack.wait_for("views.publish", seen + 1)[-1].args["view"]
    View(**view).validate_json()  # Slack's own limits, as slack_sdk knows them
    return view


def buttons(view: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(action id, value) -> the text of the item the button tidies."""
    return {
        (b["accessory"]["action_id"], b["accessory"]["value"]): b["text"]["text"]
        for b in view["blocks"]
        if b.get("accessory", {}).get("action_id", "").startswith("health_")
    }


def texts(view: dict[str, Any]) -> str:
    return "\n".join(
        str(b.get("text", {}).get("text") or b.get("elements", [{}])[0].get("text"))
        for b in view["blocks"]
    )


def status_of(uow: Callable[..., UnitOfWork], block_id: int) -> BlockStatus:
    with uow(readonly=True) as u:
        block = u.session.get(MemoryBlock, block_id)
        assert block is not None
        return block.status


def test_the_home_shows_health_items_and_their_buttons_tidy_memory(
    send: SlackSender,
    slack: FakeSlack,
    uow: Callable[..., UnitOfWork],
    untidy: dict[str, int],  # noqa: F811
) -> None:
    view = home_of(send, slack, EMEA_MANAGER)

    shown = buttons(view)
    merge = ("health_merge", f"{untidy['first']}:{untidy['again']}")
    archive = ("health_archive", str(untidy["price"]))
    assert "Coaching said twice" in shown[merge] and "Conflicting coaching" in shown[archive]
    assert ("health_archive", str(untidy["copy"])) in shown
    assert "Memory health" in texts(view)

    seen = len(slack.calls_to("views.publish"))
    send.action(EMEA_MANAGER, *merge)
    after_merge = latest_home(slack, seen)
    send.action(EMEA_MANAGER, *archive)
    after_archive = latest_home(slack, seen + 1)

    assert f"Block {untidy['again']} merged into block {untidy['first']}." in texts(after_merge)
    assert merge not in buttons(after_merge)
    assert f"Block {untidy['price']} archived." in texts(after_archive)
    assert archive not in buttons(after_archive)
    assert status_of(uow, untidy["again"]) is BlockStatus.ARCHIVED
    assert status_of(uow, untidy["price"]) is BlockStatus.ARCHIVED
    with uow(readonly=True) as u:
        audited = {
            (e.action, e.target, e.origin)
            for e in u.session.scalars(select(AuditEvent).where(AuditEvent.outcome == "ok"))
        }
    assert ("merge", f"block:{untidy['first']}", "slack") in audited
    assert ("archive", f"block:{untidy['price']}", "slack") in audited


def test_a_member_sees_no_health_items_and_a_forged_click_is_refused_on_the_home(
    send: SlackSender,
    slack: FakeSlack,
    uow: Callable[..., UnitOfWork],
    untidy: dict[str, int],  # noqa: F811
) -> None:
    assert not buttons(home_of(send, slack, MEMBER))
    assert "Memory health" not in texts(home_of(send, slack, MEMBER))

    seen = len(slack.calls_to("views.publish"))
    send.action(MEMBER, "health_archive", str(untidy["price"]))

    assert "may not archive" in texts(latest_home(slack, seen))
    assert status_of(uow, untidy["price"]) is BlockStatus.ACTIVE
    with uow(readonly=True) as u:
        [refused] = u.session.scalars(select(AuditEvent).where(AuditEvent.outcome == "refused"))
        assert (refused.action, refused.actor) == ("archive", f"member:{MEMBER}")


def test_many_items_are_summarised_within_the_views_hundred_blocks(
    send: SlackSender,
    slack: FakeSlack,
    uow: Callable[..., UnitOfWork],
    world: World,
    now: datetime,  # noqa: F811
) -> None:
    with clock.frozen_at(now - timedelta(days=60)), uow() as u:
        workspace = u.session.merge(world.workspace)
        sdr = u.session.merge(world.sdr)
        for number in range(150):
            u.session.add(
                memory.new_block(
                    workspace,
                    tier=Tier.PERSONAL,
                    type=BlockType.LEARNING,
                    content=f"Observation {number} that no cycle ever needed",
                    importance=0.5,
                    source=(SourceKind.AGENT_CYCLE, None, "sdr-emea"),
                    agent=sdr,
                )
            )

    view = home_of(send, slack, EMEA_MANAGER)

    assert len(view["blocks"]) <= VIEW_BLOCKS
    assert len(buttons(view)) == 20
    assert "and 130 more: `salesbrain memory health`" in texts(view)


def test_a_team_copy_whose_finding_moved_on_is_refreshed_from_the_home(
    engine: Engine,
    send: SlackSender,
    slack: FakeSlack,
    uow: Callable[..., UnitOfWork],
    world: World,
) -> None:
    original, copy = _promote_the_candidate(engine, uow, world, TEAM_OF_TWO)
    more = replace(TEAM_OF_TWO, seed=7, id_prefix="b-", start=TEAM_OF_TWO.start + timedelta(20))
    _analyze_at(engine, uow, world, more, T0 + timedelta(days=3))

    refresh = ("health_refresh", str(copy))
    shown = buttons(home_of(send, slack, EMEA_MANAGER))
    assert "Copy of a finding that moved on" in shown[refresh]
    assert "open_rate/subject_format/question" in shown[refresh]

    seen = len(slack.calls_to("views.publish"))
    send.action(EMEA_MANAGER, *refresh)

    after = latest_home(slack, seen)
    assert f"Block {copy} refreshed from its original." in texts(after)
    assert refresh not in buttons(after)
    with uow(readonly=True) as u:
        kept, moved = u.session.get(MemoryBlock, copy), u.session.get(MemoryBlock, original)
        assert kept is not None and moved is not None and kept.content == moved.content
