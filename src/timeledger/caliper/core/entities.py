"""Caliper 1.2 entity types (hierarchy and typed properties) and the check of one entity value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from timeledger.caliper.core import vocabulary as vocab
from timeledger.caliper.core.properties import (
    BOOLEAN,
    DATE_TIME,
    DECIMAL,
    DURATION,
    INTEGER,
    MAP,
    NON_NEGATIVE_INTEGER,
    STRING,
    STRINGS,
    ListOf,
    Literal,
    Map,
    Prop,
    Ref,
    Term,
    check_literal,
    check_map,
    check_term,
    term,
)
from timeledger.caliper.core.values import describe, iri_problem, is_iri
from timeledger.caliper.errors import Problem, join_path


@dataclass(frozen=True, slots=True)
class EntityType:
    """One entity type: its supertypes, the properties it adds, and which of them are required."""

    name: str
    parents: tuple[str, ...]
    properties: Mapping[str, Prop] = field(default_factory=dict)
    required: frozenset[str] = frozenset()
    identified: bool = True  # False for SystemIdentifier and selectors, which carry no `id`
    open: bool = False  # True: properties are another module's business (Timeback types)


def _t(name: str, *parents: str, required: tuple[str, ...] = (),
       shared: Mapping[str, Prop] | None = None, **properties: Prop) -> EntityType:
    return EntityType(name, parents, {**(shared or {}), **properties}, frozenset(required))


def _refs(*types: str) -> ListOf:
    return ListOf(Ref(types))


_ENTITY_PROPERTIES: dict[str, Prop] = {
    "name": STRING,
    "description": STRING,
    "dateCreated": DATE_TIME,
    "dateModified": DATE_TIME,
    "otherIdentifiers": _refs("SystemIdentifier"),
    "extensions": MAP,
}
_DIGITAL_RESOURCE_PROPERTIES: dict[str, Prop] = {
    "storageName": STRING,
    "creators": _refs("Agent"),
    "mediaType": STRING,
    "keywords": STRINGS,
    "learningObjectives": _refs("LearningObjective"),
    "isPartOf": Ref(("Entity",)),
    "datePublished": DATE_TIME,
    "version": STRING,
}
_TIMED: dict[str, Prop] = {
    "startedAtTime": DATE_TIME,
    "endedAtTime": DATE_TIME,
    "duration": DURATION,
}
_SCALE_ITEMS: dict[str, Prop] = {
    "scalePoints": INTEGER,
    "itemLabels": STRINGS,
    "itemValues": STRINGS,
}
_SCORED: dict[str, Prop] = {
    "attempt": Ref(("Attempt",)),
    "scoredBy": Ref(("Agent",)),
    "comment": STRING,
}

ENTITY_TABLE: tuple[EntityType, ...] = (
    EntityType("Entity", (), _ENTITY_PROPERTIES),
    # Agents
    _t("Agent", "Entity"),
    _t("Person", "Agent"),
    _t("Organization", "Agent", subOrganizationOf=Ref(("Organization",)), members=_refs("Agent")),
    _t("CourseOffering", "Organization", courseNumber=STRING, academicSession=STRING),
    _t("CourseSection", "CourseOffering", category=STRING),
    _t("Group", "Organization"),
    _t("SoftwareApplication", "Agent",
       host=STRING, ipAddress=STRING, userAgent=STRING, version=STRING),
    # Digital resources and collections
    EntityType("DigitalResource", ("Entity",), _DIGITAL_RESOURCE_PROPERTIES),
    _t("AssignableDigitalResource", "DigitalResource",
       dateToActivate=DATE_TIME, dateToShow=DATE_TIME, dateToStartOn=DATE_TIME,
       dateToSubmit=DATE_TIME, maxAttempts=NON_NEGATIVE_INTEGER,
       maxSubmits=NON_NEGATIVE_INTEGER, maxScore=DECIMAL),
    _t("Collection", "Entity", items=_refs("Entity")),
    _t("DigitalResourceCollection", "Collection", "DigitalResource",
       items=_refs("DigitalResource")),
    _t("Assessment", "AssignableDigitalResource", "DigitalResourceCollection",
       items=_refs("AssessmentItem")),
    _t("AssessmentItem", "AssignableDigitalResource", isTimeDependent=BOOLEAN),
    _t("Chapter", "DigitalResource"),
    _t("Document", "DigitalResource"),
    _t("Page", "DigitalResource"),
    _t("WebPage", "DigitalResource"),
    _t("Frame", "DigitalResource", index=INTEGER),
    _t("MediaObject", "DigitalResource", duration=DURATION),
    _t("AudioObject", "MediaObject",
       volumeMin=STRING, volumeMax=STRING, volumeLevel=STRING, muted=BOOLEAN),
    _t("ImageObject", "MediaObject"),
    _t("VideoObject", "MediaObject"),
    _t("MediaLocation", "DigitalResource", currentTime=DURATION),
    _t("Message", "DigitalResource",
       replyTo=Ref(("Message",)), body=STRING, attachments=_refs("DigitalResource")),
    _t("Forum", "DigitalResourceCollection", items=_refs("Thread")),
    _t("Thread", "DigitalResourceCollection", items=_refs("Message")),
    _t("Questionnaire", "DigitalResourceCollection", items=_refs("QuestionnaireItem")),
    _t("QuestionnaireItem", "DigitalResource",
       question=Ref(("Question",)), categories=STRINGS, weight=DECIMAL),
    _t("SurveyInvitation", "DigitalResource",
       rater=Ref(("Person",)), survey=Ref(("Survey",)), sentCount=INTEGER, dateSent=DATE_TIME),
    _t("LtiLink", "DigitalResource", messageType=term("LTI message type", vocab.LTI_MESSAGE_TYPES)),
    _t("Link", "Entity"),
    _t("Survey", "Collection", items=_refs("Questionnaire")),
    _t("AggregateMeasureCollection", "Collection", items=_refs("AggregateMeasure")),
    _t("AggregateMeasure", "Entity", required=("metric", "metricValue"),
       metric=term("metric", vocab.METRICS), metricValue=DECIMAL, maxMetricValue=DECIMAL,
       startedAtTime=DATE_TIME, endedAtTime=DATE_TIME),
    _t("LearningObjective", "Entity"),
    # Annotations
    _t("Annotation", "Entity", annotated=Ref(("DigitalResource",)), annotator=Ref(("Person",))),
    _t("BookmarkAnnotation", "Annotation", bookmarkNotes=STRING),
    _t("HighlightAnnotation", "Annotation", selection=Ref(("Selector",)), selectionText=STRING),
    _t("SharedAnnotation", "Annotation", withAgents=_refs("Agent")),
    _t("TagAnnotation", "Annotation", tags=STRINGS),
    # Assessment, grading and feedback
    _t("Attempt", "Entity", assignee=Ref(("Person",)), assignable=Ref(("DigitalResource",)),
       isPartOf=Ref(("Attempt",)), count=NON_NEGATIVE_INTEGER, shared=_TIMED),
    _t("Response", "Entity", attempt=Ref(("Attempt",)), shared=_TIMED),
    _t("DateTimeResponse", "Response", dateTimeSelected=DATE_TIME),
    _t("FillinBlankResponse", "Response", values=STRINGS),
    _t("MultipleChoiceResponse", "Response", value=STRING),
    _t("MultipleResponseResponse", "Response", values=STRINGS),
    _t("MultiselectResponse", "Response", selections=STRINGS),
    _t("OpenEndedResponse", "Response", value=STRING),
    _t("RatingScaleResponse", "Response", selections=STRINGS),
    _t("SelectTextResponse", "Response", values=STRINGS),
    _t("TrueFalseResponse", "Response", value=STRING),
    _t("Result", "Entity", maxResultScore=DECIMAL, resultScore=DECIMAL, shared=_SCORED),
    _t("Score", "Entity", maxScore=DECIMAL, scoreGiven=DECIMAL, shared=_SCORED),
    _t("Comment", "Entity",
       commenter=Ref(("Person",)), commentedOn=Ref(("Entity",)), value=STRING),
    _t("Rating", "Entity", rater=Ref(("Person",)), rated=Ref(("Entity",)),
       question=Ref(("Question",)), selections=STRINGS, ratingComment=Ref(("Comment",))),
    _t("Question", "Entity", questionPosed=STRING),
    _t("DateTimeQuestion", "Question", minDateTime=DATE_TIME, maxDateTime=DATE_TIME,
       minLabel=STRING, maxLabel=STRING),
    _t("MultiselectQuestion", "Question",
       points=NON_NEGATIVE_INTEGER, itemLabels=STRINGS, itemValues=STRINGS),
    _t("OpenEndedQuestion", "Question"),
    _t("RatingScaleQuestion", "Question", scale=Ref(("Scale",))),
    _t("Scale", "Entity"),
    _t("LikertScale", "Scale", shared=_SCALE_ITEMS),
    _t("MultiselectScale", "Scale", isOrderedSelection=BOOLEAN, minSelections=INTEGER,
       maxSelections=INTEGER, shared=_SCALE_ITEMS),
    _t("NumericScale", "Scale", minValue=DECIMAL, minLabel=STRING, maxValue=DECIMAL,
       maxLabel=STRING, step=DECIMAL),
    # Search
    _t("Query", "Entity", creator=Ref(("Person",)), searchTarget=Ref(("Entity",)),
       searchTerms=STRING),
    _t("SearchResponse", "Entity", searchProvider=Ref(("SoftwareApplication",)),
       searchTarget=Ref(("Entity",)), query=Ref(("Query",)),
       searchResultsItemCount=NON_NEGATIVE_INTEGER, searchResults=_refs("Entity")),
    # Context
    _t("Membership", "Entity", organization=Ref(("Organization",)), member=Ref(("Person",)),
       roles=ListOf(term("role", vocab.ROLES)), status=term("status", vocab.STATUSES)),
    _t("Session", "Entity", user=Ref(("Person",)), client=Ref(("SoftwareApplication",)),
       shared=_TIMED),
    _t("LtiSession", "Session", messageParameters=MAP),
    # Identifier and selector types: described like entities but without an `id`.
    EntityType("SystemIdentifier", (), {
        "identifier": STRING,
        "identifierType": term("identifier type", vocab.SYSTEM_IDENTIFIER_TYPES),
        "source": Ref(("SoftwareApplication",)),
        "extensions": MAP,
    }, frozenset({"identifier", "identifierType"}), identified=False),
    EntityType("Selector", (), {}, identified=False),
    EntityType("TextPositionSelector", ("Selector",),
               {"start": NON_NEGATIVE_INTEGER, "end": NON_NEGATIVE_INTEGER}, identified=False),
    # TimebackProfile entities: placed in the hierarchy here, checked in detail by timeback.py.
    EntityType("TimebackUser", ("Person",), open=True),
    EntityType("TimebackActivityContext", ("DigitalResource",), open=True),
    EntityType("TimebackActivityMetricsCollection", ("Collection",), open=True),
    EntityType("TimebackTimeSpentMetricsCollection", ("Collection",), open=True),
)

ENTITY_TYPES: Mapping[str, EntityType] = MappingProxyType({t.name: t for t in ENTITY_TABLE})


def _ancestry(name: str) -> tuple[str, ...]:
    seen: list[str] = []
    stack = [name]
    while stack:
        current = stack.pop(0)
        if current not in seen:
            seen.append(current)
            stack.extend(ENTITY_TYPES[current].parents)
    return tuple(seen)


#: Each type and all its supertypes (multiple inheritance, e.g. Assessment).
ANCESTORS: Mapping[str, frozenset[str]] = MappingProxyType(
    {name: frozenset(_ancestry(name)) for name in ENTITY_TYPES}
)


def _all_properties(name: str) -> Mapping[str, Prop]:
    merged: dict[str, Prop] = {}
    for ancestor in reversed(_ancestry(name)):  # supertypes first, so subtypes narrow them
        merged.update(ENTITY_TYPES[ancestor].properties)
    return MappingProxyType(merged)


def _all_required(name: str) -> frozenset[str]:
    return frozenset().union(*(ENTITY_TYPES[a].required for a in _ancestry(name)))


#: Every property a type accepts (own and inherited), with its kind.
PROPERTIES: Mapping[str, Mapping[str, Prop]] = MappingProxyType(
    {name: _all_properties(name) for name in ENTITY_TYPES}
)
REQUIRED: Mapping[str, frozenset[str]] = MappingProxyType(
    {name: _all_required(name) for name in ENTITY_TYPES}
)
#: The properties any object may carry besides its typed ones.
STRUCTURAL = frozenset({"@context", "id", "type"})


def is_a(type_name: str, allowed: tuple[str, ...]) -> bool:
    """True when `type_name` is one of `allowed` or a subtype of one of them."""
    ancestors = ANCESTORS.get(type_name)
    return ancestors is not None and any(a in ancestors for a in allowed)


def expected_types(allowed: tuple[str, ...]) -> str:
    return " or ".join(allowed)


def a_or_an(allowed: tuple[str, ...]) -> str:
    """`a Person`, `an Organization`, `a DigitalResource or SoftwareApplication`."""
    words = expected_types(allowed)
    return ("an " if words[0] in "AEIOU" else "a ") + words


def context_problem(value: object) -> str | None:
    """`@context`: the Caliper 1.2 IRI, an array ending with it, or an inline context object."""
    if value == vocab.CALIPER_CONTEXT:
        return None
    if isinstance(value, list) and value and value[-1] == vocab.CALIPER_CONTEXT:
        if all(isinstance(part, dict) or is_iri(part) for part in value[:-1]):
            return None
        return "Expected earlier @context entries to be context IRIs or objects"
    if isinstance(value, dict):
        return None  # an inline JSON-LD context (see caliperEventMessagePostedInlineContext)
    return (f"Expected the Caliper 1.2 context {vocab.CALIPER_CONTEXT} (or an array ending "
            f"with it); {describe(value)}")


def check_ref(allowed: tuple[str, ...], value: object, path: str, out: list[Problem]) -> None:
    """An entity-valued property: an object of an allowed type, or a string IRI (thinned)."""
    if isinstance(value, dict):
        check_entity(value, path, out, allowed=allowed)
    elif isinstance(value, str):
        if not is_iri(value):
            out.append(Problem(path, f"Expected {a_or_an(allowed)} object or its IRI; "
                               + describe(value)))
    else:
        out.append(Problem(path, f"Expected {a_or_an(allowed)} object or its IRI; "
                           + describe(value)))


def check_property(prop: Prop, value: object, path: str, out: list[Problem]) -> None:
    if isinstance(prop, Ref):
        check_ref(prop.types, value, path, out)
    elif isinstance(prop, Literal):
        check_literal(prop, value, path, out)
    elif isinstance(prop, Term):
        check_term(prop, value, path, out)
    elif isinstance(prop, Map):
        check_map(value, path, out)
    elif not isinstance(value, list):
        out.append(Problem(path, f"Expected an array; {describe(value)}"))
    else:
        item = prop.item
        for index, element in enumerate(value):
            check_property(item, element, f"{path}[{index}]", out)


def check_entity(
    value: dict[str, object],
    path: str,
    out: list[Problem],
    *,
    allowed: tuple[str, ...] | None = None,
    top_level: bool = False,
) -> None:
    """Check an entity object; `allowed` narrows its type when it is the value of a property."""
    type_name = value.get("type")
    kind = ENTITY_TYPES.get(type_name) if isinstance(type_name, str) else None
    type_path = join_path(path, "type")
    if kind is not None and allowed is not None and not is_a(kind.name, allowed):
        # The wrong kind of entity for this property: nothing else about it matters.
        out.append(Problem(type_path, f"Expected {expected_types(allowed)} (or a subtype); "
                           f"got {kind.name}"))
        return
    if "@context" in value:
        message = context_problem(value["@context"])
        if message is not None:
            out.append(Problem(join_path(path, "@context"), message))
    elif top_level and (kind is None or kind.identified):
        out.append(Problem(join_path(path, "@context"), "Required"))
    if kind is None or kind.identified or "id" in value:
        if "id" not in value:
            out.append(Problem(join_path(path, "id"), "Required"))
        else:
            message = iri_problem(value["id"])
            if message is not None:
                out.append(Problem(join_path(path, "id"), message))
    if kind is None:
        if "type" not in value:
            out.append(Problem(type_path, "Required"))
        elif not isinstance(type_name, str):
            out.append(Problem(type_path, f"Expected an entity type name; {describe(type_name)}"))
        else:
            out.append(Problem(type_path, f"Unknown entity type {type_name!r}; expected "
                               + (expected_types(allowed) + " (or a subtype)" if allowed
                                  else "a Caliper 1.2 entity type")))
        return
    if kind.open:
        return
    properties = PROPERTIES[kind.name]
    for name in sorted(REQUIRED[kind.name] - value.keys()):
        out.append(Problem(join_path(path, name), f"Required for {kind.name}"))
    for key, item in value.items():
        if key in STRUCTURAL:
            continue
        prop = properties.get(key)
        if prop is None:
            out.append(Problem(join_path(path, key), f"Unknown property {key!r} for {kind.name}; "
                               "custom properties belong in extensions"))
            continue
        check_property(prop, item, join_path(path, key), out)


__all__ = [
    "ANCESTORS",
    "ENTITY_TABLE",
    "ENTITY_TYPES",
    "PROPERTIES",
    "REQUIRED",
    "EntityType",
    "check_entity",
    "check_property",
    "check_ref",
    "context_problem",
    "is_a",
]
