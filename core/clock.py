"""The time salesbrain runs on: the wall clock, or a simulated one (demo, tests)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

_override: ContextVar[Callable[[], datetime] | None] = ContextVar("salesbrain_clock", default=None)


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    source = _override.get()
    return source() if source is not None else datetime.now(UTC)


@contextmanager
def running_on(source: Callable[[], datetime]) -> Iterator[None]:
    """Run the enclosed code on another clock (a simulated day, a fixed instant)."""
    token = _override.set(source)
    try:
        yield
    finally:
        _override.reset(token)


@contextmanager
def frozen_at(instant: datetime) -> Iterator[None]:
    """Run the enclosed code at one fixed instant."""
    with running_on(lambda: instant):
        yield
