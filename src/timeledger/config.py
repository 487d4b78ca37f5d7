"""The `timeback.config.json` file: its model, course selection and sensor resolution."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from timeledger.caliper.errors import CaliperError, Problem

CONFIG_FILE_NAMES = ("timeback.config.json", "timeledger.config.json")


class ConfigError(ValueError):
    """The config file is missing, unreadable or breaks a rule; the message names the field."""


class UnknownCourse(LookupError):
    """A course selector matched no configured course."""

    code = "UNKNOWN_COURSE"


class AmbiguousCourse(LookupError):
    """A course selector matched more than one configured course."""

    code = "AMBIGUOUS_COURSE_SELECTOR"


class Goals(BaseModel):
    model_config = ConfigDict(extra="allow")
    dailyXp: float | None = None
    dailyLessons: float | None = None
    dailyActiveMinutes: float | None = None
    dailyAccuracy: float | None = None
    dailyMasteredUnits: float | None = None


class CourseMetrics(BaseModel):
    model_config = ConfigDict(extra="allow")
    totalXp: float | None = None
    totalLessons: int | None = None


class CourseMetadata(BaseModel):
    model_config = ConfigDict(extra="allow")
    goals: Goals | None = None
    metrics: CourseMetrics | None = None


class CourseConfig(BaseModel):
    model_config = ConfigDict(extra="allow")
    subject: StrictStr
    grade: Annotated[StrictInt, Field(ge=-1, le=13)] | None = None
    courseCode: StrictStr | None = None
    level: StrictStr | None = None
    sensor: StrictStr | None = None
    ids: dict[str, str] | None = None
    metadata: CourseMetadata | None = None
    overrides: dict[str, dict[str, Any]] | None = None


class AppConfig(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: StrictStr
    sensor: StrictStr | None = None
    launchUrl: StrictStr | None = None
    defaults: dict[str, Any] | None = None
    courses: list[dict[str, Any]] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Course:
    """One configured course with defaults and the environment's overrides merged in."""

    subject: str
    grade: int | None
    course_code: str | None
    course_id: str
    name: str
    sensor: str | None
    goals: dict[str, float]
    total_lessons: int | None
    total_xp: float | None

    def selector(self) -> dict[str, Any]:
        if self.course_code is not None:
            return {"code": self.course_code}
        return {"subject": self.subject, "grade": self.grade}


def _merge(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in (layer or {}).items():
            if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
                merged[key] = _merge(merged[key], value)
            else:
                merged[key] = value
    return merged


def course_name(subject: str, grade: int | None, code: str | None) -> str:
    if grade is not None:
        return f"{subject} G{grade}"
    return code or subject


@dataclass(frozen=True, slots=True)
class TimebackConfig:
    """A loaded config for one environment (`env`, e.g. "production" or "staging")."""

    app_name: str
    sensor: str | None
    courses: tuple[Course, ...]
    env: str

    @classmethod
    def load(cls, source: str | Path | Mapping[str, Any],
             env: str = "production") -> TimebackConfig:
        if isinstance(source, Mapping):
            raw: Any = dict(source)
        else:
            path = Path(source)
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
            except OSError as exc:
                raise ConfigError(f"Cannot read config file {path}: {exc.strerror}") from None
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path} is not valid JSON: {exc}") from None
        try:
            app = AppConfig.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"{where}: {first['msg']}") from None
        root_sensor = app.sensor or (_origin(app.launchUrl) if app.launchUrl else None)
        courses: list[Course] = []
        seen: dict[object, int] = {}
        for index, raw_course in enumerate(app.courses):
            merged = _merge(app.defaults, raw_course, (raw_course.get("overrides") or {}).get(env))
            try:
                course = CourseConfig.model_validate(merged)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise ConfigError(f"courses[{index}].{where}: {first['msg']}") from None
            if course.grade is None and course.courseCode is None:
                raise ConfigError(f"courses[{index}]: each course needs a grade or a courseCode")
            for key in ((course.subject, course.grade), course.courseCode):
                if key is None or key == (course.subject, None):
                    continue
                if key in seen:
                    raise ConfigError(f"courses[{index}]: {key!r} is already used by "
                                      f"courses[{seen[key]}]")
                seen[key] = index
            goals = course.metadata.goals if course.metadata and course.metadata.goals else None
            metrics = course.metadata.metrics if course.metadata else None
            ids = course.ids or {}
            name = course_name(course.subject, course.grade, course.courseCode)
            courses.append(Course(
                subject=course.subject, grade=course.grade, course_code=course.courseCode,
                course_id=ids.get(env) or course.courseCode or name, name=name,
                sensor=course.sensor or root_sensor,
                goals={k: float(v) for k, v in (goals.model_dump() if goals else {}).items()
                       if isinstance(v, int | float)},
                total_lessons=metrics.totalLessons if metrics else None,
                total_xp=metrics.totalXp if metrics else None,
            ))
        return cls(app_name=app.name, sensor=root_sensor, courses=tuple(courses), env=env)

    def select(self, selector: Mapping[str, Any], field: str = "course") -> Course:
        """Find the course a selector names: `{"subject", "grade"}` or `{"code"}`."""
        if not isinstance(selector, Mapping):
            raise CaliperError([Problem(field, 'Expected {"subject", "grade"} or {"code"}')])
        code = selector.get("code")
        if code is not None:
            matches = [c for c in self.courses if c.course_code == code]
            described = f"code {code!r}"
        elif "subject" in selector and "grade" in selector:
            subject, grade = selector["subject"], selector["grade"]
            matches = [c for c in self.courses if c.subject == subject and c.grade == grade]
            described = f"subject {subject!r} grade {grade!r}"
        else:
            raise CaliperError([Problem(field, 'Expected {"subject", "grade"} or {"code"}')])
        if not matches:
            raise UnknownCourse(f"No configured course matches {described}")
        if len(matches) > 1:
            raise AmbiguousCourse(f"Course selector {described} matches {len(matches)} courses")
        return matches[0]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def find_config(start: Path | None = None) -> Path | None:
    """The first config file in `start` (default: the working directory)."""
    folder = start or Path.cwd()
    for name in CONFIG_FILE_NAMES:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None
