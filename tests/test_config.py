"""`timeback.config.json`: loading, environment overrides, errors naming the field, selection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from timeledger.caliper.errors import CaliperError
from timeledger.config import AmbiguousCourse, ConfigError, TimebackConfig, UnknownCourse

pytestmark = pytest.mark.unit  # starts no server, no PostgreSQL, no browser: make test-fast


def app(*courses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": "Quiz App", "launchUrl": "https://quiz.example.com/play?x=1",
            "courses": list(courses), **extra}


def test_defaults_then_course_then_environment_overrides_merge_deeply() -> None:
    raw = app({"subject": "Math", "grade": 3,
               "ids": {"production": "course-prod", "staging": "course-stg"},
               "metadata": {"goals": {"dailyXp": 20}},
               "overrides": {"staging": {"metadata": {"goals": {"dailyXp": 5}}}}},
              defaults={"metadata": {"goals": {"dailyActiveMinutes": 25},
                                     "metrics": {"totalLessons": 12}}})
    production = TimebackConfig.load(raw).courses[0]
    staging = TimebackConfig.load(raw, env="staging").courses[0]
    assert production.goals == {"dailyXp": 20.0, "dailyActiveMinutes": 25.0}
    assert staging.goals == {"dailyXp": 5.0, "dailyActiveMinutes": 25.0}
    assert (production.course_id, staging.course_id) == ("course-prod", "course-stg")
    assert production.total_lessons == 12


def test_the_sensor_is_the_launch_urls_origin_unless_given() -> None:
    assert TimebackConfig.load(app({"subject": "Math", "grade": 3})).sensor == (
        "https://quiz.example.com")
    given = TimebackConfig.load(app({"subject": "Math", "grade": 3, "sensor": "https://c.example"},
                                    sensor="https://s.example"))
    assert given.sensor == "https://s.example"
    assert given.courses[0].sensor == "https://c.example"


def test_a_course_without_ids_is_named_by_its_code_or_subject_and_grade() -> None:
    config = TimebackConfig.load(app({"subject": "Math", "grade": 3},
                                     {"subject": "Reading", "courseCode": "READ-K"}))
    assert [(c.course_id, c.name) for c in config.courses] == [
        ("Math G3", "Math G3"), ("READ-K", "READ-K")]


@pytest.mark.parametrize(("raw", "message"), [
    ({"courses": []}, "name: Field required"),
    (app({"subject": "Math"}), "courses[0]: each course needs a grade or a courseCode"),
    (app({"subject": "Math", "grade": 14}), "courses[0].grade: Input should be less than or equal"),
    (app({"subject": "Math", "grade": "3"}), "courses[0].grade: Input should be a valid integer"),
    (app({"subject": "Math", "grade": 3}, {"subject": "Math", "grade": 3}),
     "courses[1]: ('Math', 3) is already used by courses[0]"),
    (app({"subject": "Math", "courseCode": "M"}, {"subject": "Art", "courseCode": "M"}),
     "courses[1]: 'M' is already used by courses[0]"),
])
def test_a_bad_config_names_the_field(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        TimebackConfig.load(raw)
    assert str(raised.value).startswith(message)


def test_files_that_cannot_be_read_or_parsed_are_named(tmp_path: Path) -> None:
    missing = tmp_path / "absent.json"
    with pytest.raises(ConfigError, match=f"Cannot read config file {missing}"):
        TimebackConfig.load(missing)
    broken = tmp_path / "timeback.config.json"
    broken.write_text('{"name": "x",')
    with pytest.raises(ConfigError, match=f"{broken} is not valid JSON"):
        TimebackConfig.load(str(broken))


def test_selection_by_code_or_by_subject_and_grade() -> None:
    config = TimebackConfig.load(app({"subject": "Math", "grade": 3},
                                     {"subject": "Math", "grade": 4, "courseCode": "M4"}))
    assert config.select({"subject": "Math", "grade": 3}).grade == 3
    assert config.select({"code": "M4"}).grade == 4
    assert config.select({"code": "M4"}).selector() == {"code": "M4"}
    assert config.courses[0].selector() == {"subject": "Math", "grade": 3}
    with pytest.raises(UnknownCourse, match="No configured course matches subject 'Math' grade 5"):
        config.select({"subject": "Math", "grade": 5})
    with pytest.raises(CaliperError) as raised:
        config.select({"subject": "Math"}, field="activity.course")
    assert [p.path for p in raised.value.problems] == ["activity.course"]


def test_a_selector_matching_two_courses_is_ambiguous() -> None:
    config = TimebackConfig(app_name="Twins", sensor=None, env="production", courses=(
        *TimebackConfig.load(app({"subject": "Math", "grade": 3})).courses,
        *TimebackConfig.load(app({"subject": "Math", "grade": 3})).courses))
    with pytest.raises(AmbiguousCourse, match="matches 2 courses"):
        config.select({"subject": "Math", "grade": 3})
