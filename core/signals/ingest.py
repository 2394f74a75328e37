"""Ingestion: CSV or JSON Lines of signals, streamed in batches, idempotent by the sender's id.

One service for every way signals arrive (`salesbrain signals import FILE`, `POST /signals`):
records are read one at a time from any iterable of lines, gathered into batches of
`BATCH_SIZE`, checked and stored, each batch in its own unit of work. A file of any size is
never held in memory, and an interrupted import keeps the batches already committed
(importing again is harmless: a sender id already stored counts as known).

Checks run column by column over a batch (one list comprehension per field rather than a
Python loop per row): at a million rows, that is what keeps ingestion at database speed.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from itertools import chain, repeat
from operator import itemgetter
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, select
from sqlalchemy.engine import Engine

from core import audit, clock
from core.db import UnitOfWork
from core.dialect import NewRows, database
from core.directory import resolve_workspace
from core.errors import InvalidInput
from core.models import Agent, Cycle, Signal, SignalType, Workspace
from core.permissions import Actor
from core.storable import NUL, check_text

BATCH_SIZE = 5_000
# A file that is bad throughout would otherwise make a report as large as the file.
MAX_BAD_LISTED = 1_000
IMPORTER = Actor.system("signals")

REQUIRED = ("id", "type", "occurred_at", "agent")
# Optional fields (each stored in the column of that name) and their longest values.
OPTIONAL = {
    "thread": 200,
    "prospect_email": 320,
    "company": 200,
    "domain": 200,
    "title": 200,
    "industry": 100,
    "segment": 100,
    "subject": 500,
    "subject_format": 100,
    "template": 100,
    "reply_text": 4000,
    "objection": 100,
}
# The cycle that wrote a send (a whole number): stored in `cycle_id`, checked to be a cycle of
# the signal's agent, so that coaching impact counts the send for what informed that cycle.
CYCLE = "cycle"
FIELDS = (*REQUIRED, *OPTIONAL, CYCLE)
# The fields analysis groups by: one spelling per value ("Healthcare " is "healthcare").
GROUPED = frozenset({"industry", "segment", "subject_format", "template", "objection"})
MAX_ID = 200
TYPES = {member.value: member.value for member in SignalType}
# The columns a batch is stored in, in the order of its rows.
COLUMNS = ("workspace_id", "external_id", "agent_id", "type", "occurred_at", *OPTIONAL)
COLUMNS += ("cycle_id", "received_at")


class Format(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


class BadRow(NamedTuple):
    """A row that was not stored: its line in the file (a CSV header is line 1), and why."""

    line: int
    reason: str


@dataclass
class ImportResult:
    """How many signals were new, how many were already stored, and the rows refused."""

    new: int = 0
    known: int = 0
    bad: list[BadRow] = field(default_factory=list)
    bad_total: int = 0

    def refuse(self, line: int, reason: str) -> None:
        self.bad_total += 1
        if len(self.bad) < MAX_BAD_LISTED:
            self.bad.append(BadRow(line, reason))

    def as_dict(self) -> dict[str, Any]:
        """The `signals import --json` object (`bad_total` counts rows past the listed ones)."""
        return {
            "new": self.new,
            "known": self.known,
            "bad": [{"line": row.line, "reason": row.reason} for row in self.bad],
            "bad_total": self.bad_total,
        }


class _Spellings(dict[str, str]):
    """Group values repeat (a handful of segments over millions of rows): each is
    normalised once; a flood of distinct values is normalised without being kept."""

    def __missing__(self, text: str) -> str:
        spelling = " ".join(text.replace('"', "").split()).lower()
        if len(self) < 10_000:
            self[text] = spelling
        return spelling


SPELLINGS = _Spellings()


def import_signals(
    engine: Engine,
    workspace: Workspace | str | None,
    lines: Iterable[str],
    fmt: Format | str | None = None,
    *,
    by: Actor = IMPORTER,
    batch_size: int = BATCH_SIZE,
) -> ImportResult:
    """Store the signals in `lines` (CSV with a header, or JSON Lines; None detects which).

    `workspace` is a Workspace, a Slack team id, or None for the only workspace. Good rows
    are stored even when others are bad; each bad row is reported with its line number.
    A CSV file whose header lacks a required column is refused as a whole (InvalidInput).
    """
    lines = iter(lines)
    kind, lines = _detect(lines) if fmt is None else (_format(fmt), lines)
    records = _csv_records(lines) if kind is Format.CSV else _jsonl_records(lines)
    target, agents = _target(engine, workspace)
    batch = _Batch(target.id, agents, clock.now())
    result = ImportResult()
    for line, record in records:
        batch.add(line, record)
        if len(batch) >= batch_size:
            _store(engine, target, batch, by, result)
            batch = _Batch(target.id, agents, batch.received_at)
    if len(batch):
        _store(engine, target, batch, by, result)
    return result


def _format(value: Format | str) -> Format:
    try:
        return Format(value)
    except ValueError:
        raise InvalidInput("format", f"unknown format {value!r}; one of csv, jsonl") from None


def _detect(lines: Iterator[str]) -> tuple[Format, Iterator[str]]:
    """JSON Lines when the first non-blank line opens a JSON object, else CSV."""
    skipped: list[str] = []
    for line in lines:
        skipped.append(line)
        text = line.lstrip("\ufeff").strip()
        if text:
            kind = Format.JSONL if text.startswith("{") else Format.CSV
            return kind, chain(skipped, lines)
    return Format.CSV, iter(skipped)


def _target(engine: Engine, workspace: Workspace | str | None) -> tuple[Workspace, dict[str, int]]:
    """The workspace and its agents by handle, read once for the whole import."""
    with UnitOfWork(engine, readonly=True) as uow:
        session = uow.session
        if isinstance(workspace, Workspace):
            found = session.get(Workspace, workspace.id)
            if found is None:
                raise InvalidInput("workspace", f"workspace {workspace.slack_team_id} is gone")
            workspace = found
        else:
            workspace = resolve_workspace(session, workspace)
        agents = session.execute(
            select(Agent.handle, Agent.id).where(Agent.workspace_id == workspace.id)
        )
        return workspace, {handle: id_ for handle, id_ in agents}


# A record: its line and its FIELDS as text ("" when absent), or its line and a reason.
Record = tuple[int, tuple[str, ...] | str]


def _csv_records(lines: Iterable[str]) -> Iterator[Record]:
    """Each CSV record after the header; a record spanning several lines (a quoted reply
    text with line breaks) has the line it starts on."""
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise InvalidInput("file", f"line 1: the CSV header is unreadable ({error})") from None
    if header is None:
        return
    names = [name.lstrip("\ufeff").strip().lower() for name in header]
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise InvalidInput(
            "file",
            f"line {reader.line_num}: the CSV header lacks {', '.join(missing)} "
            f"(required: {', '.join(REQUIRED)})",
        )
    width = len(names)
    # A column the file lacks reads the empty text appended to every row.
    pick = cast(
        Callable[[list[str]], tuple[str, ...]],
        itemgetter(*(names.index(name) if name in names else width for name in FIELDS)),
    )
    end = reader.line_num
    while True:
        start = end + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            end = reader.line_num
            yield start, f"unreadable CSV ({error})"
            continue
        end = reader.line_num
        if len(row) != width:
            if not "".join(row).strip():
                continue  # a blank line
            if len(row) > width:
                yield start, f"has {len(row)} fields but the header names {width}"
                continue
            row.extend([""] * (width - len(row)))
        row.append("")
        yield start, pick(row)


def _jsonl_records(lines: Iterable[str]) -> Iterator[Record]:
    """Each JSON line that is an object with text (or number) fields."""
    for number, line in enumerate(lines, start=1):
        text = line.lstrip("\ufeff").strip() if number == 1 else line.strip()
        if not text:
            continue
        try:
            value = json.loads(text)
        except ValueError as error:
            yield number, f"not JSON ({getattr(error, 'msg', error)})"
            continue
        except RecursionError:
            yield number, "JSON nested too deeply"
            continue
        if not isinstance(value, dict):
            yield number, f"not a JSON object but {type(value).__name__}"
            continue
        yield number, _json_fields(value)


def _json_fields(record: dict[str, Any]) -> tuple[str, ...] | str:
    values: list[str] = []
    for name in FIELDS:
        value = record.get(name)
        if value is None:
            values.append("")
        elif isinstance(value, str):
            values.append(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            values.append(str(value))
        else:
            return f"{name} is {type(value).__name__}, not text"
    return tuple(values)


class _Batch:
    """Records gathered for one unit of work, checked column by column when stored."""

    def __init__(self, workspace_id: int, agents: dict[str, int], received_at: datetime) -> None:
        self.workspace_id = workspace_id
        self.agents = agents
        self.received_at = received_at
        self.lines: list[int] = []
        self.records: list[tuple[str, ...]] = []
        self.unreadable: list[BadRow] = []

    def __len__(self) -> int:
        return len(self.lines) + len(self.unreadable)

    def add(self, line: int, record: tuple[str, ...] | str) -> None:
        if isinstance(record, str):
            self.unreadable.append(BadRow(line, record))
        else:
            self.lines.append(line)
            self.records.append(record)

    def cycle_ids(self) -> set[int]:
        """The cycles the batch's records name (the well-formed ones)."""
        at = FIELDS.index(CYCLE)
        named = (_cycle_id(record[at].strip()) for record in self.records)
        return {cycle_id for cycle_id in named if cycle_id is not None}

    def rows(self, cycles: dict[int, int]) -> tuple[list[tuple[Any, ...]], list[BadRow]]:
        """The rows to store (in COLUMNS order) and the records refused, in file order;
        `cycles` is the agent of each cycle the records name that the workspace has."""
        if not self.records:
            return [], self.unreadable
        problems: dict[int, list[str]] = {}
        columns = dict(
            zip(FIELDS, (_texts(c) for c in zip(*self.records, strict=True)), strict=True)
        )
        for name in FIELDS:
            self._check_length(name, columns[name], problems)
        missing: dict[int, list[str]] = {}
        for name in REQUIRED:
            for index, text in enumerate(columns[name]):
                if not text:
                    missing.setdefault(index, []).append(name)
        for name in GROUPED:
            columns[name] = [SPELLINGS[text] if text else "" for text in columns[name]]
        types = self._convert(columns["type"], _type, "unknown type {!r}; " + _TYPE_HINT, problems)
        times = self._convert(columns["occurred_at"], _time, _TIME_HINT, problems)
        agents = self._convert(columns["agent"], self._agent, "unknown agent {!r}", problems)
        cycle_ids = self._convert(columns[CYCLE], _cycle_id, _CYCLE_HINT, problems)
        for index, cycle_id in enumerate(cycle_ids):
            agent_id = agents[index]
            if cycle_id is not None and agent_id is not None and cycles.get(cycle_id) != agent_id:
                problems.setdefault(index, []).append(
                    f"cycle {cycle_id} is not a cycle of agent {columns['agent'][index]}"
                )
        optional = ([text or None for text in columns[name]] for name in OPTIONAL)
        rows = list(
            zip(
                repeat(self.workspace_id),
                columns["id"],
                agents,
                types,
                times,
                *optional,
                cycle_ids,
                repeat(self.received_at),
            )
        )
        # A row missing fields says so (all of them); otherwise its first problem.
        reasons = {index: found[0] for index, found in problems.items()}
        reasons.update((index, f"missing {', '.join(names)}") for index, names in missing.items())
        bad = [BadRow(self.lines[index], reason) for index, reason in reasons.items()]
        if reasons:
            rows = [row for index, row in enumerate(rows) if index not in reasons]
        return rows, sorted(self.unreadable + bad, key=lambda row: row.line)

    def _check_length(self, name: str, texts: list[str], problems: dict[int, list[str]]) -> None:
        """Longer than its column, or with what no database stores (a NUL, a lone surrogate)."""
        limit = MAX_ID if name == "id" else OPTIONAL.get(name, 100)
        if max(map(len, texts), default=0) <= limit and all(map(_plain, texts)):
            return
        for index, text in enumerate(texts):
            try:
                check_text(text, name, limit)
            except InvalidInput as problem:
                reason = problem.message.removeprefix(f"{name}: ")
                problems.setdefault(index, []).append(f"{name} {reason}")

    def _convert(
        self,
        texts: list[str],
        convert: Callable[[str], Any],
        complaint: str,
        problems: dict[int, list[str]],
    ) -> list[Any]:
        """Convert a column; a value that does not convert is a problem of its row."""
        values = [convert(text) if text else None for text in texts]
        for index, value in enumerate(values):
            if value is None and texts[index]:
                problems.setdefault(index, []).append(complaint.format(texts[index]))
        return values

    def _agent(self, handle: str) -> int | None:
        return self.agents.get(handle) or self.agents.get(handle.lstrip("@"))


