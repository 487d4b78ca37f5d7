"""The demo school's roster: the sample OneRoster 1.2 export, and loading it for `serve --demo`.

A district with two schools: Maple Elementary (Grade 3 Math and Grade 4 Math) and Cedar
Elementary (Spanish 101), three teachers, one per class, and 60 students. The first
`LEARNER_COUNT` students are the demo's learners (same e-mails and SIS ids), so the demo's
activity links to the roster; one of them is written with a capitalised e-mail and one has none
(it links by the sourcedId in its Caliper actor id). examples/oneroster/sample/ holds these
files as written by `write_sample_export` (examples/oneroster/make_sample.py).
"""

from __future__ import annotations

import csv
import tempfile
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from timeledger.caliper.builders import Learner
from timeledger.server.roster_import.apply import RosterImport, import_roster

LEARNER_COUNT = 30  # students with activity in the demo
FIRST_NAMES = (
    "Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Imani", "Jonas", "Keiko",
    "Liam", "Maya", "Noah", "Olu", "Priya", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera",
    "Wen", "Xavi", "Yara", "Zane", "Amara", "Bruno", "Cleo", "Diego", "Esme", "Felix", "Gia",
    "Hana", "Ivo", "Jade",
)
LAST_NAMES = (
    "Okafor", "Lindqvist", "Martins", "Rao", "Kowalski", "Haddad", "Nakamura", "Dubois",
    "Mensah", "Fischer", "Silva", "Brennan", "Castillo", "Novak", "Adeyemi", "Sato",
)


def demo_learner(index: int) -> Learner:
    """The demo's learner number `index`: even ones in grade 3, odd ones in grade 4. Their
    e-mails and SIS ids are those of the sample roster's students (examples/oneroster/)."""
    first, last = FIRST_NAMES[index], LAST_NAMES[index % len(LAST_NAMES)]
    return Learner(email=f"{first.lower()}.{last.lower()}@demo-school.example",
                   id=f"s{1000 + index}", name=f"{first} {last}")


DOMAIN = "demo-school.example"
EXTRA_FIRST = ("Aiko", "Bastian", "Carmen", "Dario", "Elif", "Femi", "Greta", "Hiro", "Ines",
               "Jamal", "Kira", "Luca", "Mina", "Nils", "Oona", "Pablo", "Rhea", "Soren",
               "Talia", "Ugo", "Vida", "Wyatt", "Ximena", "Yusuf", "Zora", "Anouk", "Bodhi",
               "Cyra", "Dmitri", "Eun")
EXTRA_LAST = ("Alvarez", "Bergstrom", "Chen", "Diallo", "Eriksen", "Fontaine", "Gupta",
              "Horvat", "Ibrahim", "Jensen")
SCHOOL_YEAR, FALL = "sy-2026-27", "term-2026-fall"
MAPLE, CEDAR, DISTRICT = "org-maple", "org-cedar", "org-district"
CLASSES = {  # class -> (title, course, school, grade, teacher)
    "cls-math3-maple": ("Grade 3 Math, Room 12", "crs-math-3", MAPLE, "03", "t-okoro"),
    "cls-math4-maple": ("Grade 4 Math, Room 14", "crs-math-4", MAPLE, "04", "t-brandt"),
    "cls-span-cedar": ("Spanish 101, Cedar", "crs-span-101", CEDAR, "04", "t-ferreira"),
}
TEACHERS = {  # sourcedId -> (given, family, school)
    "t-okoro": ("Amelia", "Okoro", MAPLE),
    "t-brandt": ("Tomas", "Brandt", MAPLE),
    "t-ferreira": ("Lucia", "Ferreira", CEDAR),
}


def _write(folder: Path, name: str, header: list[str], rows: list[list[str]]) -> None:
    with (folder / name).open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _students() -> list[tuple[str, str, str, str, str]]:
    """(sourcedId, given, family, email, class) for all 60 students."""
    students = []
    for index in range(LEARNER_COUNT):
        learner = demo_learner(index)
        given, family = (learner.name or "").split(" ", 1)
        email = learner.email
        if index == 2:
            email = f"{given}.{family}@Demo-School.example"  # links by lower-cased e-mail
        if index == 5:
            email = ""  # links by the sourcedId in the demo's actor id, .../users/s1005
        klass = "cls-math3-maple" if index % 2 == 0 else "cls-math4-maple"
        students.append((learner.id or "", given, family, email, klass))
    for offset, given in enumerate(EXTRA_FIRST):
        family = EXTRA_LAST[offset % len(EXTRA_LAST)]
        index = LEARNER_COUNT + offset
        klass = ("cls-math3-maple" if offset < 5 else "cls-math4-maple" if offset < 10
                 else "cls-span-cedar")
        students.append((f"s{1000 + index}", given, family,
                         f"{given.lower()}.{family.lower()}@{DOMAIN}", klass))
    return students


