"""Alembic's entry point for timeledger's migrations: the work is in `store.migrate`."""

from timeledger.server.store.migrate import run_migrations

run_migrations()
