"""Fixtures for the SDK tests: a config, a fake clock, a fake platform, a deterministic client."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from timeledger.sdk import Client
from timeledger.testing import FakeClock, FakePlatform

CONFIG: dict[str, Any] = {
    "name": "Quiz App",
    "sensor": "https://quiz.example.com",
    "courses": [
        {"subject": "Math", "grade": 3, "courseCode": "MATH-3", "ids": {"production": "math-3"},
         "metadata": {"goals": {"dailyXp": 20}, "metrics": {"totalLessons": 10}}},
        {"subject": "Reading", "grade": 2},
        {"subject": "Science", "courseCode": "SCI-LAB"},
    ],
}
USER = {"email": "ada@example.edu", "id": "student-1"}
MATH = {"subject": "Math", "grade": 3}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake() -> FakePlatform:
    return FakePlatform()


def make_client(clock: FakeClock, fake: FakePlatform, **kwargs: Any) -> Client:
    options: dict[str, Any] = {
        "base_url": "http://fake.test", "client_id": "app", "client_secret": "secret",
        "config": CONFIG, "clock": clock, "transport": fake, "outbox": None,
        "rng": random.Random(7), "environ": {},
    }
    options.update(kwargs)
    return Client(**options)


@pytest.fixture
def client(clock: FakeClock, fake: FakePlatform) -> Iterator[Client]:
    client = make_client(clock, fake)
    yield client
    client.close(timeout=0)
