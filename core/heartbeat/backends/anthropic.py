"""The `anthropic` backend: the Messages API through the official SDK, with tool use.

A short loop: call the model, run the tools it asked for, send their results back, until it
calls finish_cycle or the turn limit. The stable prefix goes first with prompt caching: the
tools, the manual and the Company Brain's standing orders (core/heartbeat/prompt.py), the
same for every agent of the workspace, so one cache entry serves them all; the agent's role
and memory follow it, then the task.

The cache entry lives an hour (HeartbeatSettings.prompt_cache_ttl), not the default five
minutes: agents wake hourly, so a team of five uses its prefix about every 12 minutes. A
5-minute entry would lapse between two cycles, and every cycle would pay a write (1.25x the
input price) and never a read: dearer than no cache. A 1-hour write costs 2x once, each use
reads at 0.1x and starts the hour again, so the entry stays alive while the team works.

A cycle takes several calls (record_learning, handoff_task, finish_cycle...), and each sends
the whole conversation again: the agent's role and memory, the task, the turns so far. So a
second breakpoint, for five minutes, marks the end of the conversation on every call: call
n+1 reads what call n sent, and pays fresh input only for the newest turn. The per-cycle
part is written once at 1.25x and read at 0.1x by each later call of the cycle (a cycle of
one call pays the 0.25x for nothing). Five minutes outlive a cycle; the API wants the
1-hour breakpoint before the 5-minute one, which the prompt's order gives; two breakpoints
of the 4 allowed; the API finds the previous call's entry within its 20-block lookback
while a turn adds fewer blocks than that.

The retries are this module's own, not the SDK's, for three reasons: each attempt's timeout
is bounded by what is left of the agent's lease (so a call never outlives the lease and no
other worker can start a second paid call for the same agent); a 200 whose body is not a
message (invalid JSON, an HTML page, another object) is retried like a 5xx; and the cycle
records how many requests were really sent. 408, 409, 429, 5xx and 529 and lost connections
are retried with exponential backoff, honouring retry-after.

An answer cut off at max_tokens may hold a tool call whose input was cut off with it: such
calls are refused, never applied, and the model is told to make them again, shorter.
"""

from __future__ import annotations

import random
import time
from email.utils import parsedate_to_datetime
from typing import Any

import anthropic
import httpx2
import pydantic
from anthropic.types import (
    CacheControlEphemeralParam,
    Message,
    MessageParam,
    TextBlockParam,
    ToolParam,
    ToolResultBlockParam,
    UserMessageParam,
)

from core.heartbeat.backends import ModelCallFailed, Reasoning, Usage
from core.heartbeat.brain import Brain, memory_prompt, task_prompt
from core.heartbeat.config import HeartbeatSettings
from core.heartbeat.prompt import shared_prompt
from core.heartbeat.tools import CallStatus, Toolbox, every_tool_definition
from core.settings import Settings

# Answers whose tool calls may be cut off mid-input, or that the model did not stand behind.
CUT_OFF = frozenset({"max_tokens", "model_context_window_exceeded"})
DECLINED = frozenset({"refusal"})
# An attempt needs at least this long to be worth sending before the lease runs out.
MIN_ATTEMPT_SECONDS = 0.05
# The conversation's breakpoint: it lives for the cycle, not between cycles (see above).
CONVERSATION_BREAKPOINT = CacheControlEphemeralParam(type="ephemeral", ttl="5m")
# Backoff between attempts: base * 2^n with jitter, at most this; a retry-after up to the cap.
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 8.0
RETRY_AFTER_MAX_SECONDS = 60.0


class Malformed(Exception):
    """A 200 whose body is not a Messages API message."""


def make_client(settings: Settings, heartbeat: HeartbeatSettings) -> anthropic.Anthropic:
    """The one Anthropic client of a process: key, base URL, timeout and retries."""
    key = settings.anthropic_api_key
    return anthropic.Anthropic(
        api_key=key.get_secret_value() if key is not None else None,
        base_url=settings.anthropic_base_url,
        timeout=httpx2.Timeout(
            heartbeat.model_timeout_seconds, connect=heartbeat.model_connect_timeout_seconds
        ),
        max_retries=heartbeat.model_max_retries,
    )


