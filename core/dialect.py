"""The differences between SQLite and PostgreSQL, kept in one place: the column types below
and one small interface, `Database`, with an implementation per database (`database(name)`)."""

from __future__ import annotations

import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from psycopg import Pipeline
from psycopg.pq import TransactionStatus
from sqlalchemy import JSON, DateTime, Table, TextClause, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Dialect, Engine, make_url
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import TypeDecorator, TypeEngine


@dataclass(frozen=True)
class NewRows:
    """Rows for `Database.insert_new_only`: tuples in the order of `columns`, with the values
    the columns hold (timestamps aware); a row whose `unique` columns are stored is skipped."""

    table: Table
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    unique: Sequence[str]


class Database:
    """What salesbrain does differently on one database; `database(name)` gives the one for
    an engine's dialect name."""

    name: ClassVar[str]
    # Alembic copies a table to alter it (SQLite cannot ALTER a column or a constraint).
    batch_migrations: ClassVar[bool] = False

    def engine(self, url: str, **kwargs: Any) -> Engine:
        """An engine for this database's URL, configured for salesbrain."""
        raise NotImplementedError

    def json_type(self) -> TypeEngine[Any]:
        return JSON()

    def stored_time(self, value: datetime) -> datetime:
        """An aware UTC timestamp as the database's column stores it."""
        return value

    def insert_unless_stored(self, table: Table, unique: Sequence[str]) -> Insert:
        """`INSERT ... ON CONFLICT (unique) DO NOTHING`: a row already stored is skipped,
        without an error that would end the transaction."""
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=list(unique))

    def insert_new_only(self, connection: Connection, new: NewRows) -> int:
        """Insert many rows at the driver's speed, skipping those whose `unique` columns are
        already stored; returns how many rows were new.

        For bulk ingestion SQLAlchemy's per-row parameter processing would cost more than
        the insert itself, so the rows go straight to the driver.
        """
        raise NotImplementedError


class SQLiteDatabase(Database):
    name = "sqlite"
    batch_migrations = True

    def engine(self, url: str, **kwargs: Any) -> Engine:
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        configure_sqlite(engine)
        return engine

    def stored_time(self, value: datetime) -> datetime:
        return value.replace(tzinfo=None)  # no time zones: naive UTC, made aware on the way out

    def insert_new_only(self, connection: Connection, new: NewRows) -> int:
        """One compiled statement, executemany'd by the driver."""
        if not new.rows:
            return 0
        statement = sqlite.insert(new.table).on_conflict_do_nothing(index_elements=new.unique)
        sql = str(statement.compile(dialect=connection.dialect, column_keys=list(new.columns)))
        times = [
            i
            for i, name in enumerate(new.columns)
            if isinstance(new.table.c[name].type, UTCDateTime)
        ]
        rows = _sqlite_times(new.rows, times) if times else list(new.rows)
        return max(connection.exec_driver_sql(sql, rows).rowcount, 0)


class PostgreSQLDatabase(Database):
    name = "postgresql"

    def engine(self, url: str, **kwargs: Any) -> Engine:
        kwargs.setdefault("pool_pre_ping", True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "rollback", _end_reading_with_commit)
        return engine

    def json_type(self) -> TypeEngine[Any]:
        return JSONB()  # compact, indexable

    def insert_unless_stored(self, table: Table, unique: Sequence[str]) -> Insert:
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=list(unique))

    def insert_new_only(self, connection: Connection, new: NewRows) -> int:
        """COPY into a temporary table, then one INSERT ... SELECT."""
        if not new.rows:
            return 0
        return _copy_new_postgresql(connection, new)


DATABASES: dict[str, Database] = {
    kind.name: kind() for kind in (SQLiteDatabase, PostgreSQLDatabase)
}


def database(name: str) -> Database:
    """The database of this dialect name (`engine.dialect.name`, or a URL's backend)."""
    return DATABASES[name]


def database_of_url(url: str) -> Database:
    return database(make_url(normalise_url(url)).get_backend_name())


