"""The roster as OneRoster 1.2 REST objects: users, orgs, sessions, courses, classes, enrollments.

Each `RosterCollection` says which table it reads, which fields a client may filter and sort on
(dotted ones like `course.sourcedId` included) and how a row becomes its JSON object, with
references (`{"href", "sourcedId", "type"}`) under the base URL the caller passes. Records with
status `tobedeleted` are listed too, as OneRoster has it, so a client can follow deletions with
`filter=dateLastModified>'...'`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from timeledger.server.queries.errors import NotFound
from timeledger.server.queries.figures import iso
from timeledger.server.queries.oneroster_collection import (
    CollectionQuery,
    check_fields,
    read_page,
    select_fields,
)
from timeledger.server.queries.oneroster_filter import FilterField, FilterFields
from timeledger.server.store.roster_tables import (
    roster_academic_sessions,
    roster_classes,
    roster_courses,
    roster_enrollments,
    roster_orgs,
    roster_user_roles,
    roster_users,
)

ROSTERING_PATH = "/ims/oneroster/rostering/v1p2"


@dataclass(frozen=True, slots=True)
class Page:
    records: list[dict[str, Any]]
    total: int


def _ref(base: str, collection: str, kind: str, sourced_id: str | None) -> dict[str, str] | None:
    if not sourced_id:
        return None
    return {"href": f"{base}{ROSTERING_PATH}/{collection}/{sourced_id}", "sourcedId": sourced_id,
            "type": kind}


def _list(text: str | None) -> list[str]:
    return [part for part in (text or "").split(",") if part]


def _common(row: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"sourcedId": row.sourced_id, "status": row.status,
                              "dateLastModified": iso(row.date_last_modified)}
    if row.metadata_json:
        record["metadata"] = orjson.loads(row.metadata_json)
    return record


def _present(record: dict[str, Any]) -> dict[str, Any]:
    """The record without empty optional values (OneRoster leaves them out)."""
    return {key: value for key, value in record.items() if value is not None}


def _common_fields(table: sa.Table) -> dict[str, FilterField]:
    return {"sourcedId": FilterField(table.c.sourced_id),
            "status": FilterField(table.c.status),
            "dateLastModified": FilterField(table.c.date_last_modified, "datetime")}


# Each collection's per-page extra rows: (connection, the page's sourcedIds) -> lookups.
Extras = Callable[[sa.Connection, list[str]], dict[str, Any]]
ToJson = Callable[[Any, str, dict[str, Any]], dict[str, Any]]


def _no_extras(_conn: sa.Connection, _ids: list[str]) -> dict[str, Any]:
    return {}


@dataclass(frozen=True, slots=True)
class RosterCollection:
    name: str  # the envelope's key and the path: "users"
    singular: str  # a single object's key: "user"
    table: sa.Table
    fields: FilterFields
    json_fields: tuple[str, ...]  # every field an object may have (for `fields=`)
    to_json: ToJson
    extras: Extras = _no_extras


# --- orgs ------------------------------------------------------------------------------------

def _org_children(conn: sa.Connection, ids: list[str]) -> dict[str, Any]:
    children: dict[str, list[str]] = defaultdict(list)
    for row in conn.execute(sa.select(roster_orgs.c.parent_sourced_id, roster_orgs.c.sourced_id)
                            .where(roster_orgs.c.parent_sourced_id.in_(ids))
                            .order_by(roster_orgs.c.sourced_id)):
        children[row.parent_sourced_id].append(row.sourced_id)
    return {"children": children}


def _org_json(row: Any, base: str, extras: dict[str, Any]) -> dict[str, Any]:
    return _present({**_common(row), "name": row.name, "type": row.type,
                     "identifier": row.identifier,
                     "parent": _ref(base, "orgs", "org", row.parent_sourced_id),
                     "children": [_ref(base, "orgs", "org", child)
                                  for child in extras["children"].get(row.sourced_id, [])]})


ORGS = RosterCollection(
    "orgs", "org", roster_orgs,
    {**_common_fields(roster_orgs), "name": FilterField(roster_orgs.c.name),
     "type": FilterField(roster_orgs.c.type), "identifier": FilterField(roster_orgs.c.identifier),
     "parent.sourcedId": FilterField(roster_orgs.c.parent_sourced_id)},
    ("sourcedId", "status", "dateLastModified", "metadata", "name", "type", "identifier",
     "parent", "children"),
    _org_json, _org_children)


# --- academic sessions -------------------------------------------------------------------------

def _session_children(conn: sa.Connection, ids: list[str]) -> dict[str, Any]:
    table = roster_academic_sessions
    children: dict[str, list[str]] = defaultdict(list)
    for row in conn.execute(sa.select(table.c.parent_sourced_id, table.c.sourced_id)
                            .where(table.c.parent_sourced_id.in_(ids))
                            .order_by(table.c.sourced_id)):
        children[row.parent_sourced_id].append(row.sourced_id)
    return {"children": children}


def _session_json(row: Any, base: str, extras: dict[str, Any]) -> dict[str, Any]:
    return _present({
        **_common(row), "title": row.title, "startDate": row.start_date,
        "endDate": row.end_date, "type": row.type,
        "parent": _ref(base, "academicSessions", "academicSession", row.parent_sourced_id),
        "children": [_ref(base, "academicSessions", "academicSession", child)
                     for child in extras["children"].get(row.sourced_id, [])],
        "schoolYear": row.school_year})


ACADEMIC_SESSIONS = RosterCollection(
    "academicSessions", "academicSession", roster_academic_sessions,
    {**_common_fields(roster_academic_sessions),
     "title": FilterField(roster_academic_sessions.c.title),
     "type": FilterField(roster_academic_sessions.c.type),
     "startDate": FilterField(roster_academic_sessions.c.start_date, "date"),
     "endDate": FilterField(roster_academic_sessions.c.end_date, "date"),
     "schoolYear": FilterField(roster_academic_sessions.c.school_year),
     "parent.sourcedId": FilterField(roster_academic_sessions.c.parent_sourced_id)},
    ("sourcedId", "status", "dateLastModified", "metadata", "title", "startDate", "endDate",
     "type", "parent", "children", "schoolYear"),
    _session_json, _session_children)


# --- courses ---------------------------------------------------------------------------------

def _course_json(row: Any, base: str, _extras: dict[str, Any]) -> dict[str, Any]:
    return _present({
        **_common(row), "title": row.title,
        "schoolYear": _ref(base, "academicSessions", "academicSession",
                           row.school_year_sourced_id),
        "courseCode": row.course_code, "grades": _list(row.grades),
        "subjects": _list(row.subjects), "org": _ref(base, "orgs", "org", row.org_sourced_id),
        "subjectCodes": _list(row.subject_codes)})


COURSES = RosterCollection(
    "courses", "course", roster_courses,
    {**_common_fields(roster_courses), "title": FilterField(roster_courses.c.title),
     "courseCode": FilterField(roster_courses.c.course_code),
     "grades": FilterField(roster_courses.c.grades),
     "subjects": FilterField(roster_courses.c.subjects),
     "org.sourcedId": FilterField(roster_courses.c.org_sourced_id),
     "schoolYear.sourcedId": FilterField(roster_courses.c.school_year_sourced_id)},
    ("sourcedId", "status", "dateLastModified", "metadata", "title", "schoolYear", "courseCode",
     "grades", "subjects", "org", "subjectCodes"),
    _course_json)


# --- classes ---------------------------------------------------------------------------------

def _class_json(row: Any, base: str, _extras: dict[str, Any]) -> dict[str, Any]:
    return _present({
        **_common(row), "title": row.title, "classCode": row.class_code,
        "classType": row.class_type, "location": row.location, "grades": _list(row.grades),
        "subjects": _list(row.subjects),
        "course": _ref(base, "courses", "course", row.course_sourced_id),
        "school": _ref(base, "orgs", "org", row.school_sourced_id),
        "terms": [_ref(base, "academicSessions", "academicSession", term)
                  for term in _list(row.term_sourced_ids)],
        "subjectCodes": _list(row.subject_codes), "periods": _list(row.periods)})


CLASSES = RosterCollection(
    "classes", "class", roster_classes,
    {**_common_fields(roster_classes), "title": FilterField(roster_classes.c.title),
     "classCode": FilterField(roster_classes.c.class_code),
     "classType": FilterField(roster_classes.c.class_type),
     "location": FilterField(roster_classes.c.location),
     "grades": FilterField(roster_classes.c.grades),
     "subjects": FilterField(roster_classes.c.subjects),
     "course.sourcedId": FilterField(roster_classes.c.course_sourced_id),
     "school.sourcedId": FilterField(roster_classes.c.school_sourced_id),
     "terms.sourcedId": FilterField(roster_classes.c.term_sourced_ids)},
    ("sourcedId", "status", "dateLastModified", "metadata", "title", "classCode", "classType",
     "location", "grades", "subjects", "course", "school", "terms", "subjectCodes", "periods"),
    _class_json)


# --- users -----------------------------------------------------------------------------------

def _user_roles(conn: sa.Connection, ids: list[str]) -> dict[str, Any]:
    roles: dict[str, list[Any]] = defaultdict(list)
    table = roster_user_roles
    for row in conn.execute(sa.select(table).where(table.c.user_sourced_id.in_(ids),
                                                   table.c.status == "active")
                            .order_by(table.c.role_type, table.c.sourced_id)):
        roles[row.user_sourced_id].append(row)
    return {"roles": roles}


def _user_ids(text: str | None) -> list[dict[str, str]]:
    """userIds as the CSV spells them, `{type:identifier}`, as OneRoster's JSON objects."""
    out = []
    for item in _list(text):
        kind, _, identifier = item.strip("{}").partition(":")
        out.append({"type": kind, "identifier": identifier})
    return out


