"""The `anthropic` backend: the Messages API through the official SDK, with tool use.

A short loop: call the model, run the tools it asked for, send their results back, until it
calls finish_cycle or the turn limit. The static role prompt goes first with prompt caching
(identical for every agent of a role, so one cache entry serves them all); the agent's
memory follows it, then the task. Retries with backoff (429, 529, 5xx, timeouts, honouring
retry-after) are the SDK's own, configured with the timeout in HeartbeatSettings.
"""

from __future__ import annotations

import time

import anthropic
import httpx2
from anthropic.types import (
    Message,
    MessageParam,
    TextBlockParam,
    ToolParam,
    ToolResultBlockParam,
)

from core.heartbeat.backends import ModelCallFailed, Reasoning, Usage
from core.heartbeat.brain import Brain, memory_prompt, task_prompt
from core.heartbeat.config import HeartbeatSettings
from core.heartbeat.prompt import system_prompt
from core.heartbeat.tools import REFUSED, Toolbox, tool_definitions
from core.settings import Settings


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
        self.max_turns = heartbeat.max_turns
        self.max_tokens = heartbeat.max_tokens

    @classmethod
    def from_settings(cls, settings: Settings, heartbeat: HeartbeatSettings) -> AnthropicBackend:
        return cls(make_client(settings, heartbeat), heartbeat)

    def reason(self, brain: Brain, toolbox: Toolbox, *, seconds_left: float) -> Reasoning:
        """The tool-use loop for one cycle."""
        deadline = time.monotonic() + seconds_left
        usage = Usage()
        system: list[TextBlockParam] = [
            {
                "type": "text",
                "text": system_prompt(brain.role),
                "cache_control": {"type": "ephemeral"},
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
            for tool in tool_definitions(brain.role)
        ]
        text = ""
        for _turn in range(self.max_turns):
            if time.monotonic() >= deadline:
                raise ModelCallFailed("the cycle ran out of its lease before finishing", usage)
            answer = self._call(brain.model, system, tools, messages, usage)
            text = "\n".join(b.text for b in answer.content if b.type == "text").strip() or text
            uses = [block for block in answer.content if block.type == "tool_use"]
            results: list[ToolResultBlockParam] = []
            for use in uses:
                call = toolbox.call(use.name, use.input)
                results.append(
                    {
                        "type": "tool_result",
                        "tool_use_id": use.id,
                        "content": call.result,
                        "is_error": call.status == REFUSED,
                    }
                )
            if toolbox.finished or not uses:
                break
            messages.append({"role": "assistant", "content": answer.content})
            messages.append({"role": "user", "content": results})
        return Reasoning(self.name, brain.model, usage, text)

    def _call(
        self,
        model: str,
        system: list[TextBlockParam],
        tools: list[ToolParam],
        messages: list[MessageParam],
        usage: Usage,
    ) -> Message:
        started = time.perf_counter()
        try:
            raw = self.client.messages.with_raw_response.create(
                model=model,
                max_tokens=self.max_tokens,
                system=system,
                tools=tools,
                messages=messages,
            )
            answer = raw.parse()
        except anthropic.APIError as error:
            usage.calls += 1
            usage.model_ms += (time.perf_counter() - started) * 1000
            raise ModelCallFailed(describe_error(error, self.client.max_retries), usage) from error
        usage.model_ms += (time.perf_counter() - started) * 1000
        usage.calls += 1
        usage.retries += raw.retries_taken
        usage.input_tokens += answer.usage.input_tokens
        usage.output_tokens += answer.usage.output_tokens
        usage.cache_read_tokens += answer.usage.cache_read_input_tokens or 0
        usage.cache_write_tokens += answer.usage.cache_creation_input_tokens or 0
        return answer


def describe_error(error: anthropic.APIError, retries: int) -> str:
    """The SDK's errors as one line for the cycle record (the one place they are mapped)."""
    after = f" (after {retries} retries)"
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
    return f"the model call failed: {error.message}"
