import random
from pathlib import Path

import pytest

from bot.artifacts.logscan import MAX_LINE_CHARS, merge_hits, scan_log


def reference(lines: list[bytes], needle: bytes, max_hits: int, context: int) -> list[tuple[int, list[int]]]:
    """The obvious (whole-file) answer: line numbers of hits and of their context lines."""
    out = []
    for i, line in enumerate(lines):
        if needle in line and len(out) < max_hits:
            lo, hi = max(0, i - context), min(len(lines), i + context + 1)
            out.append((i + 1, list(range(lo + 1, hi + 1))))
    return out


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("block", [7, 64, 1000, 1 << 20])
def test_matches_whole_file_reference_at_any_block_size(tmp_path: Path, seed: int, block: int) -> None:
    rng = random.Random(seed)
    words = [b"alpha", b"beta", b"gamma", b"FAILED test_restore_returns_state - x", b"", b"noise " * 5]
    lines = [rng.choice(words) + b" %d" % i for i in range(rng.randint(1, 400))]
    log = tmp_path / "run.log"
    log.write_bytes(b"\n".join(lines) + (b"\n" if seed % 2 else b""))
    scan = scan_log(log, ["test_restore_returns_state"], context=3, max_hits=5, block_bytes=block)
    got = [(h.line, [n for n, _ in h.context]) for h in scan.hits]
    assert got == reference(lines, b"test_restore_returns_state", 5, 3)
    for h in scan.hits:
        assert "test_restore_returns_state" in dict(h.context)[h.line]
    assert scan_log(log, ["absent"], block_bytes=block).lines == len(lines)  # every newline counted once


def test_ignored_lines_are_never_hits(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text(
        "prepull: service sidekiq depends on undefined service discourse\n"
        "prepull failed (rc=15), skipping (deploy will pull as usual)\n"
        "FAILED tests/discourse/test_upgrade.py::test_sidekiq - depends on undefined service\n"
    )
    scan = scan_log(log, ["depends on undefined service"], ignore=["prepull"])
    assert [h.line for h in scan.hits] == [3]


def test_binary_junk_and_endless_lines_stay_bounded(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    junk = bytes(range(256)) * 4000  # ~1 MB with stray newlines, NULs and invalid UTF-8
    log.write_bytes(junk + b"\n" + b"A" * (3 * 1024 * 1024) + b"\nassert marker failed\n" + junk)
    scan = scan_log(log, ["marker"], block_bytes=64 * 1024)
    assert len(scan.hits) == 1
    hit = scan.hits[0]
    text = dict(hit.context)[hit.line]
    assert text == "assert marker failed"
    assert all(len(t) <= MAX_LINE_CHARS for _, t in hit.context)
    assert all("\x00" not in t for _, t in hit.context)


def test_missing_log_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    scan = scan_log(tmp_path / "nope.log", ["x"])
    assert scan.problem is not None and "nope.log" in scan.problem
    assert scan.hits == []


def test_nearby_hits_are_quoted_once(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text(
        "\n".join(
            ["setup"] * 5
            + ["____ test_x ____", "def test_x():", "E  assert 1 == 2", "FAILED t.py::test_x - assert 1 == 2"]
            + ["teardown"] * 20
            + ["rerun of test_x: failed again"]
        )
        + "\n"
    )
    scan = scan_log(log, ["test_x"], context=2, max_hits=5)
    merged = merge_hits(scan.hits)
    assert [h.marked for h in merged] == [(6, 7, 9), (30,)]
    assert [n for n, _ in merged[0].context] == list(range(4, 12))
    assert merged[0].excerpt.count(">") == 3


def test_separator_rules_are_shortened(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text("_" * 90 + " test_x " + "_" * 90 + "\n" + "=" * 200 + "\n")
    scan = scan_log(log, ["test_x"], context=1)
    assert dict(scan.hits[0].context) == {1: "_____ test_x _____", 2: "====="}


def test_line_numbers_stay_exact_after_an_endless_line(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_bytes(b"first\n" + b"B" * (3 * 1024 * 1024) + b"\nsecond\nFAILED test_after\n")
    scan = scan_log(log, ["test_after"], context=1, block_bytes=64 * 1024)
    assert [h.line for h in scan.hits] == [4]
    assert dict(scan.hits[0].context)[3] == "second"
