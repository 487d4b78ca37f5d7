"""OneRoster 1.2 rostering over HTTP: envelopes, paging headers, sort, fields, filters, errors."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.platform import PlatformProcess
from tests.support.roster_files import SAMPLE, read_csv
from timeledger.server.queries.roster import USERS as USER_COLLECTION

ROSTERING = "/ims/oneroster/rostering/v1p2"
USERS = read_csv(SAMPLE / "users.csv")
ENROLLMENTS = read_csv(SAMPLE / "enrollments.csv")
USER_FIELDS = USER_COLLECTION.json_fields


def _get(platform: PlatformProcess, path: str, **params: Any) -> httpx.Response:
    with platform.http() as client:
        return client.get(f"{ROSTERING}/{path}", params=params)


def _ok(platform: PlatformProcess, path: str, **params: Any) -> Any:
    reply = _get(platform, path, **params)
    assert reply.status_code == 200, reply.text
    return reply.json()


def _ids(records: list[dict[str, Any]]) -> list[str]:
    return [record["sourcedId"] for record in records]


def _assert_oneroster_error(reply: httpx.Response, status: int, code_minor: str) -> None:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert body["imsx_codeMajor"] == "failure"
    assert body["imsx_severity"] == "error"
    assert body["imsx_description"]
    field = body["imsx_CodeMinor"]["imsx_codeMinorField"][0]
    assert field["imsx_codeMinorFieldValue"] == code_minor


def test_users_come_in_the_envelope_with_the_total_and_links(rostered: PlatformProcess) -> None:
    reply = _get(rostered, "users", limit=10, offset=20)
    assert reply.status_code == 200
    body = reply.json()
    assert list(body) == ["users"]
    assert len(body["users"]) == 10
    assert reply.headers["X-Total-Count"] == str(len(USERS))
    links = dict((rel, url) for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"',
                                                       reply.headers["Link"]))
    assert set(links) == {"first", "prev", "next", "last"}
    assert "offset=30" in links["next"] and "offset=10" in links["prev"]
    assert f"offset={(len(USERS) - 1) // 10 * 10}" in links["last"]
    followed = httpx.get(links["next"], headers={"Authorization": f"Bearer {rostered.token()}"})
    assert _ids(followed.json()["users"]) == _ids(_ok(rostered, "users", limit=10,
                                                      offset=30)["users"])


def test_pages_cover_every_user_once_in_sourced_id_order(rostered: PlatformProcess) -> None:
    seen: list[str] = []
    offset = 0
    while True:
        page = _ok(rostered, "users", limit=7, offset=offset)["users"]
        if not page:
            break
        seen += _ids(page)
        offset += 7
    assert seen == sorted(row["sourcedId"] for row in USERS)


def test_a_user_resolves_by_email_in_any_case_as_the_official_sdk_asks(
        rostered: PlatformProcess) -> None:
    body = _ok(rostered, "users", filter="email='chloe.martins@DEMO-SCHOOL.example'", limit=2,
               offset=0)
    assert _ids(body["users"]) == ["s1002"]
    user = body["users"][0]
    assert user["email"] == "Chloe.Martins@Demo-School.example"
    assert user["roles"] == [{"roleType": "primary", "role": "student", "org": {
        "href": f"{rostered.base_url}{ROSTERING}/orgs/org-maple", "sourcedId": "org-maple",
        "type": "org"}}]
    assert user["userIds"] == [{"type": "sis", "identifier": "s1002"}]
    assert user["enabledUser"] is True


def test_students_teachers_and_a_class_roll(rostered: PlatformProcess) -> None:
    students = _ok(rostered, "students", limit=1000)["users"]
    assert len(students) == 60
    assert {user["roles"][0]["role"] for user in students} == {"student"}
    teachers = _ok(rostered, "teachers")["users"]
    assert sorted(_ids(teachers)) == ["t-brandt", "t-ferreira", "t-okoro"]
    roll = _ok(rostered, "classes/cls-span-cedar/students", limit=100)["users"]
    expected = sorted(row["userSourcedId"] for row in ENROLLMENTS
                      if row["classSourcedId"] == "cls-span-cedar" and row["role"] == "student")
    assert _ids(roll) == expected and len(expected) == 20
    assert _ids(_ok(rostered, "classes/cls-span-cedar/teachers")["users"]) == ["t-ferreira"]


def test_an_unknown_class_or_user_is_a_oneroster_404(rostered: PlatformProcess) -> None:
    _assert_oneroster_error(_get(rostered, "classes/no-such-class/students"), 404,
                            "unknown_object")
    _assert_oneroster_error(_get(rostered, "users/no-such-user"), 404, "unknown_object")
    # a teacher is a user but not a student
    _assert_oneroster_error(_get(rostered, "students/t-okoro"), 404, "unknown_object")


def test_one_record_of_each_collection_by_id(rostered: PlatformProcess) -> None:
    assert _ok(rostered, "users/t-okoro")["user"]["familyName"] == "Okoro"
    klass = _ok(rostered, "classes/cls-math3-maple")["class"]
    assert klass["course"]["sourcedId"] == "crs-math-3"
    assert klass["school"]["sourcedId"] == "org-maple"
    assert [t["sourcedId"] for t in klass["terms"]] == ["term-2026-fall"]
    assert _ok(rostered, "courses/crs-span-101")["course"]["grades"] == ["03", "04"]
    district = _ok(rostered, "orgs/org-district")["org"]
    assert [c["sourcedId"] for c in district["children"]] == ["org-cedar", "org-maple"]
    session = _ok(rostered, "academicSessions/term-2026-fall")["academicSession"]
    assert session["parent"]["sourcedId"] == "sy-2026-27"
    enrollment = _ok(rostered, "enrollments/enr-cls-math3-maple-t-okoro")["enrollment"]
    assert (enrollment["role"], enrollment["primary"]) == ("teacher", True)


def test_sort_and_order_by(rostered: PlatformProcess) -> None:
    body = _ok(rostered, "users", sort="familyName", orderBy="desc", limit=1000)
    names = [user["familyName"] for user in body["users"]]
    assert names == sorted((row["familyName"] for row in USERS), reverse=True)
    _assert_oneroster_error(_get(rostered, "users", sort="password"), 400, "invalid_sort_field")
    _assert_oneroster_error(_get(rostered, "users", orderBy="sideways"), 400,
                            "invalid_sort_field")


def test_fields_cut_each_record_down(rostered: PlatformProcess) -> None:
    body = _ok(rostered, "users", fields="sourcedId,email", limit=3)
    assert [set(user) for user in body["users"]] == [{"sourcedId", "email"}] * 3
    _assert_oneroster_error(_get(rostered, "users", fields="sourcedId,password"), 400,
                            "invalid_selection_field")


@pytest.mark.parametrize(("path", "filter_text", "expected"), [
    ("enrollments", "class.sourcedId='cls-span-cedar' AND role='student'",
     lambda: sorted(r["sourcedId"] for r in ENROLLMENTS
                    if r["classSourcedId"] == "cls-span-cedar" and r["role"] == "student")),
    ("users", "givenName='Ada' OR givenName='Ben'", lambda: ["s1000", "s1001"]),
    ("users", "familyName~'ALVA'",
     lambda: sorted(r["sourcedId"] for r in USERS if "alva" in r["familyName"].lower())),
    ("users", "primaryOrg.sourcedId!='org-maple'",
     lambda: sorted(r["sourcedId"] for r in USERS if r["primaryOrgSourcedId"] != "org-maple")),
    ("classes", "school.sourcedId='org-maple'", lambda: ["cls-math3-maple", "cls-math4-maple"]),
    ("academicSessions", "startDate>='2026-08-24' AND type='term'", lambda: ["term-2026-fall"]),
    ("users", "dateLastModified>'2999-01-01T00:00:00Z'", lambda: []),
    ("users", "dateLastModified<'2999-01-01'", lambda: sorted(r["sourcedId"] for r in USERS)),
    ("orgs", "type='school'", lambda: ["org-cedar", "org-maple"]),
])
def test_filters_select_what_the_export_says(rostered: PlatformProcess, path: str,
                                             filter_text: str, expected: Any) -> None:
    body = _ok(rostered, path, filter=filter_text, limit=1000)
    assert _ids(body[path]) == expected()


@pytest.mark.parametrize(("filter_text", "problem"), [
    ("email", "expected field op 'value'"),
    ("email='a@b.c' AND", "expected field op 'value'"),
    ("email=a@b.c", "expected field op 'value'"),
    ("password='x'", "unknown field 'password'"),
    ("a='1' AND b='2' AND c='3'", "at most 2"),
    ("givenName='a' AND givenName='b' OR givenName='c'", "cannot be mixed"),
    ("dateLastModified>'yesterday'", "not an ISO 8601 date-time"),
    ("enabledUser>'true'", "only = and != apply to a boolean"),
])
def test_a_malformed_filter_is_a_400_saying_why(rostered: PlatformProcess, filter_text: str,
                                                problem: str) -> None:
    reply = _get(rostered, "users", filter=filter_text)
    _assert_oneroster_error(reply, 400, "invalid_filter_field")
    assert problem in reply.json()["imsx_description"]


def test_limit_and_offset_are_bounded(rostered: PlatformProcess) -> None:
    _assert_oneroster_error(_get(rostered, "users", limit=0), 400, "invalid_data")
    _assert_oneroster_error(_get(rostered, "users", limit=1001), 400, "invalid_data")
    _assert_oneroster_error(_get(rostered, "users", offset=-1), 400, "invalid_data")
    _assert_oneroster_error(_get(rostered, "users", limit="ten"), 400, "invalid_data")


def test_the_rostering_api_needs_the_roster_read_scope(rostered: PlatformProcess) -> None:
    assert httpx.get(f"{rostered.base_url}{ROSTERING}/users").status_code == 401
    token = rostered.token(("reports:read",))
    reply = httpx.get(f"{rostered.base_url}{ROSTERING}/users",
                      headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 403
    token = rostered.token(("roster:read",))
    assert httpx.get(f"{rostered.base_url}{ROSTERING}/users",
                     headers={"Authorization": f"Bearer {token}"}).status_code == 200


INJECTIONS = [
    "email='x' OR '1'='1'",
    "email='x'' OR ''1''=''1'",
    "email='x'; DROP TABLE roster_users; --'",
    "email='x'); DELETE FROM roster_users; --",
    "sourcedId='1' UNION SELECT password_hash FROM dashboard_admins --'",
    "email~'%'",
    "email~'_'",
    "givenName='\\' OR 1=1 --'",
    "email='\x00'",
    "email=''' OR sourcedId!='",
    "sourcedId='s1000' OR sourcedId='s1001' OR sourcedId='s1002'",
    "sourced_id='s1000'",
    "roster_users.sourced_id='s1000'",
    "email_lower='ada.okafor@demo-school.example'",
    "email='" + "a" * 3000 + "'",
    "(email='x')",
    "email='x' AND (givenName='y' OR givenName='z')",
    "email IN ('a','b')",
    "email LIKE '%'",
    "email='a' -- comment",
    "email='a' /* */",
    "dateLastModified>'2024-01-01T00:00:00+99:00'",
    "enabledUser='1 OR 1=1'",
    "grades~'0'||'3'",
    "email=$$x$$",
    "email=\"x\"",
    "Email='ada.okafor@demo-school.example'",
    "\u00e9mail='x'",
    "email='x'\nOR\nsourcedId!='y'",
]
LEAK_WORDS = ("Traceback", "sqlalchemy", "SELECT", "sqlite", "psycopg", "roster_users",
              "password_hash", "Internal error")


def _check_hostile(client: httpx.Client, text: str) -> None:
    reply = client.get(f"{ROSTERING}/users", params={"filter": text, "limit": 1000})
    assert reply.status_code in (200, 400), (text, reply.status_code, reply.text)
    if reply.status_code == 400:
        body = reply.json()
        assert body["imsx_codeMajor"] == "failure"
        # the reply may quote the client's own text back, nothing of the server's
        assert not any(word in body["imsx_description"] and word not in text
                       for word in LEAK_WORDS), body
        return
    users = reply.json()["users"]
    assert set(_ids(users)) <= {row["sourcedId"] for row in USERS}
    assert all(set(user) <= set(USER_FIELDS) for user in users)


def test_hostile_filters_are_400s_or_honest_answers_and_change_nothing(
        rostered: PlatformProcess) -> None:
    with rostered.http() as client:
        for text in INJECTIONS:
            _check_hostile(client, text)
        # a quote written twice is a quote: this matches no one rather than everyone
        reply = client.get(f"{ROSTERING}/users", params={"filter": INJECTIONS[1]})
        assert reply.status_code == 200 and reply.json()["users"] == []
        # LIKE's wildcards are matched literally
        reply = client.get(f"{ROSTERING}/users", params={"filter": "email~'%'"})
        assert reply.status_code == 200 and reply.json()["users"] == []
    assert int(_get(rostered, "users").headers["X-Total-Count"]) == len(USERS)


_FIELDS = st.sampled_from(["email", "sourcedId", "givenName", "dateLastModified",
                           "enabledUser", "role", "primaryOrg.sourcedId", "grades", "x", "",
                           "email.", "a.b.c", "1abc", "OR", "AND"])
_OPS = st.sampled_from(["=", "!=", ">", ">=", "<", "<=", "~", "==", "=<", "<>", "", " "])
_VALUE = st.text(alphabet=st.sampled_from([*"ab'\"%_\\;-/*() =<>~,.:@\n\t0Z\u00e9"]),
                 max_size=20)
_PREDICATE = st.builds(lambda f, o, v, q: f"{f}{o}{q}{v}{q}", _FIELDS, _OPS, _VALUE,
                       st.sampled_from(["'", "", '"']))
_FILTERS = st.one_of(
    st.text(max_size=60),
    _PREDICATE,
    st.builds(lambda a, j, b: f"{a}{j}{b}", _PREDICATE,
              st.sampled_from([" AND ", " OR ", " and ", "AND", " XOR ", "  OR  "]), _PREDICATE),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_FILTERS)
def test_generated_filters_never_fail_the_server(rostered: PlatformProcess, text: str) -> None:
    with rostered.http() as client:
        _check_hostile(client, text)
