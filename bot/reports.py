"""Cycle reports in Slack: the outbox's Slack sink.

A report is one message in the agent's channel; each new learning follows as a reply in its
thread, so that a reaction on it addresses exactly one block (remembered in
report_messages). Each post is recorded as soon as Slack has it: a delivery retried after a
failure half-way posts only what is still missing, never a message twice. Rate limits are
waited out as Slack asks (Retry-After, by the Web API client); other failures leave the
report queued in the outbox, which retries it with backoff.

A director's cycle then posts each proposal it made (a promotion, or coaching in the coached
agent's channel) with its buttons: Approve and Reject while it waits for a manager, Retract
once applied. Each post carries its cycle (and learning or proposal) in its message metadata.
A delivery tried before (it failed, or its deliverer died between Slack accepting a post and
the post being recorded) first looks in the channel's recent history and the report's thread
(and a proposal's channel) for posts it does not know about, and records them instead of
posting them again (this reads history: the channels:history and groups:history scopes of
manifest.yml).
"""

from __future__ import annotations

import logging
import urllib.error
from collections.abc import Callable
from datetime import UTC
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from bot import blocks, health_blocks
from core import chart_notices, proposals, report_messages
from core.db import UnitOfWork
from core.heartbeat import blocked
from core.heartbeat.outbox import Delivery, DeliveryFailed, Envelope
from core.heartbeat.records import cycle_view
from core.models import Agent, BlockType, Cycle, MemoryBlock, Workspace
from core.notices import Pending, PostFailed

# Slack answers these when retrying cannot help: the report is marked failed.
PERMANENT = frozenset({"no_permission", "missing_scope", "invalid_blocks", "msg_too_long"})
# These only a person can fix (invite the bot, a new token): the report waits, blocked, and
# the agent's managers are told once (core/heartbeat/blocked.py).
BLOCKING = blocked.BLOCKING

ClientFor = Callable[[Workspace], WebClient]
# Message metadata event types: which cycle (and learning) a post shows.
REPORT_EVENT, LEARNING_EVENT = "salesbrain_report", "salesbrain_learning"
PROPOSAL_EVENT = "salesbrain_proposal"
# Recent messages read when looking for a post the outbox did not record.
HISTORY_LIMIT = 200
log = logging.getLogger("salesbrain.reports")


def _metadata(
    event: str, cycle_id: int, block_id: int | None = None, proposal_id: int | None = None
) -> dict[str, Any]:
    payload: dict[str, Any] = {"cycle_id": cycle_id}
    if block_id is not None:
        payload["block_id"] = block_id
    if proposal_id is not None:
        payload["proposal_id"] = proposal_id
    return {"event_type": event, "event_payload": payload}


def _payload(message: dict[str, Any], event: str, cycle_id: int) -> dict[str, Any]:
    """The message's metadata payload when it is this cycle's `event`, else {}."""
    metadata = message.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    if metadata.get("event_type") != event or payload.get("cycle_id") != cycle_id:
        return {}
    return dict(payload)


