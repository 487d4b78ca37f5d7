"""events.run_id as 16 bytes and Caliper's terms as codes on SQLite."""
# Revision 0029, after 0028.
#
# On SQLite, `events.run_id` in the canonical lower-case uuid form is stored as the uuid's 16
# bytes (store/compact_keys.py: UuidText, as run_windows.run_id already is), and `kind`, `type`,
# `action` and `profile` hold a term of store/term_codes.py as its code, a one-byte blob
# (CaliperTerm); any other value stays text. The declared types do not change. As in 0028 the
# table is copied in batches of seqs and its indexes made again (rows shrunk in place would leave
# every page of the log part empty). PostgreSQL is unchanged.
#
# The upgrade writes codes from the table as it stood here (written out below, not imported: the
# code may change). The downgrade reads codes through the code's own table, which is append-only:
# it knows every code this table gave and any given since.

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from alembic import op

revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None

_BATCH = 10_000  # rows copied per statement
_TERM_COLUMNS = ("kind", "type", "action", "profile")
_TERMS = (
    # kind, 0-1
    "event", "entity",
    # event types, 2-25
    "Event", "AnnotationEvent", "AssessmentEvent", "AssessmentItemEvent", "AssignableEvent",
    "FeedbackEvent", "ForumEvent", "GradeEvent", "MediaEvent", "MessageEvent", "NavigationEvent",
    "QuestionnaireEvent", "QuestionnaireItemEvent", "ResourceManagementEvent", "SearchEvent",
    "SessionEvent", "SurveyEvent", "SurveyInvitationEvent", "ThreadEvent", "ToolLaunchEvent",
    "ToolUseEvent", "ViewEvent", "ActivityEvent", "TimeSpentEvent",
    # entity types, 26-102
    "Entity", "Agent", "Person", "Organization", "CourseOffering", "CourseSection", "Group",
    "SoftwareApplication", "DigitalResource", "AssignableDigitalResource", "Collection",
    "DigitalResourceCollection", "Assessment", "AssessmentItem", "Chapter", "Document", "Page",
    "WebPage", "Frame", "MediaObject", "AudioObject", "ImageObject", "VideoObject",
    "MediaLocation", "Message", "Forum", "Thread", "Questionnaire", "QuestionnaireItem",
    "SurveyInvitation", "LtiLink", "Link", "Survey", "AggregateMeasureCollection",
    "AggregateMeasure", "LearningObjective", "Annotation", "BookmarkAnnotation",
    "HighlightAnnotation", "SharedAnnotation", "TagAnnotation", "Attempt", "Response",
    "DateTimeResponse", "FillinBlankResponse", "MultipleChoiceResponse",
    "MultipleResponseResponse", "MultiselectResponse", "OpenEndedResponse", "RatingScaleResponse",
    "SelectTextResponse", "TrueFalseResponse", "Result", "Score", "Comment", "Rating", "Question",
    "DateTimeQuestion", "MultiselectQuestion", "OpenEndedQuestion", "RatingScaleQuestion", "Scale",
    "LikertScale", "MultiselectScale", "NumericScale", "Query", "SearchResponse", "Membership",
    "Session", "LtiSession", "SystemIdentifier", "Selector", "TextPositionSelector",
    "TimebackUser", "TimebackActivityContext", "TimebackActivityMetricsCollection",
    "TimebackTimeSpentMetricsCollection",
    # profiles, 103-118
    "GeneralProfile", "AnnotationProfile", "AssessmentProfile", "AssignableProfile",
    "FeedbackProfile", "ForumProfile", "GradingProfile", "MediaProfile", "ReadingProfile",
    "ResourceManagementProfile", "SearchProfile", "SessionProfile", "ToolLaunchProfile",
    "ToolUseProfile", "SurveyProfile", "TimebackProfile",
    # actions, 119-201
    "Abandoned", "Accepted", "Activated", "Added", "Archived", "Attached", "Bookmarked",
    "ChangedResolution", "ChangedSize", "ChangedSpeed", "ChangedVolume", "Classified",
    "ClosedPopout", "Commented", "Completed", "Copied", "Created", "Deactivated", "Declined",
    "Deleted", "Described", "DisabledCloseCaptioning", "Disliked", "Downloaded",
    "EnabledCloseCaptioning", "Ended", "EnteredFullScreen", "ExitedFullScreen", "ForwardedTo",
    "Graded", "Hid", "Highlighted", "Identified", "JumpedTo", "Launched", "Liked", "Linked",
    "LoggedIn", "LoggedOut", "MarkedAsRead", "MarkedAsUnread", "Modified", "Muted", "NavigatedTo",
    "OpenedPopout", "OptedIn", "OptedOut", "Paused", "Posted", "Printed", "Published",
    "Questioned", "Ranked", "Recommended", "Removed", "Reset", "Restarted", "Restored", "Resumed",
    "Retrieved", "Returned", "Reviewed", "Rewound", "Saved", "Searched", "Sent", "Shared",
    "Showed", "Skipped", "Started", "Submitted", "Subscribed", "Tagged", "TimedOut", "Unmuted",
    "Unpublished", "Unsubscribed", "Uploaded", "Used", "Viewed", "EnabledClosedCaptioning",
    "DisabledClosedCaptioning", "SpentTime",
)


