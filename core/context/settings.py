"""How context assembly weighs memory: the whole formula, per workspace.

    score     = relevance x (1 + wi x importance + wr x recency) / (1 + wi + wr)
    relevance = sum over the task's concepts a block holds of weight x idf, / the best
                block's sum (1 for an account note whose account the task names; 0 if none)
    recency   = 1 for durable knowledge (coaching; policy on the Company Brain) until it is
                superseded or archived, else 0.5 ^ (days since updated_at / half-life)

Relevance leads: importance and recency are bounded priors (wi = 1, wr = 0.5 by default)
that move a block's score by at most (1 + wi + wr) = 2.5x, so they reorder blocks of
similar relevance but never lift a block with no relevance at all. Besides those, a few
standing-order slots hold the most important durable blocks whatever the task.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy.orm import Session

from core import audit
from core.errors import InvalidInput
from core.models import BlockType, Tier, Workspace
from core.permissions import Actor, check_admin, principal_for

# How fast knowledge that ages goes stale. Objections and patterns change with the market
# in months; a learning is one observation; account facts (who is who, the budget cycle)
# last a sales cycle. Durable types ignore these (see ContextSettings.durable_types).
DEFAULT_HALF_LIFE_DAYS: dict[BlockType, float] = {
    BlockType.COACHING: 90.0,
    BlockType.OBJECTION_RESPONSE: 60.0,
    BlockType.PATTERN: 45.0,
    BlockType.LEARNING: 30.0,
    BlockType.ACCOUNT_CONTEXT: 120.0,
}
# The key of this object in Workspace.settings.
WORKSPACE_KEY = "context"
# Keys of the former formula (importance^a x recency^b x relevance^c with a relevance floor)
# that workspaces may still have stored: read, mapped, never an error.
LEGACY_KEYS = ("relevance_floor", "importance_exponent", "recency_exponent", "relevance_exponent")


def mapped_legacy_keys(data: dict[str, Any]) -> dict[str, Any]:
    """Stored settings in today's keys. A workspace that set an exponent to 0 asked to
    ignore that factor: its weight becomes 0. The floor and other exponents have no
    counterpart (relevance leads and an unrelated block takes no slot) and are dropped."""
    if not any(key in data for key in LEGACY_KEYS):
        return data
    mapped = {key: value for key, value in data.items() if key not in LEGACY_KEYS}
    for factor in ("importance", "recency"):
        if data.get(f"{factor}_exponent") == 0:
            mapped.setdefault(f"{factor}_weight", 0.0)
    return mapped


class ContextSettings(BaseModel):
    """The knobs of the score, per workspace (Workspace.settings["context"]), with defaults.

    Only what a workspace sets differs from the defaults; half-lives merge per type.
    """

    # Infinity and NaN are no number of days (and no JSON).
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    half_life_days: dict[BlockType, float] = Field(
        default_factory=lambda: dict(DEFAULT_HALF_LIFE_DAYS)
    )
    # Company knowledge that ages (learnings, account notes) fades slowly whatever its type.
    company_half_life_days: float = Field(default=365.0, gt=0)
    # Knowledge that stays true until someone says otherwise (supersedes or archives it): a
    # manager's coaching, and the Company Brain's playbook (patterns, objection responses).
    # The seed's coaching note "can inform 20-30 future cycles over the next quarter"; the
    # calendar alone says nothing about whether it still holds.
    durable_types: list[BlockType] = Field(default_factory=lambda: [BlockType.COACHING])
    company_durable_types: list[BlockType] = Field(
        default_factory=lambda: [
            BlockType.COACHING,
            BlockType.PATTERN,
            BlockType.OBJECTION_RESPONSE,
        ]
    )
    # The priors' weights: bounded, so that importance and freshness together swing a score
    # by 2.5x at most: they order blocks that match about as well (one shared word more or
    # less, which full-text relevance on a few sentences barely tells apart) and never
    # outrank a block that matches far better. Importance weighs twice recency: it is a
    # person's or the analysis's judgement of the block, recency only the calendar (and
    # durable blocks have full recency anyway).
    importance_weight: float = Field(default=1.0, ge=0, le=2)
    recency_weight: float = Field(default=0.5, ge=0, le=2)
    # Slots that go to the most important durable blocks whatever the task (a manager's
    # "always do X"); every other slot must share a concept with the task or name its account.
    standing_orders: int = Field(default=2, ge=0, le=10)
    standing_order_min_importance: float = Field(default=0.8, ge=0, le=1)
    # A lexicon synonym counts a bit less than the task's own word: it is a guess at the
    # same meaning. A word of a lexicon phrase counts alone at half: "service" says less
    # than "service line".
    synonym_weight: float = Field(default=0.8, ge=0, le=1)
    phrase_word_weight: float = Field(default=0.5, ge=0, le=1)
    # Blocks of one type whose word sets overlap this much are one block said twice.
    duplicate_jaccard: float = Field(default=0.8, gt=0, le=1)

    @model_validator(mode="before")
    @classmethod
    def _map_legacy_keys(cls, data: Any) -> Any:
        return mapped_legacy_keys(data) if isinstance(data, dict) else data

    @field_validator("half_life_days")
    @classmethod
    def _complete_and_positive(cls, given: dict[BlockType, float]) -> dict[BlockType, float]:
        for block_type, days in given.items():
            if not days > 0:
                raise ValueError(f"the half-life of {block_type.value} must be above 0 days")
        return {**DEFAULT_HALF_LIFE_DAYS, **given}

    def half_life(self, tier: Tier, block_type: BlockType) -> float:
        """Days after which the recency of a block that ages has halved."""
        if tier is Tier.COMPANY:
            return self.company_half_life_days
        return self.half_life_days[block_type]

    def durable(self, tier: Tier, block_type: BlockType) -> bool:
        """Whether blocks of this type on this tier keep full recency until replaced."""
        if tier is Tier.COMPANY:
            return block_type in self.company_durable_types
        return block_type in self.durable_types

    @cached_property
    def half_lives(self) -> dict[tuple[str, str], float | None]:
        """Per stored (tier, type): the half-life of blocks that age, None for durable ones
        (worked out once per settings object: context assembly asks for every block)."""
        return {
            (tier.value, block_type.value): None
            if self.durable(tier, block_type)
            else self.half_life(tier, block_type)
            for tier in Tier
            for block_type in BlockType
        }

    @cached_property
    def durable_kinds(self) -> tuple[tuple[Tier, BlockType], ...]:
        """The (tier, type) pairs whose blocks keep full recency: the standing orders' kinds."""
        return tuple(
            (tier, block_type)
            for tier in Tier
            for block_type in BlockType
            if self.durable(tier, block_type)
        )

    def score(self, importance: float, recency: float, relevance: float) -> float:
        """The formula of the module docstring, for each block read (search.py _candidate)."""
        priors = 1 + self.importance_weight * importance + self.recency_weight * recency
        return relevance * priors / (1 + self.importance_weight + self.recency_weight)

    @classmethod
    def parse(cls, data: dict[str, Any] | None) -> ContextSettings:
        """Settings from a JSON object; a bad value is an InvalidInput naming it."""
        try:
            return cls.model_validate(data or {})
        except ValidationError as error:
            problem = error.errors()[0]
            where = ".".join(str(part) for part in problem["loc"] if part != "[key]")
            unknown = problem["type"] == "extra_forbidden"
            message = "is not a context setting" if unknown else problem["msg"]
            raise InvalidInput(f"context settings {where or 'object'}", message) from None

    @classmethod
    def of(cls, workspace: Workspace) -> ContextSettings:
        """The workspace's settings, or the defaults."""
        return cls.parse((workspace.settings or {}).get(WORKSPACE_KEY))

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def configure(
    session: Session, workspace: Workspace, changes: dict[str, Any], *, by: Actor
) -> ContextSettings:
    """Change how a workspace's context assembly weighs memory (admins only); what is not
    named keeps its value, half-lives merge per type."""
    check_admin(
        principal_for(session, workspace, by),
        "change the context settings",
        action="context.configure",
        target="workspace:context",
    )
    stored = dict((workspace.settings or {}).get(WORKSPACE_KEY) or {})
    # Keys of the former formula are rewritten in today's terms when the settings change.
    stored = mapped_legacy_keys(stored)
    merged = {**stored, **changes}
    if "half_life_days" in changes:
        merged["half_life_days"] = {**stored.get("half_life_days", {}), **changes["half_life_days"]}
    settings = ContextSettings.parse(merged)
    # A new dict, so that the JSON column is seen as changed.
    workspace.settings = {**(workspace.settings or {}), WORKSPACE_KEY: merged}
    session.flush()
    detail = ", ".join(f"{key}={value}" for key, value in sorted(changes.items()))
    audit.record(session, workspace, by, "context.configure", "workspace:context", detail)
    return settings
