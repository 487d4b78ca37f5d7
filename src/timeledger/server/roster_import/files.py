"""The CSV files of a OneRoster 1.2 export this import reads: their columns, checks and tables.

One `FileSpec` per file says which column fills which table column, how its text is checked and
which other records it names. Columns the tables do not keep (passwords, resourceSourcedIds,
userProfileSourcedId, 1.1's orgSourcedIds) are read past; `metadata.*` columns are kept as a JSON
object; any other unknown column is reported as a warning and ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa

from timeledger.server.store.roster_tables import (
    roster_academic_sessions,
    roster_classes,
    roster_courses,
    roster_enrollments,
    roster_orgs,
    roster_user_roles,
    roster_users,
)

Kind = Literal["text", "enum", "date", "year", "boolean", "list", "email", "id", "id_list"]

ORG_TYPES = ("department", "district", "local", "national", "school", "state")
SESSION_TYPES = ("gradingPeriod", "semester", "schoolYear", "term")
CLASS_TYPES = ("homeroom", "scheduled")
ROLE_TYPES = ("primary", "secondary")
# OneRoster 1.2's RoleEnum, and 1.1's `administrator`, which exports still carry.
ROLES = ("administrator", "aide", "counselor", "districtAdministrator", "guardian", "parent",
         "principal", "proctor", "relative", "siteAdministrator", "student",
         "systemAdministrator", "teacher")


@dataclass(frozen=True, slots=True)
class Column:
    csv: str  # the header in the CSV file
    column: str  # the roster table's column
    kind: Kind = "text"
    required: bool = False
    choices: tuple[str, ...] = ()  # kind enum
    refers_to: str | None = None  # kind id / id_list: the file whose records it names


@dataclass(frozen=True, slots=True)
class FileSpec:
    name: str  # e.g. "users.csv"
    manifest_key: str  # e.g. "file.users"
    table: sa.Table
    columns: tuple[Column, ...]
    ignored: tuple[str, ...] = ()  # columns read past without a warning

    def column(self, csv_name: str) -> Column | None:
        return next((c for c in self.columns if c.csv == csv_name), None)


ORGS = FileSpec("orgs.csv", "file.orgs", roster_orgs, (
    Column("name", "name", required=True),
    Column("type", "type", "enum", required=True, choices=ORG_TYPES),
    Column("identifier", "identifier"),
    Column("parentSourcedId", "parent_sourced_id", "id", refers_to="orgs.csv"),
))

ACADEMIC_SESSIONS = FileSpec("academicSessions.csv", "file.academicSessions",
                             roster_academic_sessions, (
    Column("title", "title", required=True),
    Column("type", "type", "enum", required=True, choices=SESSION_TYPES),
    Column("startDate", "start_date", "date", required=True),
    Column("endDate", "end_date", "date", required=True),
    Column("parentSourcedId", "parent_sourced_id", "id", refers_to="academicSessions.csv"),
    Column("schoolYear", "school_year", "year", required=True),
))

COURSES = FileSpec("courses.csv", "file.courses", roster_courses, (
    Column("schoolYearSourcedId", "school_year_sourced_id", "id",
           refers_to="academicSessions.csv"),
    Column("title", "title", required=True),
    Column("courseCode", "course_code"),
    Column("grades", "grades", "list"),
    Column("orgSourcedId", "org_sourced_id", "id", required=True, refers_to="orgs.csv"),
    Column("subjects", "subjects", "list"),
    Column("subjectCodes", "subject_codes", "list"),
))

CLASSES = FileSpec("classes.csv", "file.classes", roster_classes, (
    Column("title", "title", required=True),
    Column("grades", "grades", "list"),
    Column("courseSourcedId", "course_sourced_id", "id", required=True, refers_to="courses.csv"),
    Column("classCode", "class_code"),
    Column("classType", "class_type", "enum", required=True, choices=CLASS_TYPES),
    Column("location", "location"),
    Column("schoolSourcedId", "school_sourced_id", "id", required=True, refers_to="orgs.csv"),
    Column("termSourcedIds", "term_sourced_ids", "id_list", required=True,
           refers_to="academicSessions.csv"),
    Column("subjects", "subjects", "list"),
    Column("subjectCodes", "subject_codes", "list"),
    Column("periods", "periods", "list"),
))

USERS = FileSpec("users.csv", "file.users", roster_users, (
    Column("enabledUser", "enabled_user", "boolean", required=True),
    Column("username", "username"),
    Column("userIds", "user_ids", "list"),
    Column("givenName", "given_name", required=True),
    Column("familyName", "family_name", required=True),
    Column("middleName", "middle_name"),
    Column("identifier", "identifier"),
    Column("email", "email", "email"),
    Column("sms", "sms"),
    Column("phone", "phone"),
    Column("agentSourcedIds", "agent_sourced_ids", "id_list", refers_to="users.csv"),
    Column("grades", "grades", "list"),
    Column("userMasterIdentifier", "user_master_identifier"),
    Column("preferredGivenName", "preferred_given_name"),
    Column("preferredMiddleName", "preferred_middle_name"),
    Column("preferredFamilyName", "preferred_family_name"),
    Column("primaryOrgSourcedId", "primary_org_sourced_id", "id", refers_to="orgs.csv"),
    Column("pronouns", "pronouns"),
    # a user's role comes from roles.csv, else their enrollments (user_roles.py), so 1.1's
    # users.csv `role` and `orgSourcedIds` are read past
), ignored=("password", "resourceSourcedIds", "orgSourcedIds", "role"))

ROLES_FILE = FileSpec("roles.csv", "file.roles", roster_user_roles, (
    Column("userSourcedId", "user_sourced_id", "id", required=True, refers_to="users.csv"),
    Column("roleType", "role_type", "enum", required=True, choices=ROLE_TYPES),
    Column("role", "role", "enum", required=True, choices=ROLES),
    Column("beginDate", "begin_date", "date"),
    Column("endDate", "end_date", "date"),
    Column("orgSourcedId", "org_sourced_id", "id", required=True, refers_to="orgs.csv"),
), ignored=("userProfileSourcedId",))

ENROLLMENTS = FileSpec("enrollments.csv", "file.enrollments", roster_enrollments, (
    Column("classSourcedId", "class_sourced_id", "id", required=True, refers_to="classes.csv"),
    Column("schoolSourcedId", "school_sourced_id", "id", required=True, refers_to="orgs.csv"),
    Column("userSourcedId", "user_sourced_id", "id", required=True, refers_to="users.csv"),
    Column("role", "role", "enum", required=True, choices=ROLES),
    Column("primary", "primary", "boolean"),
    Column("beginDate", "begin_date", "date"),
    Column("endDate", "end_date", "date"),
))

# Parents before the records that name them: the order files are checked and written in.
FILE_SPECS: tuple[FileSpec, ...] = (
    ORGS, ACADEMIC_SESSIONS, COURSES, CLASSES, USERS, ROLES_FILE, ENROLLMENTS,
)
SPEC_BY_NAME = {spec.name: spec for spec in FILE_SPECS}
# Files of a OneRoster export this import does not read (demographics, the gradebook, resources).
NOT_READ = ("demographics.csv", "userProfiles.csv", "categories.csv", "lineItems.csv",
            "results.csv", "scoreScales.csv", "lineItemLearningObjectiveIds.csv",
            "lineItemScoreScales.csv", "resultLearningObjectiveIds.csv",
            "resultScoreScales.csv", "resources.csv", "classResources.csv",
            "courseResources.csv", "assessmentLineItems.csv", "assessmentResults.csv")
