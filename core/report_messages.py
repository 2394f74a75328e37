"""The messages of a cycle report that show a learning, remembered so that a reaction on
one of them addresses exactly that block, and the reaction that promotes it."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit, clock, memory
from core.errors import InvalidInput
from core.models import MemoryBlock, ReportMessage, Tier, Workspace
from core.permissions import Actor, check_admin, principal_for

DEFAULT_PROMOTE_EMOJI = "brain"
EMOJI_NAME = re.compile(r"[a-z0-9_+'-]{1,100}")


def promote_emoji(workspace: Workspace) -> str:
    """The reaction that promotes a learning of a report (a workspace setting)."""
    return str((workspace.settings or {}).get("promote_emoji") or DEFAULT_PROMOTE_EMOJI)


def set_promote_emoji(session: Session, workspace: Workspace, emoji: str, *, by: Actor) -> str:
    """Change the promote emoji (admins only)."""
    name = (emoji or "").strip().strip(":").lower()
    if not EMOJI_NAME.fullmatch(name):
        raise InvalidInput("emoji", f"{emoji!r} is not an emoji name such as brain or star")
    check_admin(
        principal_for(session, workspace, by),
        "change the promote emoji",
        action="settings.promote_emoji",
        target="workspace",
    )
    # A new dict, so that the JSON column sees the change.
    workspace.settings = {**(workspace.settings or {}), "promote_emoji": name}
    session.flush()
    audit.record(session, workspace, by, "settings.promote_emoji", "workspace", name)
    return name


def remember_report_message(
    session: Session,
    workspace: Workspace,
    *,
    channel: str,
    ts: str,
    block_id: int,
    thread_ts: str | None = None,
) -> ReportMessage:
    """Remember that a posted message shows one learning block."""
    message = ReportMessage(
        workspace_id=workspace.id,
        channel=channel,
        ts=ts,
        thread_ts=thread_ts,
        block_id=block_id,
        posted_at=clock.now(),
    )
    session.add(message)
    session.flush()
    return message


def posted_blocks(
    session: Session, workspace: Workspace, channel: str, block_ids: list[int]
) -> set[int]:
    """Which of these blocks already have their own message in the channel."""
    if not block_ids:
        return set()
    return set(
        session.scalars(
            select(ReportMessage.block_id).where(
                ReportMessage.workspace_id == workspace.id,
                ReportMessage.channel == channel,
                ReportMessage.block_id.in_(block_ids),
            )
        )
    )


def report_message(
    session: Session, workspace: Workspace, channel: str, ts: str
) -> ReportMessage | None:
    """The report message at (channel, ts), if that message shows a learning."""
    return session.get(ReportMessage, (workspace.id, channel, ts))


def promote_by_reaction(
    session: Session,
    workspace: Workspace,
    *,
    channel: str,
    ts: str,
    emoji: str,
    by: Actor,
) -> tuple[MemoryBlock, ReportMessage] | None:
    """The promote emoji on a learning of a cycle report promotes it to the agent's Team Brain.

    None when the reaction is not a promotion: another emoji, or a message that shows no
    learning."""
    if emoji != promote_emoji(workspace):
        return None
    message = report_message(session, workspace, channel, ts)
    if message is None:
        return None
    promoted = memory.promote(session, workspace, message.block_id, Tier.TEAM, by=by)
    return promoted, message