def _user_json(row: Any, base: str, extras: dict[str, Any]) -> dict[str, Any]:
    held = extras["roles"].get(row.sourced_id, [])
    roles = [_present({"roleType": role.role_type, "role": role.role,
                       "org": _ref(base, "orgs", "org", role.org_sourced_id),
                       "beginDate": role.begin_date, "endDate": role.end_date})
             for role in held]
    if not roles and row.role and row.primary_org_sourced_id:
        roles = [{"roleType": "primary", "role": row.role,
                  "org": _ref(base, "orgs", "org", row.primary_org_sourced_id)}]
    return _present({
        **_common(row), "userMasterIdentifier": row.user_master_identifier,
        "username": row.username, "userIds": _user_ids(row.user_ids),
        "enabledUser": row.enabled_user, "givenName": row.given_name,
        "familyName": row.family_name, "middleName": row.middle_name,
        "preferredFirstName": row.preferred_given_name,
        "preferredMiddleName": row.preferred_middle_name,
        "preferredLastName": row.preferred_family_name, "pronouns": row.pronouns,
        "roles": roles, "userProfiles": [],
        "primaryOrg": _ref(base, "orgs", "org", row.primary_org_sourced_id),
        "identifier": row.identifier, "email": row.email, "sms": row.sms, "phone": row.phone,
        "agents": [_ref(base, "users", "user", agent) for agent in _list(row.agent_sourced_ids)],
        "grades": _list(row.grades), "resources": []})


