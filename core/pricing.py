"""What a cycle's tokens cost: the dated price table (core/data/model_prices.toml) and the sum.

The Messages API bills a prompt in three parts: the input it processed afresh, the part it
wrote to the prompt cache (at a premium that depends on the entry's TTL) and the part it read
from the cache (at a tenth of the input price); output on top. A cycle's cost is computed
once, when the cycle is stored, so a later change of price leaves what was billed alone.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

TABLE = Path(__file__).parent / "data" / "model_prices.toml"
PER = 1_000_000  # prices are per million tokens
_DATED = re.compile(r"-\d{8}$")  # claude-opus-4-5-20251101 is priced as claude-opus-4-5


@dataclass(frozen=True)
class Price:
    """One model's prices, US dollars per million tokens."""

    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float


@dataclass(frozen=True)
class PriceTable:
    """Every priced model, and the day the prices were read."""

    as_of: date
    models: dict[str, Price]

    def price(self, model: str) -> Price | None:
        """The model's prices (a dated id takes its alias's), or None when it is not listed."""
        return self.models.get(model) or self.models.get(_DATED.sub("", model))


@dataclass(frozen=True)
class TokenCounts:
    """A prompt's tokens as the API reports them: each input token is in exactly one part."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0


def read_table(path: Path) -> PriceTable:
    """The TOML price table: `as_of` and one row per model."""
    with path.open("rb") as file:
        data = tomllib.load(file)
    fields = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
    return PriceTable(
        as_of=data["as_of"],
        models={
            model: Price(**{name: float(row[name]) for name in fields})
            for model, row in data["models"].items()
        },
    )


@cache
def installed_table() -> PriceTable:
    return read_table(TABLE)


_override: ContextVar[PriceTable | None] = ContextVar("salesbrain_prices", default=None)


def table() -> PriceTable:
    """The table in force: the repository's, unless a test or a benchmark set its own."""
    return _override.get() or installed_table()


@contextmanager
def using(prices: PriceTable) -> Iterator[None]:
    """Price with another table inside the block (tests, benchmarks)."""
    token = _override.set(prices)
    try:
        yield
    finally:
        _override.reset(token)


def cost_usd(model: str, tokens: TokenCounts) -> float | None:
    """What these tokens cost on this model in US dollars; None when the model has no price."""
    price = table().price(model)
    if price is None:
        return None
    return (
        tokens.input * price.input
        + tokens.output * price.output
        + tokens.cache_read * price.cache_read
        + tokens.cache_write_5m * price.cache_write_5m
        + tokens.cache_write_1h * price.cache_write_1h
    ) / PER


def cache_share(fresh: int, cache_read: int, cache_write: int) -> float:
    """The share of a prompt's input tokens read from the cache (0 for an empty prompt)."""
    total = fresh + cache_read + cache_write
    return cache_read / total if total else 0.0


def dollars(amount: float | None) -> str:
    """A cost as people read it: $0.0123 under a dollar, $12.34 above; "-" when unknown."""
    if amount is None:
        return "-"
    return f"${amount:,.4f}" if amount < 1 else f"${amount:,.2f}"
