"""The sample generator writes cc-ci artifacts that are consistent, realistic and as scenarioed."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree
import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from demo.sample.generate import GeneratedData
from demo.sample.model import TIERS
from demo.sample.standin_runner import request_from_env, run_recipe

NOW = datetime(2026, 6, 18, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def data(sample: GeneratedData) -> GeneratedData:
    """The session's generated world (tests/conftest.py), made with the same NOW."""
    return sample


def when(text: str) -> datetime:
    if re.fullmatch(r"\d{8}T\d{6}Z", text):
        return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def results(data: GeneratedData, run_id: str) -> dict:
    return json.loads((data.run_dir(run_id) / "results.json").read_text())


def rungs(doc: dict) -> dict[str, str]:
    raw = doc["rungs"]
    return raw if isinstance(raw, dict) else {r["name"]: r["status"] for r in raw}


def is_red(doc: dict) -> bool:
    return any(s in ("fail", "error", "unver") for s in rungs(doc).values())


def junit_cases(path: Path) -> list[tuple[str, str, str | None]]:
    """(name, status, message) per testcase, read independently of the generator's code."""
    out = []
    for suite in JUnitXml.fromfile(str(path), parse_func=defusedxml.ElementTree.parse):
        for case in suite:
            kinds = {type(r): r for r in case.result}
            for kind, status in ((Failure, "fail"), (Error, "error"), (Skipped, "skip")):
                if kind in kinds:
                    out.append((case.name, status, kinds[kind].message))
                    break
            else:
                out.append((case.name, "pass", None))
    return out


def failure(data: GeneratedData, run_id: str, junit_name: str, test: str) -> str:
    cases = junit_cases(data.run_dir(run_id) / "junit" / junit_name)
    status, message = next((s, m) for n, s, m in cases if n == test)
    assert status == "fail"
    return message


def sweep_runs(data: GeneratedData, sweep: int) -> list:
    return [r for r in data.runs if r.sweep == sweep]


def red_recipes(data: GeneratedData, sweep: int) -> set[str]:
    return {r.recipe for r in sweep_runs(data, sweep) if r.has_results and is_red(results(data, r.run_id))}


def test_every_run_has_results_except_the_runner_that_died(data: GeneratedData) -> None:
    dead = [r for r in data.runs if not r.has_results]
    assert [(r.recipe, r.sweep) for r in dead] == [("nextcloud", 1)]
    for run in data.runs:
        run_dir = data.run_dir(run.run_id)
        assert (run_dir / "results.json").exists() == run.has_results
        assert (run_dir / "run.log").stat().st_size > 0
    dead_dir = data.run_dir(dead[0].run_id)
    assert sorted(p.name for p in (dead_dir / "junit").iterdir()) == [
        "install__recipe__test_install.xml",
        "upgrade__recipe__test_upgrade.xml",
    ]


def test_stages_match_the_junit_files(data: GeneratedData) -> None:
    for run in (r for r in data.runs if r.has_results):
        doc = results(data, run.run_id)
        assert doc["schema"] == 2 and doc["run_id"] == run.run_id and doc["recipe"] == run.recipe
        assert [s["name"] for s in doc["stages"]] == list(TIERS)
        for stage in doc["stages"]:
            files = sorted((data.run_dir(run.run_id) / "junit").glob(f"{stage['name']}__*.xml"))
            if stage["status"] == "unver":
                continue
            from_junit = sorted((n, s) for f in files for n, s, _ in junit_cases(f))
            listed = sorted((t["name"], t["status"]) for t in stage["tests"])
            assert listed == from_junit, (run.run_id, stage["name"])
            assert all(isinstance(t["ms"], int) for t in stage["tests"])


def test_outcomes_are_as_scenarioed(data: GeneratedData) -> None:
    for run in (r for r in data.runs if r.has_results):
        assert is_red(results(data, run.run_id)) == run.red, run


