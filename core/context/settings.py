"""How context assembly weighs memory: half-lives, the relevance floor and the exponents."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.orm import Session

from core import audit
from core.errors import InvalidInput
from core.models import BlockType, Tier, Workspace
from core.permissions import Actor, check_admin, principal_for

DEFAULT_HALF_LIFE_DAYS: dict[BlockType, float] = {
    BlockType.COACHING: 90.0,
    BlockType.OBJECTION_RESPONSE: 60.0,
    BlockType.PATTERN: 45.0,
    BlockType.LEARNING: 30.0,
    BlockType.ACCOUNT_CONTEXT: 120.0,
}
# The key of this object in Workspace.settings.
WORKSPACE_KEY = "context"


class ContextSettings(BaseModel):
    """The knobs of the score, per workspace (Workspace.settings["context"]), with defaults.

    Only what a workspace sets differs from the defaults; half-lives merge per type.
    """

    # Infinity and NaN are no number of days (and no JSON).
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    half_life_days: dict[BlockType, float] = Field(
        default_factory=lambda: dict(DEFAULT_HALF_LIFE_DAYS)
    )
    # Company knowledge fades slowly whatever its type.
    company_half_life_days: float = Field(default=365.0, gt=0)
    # A block with no word in common with the task keeps this much relevance, so that an
    # important coaching note can still surface.
    relevance_floor: float = Field(default=0.2, ge=0, le=1)
    importance_exponent: float = Field(default=1.0, ge=0, le=10)
    recency_exponent: float = Field(default=1.0, ge=0, le=10)
    relevance_exponent: float = Field(default=1.0, ge=0, le=10)
    # Blocks of one type whose word sets overlap this much are one block said twice.
    duplicate_jaccard: float = Field(default=0.8, gt=0, le=1)

    @field_validator("half_life_days")
    @classmethod
    def _complete_and_positive(cls, given: dict[BlockType, float]) -> dict[BlockType, float]:
        for block_type, days in given.items():
            if not days > 0:
                raise ValueError(f"the half-life of {block_type.value} must be above 0 days")
        return {**DEFAULT_HALF_LIFE_DAYS, **given}

    def half_life(self, tier: Tier, block_type: BlockType) -> float:
        """Days after which a block's recency has halved."""
        if tier is Tier.COMPANY:
            return self.company_half_life_days
        return self.half_life_days[block_type]

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
