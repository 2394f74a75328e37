"""Engines and the unit of work: one transaction per use case, nothing half-written."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from types import TracebackType
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from core import audit, storable  # storable: every session checks what it flushes
from core.dialect import database_of_url, normalise_url
from core.errors import InvalidInput, NotFound, Refusal
from core.models import Workspace


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for a SQLite or PostgreSQL URL, configured for salesbrain."""
    url = normalise_url(url)
    engine = database_of_url(url).engine(url, **kwargs)
    storable.check_parameters(engine)
    return engine


def unavailable(error: BaseException) -> bool:
    """The database could not be reached or could not finish now (restarting, a dropped
    connection, a deadlock, SQLite busy): the same work may succeed if tried again later."""
    return isinstance(error, OperationalError) or (
        isinstance(error, DBAPIError) and error.connection_invalidated
    )


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """One shared engine per database URL in this process."""
    return make_engine(url)


class Workspaces:
    """The repository of workspaces: the one place a Slack team id becomes a workspace."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def find(self, slack_team_id: str | None) -> Workspace | None:
        """The workspace of this Slack team, if salesbrain knows it."""
        if not slack_team_id:
            return None
        return self._session.scalar(
            select(Workspace).where(Workspace.slack_team_id == slack_team_id)
        )

    def by_team_id(self, slack_team_id: str | None) -> Workspace:
        """The workspace of this Slack team; not found tells how to set it up."""
        workspace = self.find(slack_team_id)
        if workspace is None:
            raise NotFound(
                f"workspace {slack_team_id} not found: install the app in that Slack "
                f"workspace, or run `salesbrain workspace create {slack_team_id}`"
            )
        return workspace

    def named_or_only(self, slack_team_id: str | None) -> Workspace:
        """The named workspace, or the only one when none is named (the command line)."""
        if slack_team_id:
            return self.by_team_id(slack_team_id)
        workspaces = list(self._session.scalars(select(Workspace).order_by(Workspace.id).limit(6)))
        if not workspaces:
            raise NotFound("no workspace yet: create one with `salesbrain workspace create T0001`")
        if len(workspaces) > 1:
            known = ", ".join(w.slack_team_id for w in workspaces[:5])
            raise InvalidInput("workspace", f"several workspaces exist ({known}); pass --workspace")
        return workspaces[0]


class UnitOfWork:
    """A session for one use case: `with uow: ...; uow.commit()`.

    An exception rolls back what was written; a clean exit commits what is left (for the
    set-ups and scripts that open one by hand). A refused use case records the refusal
    itself (`record_refusal`), so that a refused write leaves exactly one trace: the audit
    event.
    """

    def __init__(self, engine: Engine | Connection, *, readonly: bool = False) -> None:
        # The database, for the use cases whose work spans several transactions of their own
        # (a signals import commits each batch; a cycle reasons with none open). Given a
        # connection (a thread that keeps one between its transactions), the unit of work
        # runs its transaction on it.
        self.engine = engine if isinstance(engine, Engine) else engine.engine
        self._bind = engine.execution_options(salesbrain_readonly=True) if readonly else engine
        self.readonly = readonly
        self.session: Session
        self.workspaces: Workspaces

    def __enter__(self) -> UnitOfWork:
        # A Session, not a sessionmaker per unit of work: each sessionmaker makes a Session
        # subclass whose events SQLAlchemy sets up on first use (0.3 ms per unit of work).
        self.session = Session(bind=self._bind, expire_on_commit=False)
        self.workspaces = Workspaces(self.session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc is not None:
                self.session.rollback()
            elif not self.readonly:
                self.session.commit()
        finally:
            self.session.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction without an ORM session, for a use case of a few Core statements
        in every ack (a Session costs more CPU than the statement it runs): committed when
        the block ends, rolled back when it raises."""
        if isinstance(self._bind, Connection):
            with self._bind.begin():
                yield self._bind
        else:
            with self._bind.begin() as connection:
                yield connection

    def commit(self) -> None:
        """Make what the use case wrote permanent (nothing to do for a read-only one)."""
        if not self.readonly:
            self.session.commit()

    def record_refusal(self, refusal: Refusal) -> None:
        """Roll back what the refused use case wrote, and record the refusal in the audit log."""
        self.session.rollback()
        if refusal.workspace_id is not None:
            audit.refused(self.session, refusal)
            self.session.commit()  # even in a read-only one: the refusal is on record


@contextmanager
def unit_of_work(engine: Engine, *, readonly: bool = False) -> Iterator[Session]:
    """`with unit_of_work(engine) as session:` for one use case."""
    with UnitOfWork(engine, readonly=readonly) as uow:
        yield uow.session