USERS = RosterCollection(
    "users", "user", roster_users,
    {**_common_fields(roster_users),
     "email": FilterField(roster_users.c.email_lower, "ci_text"),
     "username": FilterField(roster_users.c.username),
     "givenName": FilterField(roster_users.c.given_name),
     "familyName": FilterField(roster_users.c.family_name),
     "identifier": FilterField(roster_users.c.identifier),
     "userMasterIdentifier": FilterField(roster_users.c.user_master_identifier),
     "enabledUser": FilterField(roster_users.c.enabled_user, "boolean"),
     "grades": FilterField(roster_users.c.grades),
     "role": FilterField(roster_users.c.role),
     "roles.role": FilterField(roster_users.c.role),
     "primaryOrg.sourcedId": FilterField(roster_users.c.primary_org_sourced_id)},
    ("sourcedId", "status", "dateLastModified", "metadata", "userMasterIdentifier", "username",
     "userIds", "enabledUser", "givenName", "familyName", "middleName", "preferredFirstName",
     "preferredMiddleName", "preferredLastName", "pronouns", "roles", "userProfiles",
     "primaryOrg", "identifier", "email", "sms", "phone", "agents", "grades", "resources"),
    _user_json, _user_roles)


# --- enrollments -----------------------------------------------------------------------------

