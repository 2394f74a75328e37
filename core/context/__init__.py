"""Context assembly: the top memory blocks for an agent's task, explained and rendered."""

from core.context.assembly import (
    DEFAULT_LIMIT,
    DEFAULT_TOKEN_BUDGET,
    AssembledContext,
    ScoredBlock,
    assemble_context,
    estimate_tokens,
    record_usage,
)
from core.context.render import render_memory_section
from core.context.search import optimize_index
from core.context.settings import ContextSettings

__all__ = [
    "DEFAULT_LIMIT",
    "DEFAULT_TOKEN_BUDGET",
    "AssembledContext",
    "ContextSettings",
    "ScoredBlock",
    "assemble_context",
    "estimate_tokens",
    "optimize_index",
    "record_usage",
    "render_memory_section",
]
