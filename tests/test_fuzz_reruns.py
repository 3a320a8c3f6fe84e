"""Property tests (Hypothesis) over the rerun path's entry points (issue 25): the recipe name a request
carries, the results.json a rerun's run dir is found by, the environment and log of the runner, and
the text an operator is shown. Whatever the input, nothing raises that should not, nothing hangs, and
no control character or secret gets through."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from bot.artifacts.controls import has_controls
from bot.artifacts.rundir import read_results
from bot.artifacts.runsdir import find_run_dir
from bot.config import Config, MatrixConfig, ReportsConfig, RunnerConfig
from bot.model.recipe_name import is_recipe_name
from bot.model.reruns import Attempt, AttemptOutcome, RerunError, RerunState
from bot.reruns.environment import ALLOWED_ENV, runner_environment
from bot.reruns.manager import RerunManager
from bot.reruns.preflight import Node
from bot.reruns.report import final_report, progress_line
from bot.reruns.runlog import CappedLog
from bot.service import Service
from bot.store.reruns import Rerun
from commands import UsageError
from commands.args import recipe_arg
from tests.test_fuzz_artifacts import any_text, results_objects
from tests.test_reruns_hostile import raw_controls, run_in_thread

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Names near the rule's edges as well as anything at all.
recipe_like = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,63}", fullmatch=True)
names = st.one_of(
    recipe_like,
    any_text,
    st.sampled_from(["--rf", "-x", ".", "..", "../../../../tmp/x", "a/b", "Mumble", "mumble\n", "x" * 65, ""]),
    recipe_like.map(lambda n: n + "\n"),
    recipe_like.map(lambda n: "-" + n),
)


@pytest.fixture(scope="module")
def empty_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    root = tmp_path_factory.mktemp("empty")
    (root / "runs").mkdir()
    (root / "warm").mkdir()
    service = Service(Config(data_dir=root / "state").with_overrides(runs_dir=root / "runs", warm_dir=root / "warm"))
    yield service
    service.close()


@SLOW
@given(name=names)
def test_a_rerun_request_refuses_exactly_what_is_not_a_recipe_name(empty_service: Service, name: str) -> None:
    async def notify(rerun: Rerun, kind: object, text: str) -> None:
        raise AssertionError("nothing is queued, nothing is told")

    config = empty_service.config
    node = Node(config.ccci.active_dir, None, ())
    mgr = RerunManager(empty_service, node, notify, asyncio.Event())

    async def ask() -> BaseException | None:
        try:
            await mgr.request(name, None, 1, "ccci-bot (automatic, after sweep-1)")
        except Exception as exc:
            return exc
        return None

    refused = asyncio.run(ask())
    valid = is_recipe_name(name)
    if valid:  # a recipe nobody knows here: refused by the lookup, not by the spelling
        assert refused is not None and "not a recipe name" not in str(refused)
        assert "/" not in name and not name.startswith(("-", ".")) and not has_controls(name)
        assert name == name.strip() and name.lower() == name and len(name) <= 64
    else:
        assert isinstance(refused, RerunError) and "not a recipe name" in str(refused)
        assert not has_controls(str(refused))  # the message shows the name escaped
    assert mgr.store.active() == []
    try:
        assert recipe_arg(name) == name and valid
    except UsageError:
        assert not valid


@st.composite
def candidate_dirs(draw: st.DrawFn) -> list[tuple[str, Any]]:
    """Run dirs a rerun might look in: results.json of any shape, or hostile, recipe often the target's."""
    found = []
    for i in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["object", "object", "bytes", "fifo", "dev-zero", "dir", "link-out", "none"]))
        content: Any = None
        if kind == "object":
            content = draw(results_objects)
            if draw(st.booleans()):
                content = {**content, "recipe": draw(st.sampled_from(["mumble", "mumble ", "Mumble", "--rf"]))}
            if draw(st.booleans()):
                content = {**content, "finished": draw(st.sampled_from(["2099-01-01T00:00:00Z", "2000-01-01", "x"]))}
        elif kind == "bytes":
            content = draw(st.binary(max_size=200))
        found.append((f"run-{i}", (kind, content)))
    return found


