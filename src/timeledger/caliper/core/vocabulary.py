"""The Caliper 1.2 terms a sensor may use (profiles, actions, metrics, roles), as plain tables."""

from __future__ import annotations

# Written from the Caliper 1.2 JSON-LD context (http://purl.imsglobal.org/ctx/caliper/v1p2) and
# the IMS conformance fixtures; tests/caliper/test_conformance.py checks these tables against the
# context document so the two cannot drift apart silently.

CALIPER_CONTEXT = "http://purl.imsglobal.org/ctx/caliper/v1p2"

TIMEBACK_PROFILE = "TimebackProfile"

#: Profiles defined by the context, plus the Survey profile (Caliper 1.2 extension used by the IMS
#: fixtures, absent from the context document) and the TimebackProfile this platform speaks.
CORE_PROFILES: tuple[str, ...] = (
    "GeneralProfile", "AnnotationProfile", "AssessmentProfile", "AssignableProfile",
    "FeedbackProfile", "ForumProfile", "GradingProfile", "MediaProfile", "ReadingProfile",
    "ResourceManagementProfile", "SearchProfile", "SessionProfile", "ToolLaunchProfile",
    "ToolUseProfile",
)
PROFILES: tuple[str, ...] = (*CORE_PROFILES, "SurveyProfile", TIMEBACK_PROFILE)

#: Every action term of the Caliper 1.2 context (the range of a generic `Event`'s action).
CORE_ACTIONS: tuple[str, ...] = (
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
    "Unpublished", "Unsubscribed", "Uploaded", "Used", "Viewed",
)
#: The spec text and the IMS fixtures spell these two "...ClosedCaptioning"; the context document
#: spells them "...CloseCaptioning". Both spellings are accepted wherever either is.
CAPTIONING_SPELLINGS: tuple[str, ...] = ("EnabledClosedCaptioning", "DisabledClosedCaptioning")
ACTIONS: tuple[str, ...] = (*CORE_ACTIONS, *CAPTIONING_SPELLINGS)
TIMEBACK_ACTIONS: tuple[str, ...] = ("SpentTime",)

METRICS: tuple[str, ...] = (
    "AssessmentsSubmitted", "AssessmentsPassed", "MinutesOnTask", "SkillsMastered",
    "StandardsMastered", "UnitsCompleted", "UnitsPassed", "WordsRead",
)

SYSTEM_IDENTIFIER_TYPES: tuple[str, ...] = (
    "AccountUserName", "CaseItemUri", "EmailAddress", "LisSourcedId", "LtiContextId",
    "LtiDeploymentId", "LtiPlatformId", "LtiToolId", "LtiUserId", "OneRosterSourcedId", "Other",
    "SisSourcedId", "SystemId",
)

LTI_MESSAGE_TYPES: tuple[str, ...] = ("LtiDeepLinkingRequest", "LtiResourceLinkRequest")

_ROLE_FAMILIES: dict[str, tuple[str, ...]] = {
    "Administrator": ("Administrator", "Developer", "ExternalDeveloper", "ExternalSupport",
                      "ExternalSystemAdministrator", "Support", "SystemAdministrator"),
    "ContentDeveloper": ("ContentDeveloper", "ContentExpert", "ExternalContentExpert",
                         "Librarian"),
    "Instructor": ("ExternalInstructor", "Grader", "GuestInstructor", "Instructor", "Lecturer",
                   "PrimaryInstructor", "SecondaryInstructor", "TeachingAssistant",
                   "TeachingAssistantGroup", "TeachingAssistantOffering",
                   "TeachingAssistantSection", "TeachingAssistantTemplate"),
    "Learner": ("ExternalLearner", "GuestLearner", "Learner", "NonCreditLearner"),
    # Manager#Manager is missing from the context document but used by the IMS fixtures.
    "Manager": ("AreaManager", "CourseCoordinator", "Observer", "ExternalObserver", "Manager"),
    "Member": ("Member",),
    "Mentor": ("Advisor", "Auditor", "ExternalAdvisor", "ExternalAuditor",
               "ExternalLearningFacilitator", "ExternalMentor", "ExternalReviewer",
               "ExternalTutor", "LearningFacilitator", "Mentor", "Reviewer", "Tutor"),
    "Officer": ("Chair", "Secretary", "Treasurer", "Vice-Chair"),
}

#: LIS membership roles: the eight context roles and their `Role#SubRole` terms.
ROLES: tuple[str, ...] = (
    *_ROLE_FAMILIES,
    *(f"{family}#{sub}" for family, subs in _ROLE_FAMILIES.items() for sub in subs),
)

STATUSES: tuple[str, ...] = ("Active", "Inactive")
