"""Model backends behind one interface: `anthropic` (the Messages API) and `offline`.

A backend reads a brain, answers through the toolbox's typed tools, and reports what the
reasoning cost. It never writes: the cycle applies the accepted tool calls afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from core.errors import InvalidInput
from core.heartbeat.brain import Brain
from core.heartbeat.config import HeartbeatSettings
from core.heartbeat.tools import Toolbox
from core.pricing import TokenCounts
from core.settings import Settings

# The backend that reasons by rule: it calls no model and is billed nothing.
OFFLINE = "offline"


@dataclass
class Usage:
    """What the reasoning cost: tokens, model calls and the SDK's retries."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    # The part of cache_write_tokens written with the 1-hour TTL (billed higher than 5 minutes).
    cache_write_1h_tokens: int = 0
    calls: int = 0
    retries: int = 0
    model_ms: float = 0.0

    def counts(self) -> TokenCounts:
        """The tokens as the price table bills them."""
        return TokenCounts(
            input=self.input_tokens,
            output=self.output_tokens,
            cache_read=self.cache_read_tokens,
            cache_write_5m=self.cache_write_tokens - self.cache_write_1h_tokens,
            cache_write_1h=self.cache_write_1h_tokens,
        )


@dataclass
class Reasoning:
    """The end of a successful reasoning loop (the tool calls are on the toolbox)."""

    backend: str
    model: str
    usage: Usage = field(default_factory=Usage)
    # Text the model wrote outside tool calls, the report when it never called finish_cycle.
    text: str = ""


class ModelCallFailed(Exception):
    """The model could not be reached or kept failing after the retries."""

    def __init__(self, message: str, usage: Usage) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage


class Backend(Protocol):
    name: str

    def reason(self, brain: Brain, toolbox: Toolbox, *, seconds_left: float) -> Reasoning:
        """Work the brain's task through the toolbox; raise ModelCallFailed when it cannot."""
        ...


def backend_from_settings(settings: Settings, heartbeat: HeartbeatSettings) -> Backend:
    """The backend SALESBRAIN_LLM names (anthropic when a key is set, else offline)."""
    if settings.llm_backend == "offline":
        from core.heartbeat.backends.offline import OfflineBackend

        return OfflineBackend()
    if settings.anthropic_api_key is None:
        raise InvalidInput(
            "SALESBRAIN_LLM", "anthropic needs ANTHROPIC_API_KEY; or set SALESBRAIN_LLM=offline"
        )
    from core.heartbeat.backends.anthropic import AnthropicBackend

    return AnthropicBackend.from_settings(settings, heartbeat)