def _find(messages: list[dict[str, Any]], event: str, cycle_id: int) -> str | None:
    return next((str(m["ts"]) for m in messages if _payload(m, event, cycle_id)), None)


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
            made = proposals.for_cycle(session, workspace, cycle.id)
            report_ts = cycle.slack_ts if cycle.slack_channel == channel else None
            finding = chart_notices.report_finding(session, workspace, cycle)
        try:
            client = self.client_for(workspace)
        except LookupError as error:
            raise DeliveryFailed(str(error), blocking="not_installed") from error
        try:
            if envelope.resumed:
                report_ts = self._find_posted(client, workspace, cycle, channel, report_ts, posted)
            if report_ts is None:
                answer = client.chat_postMessage(
                    channel=channel,
                    metadata=_metadata(REPORT_EVENT, cycle.id),
                    **blocks.cycle_report(view, len(learnings)),
                )
                report_ts = str(answer["ts"])
                self._remember_report(cycle.id, channel, report_ts)
            for block in learnings:
                if block.id in posted:
                    continue
                answer = client.chat_postMessage(
                    channel=channel,
                    thread_ts=report_ts,
                    metadata=_metadata(LEARNING_EVENT, cycle.id, block.id),
                    **blocks.learning_reply(block.id, block.content, emoji, team),
                )
                self._remember_learning(workspace, channel, str(answer["ts"]), report_ts, block.id)
            for proposal in made:
                self._post_proposal(client, workspace, cycle.id, proposal, channel, emoji, envelope)
        except SlackApiError as error:
            code = str(error.response.get("error") or error.response.status_code)
            raise DeliveryFailed(
                f"Slack: {code}",
                permanent=code in PERMANENT,
                blocking=code if code in BLOCKING else None,
            ) from error
        except SlackRequestError as error:
            raise DeliveryFailed(f"Slack unreachable: {error}") from error
        if finding is not None:
            # Once everything of the report is posted: its chart follows in the thread as a
            # notice of its own, so that an upload that fails never holds the report back.
            with UnitOfWork(self.engine) as uow:
                chart_notices.queue_for_report(uow.session, workspace, cycle.id, finding)
        return Delivery(channel=channel, ts=report_ts)

    def announce(self, notice: blocked.Notice) -> None:
        """A direct message to each manager of the blocked destination's agents, with the fix
        (a revoked token cannot send it: the log and `salesbrain outbox list` say so)."""
        with UnitOfWork(self.engine, readonly=True) as uow:
            workspace = uow.session.get(Workspace, notice.workspace_id)
        if workspace is None:
            return
        if not notice.recipients:
            log.warning("nobody to tell that %s is blocked", notice.problem.destination)
            return
        try:
            client = self.client_for(workspace)
        except LookupError as error:
            log.warning("cannot tell about %s: %s", notice.problem.destination, error)
            return
        message = health_blocks.problem_notice(notice.problem)
        for user in notice.recipients:
            try:
                client.chat_postMessage(channel=user, **message)
            except (SlackApiError, SlackRequestError) as error:
                log.warning(
                    "telling %s about %s failed: %s", user, notice.problem.destination, error
                )

    def _find_posted(
        self,
        client: WebClient,
        workspace: Workspace,
        cycle: Cycle,
        channel: str,
        report_ts: str | None,
        posted: set[int],
    ) -> str | None:
        """Posts of this report Slack has but the outbox did not record (a deliverer died
        between the two): recorded now, so that they are not posted again. `posted` grows
        with the learnings found; the report's ts is returned. Unreadable history (a missing
        scope) is logged and the delivery goes on as before."""
        try:
            if report_ts is None:
                at = cycle.finished_at or cycle.started_at
                since = (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()
                history = client.conversations_history(
                    channel=channel,
                    oldest=f"{since - 60:.6f}",
                    include_all_metadata=True,
                    limit=HISTORY_LIMIT,
                )
                report_ts = _find(history.get("messages") or [], REPORT_EVENT, cycle.id)
                if report_ts is not None:
                    self._remember_report(cycle.id, channel, report_ts)
            if report_ts is None:
                return None
            thread = client.conversations_replies(
                channel=channel, ts=report_ts, include_all_metadata=True, limit=HISTORY_LIMIT
            )
            for message in thread.get("messages") or []:
                block_id = _payload(message, LEARNING_EVENT, cycle.id).get("block_id")
                if isinstance(block_id, int) and block_id not in posted:
                    self._remember_learning(
                        workspace, channel, str(message["ts"]), report_ts, block_id
                    )
                    posted.add(block_id)
        except SlackApiError as error:
            code = error.response.get("error")
            log.warning("reading %s to resume a report delivery failed: %s", channel, code)
        return report_ts

    def _post_proposal(
        self,
        client: WebClient,
        workspace: Workspace,
        cycle_id: int,
        proposal: proposals.ProposalView,
        report_channel: str,
        emoji: str,
        envelope: Envelope,
    ) -> None:
        """A proposal's own message, in the coached agent's channel (else the report's),
        posted once: a delivery tried before looks for it in that channel first."""
        if proposal.slack_ts is not None:
            return
        channel = proposal.channel or report_channel
        ts = (
            self._find_proposal(client, channel, cycle_id, proposal.id)
            if envelope.resumed
            else None
        )
        if ts is None:
            answer = client.chat_postMessage(
                channel=channel,
                metadata=_metadata(PROPOSAL_EVENT, cycle_id, proposal_id=proposal.id),
                **blocks.proposal_message(proposal, emoji),
            )
            ts = str(answer["ts"])
        with UnitOfWork(self.engine) as uow:
            proposals.remember_message(uow.session, workspace, proposal.id, channel=channel, ts=ts)

    def _find_proposal(
        self, client: WebClient, channel: str, cycle_id: int, proposal_id: int
    ) -> str | None:
        try:
            history = client.conversations_history(
                channel=channel, include_all_metadata=True, limit=HISTORY_LIMIT
            )
        except SlackApiError as error:
            log.warning(
                "reading %s to resume a proposal failed: %s", channel, error.response.get("error")
            )
            return None
        for message in history.get("messages") or []:
            if _payload(message, PROPOSAL_EVENT, cycle_id).get("proposal_id") == proposal_id:
                return str(message["ts"])
        return None

    def _remember_learning(
        self, workspace: Workspace, channel: str, ts: str, report_ts: str, block_id: int
    ) -> None:
        with UnitOfWork(self.engine) as uow:
            report_messages.remember_report_message(
                uow.session,
                workspace,
                channel=channel,
                ts=ts,
                thread_ts=report_ts,
                block_id=block_id,
            )

    def _remember_report(self, cycle_id: int, channel: str, ts: str) -> None:
        with UnitOfWork(self.engine) as uow:
            uow.session.execute(
                update(Cycle).where(Cycle.id == cycle_id).values(slack_channel=channel, slack_ts=ts)
            )


class _Poster:
    """A notices' poster speaking for salesbrain in the notice's workspace."""

    def __init__(self, engine: Engine, client_for: ClientFor) -> None:
        self.engine = engine
        self.client_for = client_for

    def _client(self, workspace: Workspace | None) -> WebClient:
        if workspace is None:
            raise PostFailed("the workspace is gone", permanent=True)
        try:
            return self.client_for(workspace)
        except LookupError as error:
            raise PostFailed(str(error), permanent=True) from error


class SlackNoticePoster(_Poster):
    """Posts notices (a team's digest, a flagged coaching note) to a channel, or to a person
    as a direct message: chat.postMessage to a user id opens the app's conversation."""

    def __call__(self, pending: Pending) -> str | None:
        with UnitOfWork(self.engine, readonly=True) as uow:
            workspace = uow.session.get(Workspace, pending.workspace_id)
        client = self._client(workspace)
        try:
            answer = client.chat_postMessage(channel=pending.address, text=pending.text)
        except SlackApiError as error:
            code = str(error.response.get("error") or error.response.status_code)
            raise PostFailed(f"Slack: {code}", permanent=code in PERMANENT) from error
        except SlackRequestError as error:
            raise PostFailed(f"Slack unreachable: {error}") from error
        return f"{answer.get('channel')}:{answer.get('ts')}"


class SlackChartPoster(_Poster):
    """Uploads a chart's notice (core/chart_notices.py) into its message's thread, with
    files_upload_v2. The client waits out rate limits on the Web API methods; a failed
    upload is tried again later, except where only a person can help (the bot left the
    channel, a token without files:write): then the chart is given up, logged, and its
    message stays as it was."""

    def __call__(self, pending: Pending) -> str | None:
        with UnitOfWork(self.engine, readonly=True) as uow:
            workspace = uow.session.get(Workspace, pending.workspace_id)
            post = workspace and chart_notices.chart_post(uow.session, workspace, pending)
        client = self._client(workspace)
        if post is None:
            return "nothing to chart"
        found = self._uploaded(client, post)
        if found is not None:
            return f"{post.channel}:{found}"
        # Imported when a chart is due, never before: matplotlib takes seconds to import.
        from bot import charts

        try:
            image = charts.chart(post.drawn)
        except Exception as error:  # a chart that cannot be drawn must not stop other notices
            log.exception("drawing %s failed", post.filename)
            raise PostFailed(f"drawing {post.filename} failed: {error}", permanent=True) from error
        try:
            answer = client.files_upload_v2(
                channel=post.channel,
                thread_ts=post.thread_ts,
                file=image,
                filename=post.filename,
                title=post.title,
                alt_txt=post.alt_text[:1000],
            )
        except SlackApiError as error:
            code = str(error.response.get("error") or error.response.status_code)
            given_up = code in PERMANENT or code in BLOCKING
            if given_up:
                log.warning("chart %s not uploaded to %s: %s", post.filename, post.channel, code)
            raise PostFailed(f"Slack: {code}", permanent=given_up) from error
        except (SlackRequestError, urllib.error.URLError) as error:
            raise PostFailed(f"uploading {post.filename} failed: {error}") from error
        return f"{post.channel}:{(answer.get('file') or {}).get('id')}"

    def _uploaded(self, client: WebClient, post: chart_notices.ChartPost) -> str | None:
        """The id of this chart in the thread already (a deliverer died between Slack taking
        it and the notice being marked posted), or None; unreadable history counts as none."""
        try:
            thread = client.conversations_replies(
                channel=post.channel, ts=post.thread_ts, limit=HISTORY_LIMIT
            )
        except (SlackApiError, SlackRequestError) as error:
            log.warning("reading the thread of %s before a chart failed: %s", post.channel, error)
            return None
        for message in thread.get("messages") or []:
            for file in message.get("files") or []:
                if file.get("name") == post.filename:
                    return str(file.get("id"))
        return None
