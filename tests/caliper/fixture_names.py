"""Which property each IMS invalid fixture breaks, read from its file name (the suite's oracle).

Shared by the in-process suite (tests/caliper/test_conformance.py) and the HTTP one
(tests/server/api/test_conformance_http.py), so both hold a rejection to the same property.
"""

from __future__ import annotations

import re

# Where the file name does not spell the property (typos, no suffix): written from reading the file.
EXPECTED_PROPERTY: dict[str, str] = {
    "caliperEntity-MalformedCreationDate.json": "dateCreated",  # "2016-08-01", a date only
    "caliperEntity-MalformedModifiedDate.json": "dateModified",  # "2016-09-02"
    # "Dependant" in the name; the property is isTimeDependent ("No" instead of a boolean)
    "caliperEntityAssessmentItem-MalformedIsTimeDependantNotAString.json": "isTimeDependent",
    # "Generatable" in the name; the file's generated is a Person on an AssignableEvent
    "caliperEventAssignable-MalformedGeneratableWrongEntityType.json": "generated",
}
NOT_JSON = {
    "caliperEntity-BadJson.json",  # "THIS IS NOT VALID JSON" by design
    # Meant to test items[0] being a Person, but the upstream file has a trailing comma after
    # items[0].type, so a strict JSON parser rejects it first (see test_survey_items_intent).
    "caliperEntitySurvey-MalformedItemsContainsWrongEntityType.json",
}
# What follows the property name: NotAnInt, InvalidDateTime, ContainsWrongType, WrongEntityType...
_SUFFIX = (r"(?:Not|Invalid|Unknown|Contains?|ListElement|WrongListElement)[A-Z]\w*"
           r"|WrongEntityTypes?|EntityType|NoValue")
_MALFORMED = re.compile(
    rf"^caliper(?:Entity|Event)\w*-Malf(?:or|ro)med([A-Z]\w*?)(?:{_SUFFIX})\.json$")
_MISSING = re.compile(r"^caliper(?:Entity|Event)\w*-(?:No|Null)([A-Z]\w*)\.json$")
_NAMED = {
    "UnknownContext": "@context", "UnknownEntityType": "type", "UnknownEventType": "type",
    "UnknownAction": "action", "WrongAction": "action", "UnknownProfile": "profile",
}


def expected_property(name: str) -> str:
    if name in EXPECTED_PROPERTY:
        return EXPECTED_PROPERTY[name]
    match = _MALFORMED.match(name) or _MISSING.match(name)
    if match:
        word = match.group(1)
        return word[0].lower() + word[1:]
    rule = name.split("-", 1)[1].removesuffix(".json")
    return _NAMED[rule]


def expected_path(name: str) -> re.Pattern[str]:
    """The offending top-level property, possibly an element of it, possibly its `type`."""
    return re.compile(rf"^data\[0\]\.{re.escape(expected_property(name))}(\[\d+\])?(\.type)?$")
