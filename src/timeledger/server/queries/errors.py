"""Errors a query raises for its caller to show (the API and the dashboard map them)."""

from __future__ import annotations


class QueryError(Exception):
    """Base of the errors a query raises for its caller to show."""


class NotFound(QueryError):
    """The learner, run or course asked for is not known."""


class InvalidParameter(QueryError):
    """A parameter a caller passed is malformed; `name` says which."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message
