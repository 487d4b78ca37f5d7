"""Caliper 1.2 event types (actions, and entity types per role) and the check of one event."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from timeledger.caliper.core import vocabulary as vocab
from timeledger.caliper.core.entities import STRUCTURAL, check_ref, context_problem
from timeledger.caliper.core.properties import check_map
from timeledger.caliper.core.values import describe, event_id_problem, event_time_problem, one_of
from timeledger.caliper.errors import Problem, join_path

#: Properties whose value is an entity, and the type each takes on a generic `Event`.
ROLES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "actor": ("Agent",),
    "object": ("Entity",),
    "target": ("Entity",),
    "generated": ("Entity",),
    "referrer": ("Entity",),
    "edApp": ("SoftwareApplication",),
    "group": ("Organization",),
    "membership": ("Membership",),
    "session": ("Session",),
    "federatedSession": ("LtiSession",),
})
REQUIRED: tuple[str, ...] = ("actor", "action", "object", "eventTime")


@dataclass(frozen=True, slots=True)
class ActionRule:
    """What one action narrows further: entity types per role, and properties it requires."""

    roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    required: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EventType:
    """One event type: its allowed actions (None: any Caliper action) and role narrowings."""

    name: str
    actions: tuple[str, ...] | None
    roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    by_action: Mapping[str, ActionRule] = field(default_factory=dict)
    profile: str | None = None  # set for events that exist only in one profile (Timeback)

    def allows(self, action: str) -> bool:
        if self.actions is None:
            return action in _ANY_ACTION
        return action in self.actions

    def role_types(self, role: str, action: object) -> tuple[str, ...]:
        rule = self.by_action.get(action) if isinstance(action, str) else None
        if rule is not None and role in rule.roles:
            return rule.roles[role]
        return self.roles.get(role) or ROLES[role]


_ANY_ACTION = frozenset(vocab.ACTIONS)
_PERSON = ("Person",)


def _e(name: str, actions: tuple[str, ...], actor: tuple[str, ...] = _PERSON,
       by_action: Mapping[str, ActionRule] | None = None,
       **roles: tuple[str, ...]) -> EventType:
    return EventType(name, actions, {"actor": actor, **roles}, by_action or {})


EVENT_TABLE: tuple[EventType, ...] = (
    EventType("Event", None),
    _e("AnnotationEvent", ("Bookmarked", "Highlighted", "Shared", "Tagged"),
       object=("DigitalResource",), target=("Frame",), generated=("Annotation",)),
    _e("AssessmentEvent", ("Started", "Paused", "Resumed", "Restarted", "Reset", "Submitted"),
       object=("Assessment",), generated=("Attempt",)),
    # The spec names Response for `generated`; the IMS fixture for Started generates an Attempt.
    _e("AssessmentItemEvent", ("Started", "Skipped", "Completed"),
       object=("AssessmentItem",), generated=("Response", "Attempt"),
       referrer=("AssessmentItem",)),
    _e("AssignableEvent",
       ("Activated", "Deactivated", "Started", "Completed", "Submitted", "Reviewed"),
       object=("AssignableDigitalResource",), target=("Frame",), generated=("Attempt",)),
    _e("FeedbackEvent", ("Commented", "Ranked"),
       object=("Entity",), target=("Frame",), generated=("Rating", "Comment"),
       by_action={"Commented": ActionRule({"generated": ("Comment",)}),
                  "Ranked": ActionRule({"generated": ("Rating",)})}),
    _e("ForumEvent", ("Subscribed", "Unsubscribed"), object=("Forum",)),
    _e("GradeEvent", ("Graded",), actor=("Agent",), object=("Attempt",), generated=("Score",)),
    _e("MediaEvent",
       ("Started", "Ended", "Paused", "Resumed", "Restarted", "ForwardedTo", "JumpedTo",
        "ChangedResolution", "ChangedSize", "ChangedSpeed", "ChangedVolume",
        "EnabledCloseCaptioning", "DisabledCloseCaptioning", *vocab.CAPTIONING_SPELLINGS,
        "EnteredFullScreen",
        "ExitedFullScreen", "Muted", "Unmuted", "OpenedPopout", "ClosedPopout"),
       object=("MediaObject",), target=("MediaLocation",)),
    _e("MessageEvent", ("MarkedAsRead", "MarkedAsUnread", "Posted"), object=("Message",)),
    _e("NavigationEvent", ("NavigatedTo",),
       object=("DigitalResource", "SoftwareApplication"), target=("DigitalResource",),
       referrer=("DigitalResource", "SoftwareApplication")),
    _e("QuestionnaireEvent", ("Started", "Submitted"), object=("Questionnaire",)),
    _e("QuestionnaireItemEvent", ("Started", "Skipped", "Completed"),
       object=("QuestionnaireItem",), generated=("Response",)),
    _e("ResourceManagementEvent",
       ("Archived", "Copied", "Created", "Deleted", "Described", "Downloaded", "Modified",
        "Printed", "Published", "Restored", "Retrieved", "Saved", "Unpublished", "Uploaded"),
       object=("DigitalResource",), generated=("DigitalResource",),
       by_action={"Copied": ActionRule(required=("generated",))}),
    _e("SearchEvent", ("Searched",), object=("Entity",), generated=("SearchResponse",)),
    _e("SessionEvent", ("LoggedIn", "LoggedOut", "TimedOut"),
       actor=("Person", "SoftwareApplication"), object=("SoftwareApplication", "Session"),
       target=("DigitalResource",), referrer=("DigitalResource", "SoftwareApplication"),
       by_action={
           "LoggedIn": ActionRule({"actor": _PERSON, "object": ("SoftwareApplication",)}),
           "LoggedOut": ActionRule({"actor": _PERSON, "object": ("SoftwareApplication",)}),
           "TimedOut": ActionRule({"actor": ("SoftwareApplication",), "object": ("Session",)}),
       }),
    _e("SurveyEvent", ("OptedIn", "OptedOut"), object=("Survey",)),
    _e("SurveyInvitationEvent", ("Accepted", "Declined", "Sent"), object=("SurveyInvitation",)),
    _e("ThreadEvent", ("MarkedAsRead", "MarkedAsUnread"), object=("Thread",)),
    _e("ToolLaunchEvent", ("Launched", "Returned"),
       object=("SoftwareApplication",), generated=("DigitalResource",),
       target=("Link", "LtiLink"),
       by_action={"Launched": ActionRule(required=("federatedSession",))}),
    _e("ToolUseEvent", ("Used",), object=("SoftwareApplication",),
       target=("SoftwareApplication",), generated=("AggregateMeasureCollection",)),
    _e("ViewEvent", ("Viewed",), object=("DigitalResource",)),
    # TimebackProfile: only the common rules here; timeback.py checks the rest.
    EventType("ActivityEvent", ("Completed",), profile=vocab.TIMEBACK_PROFILE),
    EventType("TimeSpentEvent", ("SpentTime",), profile=vocab.TIMEBACK_PROFILE),
)

EVENT_TYPES: Mapping[str, EventType] = MappingProxyType({t.name: t for t in EVENT_TABLE})
TIMEBACK_EVENT_TYPES: tuple[str, ...] = tuple(
    t.name for t in EVENT_TABLE if t.profile == vocab.TIMEBACK_PROFILE
)
_CORE_EVENT_TYPE_NAMES: tuple[str, ...] = tuple(t.name for t in EVENT_TABLE if t.profile is None)
_PROFILES = frozenset(vocab.PROFILES)


def looks_like_event(item: dict[str, object]) -> bool:
    """For an item whose `type` is missing or unknown: does it have an event's shape?"""
    type_name = item.get("type")
    if isinstance(type_name, str) and type_name.endswith("Event"):
        return True
    return "action" in item or "eventTime" in item or "actor" in item


