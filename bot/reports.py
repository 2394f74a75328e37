"""Cycle reports in Slack: the outbox's Slack sink.

A report is one message in the agent's channel; each new learning follows as a reply in its
thread, so that a reaction on it addresses exactly one block (remembered in
report_messages). Each post is recorded as soon as Slack has it: a delivery retried after a
failure half-way posts only what is still missing, never a message twice. Rate limits are
waited out as Slack asks (Retry-After, by the Web API client); other failures leave the
report queued in the outbox, which retries it with backoff.
"""

from __future__ import annotations

from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from bot import blocks
from core import report_messages
from core.db import UnitOfWork
from core.heartbeat.models import Cycle
from core.heartbeat.outbox import Delivery, DeliveryFailed, Envelope
from core.heartbeat.records import cycle_view
from core.models import Agent, BlockType, MemoryBlock, Workspace

# Slack answers these when retrying cannot help: the report is marked failed.
PERMANENT = frozenset(
    {
        "channel_not_found",
        "is_archived",
        "not_in_channel",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "no_permission",
        "missing_scope",
        "invalid_blocks",
        "msg_too_long",
    }
)

ClientFor = Callable[[Workspace], WebClient]


class SlackSink:
    """Delivers the outbox's `slack:<channel>` messages as Block Kit reports."""

    kind = "slack"

    def __init__(self, engine: Engine, client_for: ClientFor) -> None:
        self.engine = engine
        self.client_for = client_for

    def deliver(self, envelope: Envelope) -> Delivery:
        channel = envelope.address
        with UnitOfWork(self.engine, readonly=True) as uow:
            session = uow.session
            cycle = session.get(Cycle, envelope.cycle_id)
            if cycle is None:
                raise DeliveryFailed(f"cycle {envelope.cycle_id} is gone", permanent=True)
            agent = session.get(Agent, cycle.agent_id)
            workspace = session.get(Workspace, cycle.workspace_id)
            assert agent is not None and workspace is not None
            view = cycle_view(cycle, agent.handle)
            learnings = list(
                session.scalars(
                    select(MemoryBlock)
                    .where(
                        MemoryBlock.id.in_([int(i) for i in cycle.new_block_ids or []]),
                        MemoryBlock.type == BlockType.LEARNING,
                    )
                    .order_by(MemoryBlock.id)
                )
            )
            posted = report_messages.posted_blocks(
                session, workspace, channel, [b.id for b in learnings]
            )
            emoji, team = report_messages.promote_emoji(workspace), agent.team.slug
            report_ts = cycle.slack_ts if cycle.slack_channel == channel else None
        try:
            client = self.client_for(workspace)
        except LookupError as error:
            raise DeliveryFailed(str(error), permanent=True) from error
        try:
            if report_ts is None:
                answer = client.chat_postMessage(
                    channel=channel, **blocks.cycle_report(view, len(learnings))
                )
                report_ts = str(answer["ts"])
                self._remember_report(cycle.id, channel, report_ts)
            for block in learnings:
                if block.id in posted:
                    continue
                answer = client.chat_postMessage(
                    channel=channel,
                    thread_ts=report_ts,
                    **blocks.learning_reply(block.id, block.content, emoji, team),
                )
                with UnitOfWork(self.engine) as uow:
                    report_messages.remember_report_message(
                        uow.session,
                        workspace,
                        channel=channel,
                        ts=str(answer["ts"]),
                        thread_ts=report_ts,
                        block_id=block.id,
                    )
        except SlackApiError as error:
            code = str(error.response.get("error") or error.response.status_code)
            raise DeliveryFailed(f"Slack: {code}", permanent=code in PERMANENT) from error
        except SlackRequestError as error:
            raise DeliveryFailed(f"Slack unreachable: {error}") from error
        return Delivery(channel=channel, ts=report_ts)

    def _remember_report(self, cycle_id: int, channel: str, ts: str) -> None:
        with UnitOfWork(self.engine) as uow:
            uow.session.execute(
                update(Cycle).where(Cycle.id == cycle_id).values(slack_channel=channel, slack_ts=ts)
            )
