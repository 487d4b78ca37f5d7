"""The fixed code table for Caliper 1.2's closed vocabularies (item kinds, event and entity types,
profiles, actions): what `compact_keys.CaliperTerm` stores on SQLite in place of a term's text.

Append-only: a code once given never changes meaning (rows written with it keep it), so a term is
only ever added at the end; tests/server/store/test_narrow_terms.py pins the table. Any value not
in it is stored as its text, so a new term needs no migration, only a line here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

TERMS: tuple[str, ...] = (
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

#: Each term's code.
CODES: Mapping[str, int] = MappingProxyType({term: code for code, term in enumerate(TERMS)})
