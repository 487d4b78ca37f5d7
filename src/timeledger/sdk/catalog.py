"""The app's courses and activities (its timeback.config.json): what the SDK's events are about.

A `Catalog` turns an activity slug, a name and a course selector into the `ActivityRef` events
carry, a user into a Caliper actor, and knows the sensor events are sent under.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from timeledger.caliper.builders import ActivityRef, activity_url
from timeledger.caliper.errors import CaliperError
from timeledger.caliper.timeback import SUBJECTS
from timeledger.config import (
    AmbiguousCourse,
    ConfigError,
    Course,
    TimebackConfig,
    UnknownCourse,
    find_config,
)
from timeledger.sdk.errors import ConfigurationError, ValidationError
from timeledger.sdk.options import ClientOptions
from timeledger.sdk.validation import check_text, check_user

ConfigSource = str | Path | Mapping[str, Any] | TimebackConfig | None


def read_config(source: str | Path | Mapping[str, Any] | TimebackConfig,
                env: str = "production") -> TimebackConfig:
    """A config given as a path, a dict or already loaded; a bad one is a ConfigurationError."""
    if isinstance(source, TimebackConfig):
        return source
    try:
        return TimebackConfig.load(source, env=env)
    except ConfigError as exc:
        raise ConfigurationError(str(exc)) from None


def load_config(source: ConfigSource, options: ClientOptions) -> TimebackConfig | None:
    """The app's `timeback.config.json`: given, named by TIMELEDGER_CONFIG, or found in the cwd."""
    found = source if source is not None else (options.config or find_config())
    return None if found is None else read_config(found, options.env)


def select_course(config: TimebackConfig, selector: Mapping[str, Any],
                  field: str = "course") -> Course:
    """The configured course a selector names; an unknown or ambiguous one names the field."""
    try:
        course = config.select(selector, field=field)
    except UnknownCourse as exc:
        raise ValidationError(field, str(exc), code=UnknownCourse.code) from None
    except AmbiguousCourse as exc:
        raise ValidationError(field, str(exc), code=AmbiguousCourse.code) from None
    except CaliperError as exc:
        raise ValidationError.from_caliper(exc) from None
    if course.subject not in SUBJECTS:
        raise ValidationError(field, f"Course subject {course.subject!r} is not one of: "
                              + ", ".join(SUBJECTS))
    return course


def course_activity(found: Course, selector: Mapping[str, Any], sensor: str, slug: str,
                    title: str, app_name: str) -> ActivityRef:
    """An activity of a configured course; its URL names the course as the selector did."""
    by_code = isinstance(selector, Mapping) and selector.get("code") is not None
    url = (activity_url(sensor, slug, course_code=found.course_code) if by_code
           else activity_url(sensor, slug, subject=found.subject, grade=found.grade))
    return ActivityRef(url=url, name=title, subject=found.subject, app_name=app_name,
                       course_id=found.course_id, course_name=found.name, sensor=sensor)


class Catalog:
    """Courses, activities, actors and the sensor, from the options and the config."""

    def __init__(self, options: ClientOptions, config: ConfigSource) -> None:
        self.options = options
        self.config = load_config(config, options)
        self.sensor: str | None = options.sensor or (self.config.sensor if self.config else None)

    def course(self, selector: Mapping[str, Any], field: str = "course") -> Course:
        if self.config is None:
            raise ConfigurationError(
                "No course configuration: pass config=... (a timeback.config.json path or a dict)"
                " or set TIMELEDGER_CONFIG")
        return select_course(self.config, selector, field)

    def activity_ref(self, id: str, name: str, course: Mapping[str, Any],
                     prefix: str = "") -> tuple[ActivityRef, str]:
        """The ActivityRef for an activity slug, its name and a course selector; and its sensor."""
        slug = check_text(id, f"{prefix}id")
        title = check_text(name, f"{prefix}name")
        found = self.course(course, f"{prefix}course")
        sensor = self.options.sensor or found.sensor or self.sensor
        if not sensor:
            raise ConfigurationError("No sensor: set sensor= (or TIMELEDGER_SENSOR), or a sensor"
                                     " or launchUrl in the config file")
        app_name = self.config.app_name if self.config else "timeledger"
        return course_activity(found, course, sensor, slug, title, app_name), sensor

    def actor(self, user: Mapping[str, Any], sensor: str) -> dict[str, Any]:
        return check_user(user).actor(self.options.roster_base or sensor)

    def row_sensor(self, event: Mapping[str, Any]) -> str:
        """The sensor a ready-made event is sent under: the client's, else its activity's."""
        if self.sensor:
            return self.sensor
        obj = event.get("object")
        url = obj.get("id") if isinstance(obj, Mapping) else None
        if isinstance(url, str) and "/activities/" in url:
            return url.split("/activities/", 1)[0]
        raise ConfigurationError("No sensor: set sensor= or TIMELEDGER_SENSOR")


class CatalogMembers:
    """The catalog's answers, as both clients give them; each client sets `_catalog`."""

    _catalog: Catalog

    @property
    def sensor(self) -> str | None:
        """The sensor IRI events are sent under (option, else the config's sensor)."""
        return self._catalog.sensor

    @property
    def config(self) -> TimebackConfig | None:
        """The loaded `timeback.config.json` for this client's `env`."""
        return self._catalog.config

    def activity_ref(self, id: str, name: str, course: Mapping[str, Any]) -> ActivityRef:
        """The ActivityRef (URL, subject, course id...) events about this activity carry."""
        return self._catalog.activity_ref(id, name, course)[0]

    def actor(self, user: Mapping[str, Any]) -> dict[str, Any]:
        """The Caliper actor for a user (`{"email", "id"?}`), as this client's events name it."""
        return self._catalog.actor(user, self.sensor or "")