class AnthropicBackend:
    """Reasoning with the agent's model over the Messages API."""

    name = "anthropic"

    def __init__(self, client: anthropic.Anthropic, heartbeat: HeartbeatSettings) -> None:
        self.client = client
        # Every request is one attempt; the retries are counted and bounded here.
        self.once = client.with_options(max_retries=0)
        self.max_retries = client.max_retries
        self.timeout = heartbeat.model_timeout_seconds
        self.connect_timeout = heartbeat.model_connect_timeout_seconds
        self.max_turns = heartbeat.max_turns
        self.max_tokens = heartbeat.max_tokens
        self.cache_ttl = heartbeat.prompt_cache_ttl
        # Off only to measure what it saves (bench/tokens.py).
        self.conversation_cache = True

    @classmethod
    def from_settings(cls, settings: Settings, heartbeat: HeartbeatSettings) -> AnthropicBackend:
        return cls(make_client(settings, heartbeat), heartbeat)

    def reason(self, brain: Brain, toolbox: Toolbox, *, seconds_left: float) -> Reasoning:
        """The tool-use loop for one cycle; every request ends within `seconds_left`."""
        deadline = time.monotonic() + seconds_left
        usage = Usage()
        system: list[TextBlockParam] = [
            {
                "type": "text",
                "text": shared_prompt(brain.company_orders),
                "cache_control": {"type": "ephemeral", "ttl": self.cache_ttl},
            },
            {"type": "text", "text": memory_prompt(brain)},
        ]
        messages: list[MessageParam] = [{"role": "user", "content": task_prompt(brain)}]
        tools = [
            ToolParam(
                name=tool["name"],
                description=tool["description"],
                input_schema=tool["input_schema"],
            )
            for tool in every_tool_definition()
        ]
        text = ""
        for _turn in range(self.max_turns):
            answer = self._call(brain.model, system, tools, messages, usage, deadline)
            text = "\n".join(b.text for b in answer.content if b.type == "text").strip() or text
            uses = [block for block in answer.content if block.type == "tool_use"]
            results: list[ToolResultBlockParam] = []
            for use in uses:
                if answer.stop_reason in CUT_OFF or answer.stop_reason in DECLINED:
                    call = toolbox.refuse(use.name, use.input, _why_not_applied(answer))
                else:
                    call = toolbox.call(use.name, use.input)
                results.append(
                    {
                        "type": "tool_result",
                        "tool_use_id": use.id,
                        "content": call.result,
                        "is_error": call.status is CallStatus.REFUSED,
                    }
                )
            if toolbox.finished or answer.stop_reason in DECLINED or not answer.content:
                break  # (an empty answer cannot be sent back: the API refuses empty turns)
            messages.append({"role": "assistant", "content": answer.content})
            if results:
                messages.append({"role": "user", "content": results})
            else:  # an answer without a tool call: the cycle ends only with finish_cycle
                messages.append({"role": "user", "content": _NOT_FINISHED})
        return Reasoning(self.name, brain.model, usage, text)

    def _call(
        self,
        model: str,
        system: list[TextBlockParam],
        tools: list[ToolParam],
        messages: list[MessageParam],
        usage: Usage,
        deadline: float,
    ) -> Message:
        """One model call: attempts until one answers with a message, the retries run out or
        the lease would; every attempt's timeout ends before the lease does."""
        usage.calls += 1
        for attempt in range(self.max_retries + 1):
            left = deadline - time.monotonic()
            if left < MIN_ATTEMPT_SECONDS:
                raise ModelCallFailed(
                    "the cycle ran out of its lease before the model answered"
                    + (f" (after {attempt} retries)" if attempt else ""),
                    usage,
                )
            if attempt:
                usage.retries += 1
            timeout = min(self.timeout, left)
            started = time.perf_counter()
            try:
                sent = with_breakpoint(messages) if self.conversation_cache else messages
                answer = self._attempt(model, system, tools, sent, timeout)
            except (anthropic.APIError, Malformed) as error:
                usage.model_ms += (time.perf_counter() - started) * 1000
                wait = _retry_wait(error, attempt)
                last = attempt == self.max_retries
                if wait is None or last or time.monotonic() + wait >= deadline:
                    problem = describe_error(error, attempt)
                    if isinstance(error, anthropic.APITimeoutError) and timeout < self.timeout:
                        problem = "the model did not answer before the agent's lease ran out" + (
                            f" (after {attempt} retries)" if attempt else ""
                        )
                    raise ModelCallFailed(problem, usage) from error
                time.sleep(wait)
                continue
            usage.model_ms += (time.perf_counter() - started) * 1000
            usage.input_tokens += answer.usage.input_tokens
            usage.output_tokens += answer.usage.output_tokens
            usage.cache_read_tokens += answer.usage.cache_read_input_tokens or 0
            usage.cache_write_tokens += answer.usage.cache_creation_input_tokens or 0
            by_ttl = answer.usage.cache_creation
            usage.cache_write_1h_tokens += (by_ttl.ephemeral_1h_input_tokens or 0) if by_ttl else 0
            return answer
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _attempt(
        self,
        model: str,
        system: list[TextBlockParam],
        tools: list[ToolParam],
        messages: list[MessageParam],
        timeout: float,
    ) -> Message:
        raw = self.once.messages.with_raw_response.create(
            model=model,
            max_tokens=self.max_tokens,
            system=system,
            tools=tools,
            messages=messages,
            timeout=httpx2.Timeout(timeout, connect=min(self.connect_timeout, timeout)),
        )
        return well_formed(raw.http_response)


