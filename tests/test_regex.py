"""Regular expressions against hostile run-dir text (issue 25, items 6 and 7).

A recipe's tests write the failure text and the log, so a pattern that backtracks is theirs to stall
ingest with. Every pattern that reads run-dir text is RE2 (bot/linear_regex.py). These tests build the
issue's runs (JUnit from really running pytest) and feed every reader text shaped to make a backtracking
engine take minutes; they assert that the work finishes and what it found. The guard around each (a
generous timeout) only turns a hang into a failure: how long the readers take is measured by
benchmarks/regex.py, not asserted here. The property tests check RE2 against Python's ``re`` on the
patterns the bot ships: same matches, same groups.
"""

from __future__ import annotations

import importlib
import multiprocessing
import pkgutil
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import bot
from bot.artifacts import rundir
from bot.artifacts.junit import tier_and_source
from bot.artifacts.logtail import read_tail
from bot.config import load_config
from bot.linear_regex import LinearPattern, PatternRefused, compile_signature
from bot.model.records import TestCase, TestStatus
from bot.store import Store
from bot.verdicts.assertions import _unittest_ne, parse_expectation
from bot.verdicts.clusters import KEY_CHARS, machinery, normalize
from tests.hostile_world import RUN_ID, make_run
from tests.junit_maker import run_pytest_junit

# Turns a hang into a failure; the fixed code needs well under a second for each guarded call.
GUARD_S = 120.0
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _config(tmp_path: Path, knowledge: list[Path] | None = None) -> Path:
    """A config for a world of the tests' own runs only; files just written count as settled."""
    for name in ("runs", "warm", "active"):
        (tmp_path / name).mkdir(exist_ok=True)
    data: dict[str, Any] = {
        "ccci": {
            "runs_dir": str(tmp_path / "runs"),
            "warm_dir": str(tmp_path / "warm"),
            "active_dir": str(tmp_path / "active"),
            "settle_s": 0,
        },
        "data_dir": str(tmp_path / "data"),
    }
    if knowledge:
        data["knowledge"] = {"dirs": [str(d) for d in knowledge]}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _ingest(config: Path) -> subprocess.CompletedProcess[str]:
    """`ccci-bot ingest` as an operator runs it: the runs are read and their verdicts decided."""
    try:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", "ingest", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=GUARD_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"ingest did not finish within the {GUARD_S:.0f} s guard: a pattern backtracked")


def _finishes(call: Callable[[], object]) -> object:
    """``call()`` in a forked child; the time limit only turns a hang into a failure (it is not synchronisation).

    Not a thread, as tests.hostile_world.guarded_ingest uses for hangs in I/O: a search in Python's ``re`` runs
    in C holding the GIL, so a test waiting on a thread could not even notice its time was up."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)

    def work() -> None:
        try:
            send.send((True, call()))
        except BaseException as exc:  # reported below, in the test's process
            send.send((False, repr(exc)))

    child = context.Process(target=work, daemon=True)
    child.start()
    send.close()
    try:
        if not receive.poll(GUARD_S):
            pytest.fail(f"the reader did not finish within the {GUARD_S:.0f} s guard: a pattern backtracked")
        finished, value = receive.recv()
    finally:
        child.kill()
        child.join()
    assert finished, value
    return value


# --- item 6: the assertion reader, through ingest ----------------------------------------------------

# The E line had 19,960 spaces; with this suite's traceback around it, 19,800 keep the whole body,
# ``y`` included, under the 20,000-character cut (cut before the ``y``, the line costs re nothing).
PADDING = 19_800
PADDED_SUITE = f"""
import pytest

PADDED = "assert x" + " " * {PADDING} + "y"


@pytest.mark.parametrize("n", range(60))
def test_padded(n):
    raise AssertionError(PADDED)