def test_failure_messages_carry_the_assertion(data: GeneratedData) -> None:
    msg = failure(data, "759", "upgrade__cc-ci__test_upgrade.xml", "test_head_runs_official_image_not_bitnamilegacy")
    assert "bitnamilegacy/discourse:3.5.0" in msg and "discourse/discourse:3.5.3" in msg
    msg = failure(data, "759", "upgrade__cc-ci__test_upgrade.xml", "test_sidekiq_service_dropped_by_head")
    assert "'sidekiq'" in msg
    for run_id in ("ab-0d17e4", "803", "753", "manual-4242"):
        msg = failure(data, run_id, "restore__cc-ci__test_restore.xml", "test_restore_returns_state")
        assert 'relation "ci_marker" does not exist' in msg
    assert ("test_restore_returns_state", "pass", None) in junit_cases(
        data.run_dir("761") / "junit" / "restore__cc-ci__test_restore.xml"
    )
    msg = failure(data, "m2rr-5e1d", "custom__cc-ci__test_custom.xml", "test_handshake_completes_with_channel_presence")
    assert msg.startswith("TimeoutError: handshake did not complete within 10s")
    assert "manifest unknown" in failure(data, "755", "install__recipe__test_install.xml", "test_stack_converges")
    assert "WORDPRESS_DEBUG" in failure(
        data, "768", "custom__recipe__test_custom.xml", "test_env_sample_covers_compose_vars"
    )


def test_mumble_is_red_only_when_its_custom_tier_ran_under_load(data: GeneratedData) -> None:
    mumble = data.runs_of("mumble")
    assert [(r.sweep, r.load, r.red) for r in mumble] == [
        (1, True, False),
        (2, True, False),
        (3, True, True),
        (None, False, False),
    ]
    assert rungs(results(data, "manual-48213"))["custom"] == "pass"
    for run in mumble:
        log = (data.run_dir(run.run_id) / "run.log").read_text()
        custom_metrics = log.rsplit("metrics: load average ", 1)[1]
        assert custom_metrics.startswith("5.84") == run.red


def test_discourse_log_reads_like_a_runner_log(data: GeneratedData) -> None:
    log = (data.run_dir("759") / "run.log").read_text()
    assert log.startswith("===== cc-ci run: recipe=discourse version=0.8.1+3.5.0 run_id=759 =====\n")
    for line in (
        "prepull: docker compose config --images",
        'service "sidekiq" depends on undefined service "discourse": invalid compose project',
        "prepull failed (rc=15), skipping (deploy will pull as usual)",
        "abra app deploy discourse-759.ci.example.org",
        "UpdateStatus=completed",
        "===== tier upgrade (cc-ci) =====",
        "FAILED tests/discourse/test_upgrade.py::test_head_runs_official_image_not_bitnamilegacy - AssertionError",
        "teardown: ",
    ):
        assert line in log
    assert re.search(r"^_{3,} test_sidekiq_service_dropped_by_head _{3,}$", log, re.M)
    assert re.search(r"^\[2026-06-14T0\d:\d\d:\d\dZ\] ", log, re.M)
    assert log.index("prepull failed") < log.index("UpdateStatus=completed") < log.index("FAILED tests/")


def test_every_run_logs_a_prepull_and_one_header_per_tier_file(data: GeneratedData) -> None:
    for run in (r for r in data.runs if r.has_results):
        run_dir = data.run_dir(run.run_id)
        log = (run_dir / "run.log").read_bytes().decode("utf-8", "replace")
        assert "prepull: docker compose config --images" in log
        for junit in (run_dir / "junit").glob("*.xml"):
            tier, source, _ = junit.name.split("__")
            assert f"===== tier {tier} ({source}) =====" in log