class JSONDocument(TypeDecorator[Any]):
    """A JSON document: JSONB on PostgreSQL (compact, indexable), JSON text on SQLite."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(database(dialect.name).json_type())


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    PostgreSQL stores `timestamptz`; SQLite has no time zones, so we store naive UTC and
    attach UTC on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return database(dialect.name).stored_time(value.astimezone(UTC))

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for plain postgresql:// URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


BUSY_TIMEOUT_SECONDS = 30
# The key, in a SQLite connection's info, of its total_changes() when its transaction began.
CHANGES_AT_BEGIN = "salesbrain_changes_at_begin"
# Address space, not memory: pages are read from the OS cache as they are touched.
MMAP_BYTES = 1 << 30


def configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys and a busy timeout; writers take the lock at BEGIN.

    pysqlite's own transaction handling is switched off so that we emit BEGIN ourselves:
    BEGIN IMMEDIATE for units of work that write (a deferred transaction that later writes
    can fail at once with SQLITE_BUSY under WAL instead of waiting), plain BEGIN for reads.

    The writers of one process also queue on a lock of the engine, held from BEGIN
    IMMEDIATE until COMMIT or ROLLBACK has run. SQLite's busy handler polls with growing
    sleeps (1, 2, 5 ... 100 ms): with many threads writing (the heartbeat runs several cycles
    at once) a writer could wait hundreds of milliseconds for a lock free for most of that
    time. Other processes still meet SQLite's busy timeout.
    """
    writer = threading.Lock()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
        # Reads map the file instead of copying each page through a system call: context
        # assembly reads ~100 scattered rows and index pages per call (a third less time).
        cursor.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # What this connection had written before the transaction (see memory_version).
        connection.info[CHANGES_AT_BEGIN] = connection.connection.dbapi_connection.total_changes
        if connection.get_execution_options().get("salesbrain_readonly", False):
            connection.exec_driver_sql("BEGIN")
            return
        if not writer.acquire(timeout=BUSY_TIMEOUT_SECONDS):
            raise sqlite3.OperationalError("database is locked (by a writer of this process)")
        connection.info["salesbrain_writer"] = True
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(connection.info)
            raise

    # The lock is released once COMMIT (or ROLLBACK) has run, not before: SQLAlchemy's own
    # call that follows finds no transaction open and does nothing.
    def _ending_with(verb: str) -> Any:
        def end(connection: Any) -> None:
            if connection.info.get("salesbrain_writer"):
                try:
                    getattr(connection.connection.dbapi_connection, verb)()
                finally:
                    _release(connection.info)

        return end

    event.listen(engine, "commit", _ending_with("commit"))
    event.listen(engine, "rollback", _ending_with("rollback"))

    # A connection dropped in the middle of a transaction must not keep the lock.
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        _release(record.info)

    @event.listens_for(engine, "invalidate")
    def _on_invalidate(_dbapi_connection: Any, record: Any, _error: Any) -> None:
        _release(record.info)

    def _release(info: dict[str, Any]) -> None:
        if info.pop("salesbrain_writer", False):
            writer.release()


def _end_reading_with_commit(connection: Connection) -> None:
    """End a read-only unit of work that wrote nothing with COMMIT, not ROLLBACK.

    psycopg forgets the statements it prepared on a connection at every ROLLBACK, so a
    read-only unit of work (which ends by rolling back) planned its statements anew each
    time: context assembly's ~3 ms of ~6 ms server time per call at 100,000 blocks. When
    the transaction holds no writes (no transaction id assigned) both end it alike; one
    that wrote anything is still rolled back. SQLAlchemy's own rollback that follows finds
    no transaction open and does nothing.
    """
    if not connection.get_execution_options().get("salesbrain_readonly", False):
        return
    if connection.invalidated:
        # The server dropped the connection (a restart): nothing to end, and reaching for it
        # would raise PendingRollbackError in place of the error that says the database is
        # away (core.db.unavailable), which the edges answer with "try again".
        return
    driver = connection.connection.driver_connection
    if driver is None or driver.info.transaction_status != TransactionStatus.INTRANS:
        return  # idle, or failed: nothing to keep
    with driver.cursor() as cursor:
        cursor.execute("SELECT txid_current_if_assigned() IS NULL")
        wrote_nothing = cursor.fetchone()
    if wrote_nothing is not None and wrote_nothing[0]:
        driver.commit()


