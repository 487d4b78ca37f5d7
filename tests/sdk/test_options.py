"""Options come from arguments, then TIMELEDGER_* variables, then defaults."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

from timeledger.sdk import Client, ClientClosedError, ConfigurationError
from timeledger.sdk.options import ClientOptions, default_outbox_path
from timeledger.testing import FakeClock, FakePlatform

from .conftest import CONFIG, MATH, USER


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
