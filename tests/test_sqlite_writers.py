"""SQLite writers of one process take turns on the engine's lock, and always give it back."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from core.db import make_engine, unit_of_work


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'writers.db'}")
    with unit_of_work(engine) as session:
        session.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
    return engine


def _in_thread(work: Callable[[], None], seconds: float = 5.0) -> None:
    """Run `work` in another thread; fail if it has not finished in time (a leaked lock)."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:
            failures.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=seconds)
    assert not thread.is_alive(), "the writer lock was not given back"
    assert not failures, failures


def _write(engine: Engine, body: str = "x") -> None:
    with unit_of_work(engine) as session:
        session.execute(text("INSERT INTO notes (body) VALUES (:body)"), {"body": body})


def _count(engine: Engine) -> int:
    with unit_of_work(engine, readonly=True) as session:
        return int(session.scalar(text("SELECT count(*) FROM notes")) or 0)


def test_a_unit_of_work_that_fails_gives_the_lock_back(sqlite_engine: Engine) -> None:
    with pytest.raises(RuntimeError), unit_of_work(sqlite_engine) as session:
        session.execute(text("INSERT INTO notes (body) VALUES ('lost')"))
        raise RuntimeError("boom")
    _in_thread(lambda: _write(sqlite_engine, "kept"))
    assert _count(sqlite_engine) == 1


def test_a_connection_closed_mid_transaction_gives_the_lock_back(sqlite_engine: Engine) -> None:
    connection = sqlite_engine.connect()
    connection.begin()
    connection.execute(text("INSERT INTO notes (body) VALUES ('abandoned')"))
    connection.close()
    _in_thread(lambda: _write(sqlite_engine))
    assert _count(sqlite_engine) == 1


def test_readers_never_wait_for_a_writer(sqlite_engine: Engine) -> None:
    _write(sqlite_engine)
    with unit_of_work(sqlite_engine) as session:
        session.execute(text("INSERT INTO notes (body) VALUES ('open')"))
        _in_thread(lambda: _count(sqlite_engine))


def test_many_threads_writing_at_once_all_land(sqlite_engine: Engine) -> None:
    barrier = threading.Barrier(6)

    def writer() -> None:
        barrier.wait(timeout=5)
        for _ in range(15):
            _write(sqlite_engine)

    threads = [threading.Thread(target=writer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert _count(sqlite_engine) == 90
