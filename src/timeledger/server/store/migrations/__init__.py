"""Alembic migrations for both dialects (run them with `timeledger db upgrade`)."""