"""


def test_a_run_whose_60_failures_pad_an_assert_with_spaces_is_ingested(tmp_path: Path) -> None:
    """The issue's run: 60 failures whose ``E`` line is ``assert x``, ~20,000 spaces, ``y``."""
    junit = run_pytest_junit(tmp_path / "suite", "custom__cc-ci__test_custom", PADDED_SUITE)
    config = _config(tmp_path)
    make_run(tmp_path / "runs", junit, stages=[{"name": "custom", "status": "fail"}])
    done = _ingest(config)
    assert done.returncode == 0, done.stderr
    store = Store(load_config(config).db_path)
    try:
        failures = store.results.failures(RUN_ID)
        assert len(failures) == 60
        assert all(f"E       assert x{' ' * PADDING}y" in f.text for f in failures)  # the whole line was kept
        assert store.verdicts.get(RUN_ID) is not None  # decided, with the whole text read
    finally:
        store.close()


# --- item 7: an operator's signature, through ingest -------------------------------------------------

WORDY_SIGNATURE = r"""
signatures:
  - id: wordy
    category: infra
    description: An operator's signature with a nested quantifier (issue 25).
    match: [{failure: '^(\w+\s?)+$'}]
    examples: {match: ["just some words"], no_match: ["words!"]}
"""

# pytest's message is the exception's text (its "AssertionError: " dropped when the text starts "assert"):
# 156 characters of words, then one that is not.
WORDY_MESSAGE = "assert " + "a" * 148 + "!"
WORDY_SUITE = f"""
def test_wordy():
    raise AssertionError({WORDY_MESSAGE!r})
"""


def test_an_operator_signature_with_nested_quantifiers_cannot_stall_ingest(tmp_path: Path) -> None:
    """``^(\\w+\\s?)+$`` in knowledge.dirs against a 156-character failure message: Python's re never ends."""
    knowledge = tmp_path / "signatures"
    knowledge.mkdir()
    (knowledge / "wordy.yaml").write_text(WORDY_SIGNATURE)
    junit = run_pytest_junit(tmp_path / "suite", "custom__cc-ci__test_custom", WORDY_SUITE)
    config = _config(tmp_path, [knowledge])
    make_run(tmp_path / "runs", junit, stages=[{"name": "custom", "status": "fail"}])
    done = _ingest(config)
    assert done.returncode == 0, done.stderr
    store = Store(load_config(config).db_path)
    try:
        [failure] = store.results.failures(RUN_ID)
        assert failure.message == WORDY_MESSAGE and len(WORDY_MESSAGE) == 156
        decided = store.verdicts.get(RUN_ID)
        assert decided is not None
        assert not any(e.excerpt.startswith("wordy:") for e in decided.evidence)  # it does not match, and said so fast
    finally:
        store.close()
    checked = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check-config", str(config)], capture_output=True, text=True, timeout=120
    )
    assert checked.returncode == 0 and "wordy" not in checked.stdout  # RE2 runs it: it loads, no warning


# --- every reader, on text shaped to make a backtracking engine take minutes --------------------------


def _log_tail(tmp_path: Path, line: str) -> object:
    (tmp_path / "run.log").write_text(f"start\n{line}\n")
    return read_tail(tmp_path, "run.log")


def _recipe_from_classname(classname: str) -> str:
    case = TestCase("custom", "cc-ci", "test_x", classname, TestStatus.FAIL, 0, "junit/x.xml")
    return rundir._recipe({}, Path("/nonexistent"), [case])