def _uuid_bytes(value: Any) -> Any:
    if not isinstance(value, str) or len(value) != 36:
        return value
    digits = value.replace("-", "")
    if len(digits) != 32 or [value[i] for i in (8, 13, 18, 23)] != ["-"] * 4:
        return value
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        return value
    return raw if raw.hex() == digits else value


def _uuid_text(value: Any) -> Any:
    if not isinstance(value, bytes):
        return value
    digits = value.hex()
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def _copy_events(run_id: Callable[[Any], Any], term: Callable[[Any], Any]) -> None:
    """Copy events into a table of the same definition, `run_id` through `run_id` and each term
    column through `term`, then put the indexes back."""
    conn = op.get_bind()
    driver = conn.connection.driver_connection
    assert driver is not None
    driver.create_function("converted_run_id", 1, run_id, deterministic=True)
    driver.create_function("converted_term", 1, term, deterministic=True)
    ddl = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'").scalar_one()
    indexes = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' "
        "AND sql IS NOT NULL ORDER BY name").scalars().all()
    # A renamed table's DDL names it in quotes: "events".
    new_ddl, renamed = re.subn(r'^CREATE TABLE "?events"? \(', "CREATE TABLE events_new (", ddl)
    if renamed != 1:
        raise RuntimeError(f"events: unexpected DDL {ddl}")
    op.execute(new_ddl)
    columns = [row[1] for row in conn.exec_driver_sql("PRAGMA table_info(events)")]
    values = ", ".join("converted_run_id(run_id)" if name == "run_id"
                       else f"converted_term({name})" if name in _TERM_COLUMNS else name
                       for name in columns)
    first, last = conn.exec_driver_sql(
        "SELECT coalesce(min(seq), 1) - 1, coalesce(max(seq), 0) FROM events").one()
    for low in range(first, last, _BATCH):
        conn.exec_driver_sql(
            f"INSERT INTO events_new ({', '.join(columns)}) SELECT {values} FROM events "
            "WHERE seq > ? AND seq <= ?", (low, low + _BATCH))
    op.execute("DROP TABLE events")
    op.execute("ALTER TABLE events_new RENAME TO events")
    for index in indexes:
        op.execute(index)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    codes = {term: bytes((code,)) for code, term in enumerate(_TERMS)}
    _copy_events(_uuid_bytes, lambda value: codes.get(value, value))


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    from timeledger.server.store.compact_keys import term_text

    _copy_events(_uuid_text,
                 lambda value: term_text(value) if isinstance(value, bytes) else value)
