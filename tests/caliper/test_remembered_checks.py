"""The value checks that remember their verdicts (is_iri, is_urn_uuid, is_email, the screen's time
verdicts) answer exactly as the rules they remember, first time and every time, within their
bounds."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timeledger.caliper.bounds import MAX_EMAIL_CHARS, MAX_IRI_CHARS
from timeledger.caliper.core import values
from timeledger.caliper.core.values import (
    MAX_REMEMBERED_VALUES,
    REMEMBERED_CHARS,
    is_iri,
    is_urn_uuid,
)
from timeledger.caliper.timeback import is_email

pytestmark = pytest.mark.unit

_EXCLUDED = set('<>"{}|\\^`')


def iri_by_hand(text: str) -> bool:
    """RFC 3987's absolute IRI as values.py states it, spelled out character by character."""
    scheme, colon, rest = text.partition(":")
    if not colon or not scheme or not rest or len(text) > MAX_IRI_CHARS:
        return False
    if not (scheme[0].isascii() and scheme[0].isalpha()):
        return False
    if any(not (c.isascii() and (c.isalnum() or c in "+.-")) for c in scheme[1:]):
        return False
    return not any(c.isspace() or c in _EXCLUDED or ord(c) < 0x20 or ord(c) == 0x7F
                   for c in rest)


def urn_uuid_by_hand(text: str) -> bool:
    hex_digits = set("0123456789abcdefABCDEF")
    if not text.startswith("urn:uuid:"):
        return False
    parts = text.removeprefix("urn:uuid:").split("-")
    return ([len(part) for part in parts] == [8, 4, 4, 4, 12]
            and all(set(part) <= hex_digits for part in parts))


def email_by_hand(text: str) -> bool:
    local, at, domain = text.partition("@")
    return (len(text) <= MAX_EMAIL_CHARS and bool(local) and bool(at) and bool(domain)
            and "@" not in domain and not any(c.isspace() for c in text))


# Characters at and around every rule: scheme characters, the excluded ones, ASCII and Unicode
# whitespace (NBSP, NEL, the line separator), controls (C0, DEL, C1), non-ASCII letters, hex digits.
ALPHABET = (list("aZz09+.-:/#?@_~!;=[]x") + sorted(_EXCLUDED)
            + [" ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\x00", "\x7f", "\x80",
               "\x85", "\x9f", "\xa0", "\u2028", "\u3000", "é", "ß", "日", "\U0001f600",
               "A", "F", "f", "g", "G", "u", "r", "n", "i", "d"])
TEXTS = st.text(alphabet=ALPHABET, max_size=40)
IRI_LIKE = st.builds(lambda scheme, rest: f"{scheme}:{rest}",
                     st.sampled_from(["https", "urn", "a", "A1+.-", "1a", "", "h\u00e9"]), TEXTS)
PREFIXES = st.sampled_from(["urn:uuid:", "URN:uuid:", "urn:UUID:", "urn:uuid", "urn:uuid::",
                            " urn:uuid:", "xurn:uuid:"])
URN_LIKE = st.one_of(
    st.builds(lambda u, i, c: "urn:uuid:" + u[:i] + c + u[i + 1:],
              st.uuids().map(str), st.integers(0, 35), st.sampled_from(ALPHABET)),
    st.builds(lambda prefix, u: prefix + u, PREFIXES,
              st.uuids().map(str) | st.uuids().map(lambda u: str(u).upper())),
)


@settings(max_examples=3000, deadline=None, derandomize=True)
@given(st.one_of(TEXTS, IRI_LIKE, URN_LIKE))
def test_each_check_answers_as_its_rule_first_time_and_from_memory(text: str) -> None:
    for _ in range(2):  # the second answer comes from the memo
        assert is_iri(text) == iri_by_hand(text), repr(text)
        assert is_urn_uuid(text) == urn_uuid_by_hand(text), repr(text)
        assert is_email(text) == email_by_hand(text), repr(text)


@pytest.mark.parametrize("length", [REMEMBERED_CHARS - 1, REMEMBERED_CHARS, REMEMBERED_CHARS + 1,
                                    MAX_IRI_CHARS, MAX_IRI_CHARS + 1])
@pytest.mark.parametrize("tail", ["a", "\u00e9", " "])
def test_iris_at_the_remembered_length_and_the_bound(length: int, tail: str) -> None:
    text = "https://example.com/" + "a" * (length - 21) + tail
    assert len(text) == length
    expected = iri_by_hand(text)
    assert expected == (length <= MAX_IRI_CHARS and tail != " ")
    assert is_iri(text) == expected
    assert is_iri(text) == expected


@pytest.mark.parametrize("length", [MAX_EMAIL_CHARS, MAX_EMAIL_CHARS + 1])
def test_emails_at_their_bound(length: int) -> None:
    text = "a" * (length - len("@example.edu")) + "@example.edu"
    assert is_email(text) is (length <= MAX_EMAIL_CHARS)
    assert is_email(text) is (length <= MAX_EMAIL_CHARS)


def test_the_memos_keep_their_bounds() -> None:
    for n in range(MAX_REMEMBERED_VALUES + 100):
        is_iri(f"https://example.com/{n}")
        is_urn_uuid(f"urn:uuid:{uuid.UUID(int=n)}")
    assert values._remembered_iri.cache_info().currsize == MAX_REMEMBERED_VALUES
    assert values._remembered_urn_uuid.cache_info().currsize == MAX_REMEMBERED_VALUES
    long_text = "https://example.com/" + "a" * REMEMBERED_CHARS
    before = values._remembered_iri.cache_info()
    assert is_iri(long_text)
    after = values._remembered_iri.cache_info()
    assert (after.hits, after.misses) == (before.hits, before.misses)  # not asked, not kept
    assert is_iri(f"urn:uuid:{uuid.uuid4()}")  # new with every event: not kept either
    assert values._remembered_iri.cache_info().misses == before.misses
    assert not is_urn_uuid("x" * 10_000)  # only texts of a urn:uuid's length are remembered
    urn_before = values._remembered_urn_uuid.cache_info()
    assert not is_urn_uuid("x" * 10_000)  # only texts of a urn:uuid's length are asked
    assert values._remembered_urn_uuid.cache_info().misses == urn_before.misses
