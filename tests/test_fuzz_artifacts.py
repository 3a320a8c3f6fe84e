"""Property tests (Hypothesis) over the readers of what a run dir holds, and over ingest as a whole:
whatever the bytes, no exception escapes, and every run dir ends up as a row or a note."""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from bot.artifacts.controls import has_controls
from bot.artifacts.junit import read_junit
from bot.artifacts.logscan import scan_log
from bot.artifacts.rundir import InProgress, Refused, Vanished, read_results, read_run
from bot.artifacts.safeopen import Unsafe
from bot.config import CcciConfig, Config
from bot.ingest.scan import ingest
from bot.model.recipe_name import is_recipe_name
from bot.model.records import ParsedRun
from bot.store import Store

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
tests_field = st.one_of(json_values, st.lists(st.dictionaries(st.sampled_from(["name", "status"]), json_values)))
stage = st.fixed_dictionaries({}, optional={"name": scalars, "status": scalars, "tests": tests_field})
# results.json as cc-ci's keys with values of any shape, often the expected one with odd contents
results_objects = st.fixed_dictionaries(
    {},
    optional={
        "recipe": scalars,
        "version": scalars,
        "ref": scalars,
        "pr": scalars,
        "started": scalars,
        "finished": scalars,
        "stages": st.one_of(scalars, json_values, st.lists(stage, max_size=3)),
        "rungs": st.one_of(json_values, st.dictionaries(st.text(max_size=8), json_values, max_size=3)),
    },
)
LEAKED = "leakedtier"  # the tier and test name in a JUnit file outside every run dir
any_text = st.text(max_size=40)  # any code point, control characters and surrogates' neighbours included


@st.composite
def junit_documents(draw: st.DrawFn) -> bytes:
    """Mostly JUnit-shaped XML with hostile names, messages, times and timestamps; sometimes junk."""
    if draw(st.integers(0, 5)) == 0:
        return draw(st.binary(max_size=300))
    cases = []
    for _ in range(draw(st.integers(0, 4))):
        name = draw(any_text.filter(lambda s: "\x00" not in s))
        time = draw(st.sampled_from(["1.5", "NaN", "-1", "1e400", "abc", ""]))
        kind = draw(st.sampled_from(["", "failure", "error", "skipped"]))
        message = draw(any_text)
        inner = f"<{kind} message={quoteattr(_xml_safe(message))}>{escape(_xml_safe(message))}</{kind}>" if kind else ""
        cases.append(f'<testcase classname="c" name={quoteattr(_xml_safe(name))} time="{time}">{inner}</testcase>')
    stamp = draw(st.sampled_from(["2026-06-18T10:00:00", "1e20", "nonsense", "99999-01-01"]))
    doc = f'<testsuites><testsuite name="s" timestamp="{stamp}">{"".join(cases)}</testsuite></testsuites>'
    data = doc.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]  # truncated mid-write
    return data


def _xml_safe(text: str) -> str:
    """Characters XML 1.0 can carry (others cannot appear in a well-formed file at all)."""
    return "".join(c for c in text if c in "\t\n\r" or 0x20 <= ord(c) <= 0xD7FF or 0xE000 <= ord(c) <= 0xFFFD)


@FAST
@given(st.one_of(st.binary(max_size=400), results_objects.map(lambda d: json.dumps(d).encode())))
def test_results_reader_only_refuses(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "results.json").write_bytes(data)
        try:
            out = read_results(Path(tmp), CcciConfig(max_results_depth=8, max_results_bytes=300))
        except (ValueError, Unsafe):
            return
        assert isinstance(out, dict)


