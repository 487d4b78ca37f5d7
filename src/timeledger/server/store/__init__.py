"""Where events, jobs and API clients live: SQLAlchemy Core over SQLite or PostgreSQL."""