def check_event(item: dict[str, object], path: str, out: list[Problem]) -> None:
    """Check a top-level event (an item of an envelope's `data`)."""
    if "@context" in item:
        message = context_problem(item["@context"])
        if message is not None:
            out.append(Problem(join_path(path, "@context"), message))
    else:
        out.append(Problem(join_path(path, "@context"), "Required"))
    if "id" not in item:
        out.append(Problem(join_path(path, "id"), "Required"))
    else:
        message = event_id_problem(item["id"])
        if message is not None:
            out.append(Problem(join_path(path, "id"), message))
    type_name = item.get("type")
    kind = EVENT_TYPES.get(type_name) if isinstance(type_name, str) else None
    if kind is None:
        type_path = join_path(path, "type")
        if "type" not in item:
            out.append(Problem(type_path, "Required"))
        elif not isinstance(type_name, str):
            out.append(Problem(type_path, f"Expected an event type name; {describe(type_name)}"))
        else:
            out.append(Problem(type_path, f"Unknown event type {type_name!r}; expected one of: "
                               + one_of(_CORE_EVENT_TYPE_NAMES + TIMEBACK_EVENT_TYPES, 30)))
        return
    timeback = _check_profile(kind, item, path, out)
    action = item.get("action")
    rule = kind.by_action.get(action) if isinstance(action, str) else None
    for name in REQUIRED:
        if name not in item:
            out.append(Problem(join_path(path, name), "Required"))
    if rule is not None:
        for name in rule.required:
            if name not in item:
                out.append(Problem(join_path(path, name),
                                   f"Required for a {kind.name} with action {action}"))
    for key, value in item.items():
        if key in STRUCTURAL or key == "profile":
            continue
        key_path = join_path(path, key)
        if key == "action":
            _check_action(kind, value, key_path, out)
        elif key == "eventTime":
            message = event_time_problem(value)
            if message is not None:
                out.append(Problem(key_path, message))
        elif timeback:
            if key in ("actor", "object") and value is None:
                out.append(Problem(key_path, "Expected an object or an IRI; got null"))
        elif key in ROLES:
            check_ref(kind.role_types(key, action), value, key_path, out)
        elif key == "extensions":
            check_map(value, key_path, out)
        else:
            out.append(Problem(key_path, f"Unknown property {key!r} for {kind.name}; "
                               "custom properties belong in extensions"))