def _enrollment_json(row: Any, base: str, _extras: dict[str, Any]) -> dict[str, Any]:
    return _present({
        **_common(row), "user": _ref(base, "users", "user", row.user_sourced_id),
        "class": _ref(base, "classes", "class", row.class_sourced_id),
        "school": _ref(base, "orgs", "org", row.school_sourced_id), "role": row.role,
        "primary": row.primary, "beginDate": row.begin_date, "endDate": row.end_date})


ENROLLMENTS = RosterCollection(
    "enrollments", "enrollment", roster_enrollments,
    {**_common_fields(roster_enrollments), "role": FilterField(roster_enrollments.c.role),
     "primary": FilterField(roster_enrollments.c.primary, "boolean"),
     "beginDate": FilterField(roster_enrollments.c.begin_date, "date"),
     "endDate": FilterField(roster_enrollments.c.end_date, "date"),
     "user.sourcedId": FilterField(roster_enrollments.c.user_sourced_id),
     "class.sourcedId": FilterField(roster_enrollments.c.class_sourced_id),
     "school.sourcedId": FilterField(roster_enrollments.c.school_sourced_id)},
    ("sourcedId", "status", "dateLastModified", "metadata", "user", "class", "school", "role",
     "primary", "beginDate", "endDate"),
    _enrollment_json)

COLLECTIONS: Mapping[str, RosterCollection] = {
    c.name: c for c in (USERS, ORGS, ACADEMIC_SESSIONS, COURSES, CLASSES, ENROLLMENTS)}


def _records(conn: sa.Connection, collection: RosterCollection, rows: list[Any], base: str,
             query: CollectionQuery | None) -> list[dict[str, Any]]:
    extras = collection.extras(conn, [row.sourced_id for row in rows])
    return [select_fields(collection.to_json(row, base, extras), query.fields if query else None)
            for row in rows]


def list_records(conn: sa.Connection, collection: RosterCollection, query: CollectionQuery,
                 base: str, where: sa.ColumnElement[bool] | None = None) -> Page:
    """One page of the collection under the client's filter, sort and fields."""
    check_fields(query.fields, collection.json_fields)
    select = sa.select(collection.table)
    if where is not None:
        select = select.where(where)
    page = read_page(conn, select, collection.fields, collection.table.c.sourced_id, query)
    return Page(_records(conn, collection, list(page.rows), base, query), page.total)


def get_record(conn: sa.Connection, collection: RosterCollection, sourced_id: str, base: str,
               fields: tuple[str, ...] | None = None,
               where: sa.ColumnElement[bool] | None = None) -> dict[str, Any]:
    """One object by sourcedId; NotFound if there is none (or it is not of this kind)."""
    check_fields(fields, collection.json_fields)
    select = sa.select(collection.table).where(collection.table.c.sourced_id == sourced_id)
    if where is not None:
        select = select.where(where)
    row = conn.execute(select).first()
    if row is None:
        raise NotFound(f"No {collection.singular} with sourcedId {sourced_id!r}")
    record = _records(conn, collection, [row], base, None)[0]
    return select_fields(record, fields)


def users_with_role(role: str) -> sa.ColumnElement[bool]:
    """The condition for `students` and `teachers`: users whose primary role is this."""
    return roster_users.c.role == role


def class_members(conn: sa.Connection, class_id: str, role: str) -> sa.ColumnElement[bool]:
    """The condition for `classes/{id}/students`: users actively enrolled with this role.

    NotFound if there is no such class."""
    if conn.execute(sa.select(roster_classes.c.sourced_id)
                    .where(roster_classes.c.sourced_id == class_id)).first() is None:
        raise NotFound(f"No class with sourcedId {class_id!r}")
    enrolled = (sa.select(roster_enrollments.c.user_sourced_id)
                .where(roster_enrollments.c.class_sourced_id == class_id,
                       roster_enrollments.c.role == role,
                       roster_enrollments.c.status == "active"))
    return roster_users.c.sourced_id.in_(enrolled)
