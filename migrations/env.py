"""Alembic environment: the models' metadata and the URL from salesbrain's settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from core.db import make_engine
from core.dialect import database
from core.settings import get_settings
from migrations.schema import include_object, metadata

config = context.config


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata(),
        render_as_batch=database(connection.dialect.name).batch_migrations,
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    url = config.attributes.get("url") or get_settings().database_url
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            run_migrations(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("salesbrain migrations run online only: set SALESBRAIN_DATABASE_URL")
run_online()