def well_formed(response: Any) -> Message:
    """The answer as a message, checked against the SDK's own type; Malformed when it is
    not JSON, not an object or not a message (an HTML page, a proxy's error, a truncation)."""
    try:
        body = response.json()
    except ValueError as error:
        kind = response.headers.get("content-type", "no content type")
        raise Malformed(f"a body that is not JSON ({kind})") from error
    if not isinstance(body, dict) or body.get("type") != "message":
        shape = body.get("type") if isinstance(body, dict) else type(body).__name__
        raise Malformed(f"a body that is not a message (type {shape!r})")
    try:
        return Message.model_validate(body)
    except pydantic.ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise Malformed(f"a message that does not parse ({where}: {problem['msg']})") from error


def with_breakpoint(messages: list[MessageParam]) -> list[MessageParam]:
    """The conversation with a 5-minute cache breakpoint on its last block (the last turn is
    always the user's: the task, tool results or a reminder); the stored conversation keeps
    none, so each call carries one breakpoint there, not one per turn so far."""
    *earlier, last = messages
    content = last["content"]
    blocks: list[Any] = (
        [{"type": "text", "text": content}] if isinstance(content, str) else [*content]
    )
    blocks[-1] = {**blocks[-1], "cache_control": CONVERSATION_BREAKPOINT}
    return [*earlier, UserMessageParam(role="user", content=blocks)]


_NOT_FINISHED = (
    "Your answer called no tool. Act only through the tools, and end the cycle with "
    "finish_cycle; until then nothing you decided is written."
)


def _why_not_applied(answer: Message) -> str:
    if answer.stop_reason in DECLINED:
        return "the answer was a refusal; nothing in it is applied"
    return (
        f"the answer was cut off ({answer.stop_reason}) and this call's input may be cut off "
        "with it; make the call again, shorter"
    )


def _retry_wait(error: Exception, attempt: int) -> float | None:
    """How long to wait before retrying, or None when retrying cannot help."""
    backoff = min(BACKOFF_BASE_SECONDS * 2.0**attempt, BACKOFF_MAX_SECONDS)
    backoff *= 1 - 0.25 * random.random()
    if isinstance(error, Malformed | anthropic.APIConnectionError):
        return backoff  # timeouts included: APITimeoutError is a connection error
    if not isinstance(error, anthropic.APIStatusError):
        return None
    headers = error.response.headers
    should = headers.get("x-should-retry")
    if should == "false":
        return None
    status = error.status_code
    if should != "true" and status not in (408, 409, 429) and status < 500:
        return None
    asked = _retry_after(headers)
    return asked if asked is not None else backoff


def _retry_after(headers: Any) -> float | None:
    """The server's retry-after-ms or retry-after (seconds or an HTTP date), when sensible."""
    seconds: float | None = None
    try:
        if "retry-after-ms" in headers:
            seconds = float(headers["retry-after-ms"]) / 1000
        elif "retry-after" in headers:
            value = headers["retry-after"]
            try:
                seconds = float(value)
            except ValueError:
                seconds = parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError):
        return None
    if seconds is None or not 0 <= seconds <= RETRY_AFTER_MAX_SECONDS:
        return None
    return float(seconds)


def describe_error(error: Exception, retries: int) -> str:
    """The model's failures as one line for the cycle record (the one place they are mapped)."""
    after = f" (after {retries} retries)"
    if isinstance(error, Malformed):
        return f"the model API answered 200 with {error}" + after
    if isinstance(error, anthropic.APITimeoutError):
        return "the model call timed out" + after
    if isinstance(error, anthropic.APIConnectionError):
        return f"the model API could not be reached: {error.message}" + after
    if isinstance(error, anthropic.APIStatusError):
        body = error.body if isinstance(error.body, dict) else {}
        detail = body.get("error")
        if not isinstance(detail, dict):
            detail = {}
        kind = detail.get("type") or type(error).__name__
        message = detail.get("message") or error.message
        retried = error.status_code in (408, 409, 429) or error.status_code >= 500
        return f"the model API answered {error.status_code} {kind}: {message}" + (
            after if retried else ""
        )
    if isinstance(error, anthropic.APIError):
        return f"the model call failed: {error.message}"
    return f"the model call failed: {error}"
