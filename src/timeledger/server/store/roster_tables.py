"""The school roster (OneRoster 1.2): orgs, sessions, courses, classes, users, roles, enrollments.

Not projections: rows come from `timeledger roster import` (a OneRoster CSV export), so rebuild
keeps them. Every table is keyed by the export's `sourcedId`; a deleted record stays with status
`tobedeleted` (as OneRoster's delta model has it) until a later import brings it back. Lists that
the CSV spells comma-separated (grades, subjects, termSourcedIds, ...) are kept in that form and
read back as arrays. Links between records are checked by the import, not by foreign keys, so a
delta may name a record the same import adds.
"""

from __future__ import annotations

import sqlalchemy as sa

from timeledger.server.store.schema import UtcDateTime, metadata

SourcedId = sa.String(255)
Status = sa.String(20)  # "active" or "tobedeleted"
IsoDate = sa.String(10)  # YYYY-MM-DD as the export wrote it
CommaList = sa.Text  # "09,10": the CSV's own spelling of a list


def _record_columns() -> list[sa.Column[object]]:
    """The columns every OneRoster record has: its id, status, last change and extra metadata."""
    return [
        sa.Column("sourced_id", SourcedId, primary_key=True),
        sa.Column("status", Status, nullable=False),
        sa.Column("date_last_modified", UtcDateTime(), nullable=False),
        sa.Column("metadata_json", sa.Text),  # JSON object from the CSV's metadata.* columns
    ]


roster_orgs = sa.Table(
    "roster_orgs", metadata,
    *_record_columns(),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("type", sa.String(50), nullable=False),  # school, district, department, ...
    sa.Column("identifier", sa.String(255)),
    sa.Column("parent_sourced_id", SourcedId),
)

roster_academic_sessions = sa.Table(
    "roster_academic_sessions", metadata,
    *_record_columns(),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("type", sa.String(50), nullable=False),  # schoolYear, term, semester, gradingPeriod
    sa.Column("start_date", IsoDate, nullable=False),
    sa.Column("end_date", IsoDate, nullable=False),
    sa.Column("parent_sourced_id", SourcedId),
    sa.Column("school_year", sa.String(4), nullable=False),
)

roster_courses = sa.Table(
    "roster_courses", metadata,
    *_record_columns(),
    sa.Column("school_year_sourced_id", SourcedId),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("course_code", sa.String(255)),
    sa.Column("grades", CommaList),
    sa.Column("org_sourced_id", SourcedId, nullable=False),
    sa.Column("subjects", CommaList),
    sa.Column("subject_codes", CommaList),
)

roster_classes = sa.Table(
    "roster_classes", metadata,
    *_record_columns(),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("grades", CommaList),
    sa.Column("course_sourced_id", SourcedId, nullable=False),
    sa.Column("class_code", sa.String(255)),
    sa.Column("class_type", sa.String(20), nullable=False),  # homeroom or scheduled
    sa.Column("location", sa.String(300)),
    sa.Column("school_sourced_id", SourcedId, nullable=False),
    sa.Column("term_sourced_ids", CommaList, nullable=False),
    sa.Column("subjects", CommaList),
    sa.Column("subject_codes", CommaList),
    sa.Column("periods", CommaList),
)
sa.Index("ix_roster_classes_school", roster_classes.c.school_sourced_id)

roster_users = sa.Table(
    "roster_users", metadata,
    *_record_columns(),
    sa.Column("enabled_user", sa.Boolean, nullable=False),
    sa.Column("username", sa.String(255)),
    sa.Column("user_ids", CommaList),  # "{type:identifier}" entries, as the CSV has them
    sa.Column("given_name", sa.String(255), nullable=False),
    sa.Column("family_name", sa.String(255), nullable=False),
    sa.Column("middle_name", sa.String(255)),
    sa.Column("identifier", sa.String(255)),
    sa.Column("email", sa.String(320)),
    # lower-cased e-mail: how a learner seen in events (keyed by lower-cased e-mail) finds its user
    sa.Column("email_lower", sa.String(320)),
    sa.Column("sms", sa.String(50)),
    sa.Column("phone", sa.String(50)),
    sa.Column("agent_sourced_ids", CommaList),
    sa.Column("grades", CommaList),
    sa.Column("user_master_identifier", sa.String(255)),
    sa.Column("preferred_given_name", sa.String(255)),
    sa.Column("preferred_middle_name", sa.String(255)),
    sa.Column("preferred_family_name", sa.String(255)),
    sa.Column("primary_org_sourced_id", SourcedId),
    sa.Column("pronouns", sa.String(100)),
    # the user's primary role (roles.csv, else users.csv's 1.1-style `role`, else its enrollments)
    sa.Column("role", sa.String(50)),
)
sa.Index("ix_roster_users_email_lower", roster_users.c.email_lower)
sa.Index("ix_roster_users_role", roster_users.c.role)

roster_user_roles = sa.Table(  # roles.csv: a user's role at an org
    "roster_user_roles", metadata,
    *_record_columns(),
    sa.Column("user_sourced_id", SourcedId, nullable=False),
    sa.Column("role_type", sa.String(20), nullable=False),  # primary or secondary
    sa.Column("role", sa.String(50), nullable=False),
    sa.Column("org_sourced_id", SourcedId, nullable=False),
    sa.Column("begin_date", IsoDate),
    sa.Column("end_date", IsoDate),
)
sa.Index("ix_roster_user_roles_user", roster_user_roles.c.user_sourced_id)

roster_enrollments = sa.Table(
    "roster_enrollments", metadata,
    *_record_columns(),
    sa.Column("class_sourced_id", SourcedId, nullable=False),
    sa.Column("school_sourced_id", SourcedId, nullable=False),
    sa.Column("user_sourced_id", SourcedId, nullable=False),
    sa.Column("role", sa.String(50), nullable=False),  # student, teacher, administrator, ...
    sa.Column("primary", sa.Boolean),
    sa.Column("begin_date", IsoDate),
    sa.Column("end_date", IsoDate),
)
sa.Index("ix_roster_enrollments_class", roster_enrollments.c.class_sourced_id)
sa.Index("ix_roster_enrollments_user", roster_enrollments.c.user_sourced_id)

# Every roster table, parents before the records that name them.
ROSTER_TABLES: tuple[sa.Table, ...] = (
    roster_orgs, roster_academic_sessions, roster_courses, roster_classes, roster_users,
    roster_user_roles, roster_enrollments,
)
