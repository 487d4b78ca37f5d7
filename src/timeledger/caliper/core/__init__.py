"""Caliper 1.2 core rules as plain tables and checks: is one item of an envelope's data valid?"""

from __future__ import annotations

from timeledger.caliper.core.entities import ENTITY_TYPES, check_entity
from timeledger.caliper.core.events import EVENT_TYPES, check_event, looks_like_event
from timeledger.caliper.core.values import describe
from timeledger.caliper.core.vocabulary import CALIPER_CONTEXT, TIMEBACK_PROFILE
from timeledger.caliper.errors import Problem


def check_item(item: object, path: str) -> list[Problem]:
    """Check one item of `data` (an Event or an Entity) against the Caliper 1.2 core rules.

    Returns every problem found, first one first, each naming its path below `path`
    (`data[0].object.id`). TimebackProfile events get only the common rules here (context, id,
    type and action, eventTime, actor and object present); `timeback.py` checks the rest.
    """
    problems: list[Problem] = []
    if not isinstance(item, dict):
        problems.append(Problem(path, f"Expected an object (an Event or an Entity); "
                                f"{describe(item)}"))
        return problems
    type_name = item.get("type")
    if isinstance(type_name, str) and type_name in EVENT_TYPES:
        check_event(item, path, problems)
    elif isinstance(type_name, str) and type_name in ENTITY_TYPES:
        check_entity(item, path, problems, top_level=True)
    elif looks_like_event(item):
        check_event(item, path, problems)
    else:
        check_entity(item, path, problems, top_level=True)
    return problems


def is_event(item: object) -> bool:
    """True for an item that is (or tries to be) an Event rather than an Entity."""
    if not isinstance(item, dict):
        return False
    type_name = item.get("type")
    if isinstance(type_name, str) and type_name in EVENT_TYPES:
        return True
    if isinstance(type_name, str) and type_name in ENTITY_TYPES:
        return False
    return looks_like_event(item)


__all__ = ["CALIPER_CONTEXT", "TIMEBACK_PROFILE", "check_item", "is_event"]
