"""Options come from arguments, then TIMELEDGER_* variables, then defaults."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import platformdirs
import pytest

from tests.sdk.conftest import CONFIG, MATH, USER
from timeledger.sdk import AsyncClient, Client, ClientClosedError, ConfigurationError
from timeledger.sdk.options import ClientOptions, default_outbox_path
from timeledger.testing import FakeClock, FakePlatform


def test_environment_fills_what_arguments_leave_out(tmp_path: Path) -> None:
    environ = {"TIMELEDGER_BASE_URL": "http://env.test/", "TIMELEDGER_CLIENT_ID": "env-id",
               "TIMELEDGER_CLIENT_SECRET": "env-secret", "TIMELEDGER_FLUSH_TIMEOUT": "0.5",
               "TIMELEDGER_MAX_BATCH_EVENTS": "7", "TIMELEDGER_IDLE_TIMEOUT": "30",
               "TIMELEDGER_OUTBOX": str(tmp_path / "o.sqlite3"), "TIMELEDGER_ENV": "staging"}
    options = ClientOptions.resolve({"client_id": "arg-id"}, environ)
    assert options.base_url == "http://env.test/"
    assert options.client_id == "arg-id"
    assert options.client_secret == "env-secret"
    assert options.flush_timeout == 0.5 and options.max_batch_events == 7
    assert options.idle_timeout == 30.0 and options.env == "staging"
    assert options.resolved_token_url == "http://env.test/oauth2/token"
    assert options.event_url == "http://env.test/caliper/event"
    assert options.outbox == str(tmp_path / "o.sqlite3")


def test_defaults_and_errors() -> None:
    options = ClientOptions.resolve({"base_url": "http://a.test", "client_id": "x"}, {})
    assert options.outbox == default_outbox_path("http://a.test", "x")
    cache = Path(platformdirs.user_cache_dir("timeledger", appauthor=False))
    assert Path(options.outbox).parent == cache  # under the user's cache dir
    assert default_outbox_path("http://b.test", "x") != options.outbox
    assert ClientOptions.resolve({"base_url": "http://a.test"}, {},
                                 outbox_given=True).outbox == ":memory:"
    with pytest.raises(ConfigurationError, match="TIMELEDGER_BASE_URL"):
        ClientOptions.resolve({}, {})
    with pytest.raises(ConfigurationError, match="TIMELEDGER_FLUSH_TIMEOUT"):
        ClientOptions.resolve({"base_url": "http://a"}, {"TIMELEDGER_FLUSH_TIMEOUT": "soon"})


def test_client_reads_config_path_from_environment(tmp_path: Path) -> None:
    import json

    path = tmp_path / "timeback.config.json"
    path.write_text(json.dumps(CONFIG))
    environ = {"TIMELEDGER_BASE_URL": "http://env.test", "TIMELEDGER_CONFIG": str(path),
               "TIMELEDGER_SENSOR": "https://sensor.example.com"}
    with Client(environ=environ, clock=FakeClock(), transport=FakePlatform(),
                outbox=None) as client:
        assert client.config is not None and client.config.app_name == "Quiz App"
        assert client.sensor == "https://sensor.example.com"
        assert client.outbox_path == ":memory:"
        ref = client.activity_ref("x", "X", {"code": "MATH-3"})
        assert ref.url == "https://sensor.example.com/activities/MATH-3/x"
        assert ref.course_id == "math-3"


def test_missing_config_is_reported_at_start(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with Client("http://a.test", clock=FakeClock(), outbox=None, environ={}) as client:
        assert client.config is None
        with pytest.raises(ConfigurationError, match="No course configuration"):
            client.activity.start(id="a", name="A", course={"code": "X"},
                                  user={"email": "a@b.c"})
    with pytest.raises(ConfigurationError, match="Cannot read config file"):
        Client("http://a.test", config=str(tmp_path / "missing.json"), outbox=None,
               environ={}, clock=FakeClock())


def test_config_defaults_to_timeback_config_json_in_the_cwd(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    (tmp_path / "timeback.config.json").write_text(json.dumps(CONFIG))
    monkeypatch.chdir(tmp_path)
    with Client("http://a.test", clock=FakeClock(), outbox=None, environ={}) as client:
        assert client.config is not None and client.config.app_name == "Quiz App"
        assert client.sensor == "https://quiz.example.com"


def test_outbox_in_memory_from_the_environment() -> None:
    environ = {"TIMELEDGER_BASE_URL": "http://env.test", "TIMELEDGER_OUTBOX": "memory"}
    with Client(environ=environ, config=CONFIG, clock=FakeClock()) as client:
        assert client.outbox_path == ":memory:"


def test_client_as_a_context_manager_closes_on_exit() -> None:
    """Leaving `with Client(...)` ends the running activity (time only), flushes, closes."""
    clock, fake = FakeClock(), FakePlatform()
    with Client("http://p.test", client_id="a", client_secret="b", config=CONFIG, clock=clock,
                transport=fake, outbox=None, environ={}) as client:
        activity = client.activity.start(id="a", name="A", course=MATH, user=USER)
        clock.advance(20)
    assert activity.is_ended and client.activity.current is None
    assert fake.active_seconds() == 20.0 and fake.completions == []
    assert client.close() is True  # already closed: says what the exit flush achieved
    with pytest.raises(ClientClosedError):
        client.activity.start(id="b", name="B", course=MATH, user=USER)


# ---- checked options --------------------------------------------------------------------------
@pytest.mark.parametrize("kind", [Client, AsyncClient])
def test_a_misspelt_option_is_refused_with_the_closest_name(kind: type[Any]) -> None:
    with pytest.raises(TypeError) as caught:
        kind("http://a.test", heartbeat_intervl=5, outbox=None, environ={})
    assert str(caught.value) == ("unknown option 'heartbeat_intervl';"
                                 " did you mean 'heartbeat_interval'?")
    with pytest.raises(TypeError, match="unknown option 'colour'; the options are: base_url,"):
        kind("http://a.test", colour="blue", outbox=None, environ={})


def _option_names(kind: type[Any]) -> set[str]:
    return {name for name in inspect.signature(kind.__init__).parameters if name != "self"}


def test_both_clients_take_every_option_by_name() -> None:
    """Each option of the settings model is a keyword of both clients (`disabled` is spelt
    `enabled=False`), besides the objects a client is built with."""
    objects = {"clock", "scheduler", "transport", "background", "on_error", "rng", "environ"}
    expected = (set(ClientOptions.model_fields) - {"disabled"}) | {"enabled"} | objects
    assert _option_names(Client) == expected
    assert _option_names(AsyncClient) == expected


# Every option a string cannot always be: a value its variable cannot hold.
BAD_VARIABLES = {
    "TIMELEDGER_BASE_URL": "platform.test", "TIMELEDGER_TOKEN_URL": "ftp://platform.test/t",
    "TIMELEDGER_FLUSH_TIMEOUT": "soon", "TIMELEDGER_COMPLETION_TIMEOUT": "-1",
    "TIMELEDGER_REQUEST_TIMEOUT": "0", "TIMELEDGER_MAX_BATCH_EVENTS": "1.5",
    "TIMELEDGER_MAX_BATCH_BYTES": "many", "TIMELEDGER_BATCH_INTERVAL": "-0.1",
    "TIMELEDGER_POLL_INTERVAL": "0", "TIMELEDGER_MAX_BACKOFF": "nan",
    "TIMELEDGER_LEASE_SECONDS": "inf", "TIMELEDGER_SEEN_RETENTION": "a month",
    "TIMELEDGER_RETRY_ATTEMPTS": "-1", "TIMELEDGER_MAX_FAILURES_ALONE": "0",
    "TIMELEDGER_MAX_EVENT_AGE": "0", "TIMELEDGER_MAX_OUTBOX_EVENTS": "1e6",
    "TIMELEDGER_HEARTBEAT_INTERVAL": "0", "TIMELEDGER_HIDDEN_TIMEOUT": "never",
    "TIMELEDGER_IDLE_TIMEOUT": "-5", "TIMELEDGER_DISABLED": "maybe",
}


def test_every_checked_option_has_a_bad_variable_below() -> None:
    checked = {"TIMELEDGER_" + name.upper() for name, field in ClientOptions.model_fields.items()
               if field.annotation not in (str, str | None)}
    assert checked | {"TIMELEDGER_BASE_URL", "TIMELEDGER_TOKEN_URL"} == set(BAD_VARIABLES)


@pytest.mark.parametrize(("variable", "value"), sorted(BAD_VARIABLES.items()))
def test_a_variable_that_does_not_parse_is_named(variable: str, value: str) -> None:
    environ = {"TIMELEDGER_BASE_URL": "http://env.test", variable: value}
    with pytest.raises(ConfigurationError) as caught:
        Client(environ=environ, clock=FakeClock(), outbox=None, config=CONFIG)
    assert str(caught.value).startswith(f"{variable}={value!r}: ")


def test_an_argument_that_does_not_fit_is_named_as_an_argument() -> None:
    with pytest.raises(ConfigurationError, match=r"^flush_timeout: .*greater than or equal to 0"):
        Client("http://a.test", flush_timeout=-1, outbox=None, environ={}, clock=FakeClock())
    with pytest.raises(ConfigurationError, match=r"^max_batch_events: .*not a boolean"):
        Client("http://a.test", max_batch_events=True, outbox=None, environ={},
               clock=FakeClock())
    with pytest.raises(ConfigurationError, match=r"^enabled: expected True or False"):
        Client("http://a.test", enabled="no", outbox=None, environ={},  # type: ignore[arg-type]
               clock=FakeClock())
    with pytest.raises(ConfigurationError, match=r"^base_url: expected an http"):
        Client("platform.test", outbox=None, environ={}, clock=FakeClock())


def test_an_argument_wins_over_a_bad_variable() -> None:
    """The variable is not read when the argument is given, so it cannot fail."""
    environ = {"TIMELEDGER_FLUSH_TIMEOUT": "soon", "TIMELEDGER_DISABLED": "1"}
    options = ClientOptions.resolve({"base_url": "http://a.test", "flush_timeout": 1,
                                     "disabled": False}, environ)
    assert options.flush_timeout == 1.0 and options.enabled