N = 200_000  # a backtracking engine needs hours for most of these; RE2 a few milliseconds
HOSTILE: dict[str, tuple[Callable[[Path], object], Callable[[Any], bool]]] = {
    "assert line padded with spaces": (
        lambda _: parse_expectation("test_x", "", "E       AssertionError: assert x" + " " * N + "y"),
        lambda found: found is None,
    ),
    "assert comparison padded with spaces": (
        lambda _: parse_expectation("test_x", "assert 'a/b:1' ==" + " " * N + "'a/b:2'"),
        lambda found: found is not None and found.must_exist == ("a/b:2",),
    ),
    "blank lines before a word": (lambda _: parse_expectation("test_x", "\n" * N + "x"), lambda found: found is None),
    "unittest != padded with spaces": (
        lambda _: parse_expectation("test_x", "x != y" + " " * N + "z"),
        lambda found: found is None,
    ),
    "hamcrest Expected: padded with spaces": (
        lambda _: parse_expectation("test_x", "Expected: 'a/b:2'" + " " * N + "x\n     but: was 'a/b:1'"),
        lambda found: found is None,
    ),
    "a cut assert line over a long diff": (
        lambda _: parse_expectation("test_x", "assert 'a...b' == 'c...d'\n" + "  - x/y:1\n" * (N // 10)),
        lambda found: found is not None and found.must_exist == ("x/y:1",),
    ),
    "cut assert lines indented like diff lines": (
        lambda _: parse_expectation("test_x", "    assert 'a...' == 'b...'\n" * (N // 28)),
        lambda found: found is None,
    ),
    "unittest's cut first line over a long diff": (
        lambda _: parse_expectation("test_x", "'a[5 chars]' != 'b[5 chars]'\n" + "+ a/b:1\n" * (N // 8)),
        lambda found: found is not None and found.must_exist == ("a/b:1",),
    ),
    "pytest's Skipping lines without end": (
        lambda _: parse_expectation(
            "test_x", "assert 'a...' == 'b...'\n" + "  Skipping 1 identical leading characters in diff\n" * (N // 50)
        ),
        lambda found: found is None,
    ),
    "exception names without end": (
        lambda _: parse_expectation("test_x", "", "Error" * (N // 5)),
        lambda found: found is None,
    ),
    "cluster key of a-a-a-…": (lambda _: normalize("a-" * (N // 2)), lambda key: 0 < len(key) <= KEY_CHARS),
    "shared machinery of tasktask…": (lambda _: machinery("custom", "task" * (N // 4)), lambda place: place is None),
    "log line of --junitxml=install__a…": (
        lambda tmp: _log_tail(tmp, "--junitxml=" + "install__a" * (N // 10)),
        lambda tail: tail is not None and tail.tier is None,
    ),
    "log line of tier install tier install …": (
        lambda tmp: _log_tail(tmp, "tier install " * (N // 13)),
        lambda tail: tail is not None and tail.tier is None,
    ),
    "classname tests.tests.tests.…": (
        lambda _: _recipe_from_classname("tests." * (N // 6)),
        lambda recipe: recipe == "unknown",
    ),
    "JUnit file name a_a_a_…__ (255 bytes)": (
        lambda _: tier_and_source("a_" * 120 + "__b__c"),
        lambda found: found == ("a_" * 120 + "__b__c", "unknown"),
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_every_reader_finishes_on_text_built_to_backtrack(tmp_path: Path, case: str) -> None:
    call, expected = HOSTILE[case]
    found = _finishes(lambda: call(tmp_path))
    assert expected(found), found


def test_an_operator_pattern_with_nested_quantifiers_finishes_on_long_text() -> None:
    compiled = compile_signature(r"^(\w+\s?)+$")
    assert isinstance(compiled, LinearPattern)
    assert _finishes(lambda: compiled.search("a" * N + "!") is None) is True
    assert _finishes(lambda: compiled.search("words " * (N // 6)) is not None) is True


# --- the patterns the bot ships ------------------------------------------------------------------------


def _linear_patterns(value: object) -> Iterator[LinearPattern]:
    if isinstance(value, LinearPattern):
        yield value
    elif isinstance(value, tuple):
        for item in value:
            yield from _linear_patterns(item)


def shipped_patterns() -> dict[str, LinearPattern]:
    """Every RE2 pattern a module of the bot holds (module-level, alone or in tuples), by module and name."""
    found: dict[str, LinearPattern] = {}
    for info in pkgutil.walk_packages(bot.__path__, "bot."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            for i, pattern in enumerate(_linear_patterns(value)):
                found[f"{info.name}.{name}[{i}]"] = pattern
    return found


SHIPPED = shipped_patterns()


def test_the_readers_of_run_dir_text_hold_their_patterns_as_re2() -> None:
    modules = {key.rsplit(".", 1)[0] for key in SHIPPED}
    for reader in (
        "bot.verdicts.assertions",
        "bot.verdicts.clusters",
        "bot.artifacts.logtail",
        "bot.artifacts.junit",
        "bot.artifacts.rundir",
    ):
        assert reader in modules, sorted(modules)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_shipped_pattern_compiles_for_re2(name: str) -> None:
    SHIPPED[name].compile()


# Pieces the shipped patterns look for, so random texts often come close to matching them.
PIECES = [
    *"ab xyz019'\"/:._-{}[]<>=!,;\n\t",
    "assert ",
    " == ",
    " != ",
    " in ",
    " not in ",
    "not found",
    " unexpectedly found in ",
    "Left contains one more item: ",
    "At index 0 diff: ",
    "First differing element 0:\n",
    "First has 0, Second has 1: ",
    "Skipping 3 identical leading characters in diff",
    "...Full output truncated",
    "[+2 more lines; full report in element text]",
    "[5 chars]",
    "\n- ",
    "\n+ ",
    "\n  - ",
    "\n  + ",
    "\n? ",
    "Right contains 2 more items, first extra item: ",
    "Extra items in the left set:\n",
    "Differing items:\n",
    "Items in the second set but not the first:\n",
    "First list contains 1 additional elements.\nFirst extra element 0:\n",
    "Lists differ: ",
    "Expected: ",
    "but: ",
    "was ",
    "an iterable containing ",
    "a dictionary containing [",
    "expected ",
    "got ",
    "AssertionError: ",
    "Error",
    "x.Exception",
    "Use -v",
    "tests.",
    "test_",
    "__",
    ".xml",
    "--junitxml=",
    "=====",
    "tier install",
    " (cc-ci)",
    ": fail",
    "cc-ci run finished",
    "rc=",
    "exit code ",
    "2026-06-18T10:00:00Z",
    "20260618T100000Z",
    "10.0.0.1:80",
    "ghcr.io",
    "example.org/x",
    "deadbeef12",
    "0x1f",
    "1.2.3",
    "123e4567-e89b-12d3-a456-426614174000",
    "traefik",
    "task ",
    "rejected",
    "backup repository",
    "502",
]
texts = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)


def _all_matches(pattern: Any, text: str, groups: int) -> list[tuple[int, int, tuple[str | None, ...]]]:
    return [(m.start(), m.end(), tuple(m[g] for g in range(1, groups + 1))) for m in pattern.finditer(text)]


@PROPERTY
@given(text=texts)
def test_re2_finds_what_pythons_re_finds_for_every_shipped_pattern(text: str) -> None:
    """On ASCII text RE2 and ``re`` agree on these patterns, match for match and group for group. (``$`` without
    ``(?m)`` also matches before a final newline in ``re``, not in RE2: texts ending in one are left out.)"""
    assume(not text.endswith("\n"))
    for name, pattern in SHIPPED.items():
        python = re.compile(pattern.pattern)
        assert _all_matches(pattern, text, python.groups) == _all_matches(python, text, python.groups), name


# The reader's pattern before RE2: a lookahead RE2 lacks, now a test in Python (_unittest_ne).
LOOKAHEAD_NE = re.compile(
    r"^(?!\s*assert )\s*(?:(?:Lists|Tuples|Sequences) differ:\s*)?(?P<a>.+?) != (?P<b>.+?)\s*$", re.M
)


@PROPERTY
@given(text=texts)
def test_the_unittest_reader_without_lookahead_picks_the_line_the_lookahead_picked(text: str) -> None:
    assume(not text.endswith("\n"))
    want, got = LOOKAHEAD_NE.search(text), _unittest_ne(text)
    assert (got is None) == (want is None), (got, want)
    if got is not None and want is not None:
        assert (got["a"], got["b"]) == (want["a"], want["b"])


ANY_CHARACTER = st.characters(exclude_categories=())  # lone surrogates too (Hypothesis leaves them out by default)

# --- operator patterns: any pattern, any text ---------------------------------------------------------

# Small regexes with the shapes that make a backtracking engine explode: nested and adjacent quantifiers
# over overlapping classes, alternations of overlapping branches.
atoms = st.sampled_from(["a", "b", r"\w", r"\s", r"\d", ".", "[ab]", "[^b]", "(?:a|ab)", "(?:a|a)", " "])
regexes = st.recursive(
    atoms,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["*", "+", "?", "{1,3}", "*?", "+?"])).map(lambda t: f"(?:{t[0]}){t[1]}"),
        st.lists(inner, min_size=2, max_size=3).map("".join),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: "(?:" + "|".join(xs) + ")"),
        inner.map(lambda x: f"({x})"),
    ),
    max_leaves=8,
)
anchored = st.tuples(st.sampled_from(["", "^"]), regexes, st.sampled_from(["", "$"])).map("".join)
short_texts = st.text(alphabet="ab 1!", max_size=12)


@PROPERTY
@given(pattern=anchored, text=short_texts)
def test_backtracking_shapes_compile_for_re2_and_match_as_re_does(pattern: str, text: str) -> None:
    compiled = compile_signature(pattern)
    if isinstance(compiled, PatternRefused):  # nested counted repeats multiply past RE2's 1000
        assert "counted repeats" in compiled.reason, compiled
        return
    python = re.compile(pattern)
    assert (compiled.search(text) is None) == (python.search(text) is None)
    found, want = compiled.search(text), python.search(text)
    if found is not None and want is not None:
        assert (found.start(), found.end()) == want.span()


@PROPERTY
@given(pattern=anchored, unit=st.text(alphabet="ab 1", min_size=1, max_size=3), tail=st.sampled_from(["!", "b!", ""]))
def test_backtracking_shapes_finish_on_long_text(pattern: str, unit: str, tail: str) -> None:
    """Text that is the worst case for such shapes in ``re`` (a long run, then a character that fails)."""
    compiled = compile_signature(pattern)
    assume(isinstance(compiled, LinearPattern))  # refused: nested counted repeats over RE2's 1000
    assert isinstance(compiled, LinearPattern)
    text = unit * (5000 // len(unit)) + tail

    def span() -> tuple[int, int] | None:
        found = compiled.search(text)
        return None if found is None else (found.start(), found.end())

    found = _finishes(span)
    assert found is None or 0 <= found[0] <= found[1] <= len(text)


@PROPERTY
@given(pattern=st.text(ANY_CHARACTER, max_size=30), text=st.text(ANY_CHARACTER, max_size=60))
def test_any_operator_pattern_compiles_or_is_refused_and_any_text_can_be_searched(pattern: str, text: str) -> None:
    """Whatever the operator writes: a pattern or a refusal with a reason; whatever the text (lone surrogates
    included, as file names and JSON escapes carry them): a match inside it or none, never an exception."""
    compiled = compile_signature(pattern)
    if isinstance(compiled, PatternRefused):
        assert compiled.reason and compiled.pattern == pattern
        return
    for found in (compiled.search(text), next(iter(compiled.finditer(text)), None)):
        assert found is None or 0 <= found.start() <= found.end() <= len(text)


# --- the readers on adversarial text ------------------------------------------------------------------

adversarial = st.tuples(
    st.lists(st.sampled_from(PIECES), max_size=12).map("".join),
    st.sampled_from([" ", "\n", "a", "a-", "task", "tests.", "Error", "\n \n", "'x' "]),
    st.integers(0, 3000),
    st.lists(st.sampled_from(PIECES), max_size=12).map("".join),
).map(lambda t: t[0] + t[1] * t[2] + t[3])


@PROPERTY
@given(message=adversarial, body=adversarial)
@example(message="Right contains 2 more items, first extra item: 'x' 'x' ", body="")  # Python joins 'x' 'x'
def test_the_assertion_reader_on_adversarial_text_finds_only_what_the_text_says(message: str, body: str) -> None:
    found = parse_expectation("test_x", message, body)
    if found is not None:
        for value in (*found.must_exist, *found.must_be_gone):
            assert value and (value in message or value in body), value


@PROPERTY
@given(text=adversarial, recipe=st.sampled_from([None, "a", "tests", "task"]))
def test_the_cluster_reader_on_adversarial_text_gives_a_short_key_and_a_known_place(
    text: str, recipe: str | None
) -> None:
    key = normalize(text, recipe)
    assert len(key) <= KEY_CHARS and "\n" not in key
    assert machinery("custom", text) in (None, "backups", "the proxy", "the node")


def test_a_refused_pattern_of_the_bots_own_is_a_loud_error() -> None:
    with pytest.raises(ValueError, match="lookahead"):
        LinearPattern("a(?=b)").compile()
