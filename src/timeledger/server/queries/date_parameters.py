"""Date parameters as learner days store them (YYYY-MM-DD), checked with the field named."""

from __future__ import annotations

from datetime import date

from timeledger.server.queries.errors import InvalidParameter


def check_date(name: str, value: date | str | None) -> str | None:
    """A day as learner days store it (YYYY-MM-DD), from a date or its text; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value.isoformat()
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise InvalidParameter(name, f"Expected a date as YYYY-MM-DD, got {value!r}") from None
    if len(value) != 10:
        raise InvalidParameter(name, f"Expected a date as YYYY-MM-DD, got {value!r}")
    return parsed.isoformat()


def check_range(date_from: date | str | None,
                date_to: date | str | None) -> tuple[str | None, str | None]:
    start, end = check_date("from", date_from), check_date("to", date_to)
    if start is not None and end is not None and start > end:
        raise InvalidParameter("from", f"from ({start}) is after to ({end})")
    return start, end