def _copy_new_postgresql(connection: Connection, new: NewRows) -> int:
    table, columns, unique = new.table, new.columns, new.unique
    quote = connection.dialect.identifier_preparer.quote
    target, names = quote(table.name), ", ".join(quote(name) for name in columns)
    staging = quote(f"{table.name}_incoming")
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {staging} AS SELECT {names} FROM {target} WITH NO DATA"
    )
    cursor = connection.connection.cursor()
    try:
        with cursor.copy(f"COPY {staging} ({names}) FROM STDIN") as copy:
            for row in new.rows:
                copy.write_row(row)
    finally:
        cursor.close()
    result = connection.exec_driver_sql(
        f"INSERT INTO {target} ({names}) SELECT {names} FROM {staging} "
        f"ON CONFLICT ({', '.join(quote(name) for name in unique)}) DO NOTHING"
    )
    connection.exec_driver_sql(f"DROP TABLE {staging}")
    return max(result.rowcount, 0)


def _sqlite_times(rows: Sequence[Sequence[Any]], positions: list[int]) -> list[tuple[Any, ...]]:
    """Timestamps as UTCDateTime stores them on SQLite: naive UTC text, to the microsecond."""
    columns = list(zip(*rows, strict=True))
    for position in positions:
        column = columns[position]
        if column.count(column[0]) == len(column):  # one time for all (received_at)
            columns[position] = (_iso(column[0]),) * len(column)
        else:
            columns[position] = tuple(map(_iso, column))
    return list(zip(*columns, strict=True))


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]  # without the "+00:00"


# --- full-text search over memory blocks ------------------------------------------------


class Reader(NamedTuple):
    """An agent as the full-text index sees it: it reads the active blocks of its own
    Personal Brain, its team's Team Brain and its workspace's Company Brain."""

    workspace_id: int
    team_id: int
    agent_id: int

    def scopes(self) -> tuple[str, str, str]:
        """Its three brains as the index names them: its own, its team's, its workspace's."""
        return f"p{self.agent_id}", f"t{self.team_id}", f"c{self.workspace_id}"


