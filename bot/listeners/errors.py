"""The one error handler: every failed listener ends here and becomes one clear line.

A domain error (bad input, not allowed, not found) is told to the person who asked,
ephemerally: in the answer to a command, next to the field of a form, through the response
URL of a command already answered, or as an ephemeral message in the channel of a
reaction. Anything else is logged with its traceback and the person gets a line that says
so, without the details.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from bot import blocks
from bot.workspace import OUTCOME
from core.db import unavailable
from core.errors import DomainError, InvalidInput, NotFound, PermissionDenied

FORM_FIELDS = ("agent", "type", "importance", "note")


def register(app: App) -> None:
    @app.error
    def tell_the_person(
        error: Exception,
        body: dict[str, Any],
        context: BoltContext,
        respond: Respond | None,
        client: WebClient,
        response: BoltResponse | None,
        logger: logging.Logger,
    ) -> BoltResponse | None:
        context[OUTCOME] = failed(error, logger)
        if response is not None and body.get("type") == "event_callback" and unavailable(error):
            # The database is away (restarting): the event recorded nothing, and an answer
            # other than 2xx makes Slack deliver it again (at once, after 1 and 5 minutes).
            logger.warning(
                "event %s to be delivered again: the database is away", body.get("event_id")
            )
            return BoltResponse(status=503, body="")
        text = blocks.error_text(error)
        if response is not None:
            # The answer to Slack's request has not left yet (listeners run before it is
            # sent): it carries the error.
            if body.get("type") == "view_submission":
                return _form_errors(error, text)
            if body.get("command"):
                return command_error(error)
        try:
            _tell(body, context, respond, client, text)
        except (SlackApiError, SlackRequestError) as failure:
            logger.warning("could not tell %s: %s", context.user_id, type(failure).__name__)
        # An event or an action not yet answered: the person is told, and Slack gets its 200
        # (an error status would make it deliver the request again).
        return BoltResponse(status=200, body="") if response is not None else None


def failed(error: Exception, logger: logging.Logger) -> str:
    """Log a failure that is not the person's own mistake; how the request log names it."""
    if not isinstance(error, DomainError):
        logger.error("listener failed", exc_info=error)
    return outcome_of(error)


def command_error(error: Exception) -> BoltResponse:
    """The ack of a command that failed before it: the error, in one ephemeral line."""
    return _json({"response_type": "ephemeral", "text": blocks.error_text(error)})


def outcome_of(error: Exception) -> str:
    """How the request log names a request that failed with `error`."""
    if isinstance(error, PermissionDenied):
        return "refused"
    if isinstance(error, NotFound):
        return "not_found"
    return "invalid" if isinstance(error, DomainError) else "failed"


def answer_to_failure(error: Exception, logger: logging.Logger) -> blocks.Message:
    """Work done after the ack failed: what to tell the person who asked (logged unless it
    is the person's own mistake)."""
    if not isinstance(error, DomainError):
        logger.error("work after the ack failed", exc_info=error)
    return blocks.line(blocks.error_text(error))


def _form_errors(error: Exception, text: str) -> BoltResponse:
    """A form's errors are shown next to the field that caused them (else next to the agent)."""
    field = error.field if isinstance(error, InvalidInput) else "agent"
    field = field if field in FORM_FIELDS else ("note" if field == "content" else "agent")
    return _json({"response_action": "errors", "errors": {field: text[:2000]}})


def _json(body: dict[str, Any]) -> BoltResponse:
    return BoltResponse(
        status=200, body=json.dumps(body), headers={"content-type": "application/json"}
    )


def _tell(
    body: dict[str, Any],
    context: BoltContext,
    respond: Respond | None,
    client: WebClient,
    text: str,
) -> None:
    if respond is not None and context.response_url:
        respond(text=text, response_type="ephemeral", replace_original=False)
        return
    event = body.get("event") or {}
    channel = (event.get("item") or {}).get("channel") or event.get("channel")
    if channel and context.user_id:
        client.chat_postEphemeral(channel=channel, user=context.user_id, text=text)
