"""Alembic environment and versions for salesbrain (SQLite and PostgreSQL)."""