def test_sweep_runs_overlap_and_reruns_stand_alone(data: GeneratedData) -> None:
    def window(run) -> tuple[datetime, datetime]:
        if not run.has_results:
            return run.started, run.finished
        doc = results(data, run.run_id)
        return when(doc["started"]), when(doc["finished"])

    spans = {r.run_id: window(r) for r in data.runs}
    for sweep in (1, 2, 3):
        runs = sweep_runs(data, sweep)
        peak = max(sum(spans[o.run_id][0] <= spans[r.run_id][0] < spans[o.run_id][1] for o in runs) for r in runs)
        assert peak >= 3, f"sweep {sweep} never ran 3 recipes at once"
        assert all(r.load for r in runs)
    others = list(spans.items())
    for run in (r for r in data.runs if r.kind == "isolation"):
        assert run.run_id.startswith("manual-") and not run.load
        began, ended = spans[run.run_id]
        assert all(not (b < ended and began < e) for rid, (b, e) in others if rid != run.run_id)
        assert began > max(spans[r.run_id][1] for r in sweep_runs(data, 3))


def test_run_ids_do_not_sort_in_time(data: GeneratedData) -> None:
    ids = [r.run_id for r in data.runs]
    by_time = [r.run_id for r in sorted(data.runs, key=lambda r: r.finished)]
    assert sorted(ids) != by_time
    assert sorted(ids, key=lambda i: (not i.isdigit(), int(i) if i.isdigit() else 0, i)) != by_time
    assert {"753", "ab-3f9c21", "manual-4242"} <= set(ids)


def test_sweep_to_sweep_changes(data: GeneratedData) -> None:
    s1, s2, s3 = (red_recipes(data, n) for n in (1, 2, 3))
    assert s3 - s2 == {"mumble", "gitea", "outline"}
    assert s2 - s3 == {"keycloak"}
    assert s2 & s3 == {"mattermost-lts", "discourse", "bluesky"}
    assert s1 == {"mattermost-lts"}
    assert set(data.expected_verdicts.values()) == {
        "flake",
        "recipe-defect",
        "stale-test",
        "upstream-defect",
        "infra",
        "unknown",
    }


def test_recipe_clone_has_the_release_tags(data: GeneratedData) -> None:
    clone = data.run_dir("759") / "abra" / "recipes" / "discourse"

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(clone), *args], capture_output=True, text=True, check=True).stdout

    tags = git("tag", "--list").split()
    assert {"0.1.0+3.4.1", "0.8.1+3.5.0"} <= set(tags) and len(tags) == 5
    assert git("describe", "--tags", "--exact-match").strip() == "0.8.1+3.5.0"
    for ref in [*tags, "origin/main"]:
        compose = git("show", f"{ref}:compose.yml")
        assert "bitnamilegacy/discourse:" in compose and "discourse/discourse:3.5.3" not in compose
        assert "sidekiq:" in compose


def test_pr_run_is_red_but_the_release_stays_green(data: GeneratedData) -> None:
    pr_run = next(r for r in data.runs if r.pr is not None)
    doc = results(data, pr_run.run_id)
    assert (doc["pr"], doc["ref"], pr_run.recipe) == (42, "refs/pull/42/head", "wordpress")
    assert is_red(doc)
    assert not any(is_red(results(data, r.run_id)) for r in data.runs_of("wordpress") if r.pr is None)
    assert pr_run.finished > max(r.finished for r in sweep_runs(data, 3))


def test_killed_runner_leaves_truncated_junit_and_unver_rungs(data: GeneratedData) -> None:
    run_dir = data.run_dir("757")
    with pytest.raises(ParseError):
        defusedxml.ElementTree.parse(run_dir / "junit" / "backup__recipe__test_backup.xml")
    doc = results(data, "757")
    assert rungs(doc) == {
        "install": "pass",
        "upgrade": "pass",
        "backup": "unver",
        "restore": "unver",
        "custom": "unver",
    }
    assert doc["flags"]["clean_teardown"] is False
    log = (run_dir / "run.log").read_text()
    assert "Cannot connect to the Docker daemon" in log and "rc=143" in log and "HarnessError" in log


def test_canonicals(data: GeneratedData) -> None:
    def canonical(recipe: str) -> dict:
        return json.loads((data.warm_dir / recipe / "canonical.json").read_text())

    assert not (data.warm_dir / "mattermost-lts").exists()
    mumble = canonical("mumble")
    red = next(r for r in data.runs_of("mumble") if r.red)
    assert mumble["version"] == red.version == "1.0.0+v1.6.870-0" and mumble["status"] == "idle"
    assert when(mumble["ts"]) > red.finished
    assert canonical("outline")["version"] == "0.10.0+0.84.0"
    assert canonical("keycloak")["version"] == "1.3.1+26.1.1"
    assert len(canonical("immich")["commit"]) == 8


