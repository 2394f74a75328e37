"""Every knob of the heartbeat in one place: schedule, leases, model calls, retries, outbox."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "SALESBRAIN_HEARTBEAT_"


class HeartbeatSettings(BaseSettings):
    """Read from SALESBRAIN_HEARTBEAT_* variables, nested in core.settings.Settings as
    `heartbeat`; tests build their own with short timings."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    # The scheduler looks for due agents this often (a finished cycle also looks at once).
    tick_seconds: float = Field(default=30.0, gt=0)
    # A claimed agent is ours for this long; a crashed worker's agents come back after it.
    # It bounds a whole cycle: every model request ends (times out) before the lease runs
    # out, so that no other worker can start a second paid call for the same agent.
    lease_seconds: float = Field(default=900.0, gt=0)
    # Cycles running at once in one process, per workspace and in all.
    concurrency: int = Field(default=4, ge=1, le=256)
    max_workers: int = Field(default=32, ge=1, le=1024)
    # Next run = finish + interval + a little jitter (at most this share of the interval,
    # capped at max_jitter_seconds) so agents created together drift apart.
    jitter_share: float = Field(default=0.05, ge=0, le=0.5)
    max_jitter_seconds: float = Field(default=300.0, ge=0)

    # Model calls: the Anthropic SDK retries 408/409/429/5xx/529 and timeouts with
    # exponential backoff (honouring retry-after); these are its settings.
    model_timeout_seconds: float = Field(default=120.0, gt=0)
    model_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    model_max_retries: int = Field(default=3, ge=0, le=10)
    max_turns: int = Field(default=6, ge=1, le=20)
    max_tokens: int = Field(default=1024, ge=64, le=32_000)
    # The lifetime of the prompt's cached prefix: "1h" keeps it alive between hourly cycles
    # (see core/heartbeat/backends/anthropic.py); "5m" suits agents that wake more often.
    prompt_cache_ttl: Literal["5m", "1h"] = "1h"
    # Learnings one cycle may record; the model's calls beyond it are refused and recorded.
    max_learnings_per_cycle: int = Field(default=3, ge=0, le=50)

    # The full-text index is merged daily at this hour (UTC) by every running scheduler
    # (in short steps; a second process finds nothing left to merge). -1: never.
    index_maintenance_hour: int = Field(default=3, ge=-1, le=23)

    # Brain assembly.
    context_limit: int = Field(default=20, ge=1, le=200)
    context_token_budget: int = Field(default=2000, ge=100, le=100_000)

    # Outbox delivery: failed deliveries wait base * 2^attempts, at most max, then retry.
    outbox_retry_base_seconds: float = Field(default=30.0, gt=0)
    outbox_retry_max_seconds: float = Field(default=3600.0, gt=0)
    outbox_claim_seconds: float = Field(default=120.0, gt=0)
    # A destination only a person can fix (the bot is not in the channel) is tried again
    # this often, with its oldest waiting report, in case it was fixed unseen.
    outbox_blocked_probe_seconds: float = Field(default=900.0, gt=0)
    outbox_batch: int = Field(default=50, ge=1, le=1000)
    # Threads sending one claimed batch at once, each a channel at a time (a channel's
    # reports go out in order, one after another: Slack takes about one message per second
    # per channel). Each holds a database connection only for its short transactions.
    outbox_senders: int = Field(default=8, ge=1, le=64)