@FAST
@given(candidate_dirs(), st.booleans())
def test_finding_a_rerun_s_run_dir_never_hangs_and_only_finds_the_recipe(
    dirs: list[tuple[str, Any]], listed: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        runs.mkdir()
        (Path(tmp) / "outside.json").write_text(json.dumps({"recipe": "mumble", "finished": "2099-01-01T00:00:00Z"}))
        for name, (kind, content) in dirs:
            run = runs / name
            run.mkdir()
            results = run / "results.json"
            if kind == "object":
                results.write_text(json.dumps(content))
            elif kind == "bytes":
                results.write_bytes(content)
            elif kind == "fifo":
                os.mkfifo(results)
            elif kind == "dev-zero":
                results.symlink_to("/dev/zero")
            elif kind == "dir":
                results.mkdir()
            elif kind == "link-out":
                results.symlink_to(Path(tmp) / "outside.json")
        config = Config().with_overrides(runs_dir=runs)
        config = replace(config, ccci=replace(config.ccci, max_results_bytes=4096, max_results_depth=8))
        started = time.time() - 60
        preferred = [] if listed else [name for name, _ in dirs]  # found by listing, or named up front
        found = run_in_thread(lambda: find_run_dir(config, "mumble", started, preferred))
        if found is not None:
            data = read_results(runs / found, config.ccci)
            assert data["recipe"] == "mumble"
            assert dict(dirs)[found][0] == "object"


@FAST
@given(
    environ=st.dictionaries(
        st.sampled_from([*ALLOWED_ENV, "TOKEN", "PASSWORD", "HOOK", "MASKED", "OTHER"]), st.text(max_size=10)
    ),
    listed=st.lists(st.sampled_from(["RECIPE", "TOKEN", "PATH", "HOOK", "EXTRA"]), max_size=4, unique=True),
)
def test_the_runner_environment_never_holds_a_variable_an_env_key_names(
    environ: dict[str, str], listed: list[str]
) -> None:
    config = Config(
        matrix=MatrixConfig(access_token_env="TOKEN", password_env="PASSWORD"),
        reports=ReportsConfig(webhook_secret_env="HOOK"),
        runner=RunnerConfig(env=tuple((name, "{recipe}") for name in listed)),
    )
    config = replace(config, evidence=replace(config.evidence, mask_env=("MASKED",)))
    env = runner_environment(config, {"recipe": "mumble", "version": "1", "run_id": "r"}, environ)
    assert not set(env) & {"TOKEN", "PASSWORD", "HOOK", "MASKED", "OTHER"}
    assert set(env) <= set(ALLOWED_ENV) | set(listed)
    for name in listed:
        if name not in ("TOKEN", "HOOK"):
            assert env[name] == "mumble"
    for name in set(ALLOWED_ENV) - set(listed):
        assert env.get(name) == environ.get(name)


@FAST
@given(st.lists(st.binary(max_size=300), max_size=12), st.integers(2, 400))
def test_a_capped_log_keeps_the_head_and_the_tail_and_counts_the_cut(chunks: list[bytes], cap: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.log"
        log = CappedLog.create(path, cap)
        for chunk in chunks:
            log.write(chunk)
        log.close()
        kept = path.read_bytes()
    whole = b"".join(chunks)
    head, tail = cap - cap // 2, cap // 2
    assert log.failed is None
    if len(whole) <= cap:
        assert kept == whole
    else:
        cut = len(whole) - head - tail
        assert log.cut == cut
        assert kept.startswith(whole[:head]) and kept.endswith(whole[len(whole) - tail :])
        marker = kept[head : len(kept) - tail]
        assert f"{cut:,} bytes of output cut here".encode() in marker


@FAST
@given(st.lists(any_text, max_size=4), any_text, any_text)
def test_what_an_operator_is_shown_about_a_rerun_never_carries_a_raw_control(
    junit_names: list[str], log_tail: str, detail: str
) -> None:
    rerun = Rerun(1, "mumble", "1.0.0", 2, "@a:x", None, None, RerunState.RUNNING, 0.0)
    assert not has_controls(progress_line(rerun, 1, junit_names))
    with tempfile.TemporaryDirectory() as tmp:
        service = Service(Config(data_dir=Path(tmp)).with_overrides(runs_dir=Path(tmp), warm_dir=Path(tmp)))
        try:
            attempt = Attempt(AttemptOutcome.NO_RESULTS, None, 1.0, "log", log_tail=log_tail, detail=detail, n=1)
            text = asyncio.run(final_report(service, rerun, [attempt]))
        finally:
            service.close()
    assert raw_controls(text) == []
    assert len(text.splitlines()) <= 3 + len(log_tail.splitlines())  # no line forged by a separator