@FAST
@given(junit_documents())
def test_junit_reader_never_raises_and_names_are_printable(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "custom__cc-ci__test_x.xml"
        path.write_bytes(data)
        parsed = read_junit(path, "junit/custom__cc-ci__test_x.xml", root=Path(tmp))
    for case in parsed.tests:
        assert not has_controls(case.name) and not has_controls(case.classname)
        assert case.ms >= 0


@FAST
@given(st.binary(max_size=2000), st.lists(st.text(min_size=1, max_size=8), max_size=3), st.integers(0, 4))
def test_log_scan_never_raises_and_cites_real_lines(data: bytes, needles: list[str], context: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.log"
        path.write_bytes(data)
        scan = scan_log(path, needles, context=context, block_bytes=64, root=Path(tmp))
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    assert scan.problem is None
    for hit in scan.hits:
        assert 1 <= hit.line <= lines
        assert all("\x1b" not in text and "\x00" not in text for _, text in hit.context)


@st.composite
def run_dirs(draw: st.DrawFn) -> dict[str, Any]:
    """One run dir's contents: results.json (object, junk or absent), JUnit files, a log, hostile entries."""
    return {
        "name": draw(st.sampled_from(["r1", "r2", "run\nx", "ru\x1bn", "r-3"])),
        "results": draw(st.one_of(st.none(), results_objects, results_objects, st.binary(max_size=60))),
        "junit": draw(st.lists(junit_documents(), max_size=2)),
        "log": draw(st.one_of(st.none(), st.binary(max_size=200))),
        "hostile": draw(
            st.sampled_from([None, "fifo-log", "link-results", "dir-results", "fifo-junit", "link-junit-dir"])
        ),
    }


def _write(base: Path, spec: dict[str, Any], outside: Path) -> None:
    run = base / spec["name"]
    if run.exists():
        return
    (run / "junit").mkdir(parents=True)
    if isinstance(spec["results"], dict):
        (run / "results.json").write_text(json.dumps(spec["results"]))
    elif isinstance(spec["results"], bytes):
        (run / "results.json").write_bytes(spec["results"])
    for i, doc in enumerate(spec["junit"]):
        (run / "junit" / f"custom__cc-ci__t{i}.xml").write_bytes(doc)
    if spec["log"] is not None:
        (run / "run.log").write_bytes(spec["log"])
    hostile = spec["hostile"]
    if hostile == "fifo-log" and not (run / "run.log").exists():
        os.mkfifo(run / "run.log")
    elif hostile in ("link-results", "dir-results") and not (run / "results.json").exists():
        if hostile == "link-results":
            (run / "results.json").symlink_to(outside)
        else:
            (run / "results.json").mkdir()
    elif hostile == "fifo-junit":
        os.mkfifo(run / "junit" / "install__cc-ci__t.xml")
    elif hostile == "link-junit-dir":  # issue 25, 13d: the JUnit dir is a link to a dir elsewhere
        elsewhere = outside.parent / "outside-junit"
        elsewhere.mkdir(exist_ok=True)
        (elsewhere / f"{LEAKED}__cc-ci__t.xml").write_text(f'<testsuite><testcase name="{LEAKED}"/></testsuite>')
        shutil.rmtree(run / "junit")
        (run / "junit").symlink_to(elsewhere)


@SLOW
@given(st.lists(run_dirs(), min_size=1, max_size=4))
def test_ingest_gives_every_run_dir_a_row_or_a_note(specs: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        runs, warm = root / "runs", root / "warm"
        runs.mkdir()
        warm.mkdir()
        outside = root / "outside.json"
        outside.write_text('{"recipe": "leaked"}')
        for spec in specs:
            _write(runs, spec, outside)
        config = Config(data_dir=root / "state").with_overrides(runs_dir=runs, warm_dir=warm)
        config = replace(config, ccci=replace(config.ccci, settle_s=0))
        store = Store(config.db_path)
        try:
            report = ingest(store, config)  # no exception may escape
            again = ingest(store, config)
            noted = set(store.ingest.run_notes())
            for name in os.listdir(runs):
                row = store.runs.get(name)
                accounted = (
                    row is not None
                    or name in noted
                    or name in report.in_progress
                    or any(p.startswith(name) for p in report.problems)
                )
                assert accounted, (name, report)
                if row is not None:
                    assert row.recipe != "leaked"
                    assert LEAKED not in {t.name for t in store.results.tiers(name)}
                    assert is_recipe_name(row.recipe)  # it may become a rerun's argv (issue 25)
                    assert not has_controls(row.recipe) and not has_controls(row.version or "")
            assert again.ingested == [] or set(again.ingested) <= set(report.in_progress)
        finally:
            store.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(run_dirs())
def test_reading_a_run_dir_never_raises(spec: dict[str, Any]) -> None:
    """Below ingest's catch-all: the reader itself turns every oddity into a result or a note."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        outside = root / "outside.json"
        outside.write_text('{"recipe": "leaked"}')
        _write(root / "runs", spec, outside)
        config = Config()
        result = read_run(root / "runs" / spec["name"], replace(config.ccci, settle_s=0), config.evidence)
    assert isinstance(result, ParsedRun | InProgress | Refused | Vanished)
    if isinstance(result, ParsedRun):
        assert result.recipe != "leaked"
        assert all(p.excerpt for p in result.problems)
        assert LEAKED not in {t.name for t in result.tiers} | {t.name for t in result.tests}


# --- issue 25: a store file of any bytes (restored from who knows where) -----------------------------


@functools.cache
def _store_bytes() -> bytes:
    """A real store with a run in it, as bytes: the base that damaged stores are made from."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        runs = root / "runs"
        (runs / "r1" / "junit").mkdir(parents=True)
        (runs / "r1" / "results.json").write_text(json.dumps({"recipe": "mumble", "stages": []}))
        config = Config(data_dir=root / "state").with_overrides(runs_dir=runs, warm_dir=root)
        store = Store(config.db_path)
        ingest(store, replace(config, ccci=replace(config.ccci, settle_s=0)))
        store.close()
        return config.db_path.read_bytes()


@st.composite
def store_files(draw: st.DrawFn) -> bytes:
    """Any bytes; SQLite's header and then any bytes; or a real store with a few spans overwritten."""
    kind = draw(st.sampled_from(["bytes", "header", "damaged"]))
    if kind == "bytes":
        return draw(st.binary(max_size=3000))
    if kind == "header":
        return b"SQLite format 3\x00" + draw(st.binary(max_size=3000))
    data = bytearray(_store_bytes())
    spans = st.tuples(st.integers(0, len(data) - 1), st.binary(min_size=1, max_size=24))
    for offset, patch in draw(st.lists(spans, min_size=1, max_size=6)):
        data[offset : offset + len(patch)] = patch
    return bytes(data)


@SLOW
@given(store_files())
def test_a_store_file_of_any_bytes_is_an_answer_or_a_clear_message(data: bytes) -> None:
    """`status` (which opens, scans and reads the store) and doctor's store check on whatever the file
    holds: an answer, or one line and exit 1 — never a traceback."""
    import contextlib
    import io

    from bot.cli import main
    from bot.store.check import inspect_file
    from bot.store.errors import StoreError

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "runs").mkdir()
        (root / "state").mkdir()
        (root / "state" / "ccci-bot.sqlite3").write_bytes(data)
        with contextlib.suppress(StoreError):
            inspect_file(root / "state" / "ccci-bot.sqlite3")
        out, err = io.StringIO(), io.StringIO()
        flags = ["--runs-dir", str(root / "runs"), "--warm-dir", str(root), "--data-dir", str(root / "state")]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["status", *flags])
        assert code in (0, 1), (code, err.getvalue())
        if code == 1:
            assert err.getvalue().startswith("ccci-bot: ") and err.getvalue().count("\n") == 1, err.getvalue()
