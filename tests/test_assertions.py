"""Whole assertions: every shape is produced by really running a small pytest / unittest / PyHamcrest case,
read back from the JUnit file pytest wrote, and parsed from the message and the body together."""

from __future__ import annotations

import pytest

from bot.artifacts.junit import read_junit
from bot.model.records import TestCase
from bot.verdicts.assertions import parse_expectation
from tests.junit_maker import run_pytest_junit

SUITE = """
import unittest
from hamcrest import assert_that, equal_to, has_entry, has_item, not_

OLD, NEW = "bitnamilegacy/discourse:3.5.0", "discourse/discourse:3.5.3"
SERVICES = ["app", "db", "redis", "sidekiq"]

# pytest, the comparison alone
def test_pytest_eq():
    assert OLD == NEW
def test_pytest_eq_custom_message_first():
    assert OLD == NEW, f"expected image {NEW}, got {OLD}"
def test_pytest_list_dropped():
    assert SERVICES == ["app", "db", "redis"]
def test_pytest_list_long_cut_by_pytest():
    assert [f"service-number-{i}" for i in range(30)] + ["sidekiq"] == [f"service-number-{i}" for i in range(30)]
def test_pytest_in():
    assert NEW in [OLD, "bitnamilegacy/redis:7.4.1"]
def test_pytest_not_in():
    assert "sidekiq" not in SERVICES
def test_pytest_dict():
    assert {"image": OLD, "replicas": 1} == {"image": NEW, "replicas": 1}
def test_pytest_dict_key_dropped():
    assert {"app": 1, "sidekiq": 1} == {"app": 1}
def test_pytest_set():
    assert set(SERVICES) == {"app", "db", "redis"}
def test_pytest_ne():
    assert "example/app:1.0" != "example/app:1.0"
def test_pytest_plain_word():
    assert "failed" == "complete"
def test_pytest_timeout():
    raise TimeoutError("handshake did not complete within 10s")

# unittest, run by pytest
class UnittestShapes(unittest.TestCase):
    def test_unittest_eq(self):
        self.assertEqual(OLD, NEW)
    def test_unittest_eq_with_msg(self):
        self.assertEqual(OLD, NEW, "image mismatch")
    def test_unittest_lists_differ(self):
        self.assertEqual(SERVICES, ["app", "db", "redis"])
    def test_unittest_list_gains(self):
        self.assertListEqual(["app", "db"], ["app", "db", "worker-2"])
    def test_unittest_in(self):
        self.assertIn(NEW, [OLD])
    def test_unittest_not_in(self):
        self.assertNotIn("sidekiq", SERVICES)
    def test_unittest_dict(self):
        self.assertEqual({"image": OLD}, {"image": NEW})
    def test_unittest_set(self):
        self.assertEqual(set(SERVICES), {"app", "db", "redis"})

# PyHamcrest
def test_hamcrest_equal_to():
    assert_that(OLD, equal_to(NEW), "app image")
def test_hamcrest_has_item():
    assert_that([OLD], has_item(NEW))
def test_hamcrest_not_has_item():
    assert_that(SERVICES, not_(has_item("sidekiq")))
def test_hamcrest_list():
    assert_that(SERVICES, equal_to(["app", "db", "redis"]))
def test_hamcrest_entry():
    assert_that({"image": OLD}, has_entry("image", NEW))

# prose written by hand
def test_prose_but_was():
    raise AssertionError(f"expected {NEW} but was {OLD}")
def test_prose_expected_got():
    raise AssertionError(f"expected image {NEW}, got {OLD}")
def test_prose_expected_actual():
    raise AssertionError(f"Expected: {NEW}, actual: {OLD}")
"""

NEW = "discourse/discourse:3.5.3"
WANTS_NEW = ((NEW,), ())
DROPS_SIDEKIQ = ((), ("sidekiq",))
NOTHING = None

TABLE: dict[str, tuple[tuple[str, ...], tuple[str, ...]] | None] = {
    "test_pytest_eq": WANTS_NEW,
    "test_pytest_eq_custom_message_first": WANTS_NEW,
    "test_pytest_list_dropped": DROPS_SIDEKIQ,
    "test_pytest_list_long_cut_by_pytest": DROPS_SIDEKIQ,
    "test_pytest_in": WANTS_NEW,
    "test_pytest_not_in": DROPS_SIDEKIQ,
    "test_pytest_dict": WANTS_NEW,
    "test_pytest_dict_key_dropped": DROPS_SIDEKIQ,
    "test_pytest_set": DROPS_SIDEKIQ,
    "test_pytest_ne": NOTHING,
    "test_pytest_plain_word": NOTHING,  # a plain word is not recipe config
    "test_pytest_timeout": NOTHING,
    "test_unittest_eq": WANTS_NEW,
    "test_unittest_eq_with_msg": WANTS_NEW,
    "test_unittest_lists_differ": DROPS_SIDEKIQ,
    "test_unittest_list_gains": (("worker-2",), ()),
    "test_unittest_in": WANTS_NEW,
    "test_unittest_not_in": DROPS_SIDEKIQ,
    "test_unittest_dict": WANTS_NEW,
    "test_unittest_set": DROPS_SIDEKIQ,
    "test_hamcrest_equal_to": WANTS_NEW,
    "test_hamcrest_has_item": WANTS_NEW,
    "test_hamcrest_not_has_item": DROPS_SIDEKIQ,
    "test_hamcrest_list": DROPS_SIDEKIQ,
    "test_hamcrest_entry": WANTS_NEW,
    "test_prose_but_was": WANTS_NEW,
    "test_prose_expected_got": WANTS_NEW,
    "test_prose_expected_actual": WANTS_NEW,
}


@pytest.fixture(scope="module")
def failures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TestCase]:
    junit = run_pytest_junit(tmp_path_factory.mktemp("shapes"), "upgrade__cc-ci__test_upgrade", SUITE)
    tests = read_junit(junit, "junit/upgrade__cc-ci__test_upgrade.xml").tests
    return {t.name: t for t in tests}


def test_every_case_of_the_table_ran_and_failed(failures: dict[str, TestCase]) -> None:
    assert set(failures) == set(TABLE)
    assert all(t.status.is_failure for t in failures.values()), [t.name for t in failures.values()]


@pytest.mark.parametrize("name", sorted(TABLE))
def test_the_whole_failure_text_says_what_was_wanted(failures: dict[str, TestCase], name: str) -> None:
    case = failures[name]
    found = parse_expectation(name, case.message, case.text)
    want = TABLE[name]
    if want is None:
        assert found is None, found
    else:
        assert found is not None, (case.message, case.text[-500:])
        assert (found.must_exist, found.must_be_gone) == want


def test_the_body_alone_is_enough_when_the_message_is_empty(failures: dict[str, TestCase]) -> None:
    """Some JUnit writers leave the message attribute short or empty and put everything in the body."""
    for name in ("test_pytest_list_dropped", "test_unittest_in", "test_hamcrest_entry"):
        case = failures[name]
        found = parse_expectation(name, "", case.text)
        assert found is not None and (found.must_exist, found.must_be_gone) == TABLE[name], name


def test_source_lines_quoted_in_the_traceback_are_not_read_as_the_failure() -> None:
    body = (
        "Traceback (most recent call last):\n"
        '  File "t.py", line 3, in test_x\n'
        '    assert image == "other/image:9.9"\n'
        "TimeoutError: the app did not answer within 30s\n"
    )
    assert parse_expectation("test_x", "", body) is None
