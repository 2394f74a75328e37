"""What the chat surface needs from the domain.

Messages address agents by name, each chat event is applied once however often it is
delivered, and the messages of a cycle report that show a learning are remembered so that
a reaction on one of them addresses exactly that block.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Index, String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from core import audit, clock, memory
from core.directory import known_agents
from core.errors import InvalidInput, NotFound
from core.models import Agent, Base, MemoryBlock, Tier, Workspace, utcnow
from core.permissions import Actor, check_admin, principal_for

DEFAULT_PROMOTE_EMOJI = "brain"
# Slack retries an event for up to about an hour; a day of ids is plenty to recognise one.
DELIVERY_MEMORY = timedelta(days=1)
EMOJI_NAME = re.compile(r"[a-z0-9_+'-]{1,100}")
# `<@U123|name>`: how Slack escapes a mention of a user (an agent's bot persona included).
ESCAPED_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|([^>]*))?>")


class EventDelivery(Base):
    """A chat event already handled: a retry or duplicate of it is acknowledged, not applied."""

    __tablename__ = "event_deliveries"
    __table_args__ = (Index("ix_event_deliveries_received", "workspace_id", "received_at"),)

    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReportMessage(Base):
    """A posted message of a cycle report that shows one learning block."""

    __tablename__ = "report_messages"

    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    ts: Mapped[str] = mapped_column(String(32), primary_key=True)
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    block_id: Mapped[int] = mapped_column(
        ForeignKey("memory_blocks.id", ondelete="CASCADE"), index=True
    )
    posted_at: Mapped[datetime] = mapped_column(default=utcnow)


def first_delivery(session: Session, workspace: Workspace, event_id: str) -> bool:
    """Record that an event is being handled; False when it was handled before."""
    now = _forget_old_deliveries(session, workspace)
    try:
        # A savepoint, so that a duplicate leaves the rest of the unit of work usable.
        with session.begin_nested():
            session.add(
                EventDelivery(workspace_id=workspace.id, event_id=event_id, received_at=now)
            )
    except IntegrityError:
        return False
    return True


def _forget_old_deliveries(session: Session, workspace: Workspace) -> datetime:
    """Forget deliveries too old to be retried; the time now."""
    now = clock.now()
    session.execute(
        delete(EventDelivery).where(
            EventDelivery.workspace_id == workspace.id,
            EventDelivery.received_at < now - DELIVERY_MEMORY,
        )
    )
    return now


def mentioned_agent(
    session: Session,
    workspace: Workspace,
    text: str,
    by_handle: Mapping[str, Agent | None] | None = None,
) -> tuple[Agent, str]:
    """The agent a message starts with and the rest of the message.

    The agent is named by handle (`@sdr-emea`), by display name (`@Sam Carter`), or by a
    Slack mention of its bot persona (`<@U123|sam>`). `by_handle` holds the answers for
    handles looked up already (None: no agent has it), for many messages at once."""
    text = _named(text)
    first, _, rest = text.partition(" ")
    handle = first.lower()
    if by_handle is not None and handle in by_handle:
        agent = by_handle[handle]
    else:
        agent = session.scalar(
            select(Agent).where(Agent.workspace_id == workspace.id, Agent.handle == handle)
        )
    if agent is not None:
        return agent, rest.strip()
    by_name = _agent_by_display_name(session, workspace, text)
    if by_name is not None:
        return by_name
    raise NotFound(f"agent {first!r} not found; agents: {known_agents(session, workspace)}")


def _named(text: str) -> str:
    """The message with a mention of an agent's persona written as its name, without the @."""
    text = (text or "").strip()
    escaped = ESCAPED_MENTION.match(text)
    if escaped:
        name, rest = escaped.group(2) or escaped.group(1), text[escaped.end() :]
        text = f"{name} {rest}"
    text = text.lstrip("@").strip()
    if not text:
        raise InvalidInput("agent", "name an agent first, e.g. @sdr-emea")
    return text


def agents_by_handle(
    session: Session, workspace: Workspace, texts: Sequence[str]
) -> dict[str, Agent | None]:
    """The agents that the first words of these messages name by handle, in one query."""
    handles = set()
    for text in texts:
        with contextlib.suppress(InvalidInput):  # reported when the message is read
            handles.add(_named(text).partition(" ")[0].lower())
    found = session.scalars(
        select(Agent).where(Agent.workspace_id == workspace.id, Agent.handle.in_(handles))
    )
    agents: dict[str, Agent | None] = dict.fromkeys(handles)
    agents.update((agent.handle, agent) for agent in found)
    return agents


def _agent_by_display_name(
    session: Session, workspace: Workspace, text: str
) -> tuple[Agent, str] | None:
    """The agent whose display name starts the text (the longest such name wins)."""
    lowered = text.lower()
    best: tuple[Agent, str] | None = None
    longest = 0
    for agent in session.scalars(select(Agent).where(Agent.workspace_id == workspace.id)):
        for name in {agent.display_name.lower(), "-".join(agent.display_name.lower().split())}:
            if len(name) > longest and (lowered == name or lowered.startswith(name + " ")):
                best, longest = (agent, text[len(name) :].strip()), len(name)
    return best


def delivered(session: Session, workspace: Workspace, deliveries: list[str]) -> set[str]:
    """Which of these deliveries were handled before."""
    if not deliveries:
        return set()
    return set(
        session.scalars(
            select(EventDelivery.event_id).where(
                EventDelivery.workspace_id == workspace.id,
                EventDelivery.event_id.in_(deliveries),
            )
        )
    )


def remember_deliveries(session: Session, workspace: Workspace, deliveries: Sequence[str]) -> None:
    """Record deliveries handled in this unit of work (checked with `delivered` first)."""
    now = _forget_old_deliveries(session, workspace)
    session.add_all(
        EventDelivery(workspace_id=workspace.id, event_id=event_id, received_at=now)
        for event_id in deliveries
    )
    session.flush()


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