_TYPE_HINT = f"one of {', '.join(TYPES)}"
_TIME_HINT = "occurred_at {!r} is not an ISO 8601 time"
_CYCLE_HINT = "cycle {!r} is not a cycle id (a whole number)"


def _plain(text: str) -> bool:
    """Text every database stores as it is (anything else is checked with check_text)."""
    return text.isascii() and NUL not in text


def _texts(column: Sequence[str]) -> list[str]:
    return [text.strip() for text in column]


def _type(text: str) -> str | None:
    return TYPES.get(text) or TYPES.get(text.lower())


def _cycle_id(text: str) -> int | None:
    """A cycle id: a whole number (the database's integers hold it)."""
    return int(text) if text.isdigit() and 0 < len(text) <= 12 and int(text) > 0 else None


def _time(text: str) -> datetime | None:
    """An ISO 8601 time in UTC; one without an offset is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _cycles(engine: Engine, workspace: Workspace, ids: set[int]) -> dict[int, int]:
    """The agent of each of these cycles that the workspace has."""
    if not ids:
        return {}
    with UnitOfWork(engine, readonly=True) as uow:
        rows = uow.session.execute(
            select(Cycle.id, Cycle.agent_id).where(
                Cycle.workspace_id == workspace.id, Cycle.id.in_(sorted(ids))
            )
        )
        return {cycle_id: agent_id for cycle_id, agent_id in rows}


def _store(
    engine: Engine, workspace: Workspace, batch: _Batch, by: Actor, result: ImportResult
) -> None:
    """One batch in one unit of work: new sender ids are stored, known ones counted."""
    rows, bad = batch.rows(_cycles(engine, workspace, batch.cycle_ids()))
    for refused in bad:
        result.refuse(refused.line, refused.reason)
    if not rows:
        return
    first: dict[str, tuple[Any, ...]] = {}
    for row in rows:
        first.setdefault(row[1], row)  # an id repeated within the batch: its first row
    with UnitOfWork(engine) as uow:
        session = uow.session
        table = cast(Table, Signal.__table__)
        unique = ("workspace_id", "external_id")
        connection = session.connection()
        stored = NewRows(table, COLUMNS, list(first.values()), unique)
        new = database(connection.dialect.name).insert_new_only(connection, stored)
        known = len(rows) - new
        audit.record(
            session,
            workspace,
            by,
            "signals.import",
            "signals",
            f"{new} new, {known} known of a batch of {len(rows)}",
        )
    result.new += new
    result.known += known
