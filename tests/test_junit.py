from pathlib import Path

import pytest

from bot.artifacts import junit as junit_mod
from bot.artifacts.junit import read_junit, tier_and_source
from bot.model.records import TestStatus
from demo.sample.generate import GeneratedData
from tests.junit_maker import run_pytest_junit

SUITE = """
import pytest

def test_passes():
    assert 1 + 1 == 2

def test_asserts_image():
    image = "bitnamilegacy/discourse:3.5.0"
    assert image == "discourse/discourse:3.5.3"

@pytest.fixture
def broken():
    raise RuntimeError("docker: Cannot connect to the Docker daemon")

def test_setup_error(broken):
    pass

def test_skipped():
    pytest.skip("no backup configured")
"""


@pytest.fixture(scope="module")
def real_junit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_pytest_junit(tmp_path_factory.mktemp("suite"), "upgrade__cc-ci__test_upgrade", SUITE)


def test_reads_every_outcome_pytest_writes(real_junit: Path) -> None:
    parsed = read_junit(real_junit, "junit/x.xml")
    assert parsed.problem is None
    by_name = {t.name: t for t in parsed.tests}
    assert by_name["test_passes"].status is TestStatus.PASS
    failed = by_name["test_asserts_image"]
    assert failed.status is TestStatus.FAIL
    assert "bitnamilegacy/discourse:3.5.0" in failed.message
    assert "discourse/discourse:3.5.3" in failed.message
    assert by_name["test_setup_error"].status is TestStatus.ERROR
    assert "Cannot connect to the Docker daemon" in by_name["test_setup_error"].text
    assert by_name["test_skipped"].status is TestStatus.SKIP
    assert parsed.timestamp is not None
    assert (parsed.tier, parsed.source) == ("upgrade", "cc-ci")


def test_names_follow_cc_ci_convention() -> None:
    assert tier_and_source("restore__cc-ci__test_restore.xml") == ("restore", "cc-ci")
    assert tier_and_source("install__recipe__test_install.xml") == ("install", "recipe")
    assert tier_and_source("results.xml") == ("results", "unknown")


def test_truncated_file_keeps_complete_testcases(real_junit: Path, tmp_path: Path) -> None:
    data = real_junit.read_bytes()
    cut = data.index(b"test_setup_error")  # inside the third testcase
    truncated = tmp_path / "custom__cc-ci__test_custom.xml"
    truncated.write_bytes(data[:cut])
    parsed = read_junit(truncated, "junit/t.xml")
    assert parsed.problem is not None and "truncated" in parsed.problem
    assert [t.name for t in parsed.tests] == ["test_passes", "test_asserts_image"]
    assert parsed.tests[1].status is TestStatus.FAIL


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty file"),
        (b"this is not xml at all", "malformed"),
        (b"\x00\xff\xfe garbage", "malformed"),
        (b"<html><body>502 Bad Gateway</body></html>", "not a JUnit file"),
    ],
)
def test_bad_files_are_reported_not_raised(tmp_path: Path, content: bytes, expected: str) -> None:
    bad = tmp_path / "install__cc-ci__test_install.xml"
    bad.write_bytes(content)
    parsed = read_junit(bad, "junit/b.xml")
    assert parsed.problem is not None and expected in parsed.problem
    assert parsed.tests == []


def test_entity_expansion_is_refused(tmp_path: Path) -> None:
    # "Billion laughs": a malicious input, not a JUnit file, so it is necessarily written by hand.
    bomb = tmp_path / "install__cc-ci__bomb.xml"
    entities = "".join(f'<!ENTITY l{i} "&l{i - 1};&l{i - 1};&l{i - 1};&l{i - 1};">' for i in range(1, 10))
    bomb.write_text(
        f'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY l0 "lol">{entities}]>'
        '<testsuites><testsuite name="pytest"><testcase name="x"><failure message="&l9;"/></testcase>'
        "</testsuite></testsuites>"
    )
    parsed = read_junit(bomb, "junit/bomb.xml")
    assert parsed.problem is not None and "refused" in parsed.problem
    assert parsed.tests == []


def test_small_feeds_read_every_testcase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suite = """
import pytest

@pytest.mark.parametrize("i", range(50))
def test_noisy(i):
    print("x" * 5000)
    assert i != 7, "seven is unlucky"
"""
    junit = run_pytest_junit(tmp_path, "install__recipe__test_noisy", suite, "-o", "junit_logging=system-out")
    monkeypatch.setattr(junit_mod, "FEED_BYTES", 1000)  # many feeds, tokens split across them
    parsed = read_junit(junit, "junit/n.xml")
    assert parsed.problem is None
    assert len(parsed.tests) == 50
    failed = [t for t in parsed.tests if t.status is TestStatus.FAIL]
    assert [t.name for t in failed] == ["test_noisy[7]"]
    assert "seven is unlucky" in failed[0].message


def _junitparser_reading(path: Path) -> list[tuple[str, str, TestStatus, int, str, str]]:
    """What junitparser (over defusedxml), the field's reader, makes of a file: the reference."""
    import defusedxml.ElementTree
    from junitparser import JUnitXml

    out = []
    for suite in JUnitXml.fromfile(str(path), parse_func=defusedxml.ElementTree.parse):
        for case in suite:
            status, message, text = TestStatus.PASS, "", ""
            for result in case.result:
                kind = type(result).__name__.lower()
                status = {"failure": TestStatus.FAIL, "error": TestStatus.ERROR}.get(kind, TestStatus.SKIP)
                message, text = result.message or "", result.text or ""
                if status.is_failure:
                    break
            out.append((case.name, case.classname, status, round((case.time or 0) * 1000), message, text))
    return out


def test_one_pass_reader_keeps_what_junitparser_reads_of_every_sample_file(sample: GeneratedData) -> None:
    files = sorted(sample.runs_dir.glob("*/junit/*.xml"))
    compared = 0
    for path in files:
        parsed = read_junit(path, f"junit/{path.name}", max_text=10**9)
        if parsed.problem:  # a truncated sample file: junitparser cannot read it at all
            continue
        got = [(t.name, t.classname, t.status, t.ms, t.message, t.text) for t in parsed.tests]
        assert got == _junitparser_reading(path), path
        compared += 1
    assert compared > 20
