"""Input rules shared by every surface: each violation names the field."""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import TypeVar

from core.errors import InvalidInput

MAX_CONTENT = 4000
HANDLE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
INTERVAL = re.compile(r"(\d+)\s*(m|min|h|d)?")

E = TypeVar("E", bound=StrEnum)


def content(value: str, field: str = "content", limit: int = MAX_CONTENT) -> str:
    """Text of 1..limit characters after trimming."""
    text = (value or "").strip()
    if not text:
        raise InvalidInput(field, "is empty")
    if len(text) > limit:
        raise InvalidInput(field, f"is {len(text):,} characters; the limit is {limit:,}")
    return text


def importance(value: float, field: str = "importance") -> float:
    """A number from 0 to 1."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(field, f"{value!r} is not a number from 0 to 1") from None
    if math.isnan(number) or not 0.0 <= number <= 1.0:
        raise InvalidInput(field, f"{value} is outside 0..1")
    return number


def choice(enum_class: type[E], value: str | E, field: str) -> E:
    """One of an enum's values, with the allowed values in the error."""
    try:
        return enum_class(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum_class)
        raise InvalidInput(field, f"unknown {field} {value!r}; one of {allowed}") from None


def handle(value: str, field: str = "handle") -> str:
    """An agent handle: lowercase letters, digits, '-' or '_', up to 64 characters."""
    value = (value or "").strip().lstrip("@")
    if not HANDLE.fullmatch(value):
        raise InvalidInput(
            field, f"{value!r} is not a handle (lowercase letters, digits, '-', '_'; e.g. sdr-emea)"
        )
    return value


def slug(value: str, field: str = "team") -> str:
    """A team slug: lowercase letters, digits, '-' or '_'."""
    value = (value or "").strip()
    if not SLUG.fullmatch(value):
        raise InvalidInput(field, f"{value!r} is not a slug (lowercase letters, digits, '-', '_')")
    return value


def interval_minutes(value: str | int, field: str = "every") -> int:
    """A heartbeat interval such as 60m, 3h, 1d or 90 (minutes): 5 minutes to 7 days."""
    match = INTERVAL.fullmatch(str(value).strip().lower())
    if not match:
        raise InvalidInput(field, f"{value!r} is not an interval such as 60m, 3h or 1d")
    amount, unit = int(match.group(1)), match.group(2) or "m"
    minutes = amount * {"m": 1, "min": 1, "h": 60, "d": 1440}[unit]
    if not 5 <= minutes <= 7 * 1440:
        raise InvalidInput(field, f"{value!r} is outside 5m..7d")
    return minutes
