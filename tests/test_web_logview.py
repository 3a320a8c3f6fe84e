"""Paging runner logs: every page is checked against the obvious whole-file reading of the same bytes."""

from __future__ import annotations

import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.web.logview import (
    MAX_LINE_CHARS,
    LineIndex,
    LogPage,
    cached_index,
    clear_cache,
    page_around,
    read_page,
    read_tail,
)


@pytest.fixture(autouse=True)
def _cold_cache() -> Iterator[None]:
    clear_cache()
    yield
    clear_cache()


def reference(data: bytes) -> list[str]:
    """The file's lines as a reader would expect them: a last line without a newline counts, CR dropped."""
    raw = data.split(b"\n")
    if raw and raw[-1] == b"":
        raw.pop()
    out = []
    for line in raw:
        text = (line[:-1] if line.endswith(b"\r") else line).decode("utf-8", "replace")
        out.append(text if len(text) <= MAX_LINE_CHARS else text[:MAX_LINE_CHARS])
    return out


def shown(page: LogPage) -> list[str]:
    """Page texts with any cut marker removed, to compare with :func:`reference`."""
    return [text.split(" … [line cut:")[0] for _, text in page.lines]


def random_log(rng: random.Random, n_lines: int) -> bytes:
    words = [b"INFO deploy", b"FAILED tests/test_x.py::test_y - AssertionError", b"", b"\xff\xfe junk", b"caf\xc3\xa9"]
    lines = [rng.choice(words) + b" %d" % i + b"x" * rng.choice([0, 1, 10, 300]) for i in range(n_lines)]
    return b"\n".join(lines) + rng.choice([b"", b"\n"])


@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """~20 MB of realistic lines of varying length (some CRLF), no trailing newline."""
    rng = random.Random(7)
    parts = []
    for i in range(240_000):
        end = b"\r\n" if i % 97 == 0 else b"\n"
        parts.append(b"2026-06-14T03:%02d:00Z runner[%d]: %s%s" % (i % 60, i, b"step " * rng.randint(1, 30), end))
    data = b"".join(parts).rstrip(b"\n")
    path = tmp_path_factory.mktemp("big") / "run.log"
    path.write_bytes(data)
    return path, reference(data)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(("stride", "block"), [(1, 7), (3, 64), (50, 1000), (4096, 1 << 22)])
def test_every_page_matches_the_whole_file_reading(tmp_path: Path, seed: int, stride: int, block: int) -> None:
    rng = random.Random(seed)
    data = random_log(rng, rng.randint(1, 600))
    log = tmp_path / "run.log"
    log.write_bytes(data)
    want = reference(data)
    for start in sorted({1, 2, len(want), len(want) + 1, *(rng.randint(1, len(want)) for _ in range(10))}):
        count = rng.choice([1, 5, 100])
        page = read_page(log, start, count, stride=stride, block_bytes=block)
        assert [n for n, _ in page.lines] == list(range(start, min(start + count, len(want) + 1)))
        assert shown(page) == want[start - 1 : start - 1 + count]
        assert page.at_end == (start + count > len(want))
        if page.at_end:
            assert page.total_lines == len(want)