def test_junit_timestamps_fall_inside_their_run(data: GeneratedData) -> None:
    for run in (r for r in data.runs if r.has_results):
        for junit in (data.run_dir(run.run_id) / "junit").glob("*.xml"):
            try:
                suites = list(JUnitXml.fromfile(str(junit), parse_func=defusedxml.ElementTree.parse))
            except ParseError:
                continue
            for suite in suites:
                assert run.started <= when(suite.timestamp) <= run.finished, junit


def test_results_json_is_written_last(data: GeneratedData) -> None:
    for run in (r for r in data.runs if r.has_results):
        run_dir = data.run_dir(run.run_id)
        written = (run_dir / "results.json").stat().st_mtime_ns
        others = [p for p in run_dir.rglob("*") if p.is_file() and ".git" not in p.parts and p.name != "results.json"]
        assert all(p.stat().st_mtime_ns <= written for p in others)
        assert not list(run_dir.glob(".*.tmp"))


def test_standin_runner_alone_on_the_wall_clock(data: GeneratedData, tmp_path: Path) -> None:
    env = {
        "RECIPE": "mumble",
        "VERSION": "1.0.0+v1.6.870-0",
        "RUN_ID": "manual-1",
        "CCCI_RUNS_DIR": str(tmp_path),
        "CCCI_SAMPLE_RECIPES_SRC": str(data.recipes_src),
        "CCCI_SAMPLE_LOAD": "1",
    }
    before = datetime.now(UTC)
    outcome = run_recipe(request_from_env(env))
    assert outcome.results is not None and rungs(outcome.results)["custom"] == "fail"
    written = (outcome.run_dir / "results.json").stat().st_mtime_ns
    assert all(p.stat().st_mtime_ns <= written for p in outcome.run_dir.rglob("*") if p.is_file())
    assert before.replace(microsecond=0) <= when(outcome.results["finished"]) <= datetime.now(UTC)
    junit = outcome.run_dir / "junit" / "custom__cc-ci__test_custom.xml"
    suite = next(iter(JUnitXml.fromfile(str(junit), parse_func=defusedxml.ElementTree.parse)))
    assert when(suite.timestamp) >= before


def test_bonfire_is_written_the_co_op_cloud_way_and_every_run_has_its_app_env(data: GeneratedData) -> None:
    run = data.runs_of("bonfire")[-1]
    clone = data.run_dir(run.run_id) / "abra" / "recipes" / "bonfire"
    env = (clone / ".env.sample").read_text()
    assert 'COMPOSE_FILE="$COMPOSE_FILE:compose.postgres.yml"' in env
    assert '#COMPOSE_FILE="$COMPOSE_FILE:compose.meilisearch.yml"' in env  # an option not taken
    compose, override = (clone / "compose.yml").read_text(), (clone / "compose.postgres.yml").read_text()
    assert "  db:" not in compose and "image: bonfirenetworks/bonfire:${APP_VERSION:-1.0.4}" in compose
    assert "- backupbot.backup=${ENABLE_BACKUPS:-true}" in compose  # a list label with an env default
    assert "x-postgres-env: &postgres-env" in override and "<<: *postgres-env" in override
    assert 'backupbot.restore.post-hook: "/pg_backup.sh restore"' in override  # a mapping label
    for r in data.runs:
        domain = f"{r.recipe}-{r.run_id}.ci.example.org"
        app_env = data.run_dir(r.run_id) / "abra" / "servers" / "default" / f"{domain}.env"
        assert f"TYPE={r.recipe}\n" in app_env.read_text() and f"DOMAIN={domain}\n" in app_env.read_text()
    doc = results(data, run.run_id)
    assert not is_red(doc) and any(t["name"] == "test_restore_returns_state" for s in doc["stages"] for t in s["tests"])
