"""Ask the brain in Slack: the AI app pane (Bolt's Assistant) and `@salesbrain` mentions.

A workspace with Slack's AI apps feature asks in the assistant pane: a new thread offers the
four example questions, the channel the person looks at is kept as the thread's context (its
agent is the one asked about when the question names none), and a question is answered in
its thread. A workspace without the feature mentions the app in a thread and gets the same
answer there. Either way the answer follows the ack, on the app's threads for work after it:
the model may take longer to write than Slack waits for an ack.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt import App, Assistant, BoltContext, Say, SetStatus, SetSuggestedPrompts
from slack_bolt.context.get_thread_context import GetThreadContext
from slack_bolt.context.save_thread_context import SaveThreadContext
from slack_sdk import WebClient

from bot import blocks
from bot.listeners.commands.brain import STOPPING
from bot.workspace import LATER, actor, reader
from core import use_cases
from core.ask import EXAMPLES, AnswerWriter
from core.errors import DomainError

GREETING = (
    "Ask me about your agents' memory: what they know, why a cycle did what it did, which "
    "coaching worked, what changed in the brains. I answer from salesbrain's records only, "
    "and change nothing."
)
WORKING = "is reading the brain…"
MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")

log = logging.getLogger("salesbrain.slack")

Post = Callable[[blocks.Message], None]


def register(app: App, writer: AnswerWriter) -> None:
    """The assistant pane's listeners and the mention listener, answering with `writer`."""
    assistant = Assistant(logger=log)
    assistant.thread_started(offer_questions)
    assistant.thread_context_changed(keep_the_channel_in_view)

    @assistant.user_message
    def answer_in_the_pane(
        payload: dict[str, Any],
        context: BoltContext,
        say: Say,
        set_status: SetStatus,
        get_thread_context: GetThreadContext,
    ) -> None:
        def answer() -> None:
            set_status(WORKING)
            thread = get_thread_context()
            post = _poster(say)
            _answer(context, writer, payload, post, thread.channel_id if thread else None)

        _after_the_ack(context, answer, _poster(say))

    @app.event("app_mention")
    def answer_the_mention(event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        post = _in_the_thread(client, event)
        _after_the_ack(
            context, lambda: _answer(context, writer, event, post, event["channel"]), post
        )

    # A direct message to the app outside the pane's threads (a workspace without AI apps) is
    # answered in its own thread; threads of the app's DMs are the pane's (above).
    @app.event("message", matchers=[_direct_message])
    def answer_the_direct_message(
        event: dict[str, Any], context: BoltContext, client: WebClient
    ) -> None:
        post = _in_the_thread(client, event)
        _after_the_ack(context, lambda: _answer(context, writer, event, post, None), post)

    app.assistant(assistant)


def offer_questions(say: Say, set_suggested_prompts: SetSuggestedPrompts) -> None:
    say(GREETING)
    set_suggested_prompts(
        prompts=[{"title": example, "message": example} for example in EXAMPLES],
        title="Ask the brain, for example:",
    )


def keep_the_channel_in_view(
    payload: dict[str, Any], save_thread_context: SaveThreadContext
) -> None:
    save_thread_context(payload["assistant_thread"]["context"])


def _direct_message(event: dict[str, Any]) -> bool:
    return event.get("channel_type") == "im" and not event.get("subtype") and "ts" in event


def _in_the_thread(client: WebClient, event: dict[str, Any]) -> Post:
    thread = event.get("thread_ts") or event["ts"]

    def post(message: blocks.Message) -> None:
        client.chat_postMessage(channel=event["channel"], thread_ts=thread, **message)

    return post


def _poster(say: Say) -> Post:
    return lambda message: say(**message)


def _after_the_ack(context: BoltContext, work: Callable[[], None], post: Post) -> None:
    if not context[LATER].offer(lambda: _told(work, post)):
        post(blocks.line(STOPPING))


def _answer(
    context: BoltContext,
    writer: AnswerWriter,
    event: dict[str, Any],
    post: Post,
    viewing_channel: str | None,
) -> None:
    question = MENTION.sub(" ", str(event.get("text") or "")).strip()
    answer = use_cases.ask(
        reader(context),
        str(context.team_id),
        question,
        actor(context),
        writer,
        viewing_channel=viewing_channel,
        asker_team_id=event.get("user_team"),
    )
    post(blocks.answer_message(answer))


def _told(work: Callable[[], None], post: Post) -> None:
    """Work after the ack: a failure is told in the thread, in one line."""
    try:
        work()
    except Exception as error:
        if not isinstance(error, DomainError):
            log.error("answering a question failed", exc_info=error)
        try:
            post(blocks.line(blocks.error_text(error)))
        except Exception as failure:
            log.warning("could not tell about a failure: %s", type(failure).__name__)
