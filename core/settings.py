"""Configuration from the environment, in one typed object."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from core.dialect import DATABASES, normalise_url
from core.errors import InvalidInput
from core.heartbeat.config import ENV_PREFIX as HEARTBEAT_ENV_PREFIX
from core.heartbeat.config import HeartbeatSettings

# The largest body POST /signals reads (SALESBRAIN_SIGNALS_MAX_BYTES); larger ones get 413.
SIGNALS_MAX_BYTES = 20_000_000


def default_database_url() -> str:
    return f"sqlite:///{Path.cwd() / 'salesbrain.db'}"


class Settings(BaseSettings):
    """Everything salesbrain reads from the environment. Secrets are never printed."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    database_url: str = Field(
        default_factory=default_database_url, validation_alias="SALESBRAIN_DATABASE_URL"
    )
    llm: Literal["anthropic", "offline"] | None = Field(
        default=None, validation_alias="SALESBRAIN_LLM"
    )
    anthropic_api_key: SecretStr | None = Field(default=None, validation_alias="ANTHROPIC_API_KEY")
    anthropic_base_url: str | None = Field(default=None, validation_alias="ANTHROPIC_BASE_URL")
    slack_bot_token: SecretStr | None = Field(default=None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(
        default=None, validation_alias="SLACK_SIGNING_SECRET"
    )
    slack_app_token: SecretStr | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(default="https://slack.com/api/", validation_alias="SLACK_API_URL")
    slack_client_id: str | None = Field(default=None, validation_alias="SLACK_CLIENT_ID")
    slack_client_secret: SecretStr | None = Field(
        default=None, validation_alias="SLACK_CLIENT_SECRET"
    )
    signals_token: SecretStr | None = Field(
        default=None, validation_alias="SALESBRAIN_SIGNALS_TOKEN"
    )
    # The command line raises an unexpected error with its traceback instead of one line.
    debug: bool = Field(default=False, validation_alias="SALESBRAIN_DEBUG")
    signals_max_bytes: int = Field(
        default=SIGNALS_MAX_BYTES, gt=0, validation_alias="SALESBRAIN_SIGNALS_MAX_BYTES"
    )
    # Read from its own SALESBRAIN_HEARTBEAT_* variables (the nested class's prefix).
    heartbeat: HeartbeatSettings = Field(
        default_factory=HeartbeatSettings, validation_alias="SALESBRAIN_HEARTBEAT"
    )

    # How long the process that acknowledged a command holds it before any other process may
    # do it (core/intake.py), and how often each `serve` looks for such commands.
    intake_lease_seconds: float = Field(
        default=30.0, gt=0, validation_alias="SALESBRAIN_INTAKE_LEASE_SECONDS"
    )
    intake_sweep_seconds: float = Field(
        default=5.0, gt=0, validation_alias="SALESBRAIN_INTAKE_SWEEP_SECONDS"
    )

    # `salesbrain db prune` forgets reports delivered more than this many days ago
    # (core/retention.py).
    retention_outbox_days: float = Field(
        default=7.0, gt=0, validation_alias="SALESBRAIN_RETENTION_OUTBOX_DAYS"
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, url: str) -> str:
        try:
            backend = make_url(normalise_url(url)).get_backend_name()
        except ArgumentError:
            backend = None
        if backend not in DATABASES:
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return url

    @property
    def llm_backend(self) -> Literal["anthropic", "offline"]:
        """The model backend: as configured, else anthropic when a key is set, else offline."""
        if self.llm is not None:
            return self.llm
        return "anthropic" if self.anthropic_api_key else "offline"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once from the environment; InvalidInput naming the
    variable when one is wrong."""
    try:
        return Settings()
    except ValidationError as error:
        nested = error.title == HeartbeatSettings.__name__
        raise configuration_error(error, prefix=HEARTBEAT_ENV_PREFIX if nested else "") from None


def configuration_error(error: ValidationError, prefix: str = "") -> InvalidInput:
    """The first problem of a configuration, named by its environment variable (a settings
    class read with an env_prefix passes it). The value is not repeated: it may be a secret."""
    first = error.errors()[0]
    field = ".".join(map(str, first["loc"]))
    variable = (prefix + field.upper() if prefix else field) or error.title
    message = first["msg"].removeprefix("Value error, ")
    return InvalidInput(variable, f"{message} (configuration from the environment)")
