"""Input rules shared by every surface: each violation names the field."""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import TypeVar

from core.errors import InvalidInput, NotFound
from core.storable import check_text

MAX_CONTENT = 4000
# Ids are 64-bit on PostgreSQL and SQLite alike: a number past this names nothing stored.
MAX_RECORD_ID = 2**63 - 1
HANDLE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
# Slack's ids: a workspace T… (an Enterprise Grid org E…), a channel C…, G… or D….
TEAM_ID = re.compile(r"[TE][A-Z0-9]{1,31}")
CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{1,31}")
INTERVAL = re.compile(r"(\d+)\s*(m|min|h|d)?")

E = TypeVar("E", bound=StrEnum)


def content(value: str, field: str = "content", limit: int = MAX_CONTENT) -> str:
    """Text of 1..limit characters after trimming."""
    text = (value or "").strip()
    if not text:
        raise InvalidInput(field, "is empty")
    return check_text(text, field, limit)


def record_id(value: int | str, field: str) -> int:
    """A stored record's id, such as 12 or #12: not a number is bad input; a number no
    record can have (0, negative, past 64 bits) is not found, on every database."""
    text = str(value).strip().removeprefix("#")
    try:
        number = int(text)
    except ValueError:
        raise InvalidInput(field, f"{clip(text)!r} is not a {field} id") from None
    if not 1 <= number <= MAX_RECORD_ID:
        raise NotFound(f"{field} {clip(text)} not found")
    return number


def clip(text: str, limit: int = 40) -> str:
    """Text quoted back in an error, cut short: the error stays one readable line."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


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


def team_id(value: str, field: str = "team_id") -> str:
    """A Slack workspace id, such as T0001."""
    value = (value or "").strip()
    if not TEAM_ID.fullmatch(value):
        raise InvalidInput(field, f"{clip(value)!r} is not a Slack workspace id (e.g. T0001)")
    return value


def channel_id(value: str, field: str = "channel") -> str:
    """A Slack channel id, such as C0123ABCD (a channel's id, not its #name)."""
    value = (value or "").strip()
    if not CHANNEL_ID.fullmatch(value):
        raise InvalidInput(field, f"{clip(value)!r} is not a Slack channel id (e.g. C0123ABCD)")
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