def test_walking_next_start_reads_every_line_once_across_index_entries(big_log: tuple[Path, list[str]]) -> None:
    log, want = big_log
    got: list[str] = []
    numbers: list[int] = []
    start: int | None = 1
    pages = 0
    while start is not None:
        page = read_page(log, start, 5000, stride=1000)
        got.extend(shown(page))
        numbers.extend(n for n, _ in page.lines)
        assert page.prev_start == (None if start == 1 else max(1, start - 5000))
        start = page.next_start
        pages += 1
    assert got == want
    assert numbers == list(range(1, len(want) + 1))
    assert pages == -(-len(want) // 5000)
    index = cached_index(log, stride=1000)
    assert index is not None  # counted as far as the last page's first line, about one entry per 1000 lines
    assert len(want) // 2000 <= index.entries <= len(want) // 1000 + 1


def test_byte_offsets_delimit_the_page(big_log: tuple[Path, list[str]]) -> None:
    log, want = big_log
    page = read_page(log, 123_457, 3, stride=1000)
    with log.open("rb") as f:
        f.seek(page.start_byte)
        raw = f.read(page.end_byte - page.start_byte)
    assert raw.decode().replace("\r\n", "\n").splitlines() == want[123_456:123_459]
    assert page.total_bytes == log.stat().st_size


def test_first_page_counts_nothing_and_a_deep_page_counts_only_up_to_it(big_log: tuple[Path, list[str]]) -> None:
    log, want = big_log
    size = log.stat().st_size
    first = read_page(log, 1, 500, stride=1000, block_bytes=1 << 20)
    assert shown(first) == want[:500]
    assert first.total_lines is None and not first.at_end and first.next_start == 501
    index = cached_index(log, stride=1000, block_bytes=1 << 20)
    assert index is not None and index.scanned_bytes == 0

    deep = read_page(log, 60_000, 500, stride=1000, block_bytes=1 << 20)
    assert shown(deep) == want[59_999:60_499]
    assert 0 < index.scanned_bytes < size / 2  # line 60,000 is a quarter of the way in
    assert not index.complete and deep.total_lines is None

    tail = read_tail(log, 500, stride=1000, block_bytes=1 << 20)
    assert index.complete and tail.total_lines == len(want)
    assert tail.first_line == len(want) - 499 and shown(tail) == want[-500:]
    assert tail.at_end and tail.next_start is None and tail.end_byte == size


def test_page_around_centres_on_the_line(big_log: tuple[Path, list[str]]) -> None:
    log, want = big_log
    page = page_around(log, 100_000, 501, stride=1000)
    assert page.first_line == 100_000 - 250 and page.last_line == 100_000 + 250
    assert dict(page.lines)[100_000] == want[99_999]
    near_top = page_around(log, 3, 500)
    assert near_top.first_line == 1 and near_top.prev_start is None


def test_a_line_past_the_end_is_an_empty_page_with_the_total(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_bytes(b"".join(b"line %d\n" % i for i in range(1, 1001)))
    page = read_page(log, 5000, 100, stride=64)
    assert page.lines == [] and page.at_end and page.total_lines == 1000
    assert page.next_start is None and page.prev_start == 901
    assert page.start_byte == page.end_byte == page.total_bytes == log.stat().st_size
    just_after = read_page(log, 1001, 100, stride=64)
    assert just_after.lines == [] and just_after.total_lines == 1000
    last = read_page(log, 1000, 100, stride=64)
    assert last.lines == [(1000, "line 1000")] and last.at_end and last.total_lines == 1000


def test_crlf_lines_lose_the_cr_only(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_bytes(b"one\r\ntwo\r\r\n\r\nthree\r")
    page = read_page(log)
    assert page.lines == [(1, "one"), (2, "two\r"), (3, ""), (4, "three")]
    assert page.at_end and page.total_lines == 4


def test_last_line_without_newline_counts(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_bytes(b"a\nb\nlast words")
    tail = read_tail(log, 2)
    assert tail.lines == [(2, "b"), (3, "last words")] and tail.total_lines == 3 and tail.prev_start == 1
    log.write_bytes(b"a\nb\n")
    assert read_tail(log, 2).lines == [(1, "a"), (2, "b")]


def test_empty_file(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_bytes(b"")
    for page in (read_page(log), read_tail(log), page_around(log, 10)):
        assert page.lines == [] and page.at_end and page.total_lines == 0
        assert page.prev_start is None and page.next_start is None and page.total_bytes == 0


def test_invalid_utf8_is_replaced_not_fatal(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_bytes(b"ok\n\xff\xfe\x00bin\xc3\n\xe2\x82\xac euro\n")
    page = read_page(log)
    assert page.lines == [(1, "ok"), (2, "\ufffd\ufffd\x00bin\ufffd"), (3, "€ euro")]


@pytest.mark.parametrize("block", [4096, 1 << 22])
def test_a_very_long_line_is_cut_with_a_marker_and_the_next_line_keeps_its_number(tmp_path: Path, block: int) -> None:
    log = tmp_path / "run.log"
    huge = b"\xe2\x82\xac" * 1_000_000  # 3 MB of multi-byte characters, no newline
    log.write_bytes(b"before\n" + huge + b"\nafter\n" + b"x" * (MAX_LINE_CHARS + 1))
    page = read_page(log, 1, 10, stride=1, block_bytes=block)
    assert [n for n, _ in page.lines] == [1, 2, 3, 4]
    cut = page.lines[1][1]
    assert cut.startswith("€" * MAX_LINE_CHARS + " … [line cut: 3,000,001 bytes]")
    assert len(cut) < MAX_LINE_CHARS + 50
    assert page.lines[2] == (3, "after")
    assert page.lines[3][1] == "x" * MAX_LINE_CHARS + f" … [line cut: {MAX_LINE_CHARS + 1:,} bytes]"
    assert read_page(log, 3, 1, stride=1, block_bytes=block).lines == [(3, "after")]
    assert read_tail(log, 2, stride=1, block_bytes=block).first_line == 3


def test_a_line_exactly_at_the_limit_is_not_cut(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_bytes(b"y" * MAX_LINE_CHARS + b"\n")
    assert read_page(log).lines == [(1, "y" * MAX_LINE_CHARS)]


def test_a_changed_file_gets_a_fresh_index(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_bytes(b"1\n2\n3\n")
    assert read_tail(log, 10).total_lines == 3
    with log.open("ab") as f:
        f.write(b"4\n5\n")
    tail = read_tail(log, 2)
    assert tail.lines == [(4, "4"), (5, "5")] and tail.total_lines == 5


def test_concurrent_readers_share_one_index_and_get_right_pages(big_log: tuple[Path, list[str]]) -> None:
    log, want = big_log
    starts = list(range(1, len(want), 9_973))

    def page_at(start: int) -> tuple[int, list[str]]:
        return start, shown(read_page(log, start, 50, stride=500))

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(page_at, reversed(starts)))
    for start, texts in results:
        assert texts == want[start - 1 : start + 49]
    index = cached_index(log, stride=500)
    assert index is not None and index.scanned_bytes > 0


def test_line_index_counts_incrementally(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_bytes(b"".join(b"%05d\n" % i for i in range(1, 10_001)))  # 6 bytes a line
    index = LineIndex(log.stat().st_size, stride=100, block_bytes=6000)
    with log.open("rb") as f:
        assert index.locate(f, 1) == 0 and index.scanned_bytes == 0
        assert index.locate(f, 2_001) == 12_000
        assert index.scanned_bytes < 24_000 and not index.complete
        assert index.locate(f, 10_001) is None
        assert index.finish(f) == 10_000 and index.total_lines == 10_000


def test_missing_file_and_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_page(tmp_path / "nope.log")
    with pytest.raises(FileNotFoundError):
        read_tail(tmp_path / "nope.log")
    log = tmp_path / "run.log"
    log.write_bytes(b"x\n")
    with pytest.raises(ValueError, match="start at 1"):
        read_page(log, 0)
    with pytest.raises(ValueError, match="count"):
        read_page(log, 1, 0)
    with pytest.raises(ValueError, match="count"):
        page_around(log, 1, 10**6)


def test_long_lines_get_index_entries_by_bytes_not_only_by_stride(tmp_path: Path) -> None:
    """100 lines of 200 kB: far fewer than a stride, yet the index still has entries every few MiB."""
    log = tmp_path / "run.log"
    log.write_bytes(b"".join(b"%03d " % i + b"z" * 200_000 + b"\n" for i in range(1, 101)))
    tail = read_tail(log, 2)
    assert [text[:3] for _, text in tail.lines] == ["099", "100"] and tail.total_lines == 100
    index = cached_index(log)
    assert index is not None and index.entries >= 2
    assert page_around(log, 60, 1).lines[0][1].startswith("060 zzz")