def _check_profile(kind: EventType, item: dict[str, object], path: str,
                   out: list[Problem]) -> bool:
    """Check `profile`; True when the event is a TimebackProfile event (checked by timeback.py)."""
    profile = item.get("profile")
    profile_path = join_path(path, "profile")
    if "profile" in item and (not isinstance(profile, str) or profile not in _PROFILES):
        if isinstance(profile, str):
            message = f"Unknown profile {profile!r}; expected one of: {one_of(vocab.PROFILES)}"
        else:
            message = f"Expected a profile term; {describe(profile)}"
        out.append(Problem(profile_path, message))
    if kind.profile is not None:
        # isinstance first: an array or object `profile` is unhashable (a TypeError, not a 400).
        if isinstance(profile, str) and profile != kind.profile and profile in _PROFILES:
            out.append(Problem(profile_path, f"{kind.name} belongs to {kind.profile}; "
                               f"got {profile}"))
        return True
    if profile == vocab.TIMEBACK_PROFILE:
        out.append(Problem(join_path(path, "type"), f"{vocab.TIMEBACK_PROFILE} defines "
                           + " and ".join(TIMEBACK_EVENT_TYPES) + f"; got {kind.name}"))
        return True
    return False


def _check_action(kind: EventType, value: object, path: str, out: list[Problem]) -> None:
    if isinstance(value, str) and kind.allows(value):
        return
    allowed = kind.actions if kind.actions is not None else vocab.ACTIONS
    if isinstance(value, str):
        out.append(Problem(path, f"Unknown action {value!r} for {kind.name}; expected one of: "
                           + one_of(allowed, 30)))
    else:
        out.append(Problem(path, f"Expected an action term; {describe(value)}"))


__all__ = [
    "EVENT_TABLE",
    "EVENT_TYPES",
    "ROLES",
    "TIMEBACK_EVENT_TYPES",
    "ActionRule",
    "EventType",
    "check_event",
    "looks_like_event",
]