def write_sample_export(folder: Path) -> None:
    """Write the sample export's CSV files into `folder` (made if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder, "manifest.csv", ["propertyName", "value"], [
        ["manifest.version", "1.0"], ["oneroster.version", "1.2"],
        ["file.academicSessions", "bulk"], ["file.categories", "absent"],
        ["file.classes", "bulk"], ["file.classResources", "absent"],
        ["file.courses", "bulk"], ["file.courseResources", "absent"],
        ["file.demographics", "bulk"], ["file.enrollments", "bulk"],
        ["file.lineItems", "absent"], ["file.orgs", "bulk"], ["file.resources", "absent"],
        ["file.results", "absent"], ["file.roles", "bulk"], ["file.userProfiles", "absent"],
        ["file.users", "bulk"], ["source.systemName", "Demo District SIS"],
        ["source.systemCode", "demo-sis"]])
    _write(folder, "orgs.csv", ["sourcedId", "status", "dateLastModified", "name", "type",
                                "identifier", "parentSourcedId"], [
        [DISTRICT, "", "", "Demo School District", "district", "DSD", ""],
        [MAPLE, "", "", "Maple Elementary", "school", "MAPLE", DISTRICT],
        [CEDAR, "", "", "Cedar Elementary", "school", "CEDAR", DISTRICT]])
    _write(folder, "academicSessions.csv", [
        "sourcedId", "status", "dateLastModified", "title", "type", "startDate", "endDate",
        "parentSourcedId", "schoolYear"], [
        [SCHOOL_YEAR, "", "", "2026-2027", "schoolYear", "2026-08-24", "2027-06-18", "", "2027"],
        [FALL, "", "", "Fall 2026", "term", "2026-08-24", "2026-12-18", SCHOOL_YEAR, "2027"]])
    _write(folder, "courses.csv", [
        "sourcedId", "status", "dateLastModified", "schoolYearSourcedId", "title", "courseCode",
        "grades", "orgSourcedId", "subjects", "subjectCodes"], [
        ["crs-math-3", "", "", SCHOOL_YEAR, "Grade 3 Math", "MATH-3", "03", DISTRICT, "Math",
         ""],
        ["crs-math-4", "", "", SCHOOL_YEAR, "Grade 4 Math", "MATH-4", "04", DISTRICT, "Math",
         ""],
        ["crs-span-101", "", "", SCHOOL_YEAR, "Spanish 101", "SPAN-101", "03,04", DISTRICT,
         "Language", ""]])
    _write(folder, "classes.csv", [
        "sourcedId", "status", "dateLastModified", "title", "grades", "courseSourcedId",
        "classCode", "classType", "location", "schoolSourcedId", "termSourcedIds", "subjects",
        "subjectCodes", "periods"],
           [[sid, "", "", title, grade, course, sid.upper(), "scheduled", "", school, FALL,
             "", "", "1"] for sid, (title, course, school, grade, _t) in CLASSES.items()])
    students = _students()
    user_header = ["sourcedId", "status", "dateLastModified", "enabledUser", "username",
                   "userIds", "givenName", "familyName", "middleName", "identifier", "email",
                   "sms", "phone", "agentSourcedIds", "grades", "password",
                   "userMasterIdentifier", "resourceSourcedIds", "preferredGivenName",
                   "preferredMiddleName", "preferredFamilyName", "primaryOrgSourcedId",
                   "pronouns"]
    users = [[sid, "", "", "true", f"{given.lower()}.{family.lower()}", "", given, family,
              "", sid, f"{given.lower()}.{family.lower()}@{DOMAIN}", "", "", "", "", "", "",
              "", "", "", "", school, ""] for sid, (given, family, school) in TEACHERS.items()]
    for sid, given, family, email, klass in students:
        _title, _course, school, grade, _teacher = CLASSES[klass]
        users.append([sid, "", "", "true", f"{given.lower()}.{family.lower()}",
                      f"{{sis:{sid}}}", given, family, "", sid, email, "", "", "", grade, "",
                      "", "", "", "", "", school, ""])
    _write(folder, "users.csv", user_header, users)
    school_of = {sid: school for sid, (_g, _f, school) in TEACHERS.items()}
    school_of.update({s[0]: CLASSES[s[4]][2] for s in students})
    role_of = {sid: "teacher" for sid in TEACHERS} | {s[0]: "student" for s in students}
    _write(folder, "roles.csv", ["sourcedId", "status", "dateLastModified", "userSourcedId",
                                 "roleType", "role", "beginDate", "endDate", "orgSourcedId",
                                 "userProfileSourcedId"],
           [[f"role-{sid}", "", "", sid, "primary", role, "", "", school_of[sid], ""]
            for sid, role in role_of.items()])
    enrollments = [[f"enr-{klass}-{teacher}", "", "", klass, school, teacher, "teacher",
                    "true", "2026-08-24", ""]
                   for klass, (_t, _c, school, _g, teacher) in CLASSES.items()]
    enrollments += [[f"enr-{klass}-{sid}", "", "", klass, CLASSES[klass][2], sid, "student",
                     "false", "2026-08-24", ""] for sid, _g, _f, _e, klass in students]
    _write(folder, "enrollments.csv", [
        "sourcedId", "status", "dateLastModified", "classSourcedId", "schoolSourcedId",
        "userSourcedId", "role", "primary", "beginDate", "endDate"], enrollments)
    _write(folder, "demographics.csv",
           ["sourcedId", "status", "dateLastModified", "birthDate", "sex"],
           [[sid, "", "", f"20{17 if CLASSES[klass][3] == '03' else 16}-0{1 + n % 9}-1{n % 9}",
             "female" if n % 2 else "male"]
            for n, (sid, _g, _f, _e, klass) in enumerate(students)])



def load_demo_roster(engine: Engine, now: datetime) -> RosterImport:
    """Import the sample export into the store (it is written to a temporary folder first)."""
    with tempfile.TemporaryDirectory(prefix="timeledger-demo-roster-") as folder:
        write_sample_export(Path(folder))
        return import_roster(engine, Path(folder), now)
