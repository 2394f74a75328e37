"""What the databases can store, checked the same way on SQLite and PostgreSQL.

SQLite stores a string of any length in a VARCHAR(32) and a NUL character anywhere;
PostgreSQL refuses both, half-way through a use case. Every object a unit of work writes is
checked before it is flushed, against the lengths of its own column definitions, so that
input the rules of a use case did not bound yet is refused with one line naming the field,
on both databases, and nothing is written.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, event, inspect
from sqlalchemy.orm import Session, UOWTransaction

from core.errors import InvalidInput

NUL = "\x00"
# JSON documents are walked this deep for NUL characters (ours nest two or three levels).
MAX_DEPTH = 20


def check_text(value: str, field: str, limit: int | None = None) -> str:
    """`value` if a database can store it in `field`: no NUL character, at most `limit`."""
    if NUL in value:
        raise InvalidInput(field, "contains a NUL character (\\x00), which cannot be stored")
    if limit is not None and len(value) > limit:
        raise InvalidInput(field, f"is {len(value):,} characters; the limit is {limit:,}")
    return value


def _check_document(value: Any, field: str, depth: int = 0) -> None:
    if isinstance(value, str):
        check_text(value, field)
    elif depth < MAX_DEPTH and isinstance(value, dict):
        for key, item in value.items():
            check_text(str(key), field)
            _check_document(item, field, depth + 1)
    elif depth < MAX_DEPTH and isinstance(value, list | tuple):
        for item in value:
            _check_document(item, field, depth + 1)


def check_object(instance: object) -> None:
    """Raise InvalidInput for the first value of `instance` its table cannot store."""
    state = inspect(instance)
    for attribute in state.mapper.column_attrs:
        value = state.dict.get(attribute.key)  # only what is loaded or set: nothing is fetched
        if value is None:
            continue
        column = attribute.columns[0]
        if isinstance(value, str):
            length = column.type.length if isinstance(column.type, String) else None
            check_text(value, attribute.key, length)
        elif isinstance(value, dict | list):
            _check_document(value, attribute.key)


@event.listens_for(Session, "before_flush")
def _refuse_what_cannot_be_stored(
    session: Session, flush_context: UOWTransaction, instances: object
) -> None:
    for instance in (*session.new, *session.dirty):
        check_object(instance)
