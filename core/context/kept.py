"""What context assembly keeps between calls, per database connection, while memory is as
it was read: the Company Brain's parts that do not depend on the task (its count of active
blocks, its accounts, its standing orders, the blocks holding a phrase group).

Every agent of a workspace reads its Company Brain (a large brain: 15,000 of an agent's
20,000 blocks), so between two writes each part is read once, not once per call. The
version that says "as it was" is the database's own and exact (FullText.memory_version:
SQLite's data_version and the connection's own changes); where there is none (PostgreSQL)
nothing is kept. Any write anywhere in the database, of a block or of anything else, starts
the connection's store afresh: no finer version exists without one kept by triggers.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from sqlalchemy.engine import Connection

from core.dialect import FullText

# A connection keeps at most this many ids and rows (a large brain's common word is
# thousands of block ids); the least recently used parts go first.
MAX_ITEMS = 200_000
_KEY = "salesbrain_kept_memory"


class Kept:
    """Parts read at one memory version: `get` misses what was not read at that version."""

    def __init__(self, version: Hashable | None) -> None:
        self.version = version
        self._parts: OrderedDict[Hashable, Any] = OrderedDict()
        self._items = 0

    @classmethod
    def of(cls, connection: Connection, search: FullText) -> Kept:
        """What the connection keeps at memory's current version (a store of its own for
        this call alone when the database tells no version)."""
        version = search.memory_version(connection)
        if version is None:
            return cls(None)
        kept = connection.info.get(_KEY)
        if not isinstance(kept, Kept) or kept.version != version:
            kept = connection.info[_KEY] = cls(version)
        return kept

    @property
    def lasting(self) -> bool:
        """Whether what is put here is there for the next call (worth reading per brain)."""
        return self.version is not None

    def get(self, key: Hashable) -> Any | None:
        part = self._parts.get(key)
        if part is not None:
            self._parts.move_to_end(key)
        return part

    def put(self, key: Hashable, part: tuple[Any, ...]) -> None:
        """Keep a part: rows or ids, counted by their number."""
        if not self.lasting:
            return
        before = self._parts.pop(key, None)
        if before is not None:
            self._items -= _size(before)
        self._parts[key] = part
        self._items += _size(part)
        while self._items > MAX_ITEMS and len(self._parts) > 1:
            _, oldest = self._parts.popitem(last=False)
            self._items -= _size(oldest)


def _size(part: tuple[Any, ...]) -> int:
    return len(part) + 1
