"""Fixtures: every storage test runs on SQLite and on PostgreSQL.

The PostgreSQL leg takes its server from SALESBRAIN_TEST_POSTGRES_URL (scripts/test starts a
throwaway cluster and sets it). Each pytest worker migrates one database per dialect once;
each test then gets a fresh copy (SQLite: a copied file) or emptied tables (PostgreSQL).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from core import directory, lifecycle
from core.db import UnitOfWork, make_engine
from core.models import Agent, Team, Workspace
from core.settings import get_settings
from migrations import schema

POSTGRES_URL = os.environ.get("SALESBRAIN_TEST_POSTGRES_URL", "")
DIALECTS = ["sqlite", "postgresql"]

# What the tests know about models: a fixed table, not what today's anthropic SDK lists.
# With a frozen clock, each state below stays what it is whatever the SDK or the date.
MODELS = lifecycle.Catalogue(
    known=("claude-sonnet-5-5", "claude-opus-5-5", "claude-haiku-5-5", "claude-opus-5"),
    deprecated={"claude-opus-4-5": date(2027, 1, 22)},
    record={"claude-sonnet-4-5": date(2026, 11, 30), "claude-2.1": date(2025, 7, 21)},
)


@pytest.fixture(autouse=True)
def model_catalogue() -> Iterator[lifecycle.Catalogue]:
    """Every test judges model ids by MODELS."""
    with lifecycle.using(MODELS):
        yield MODELS


def unique_name(prefix: str) -> str:
    """A database name unique to this test process (several runs may share one server)."""
    return f"{prefix}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"


def postgres_admin_url() -> str:
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL leg skipped: SALESBRAIN_TEST_POSTGRES_URL is not set")
    return POSTGRES_URL


def _admin(statement: str) -> None:
    admin = make_engine(postgres_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(statement))
    finally:
        admin.dispose()


def create_postgres_database(name: str) -> str:
    """A new, empty PostgreSQL database on the test server; returns its URL."""
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{name}"')
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(name: str) -> None:
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    schema.upgrade(f"sqlite:///{path}")
    # Fold the WAL into the main file so that copying the file copies everything.
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    name = unique_name("salesbrain_test")
    url = create_postgres_database(name)
    schema.upgrade(url)
    yield url
    drop_postgres_database(name)


def _empty_postgres(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            tables = connection.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            ).scalars()
            names = ", ".join(f'"{name}"' for name in tables)
            if names:
                connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


@pytest.fixture(params=DIALECTS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: SQLite or PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "salesbrain.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database")
    _empty_postgres(url)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def uow(engine: Engine) -> Callable[..., UnitOfWork]:
    """`with uow() as u: ...` opens a unit of work on the test database."""
    return lambda readonly=False: UnitOfWork(engine, readonly=readonly)


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the command line (and settings) at the test database."""
    monkeypatch.setenv("SALESBRAIN_DATABASE_URL", db_url)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    get_settings.cache_clear()
    yield db_url
    get_settings.cache_clear()


@dataclass
class World:
    """Two workspaces: Acme (teams emea and amer, people with every role, agents) and Globex."""

    workspace: Workspace
    other_workspace: Workspace
    emea: Team
    amer: Team
    sdr: Agent
    ae: Agent
    director: Agent
    amer_sdr: Agent
    amer_director: Agent
    globex_sdr: Agent


ADMIN, EMEA_MANAGER, AMER_MANAGER, MEMBER, STRANGER = (
    "U0ADMIN",
    "U0EMEA",
    "U0AMER",
    "U0MEMB",
    "U0NEW",
)
GLOBEX_ADMIN = "U0GLOBEX"


@pytest.fixture
def world(uow: Callable[..., UnitOfWork]) -> World:
    with uow() as u:
        s = u.session
        acme = directory.create_workspace(s, "T0001", "Acme")
        globex = directory.create_workspace(s, "T0002", "Globex")
        emea = directory.create_team(s, acme, "emea", "EMEA Sales")
        amer = directory.create_team(s, acme, "amer", "Americas Sales")
        directory.create_team(s, globex, "emea", "Globex EMEA")
        directory.set_member(s, acme, ADMIN, "admin")
        directory.set_member(s, acme, EMEA_MANAGER, "manager", ["emea"])
        directory.set_member(s, acme, AMER_MANAGER, "manager", ["amer"])
        directory.set_member(s, acme, MEMBER, "member")
        directory.set_member(s, globex, GLOBEX_ADMIN, "admin")
        sdr = directory.create_agent(s, acme, "sdr-emea", team="emea", role="sdr")
        ae = directory.create_agent(s, acme, "ae-emea", team="emea", role="account_executive")
        director = directory.create_agent(s, acme, "dir-emea", team="emea", role="director")
        amer_sdr = directory.create_agent(s, acme, "sdr-amer", team="amer", role="sdr")
        amer_director = directory.create_agent(s, acme, "dir-amer", team="amer", role="director")
        globex_sdr = directory.create_agent(s, globex, "sdr-emea", team="emea", role="sdr")
        return World(
            acme, globex, emea, amer, sdr, ae, director, amer_sdr, amer_director, globex_sdr
        )
