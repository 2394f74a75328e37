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
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, UOWTransaction

from core.errors import InvalidInput

NUL = "\x00"
# JSON documents are walked this deep for NUL characters (ours nest two or three levels).
MAX_DEPTH = 20


def check_text(value: str, field: str, limit: int | None = None) -> str:
    """`value` if a database can store it in `field`: no NUL character, valid Unicode (no
    lone surrogate, which JSON's \\ud800 can carry), at most `limit` characters."""
    if NUL in value:
        raise InvalidInput(field, "contains a NUL character (\\x00), which cannot be stored")
    if not _unicode(value):
        raise InvalidInput(field, "is not valid Unicode (a lone surrogate), which cannot be stored")
    if limit is not None and len(value) > limit:
        raise InvalidInput(field, f"is {len(value):,} characters; the limit is {limit:,}")
    return value


def _unicode(value: str) -> bool:
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_document(value: Any, field: str, depth: int = 0) -> None:
    """Raise InvalidInput for the first text in a JSON document (keys too) no database stores."""
    if isinstance(value, str):
        check_text(value, field)
    elif depth < MAX_DEPTH and isinstance(value, dict):
        for key, item in value.items():
            check_text(str(key), field)
            check_document(item, field, depth + 1)
    elif depth < MAX_DEPTH and isinstance(value, list | tuple):
        for item in value:
            check_document(item, field, depth + 1)


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
            check_document(value, attribute.key)


@event.listens_for(Session, "before_flush")
def _refuse_what_cannot_be_stored(
    session: Session, flush_context: UOWTransaction, instances: object
) -> None:
    for instance in (*session.new, *session.dirty):
        check_object(instance)


def check_parameters(engine: Engine) -> None:
    """Refuse, on every statement of `engine`, a text parameter no database takes: a lookup by
    a name holding a NUL character fails on PostgreSQL and finds nothing on SQLite; either
    way the person is told in one line. Bulk statements (signals) check their rows themselves."""

    @event.listens_for(engine, "before_cursor_execute")
    def _refuse_unstorable_parameters(
        connection: Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        if executemany or not parameters:
            return
        values = parameters.values() if isinstance(parameters, dict) else parameters
        for value in values:
            if type(value) is str and (NUL in value or not _unicode(value)):
                check_text(value, "input")