class FullText(ABC):
    """What differs between SQLite and PostgreSQL in searching memory (migrations 0002 and
    0007 build the index: words as written, no stemming), and the SQL that goes with it."""

    # Context assembly reads the rows of the blocks whose relevance reaches this fraction of
    # the k-th best relevance; a second read follows only if the k-th best score is lower
    # (core/context/search.py Candidates.best). Lower reads more rows in one statement.
    first_read: ClassVar[float] = 1.0

    @abstractmethod
    def phrase_query(
        self, reader: Reader, groups: Sequence[Sequence[Sequence[str]]]
    ) -> tuple[TextClause, dict[str, Any]] | None:
        """The statement (and its parameters) whose rows `phrase_hits` reads: per phrase
        group, the blocks the reader reads that hold one of its phrases (words in a row).
        None when no group has a phrase."""

    @abstractmethod
    def phrase_hits(self, rows: Sequence[tuple[Any, ...]]) -> dict[int, list[int]]:
        """Group index -> the ids of the blocks holding it, from the rows of phrase_query;
        groups that no block matches are left out."""

    def memory_version(self, connection: Connection) -> Hashable | None:
        """A value that differs whenever memory as the connection's transaction reads it
        may differ from what it read before under the same value (another connection's
        commit, in this process or another; a write of its own), so that what does not
        depend on the task can be kept between assemblies; None where no exact version is
        cheap to tell (then nothing is kept)."""
        return None

    def scope_phrase_query(
        self, lookups: Sequence[tuple[tuple[str, ...], tuple[Sequence[str], ...]]]
    ) -> tuple[TextClause, dict[str, Any]] | None:
        """As phrase_query, per lookup of (some of Reader.scopes(), phrases) instead of per
        group in the reader's three brains (phrase_hits reads its rows by lookup index), so
        that what some brains hold can be kept; needed only where memory_version is not
        None."""
        raise NotImplementedError

    def fetch(
        self, connection: Connection, statement: TextClause, params: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        """The rows of a read-only statement (untyped columns), run by the driver itself.

        Context assembly runs about seven small statements per call, and SQLAlchemy's own
        work per statement (~0.25 ms: result metadata, events, parameter processing) cost
        more than SQLite's (0.07-0.2 ms); the statements share the session's transaction.
        """
        return self.fetch_all(connection, [(statement, params)])[0]

    @abstractmethod
    def fetch_all(
        self, connection: Connection, statements: Sequence[tuple[TextClause, Mapping[str, Any]]]
    ) -> list[list[tuple[Any, ...]]]:
        """The rows of each of several read-only statements that do not depend on one
        another (as fetch), in one round trip to the server where it has one."""

    @abstractmethod
    def age_days(self, column: str) -> str:
        """SQL for the days from a timestamp column to the `:now` parameter (never below 0)."""

    @abstractmethod
    def now(self, moment: datetime) -> object:
        """`moment` as the `:now` parameter of age_days."""

    @abstractmethod
    def id_list(self, name: str) -> str:
        """SQL for a subquery of the ids given as the parameter `name` (see ids)."""

    @abstractmethod
    def ids(self, values: Sequence[int]) -> object:
        """Block ids as the parameter of id_list: one parameter whatever their number, so
        that the statement is compiled and planned once."""

    @abstractmethod
    def merge_step(self, connection: Connection, pages: int) -> bool:
        """Merge part of the full-text index (about `pages` pages); False when it was whole."""


class _SQLiteFullText(FullText):
    """FTS5's `memory_fts` indexes each active block's words under its owner's scope
    (`p<agent id>x`, `t<team id>x`, `c<workspace id>x` + word): a phrase is looked up in
    the three brains the reader reads and nowhere else. FTS5's own bm25() is not used: its
    idf is over the whole table, other workspaces' words included."""

    # One FTS5 query per group: a JSON object of group index -> MATCH expression. A row per
    # group, its blocks' ids joined: a large brain has tens of thousands of hits.
    _HITS = text(
        "SELECT j.key, group_concat(f.rowid) FROM json_each(:groups) AS j "
        "JOIN memory_fts AS f ON f.memory_fts MATCH j.value GROUP BY j.key"
    )

    def phrase_query(
        self, reader: Reader, groups: Sequence[Sequence[Sequence[str]]]
    ) -> tuple[TextClause, dict[str, Any]] | None:
        scopes = reader.scopes()
        return self.scope_phrase_query([(scopes, tuple(phrases)) for phrases in groups])

    def scope_phrase_query(
        self, lookups: Sequence[tuple[tuple[str, ...], tuple[Sequence[str], ...]]]
    ) -> tuple[TextClause, dict[str, Any]] | None:
        # Each word of a phrase under each scope: '"p7xhead p7xof p7xsales"'. Written as
        # JSON directly (json.dumps took a tenth of the statement's time): its only
        # characters to escape are the quotes, words being letters and digits.
        queries = [
            f'"{index}":"'
            + " OR ".join(_match(phrases).replace(_SCOPE, f"{scope}x") for scope in scopes)
            + '"'
            for index, (scopes, phrases) in enumerate(lookups)
            if phrases
        ]
        return (self._HITS, {"groups": "{" + ",".join(queries) + "}"}) if queries else None

    def memory_version(self, connection: Connection) -> Hashable | None:
        # PRAGMA data_version changes when another connection (of any process) committed
        # since this one's last read snapshot, and opens the snapshot itself; total_changes
        # counts this connection's own writes, committed or rolled back. A transaction that
        # has written reads what may yet be rolled back: nothing it reads is kept.
        driver = connection.connection.driver_connection
        if driver is None or not driver.in_transaction:
            return None  # each statement its own snapshot
        changes = driver.total_changes
        if connection.info.get(CHANGES_AT_BEGIN) != changes:
            return None
        (version,) = driver.execute("PRAGMA data_version").fetchone()
        return version, changes

    def phrase_hits(self, rows: Sequence[tuple[Any, ...]]) -> dict[int, list[int]]:
        return {int(group): list(map(int, ids.split(","))) for group, ids in rows}

    def fetch_all(
        self, connection: Connection, statements: Sequence[tuple[TextClause, Mapping[str, Any]]]
    ) -> list[list[tuple[Any, ...]]]:
        # sqlite3 takes the statements' `:name` parameters as written; it runs in-process,
        # so one after another costs no round trips.
        driver = connection.connection.driver_connection
        assert driver is not None  # an open connection
        return [
            driver.execute(statement.text, params).fetchall() for statement, params in statements
        ]

    def age_days(self, column: str) -> str:
        return f"max(0.0, :now - julianday({column}))"

    def now(self, moment: datetime) -> object:
        return moment.timestamp() / 86400.0 + 2440587.5  # the Julian day

    def id_list(self, name: str) -> str:
        return f"SELECT value FROM json_each(:{name})"

    def ids(self, values: Sequence[int]) -> object:
        return f"[{','.join(map(str, values))}]"  # a JSON array (json.dumps: 3x the time)

    def merge_step(self, connection: Connection, pages: int) -> bool:
        sqlite = connection.connection.driver_connection
        assert sqlite is not None  # an open connection
        before = sqlite.total_changes
        # A negative page count asks FTS5 for a step of a full optimize ("incremental
        # optimize").
        connection.execute(
            text("INSERT INTO memory_fts(memory_fts, rank) VALUES ('merge', :pages)"),
            {"pages": -pages},
        )
        # The command counts as one change itself; more means it merged something.
        return bool(sqlite.total_changes - before > 1)


class _PostgreSQLFullText(FullText):
    """The generated tsvector column `memory_fts` ('simple' configuration) and tsquery."""

    # A second row read is a round trip (~0.8 ms at 100,000 blocks), more than the ~15 more
    # rows of one read reaching 0.7 of the k-th best relevance cost; the k-th best score was
    # above that in 99 calls of 100 (bench/context_scale). SQLite, in-process, reads the
    # fewest rows instead.
    first_read = 0.7

    # Per phrase group: the blocks holding one of its phrases' longest words under the
    # reader's three scopes, by the GIN index of migration 0013 (posting lists of the
    # reader's own blocks, not every workspace's), then the group's tsquery on those rows
    # alone. Testing the reader's ~500 rows one by one cost a tsquery per row and per group
    # (8-20 ms at 100,000 blocks, more for a large brain); the whole-table GIN index of
    # `memory_fts`, which the planner preferred, read common words' posting lists over
    # every workspace (45-90 ms). The words go through to_tsvector as the column's did.
    _HITS = text(
        "WITH queries AS MATERIALIZED ("
        " SELECT u.ord - 1 AS index, to_tsquery('simple', u.query) AS query,"
        " ARRAY(SELECT s.scope || w.lexeme"
        "  FROM unnest(CAST(:scopes AS text[])) AS s(scope),"
        "  unnest(tsvector_to_array(to_tsvector('simple', u.words))) AS w(lexeme)) AS scoped"
        " FROM unnest(CAST(:queries AS text[]), CAST(:words AS text[]))"
        " WITH ORDINALITY AS u(query, words, ord))"
        " SELECT q.index, array_agg(m.id) FROM queries q CROSS JOIN LATERAL ("
        " SELECT id, memory_fts FROM memory_blocks"
        " WHERE memory_fts_scoped && q.scoped AND status = 'active'"
        " OFFSET 0) AS m"  # the tsquery is tested on these rows, not looked up in its index
        " WHERE m.memory_fts @@ q.query GROUP BY q.index"
    )

    # Set before the statements of an assembly's first round trip, until its transaction
    # ends. JIT compiles a plan whose estimated cost passes jit_above_cost (100,000): the
    # phrase statement's estimate counts ~2,900 per phrase group, so a long task (~35 groups
    # and more) was compiled, 24 ms of a 31 ms statement at 100,000 blocks. The statements
    # of context assembly run in a few milliseconds, where compiling never pays.
    _NO_JIT = "SET LOCAL jit = off"

    def phrase_query(
        self, reader: Reader, groups: Sequence[Sequence[Sequence[str]]]
    ) -> tuple[TextClause, dict[str, Any]] | None:
        # A block holds a phrase only if it holds each of its words: the longest one is the
        # test ("head of it" -> "head", not "of", which nearly every block holds).
        if not any(groups):
            return None
        queries = [" | ".join(f"({' <-> '.join(phrase)})" for phrase in p) for p in groups]
        longest = [" ".join(max(phrase, key=len) for phrase in p) for p in groups]
        scopes = [f"p{reader.agent_id}x", f"t{reader.team_id}x", f"c{reader.workspace_id}x"]
        return self._HITS, {"queries": queries, "words": longest, "scopes": scopes}

    def phrase_hits(self, rows: Sequence[tuple[Any, ...]]) -> dict[int, list[int]]:
        return {group: ids for group, ids in rows}

    def fetch_all(
        self, connection: Connection, statements: Sequence[tuple[TextClause, Mapping[str, Any]]]
    ) -> list[list[tuple[Any, ...]]]:
        # psycopg prepares a statement it has run a few times on the connection: the plan
        # is made once per connection, not per call. Several statements go in one pipeline:
        # sent together, their results read back after one round trip, not one each.
        driver = connection.connection.driver_connection
        assert driver is not None  # an open connection
        compiled = [
            (_pyformat(statement, connection.dialect), params) for statement, params in statements
        ]
        if len(compiled) == 1 or not Pipeline.is_supported():  # pipelines need libpq 14
            if len(compiled) > 1:
                driver.execute(self._NO_JIT).close()
            results = []
            for sql, params in compiled:
                with driver.cursor() as cursor:
                    cursor.execute(sql, params)
                    results.append(cursor.fetchall())
            return results
        with driver.pipeline():
            cursors = [driver.cursor() for _ in range(len(compiled) + 1)]
            try:
                cursors[0].execute(self._NO_JIT)
                for cursor, (sql, params) in zip(cursors[1:], compiled, strict=True):
                    cursor.execute(sql, params)
                return [cursor.fetchall() for cursor in cursors[1:]]
            finally:
                for cursor in cursors:
                    cursor.close()

    def age_days(self, column: str) -> str:
        return f"greatest(0.0, extract(epoch FROM (:now - {column}))::float8 / 86400.0)"

    def now(self, moment: datetime) -> object:
        return moment

    def id_list(self, name: str) -> str:
        return f"SELECT unnest(CAST(:{name} AS bigint[]))"

    def ids(self, values: Sequence[int]) -> object:
        # An array literal, which the statement casts: psycopg adapts a list of ints one
        # element at a time (0.3 ms of client CPU for 100 ids against 0.1).
        return "{" + ",".join(map(str, values)) + "}"

    def merge_step(self, connection: Connection, pages: int) -> bool:
        # GIN has no segments: flushing its pending list is the whole merge.
        return bool(connection.scalar(text("SELECT gin_clean_pending_list('memory_fts_index')")))


# Where a scope goes in an FTS5 query of _match.
_SCOPE = "\x00"


@lru_cache(maxsize=4096)
def _match(phrases: tuple[Sequence[str], ...]) -> str:
    """The FTS5 query of any of the phrases, each word after a scope mark to replace (the
    same phrases are asked for in every agent's brains: built once), its quotes escaped
    for a JSON string."""
    return " OR ".join(f'\\"{_SCOPE}{(" " + _SCOPE).join(phrase)}\\"' for phrase in phrases)


@lru_cache(maxsize=256)
def _pyformat(statement: TextClause, dialect: Dialect) -> str:
    """The statement with psycopg's `%(name)s` parameters, compiled once."""
    return str(statement.compile(dialect=dialect))


_FULL_TEXT: dict[str, FullText] = {"sqlite": _SQLiteFullText(), "postgresql": _PostgreSQLFullText()}


def full_text(connection: Connection) -> FullText:
    """The full-text search of the connection's database."""
    return _FULL_TEXT[connection.dialect.name]
