"""The peer-label diff and the stale-test search on recipes written as Co-op Cloud writes them (issue 26).

The wrong answer this guards against: a peer keeping its database in compose.postgres.yml was read as
compose.yml alone, so the failing recipe's database was compared with the peer's app service, and the
peer was said to "have none" of the backup labels.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.artifacts.appenv import AppEnv
from bot.artifacts.compose import EffectiveCompose, read_effective
from bot.verdicts.assertions import Expectation
from bot.verdicts.labels import Pair, compare, evidence, notes
from bot.verdicts.staletest import GitRecipeSearch
from tests.recipe_repos import BONFIRE, BONFIRE_POSTGRES, MATTERMOST, recipe_repo

OURS_TAG = "2.1.9+10.11.15"
PEER_TAG = "1.0.0+1.0.4"
TEST = "test_restore_returns_state"


def _read(tmp_path: Path, name: str, tag: str, files: dict[str, str | None]) -> EffectiveCompose:
    compose = read_effective(recipe_repo(tmp_path / name, {tag: files}), tag, name)
    assert compose is not None
    return compose


@pytest.mark.parametrize("ours_db", ["postgres", "db"])
def test_the_peers_database_in_an_override_file_is_paired_with_ours_never_its_app(tmp_path: Path, ours_db: str) -> None:
    compose = MATTERMOST["compose.yml"].replace("  postgres:\n    image:", f"  {ours_db}:\n    image:")
    ours = _read(tmp_path, "mattermost-lts", OURS_TAG, {**MATTERMOST, "compose.yml": compose})
    theirs = _read(tmp_path, "bonfire", PEER_TAG, BONFIRE)
    result = compare(ours, theirs, "restore")
    assert result.pairs == (Pair(ours_db, "db", "postgres databases"),)
    assert {d.peer_service for d in result.differences} == {"db"}
    first = result.differences[0]
    assert (first.key, first.ours, first.theirs) == ("backupbot.restore.post-hook", None, "/pg_backup.sh restore")
    items = evidence(result, "restore", TEST)
    text = "\n".join(i.excerpt for i in items)
    assert items[0].excerpt.startswith(
        "bonfire's db service (compose.postgres.yml) has backupbot.restore.post-hook: /pg_backup.sh restore; "
        f"mattermost-lts's {ours_db} service (compose.yml) has none (paired as postgres databases; "
        "bonfire passes test_restore_returns_state (restore))"
    )
    assert "bonfire's app service" not in text
    assert all(i.path.startswith(f"bonfire {PEER_TAG}:compose.postgres.yml vs mattermost-lts") for i in items)
    assert notes(result, "restore", TEST) == []


def test_the_wrong_pairing_of_a_compose_yml_only_reading_cannot_come_back(tmp_path: Path) -> None:
    """The peer read as compose.yml alone (what the bot did before) now pairs nothing: no "has none"."""
    ours = _read(tmp_path, "mattermost-lts", OURS_TAG, MATTERMOST)
    no_env = {k: v for k, v in BONFIRE.items() if k != ".env.sample"}
    theirs = _read(tmp_path, "bonfire", PEER_TAG, no_env)
    assert set(theirs.services) == {"app"} and theirs.complete
    result = compare(ours, theirs, "restore")
    assert all(p.ours != "postgres" for p in result.pairs)  # a database is never paired with an app
    assert not any(d.service == "postgres" for d in result.differences)


def test_a_peer_whose_override_is_missing_at_its_tag_is_never_said_to_have_none(tmp_path: Path) -> None:
    ours = _read(tmp_path, "mattermost-lts", OURS_TAG, MATTERMOST)
    theirs = _read(tmp_path, "bonfire", PEER_TAG, {**BONFIRE, "compose.postgres.yml": None})
    assert not theirs.complete
    result = compare(ours, theirs, "restore")
    assert result.pairs == () and result.differences == ()
    assert evidence(result, "restore", TEST) == []
    said = [n.excerpt for n in notes(result, "restore", TEST)]
    assert said[0] == (
        f"bonfire passes {TEST} (restore); bonfire's compose at {PEER_TAG} was read only in part "
        f"(compose.postgres.yml (named in COMPOSE_FILE in .env.sample) is missing at {PEER_TAG}): "
        "nothing is said about what it lacks"
    )
    assert "mattermost-lts's postgres was paired with no service of bonfire" in said[1]
    assert all(n.kind == "peer" for n in notes(result, "restore", TEST))  # a note decides nothing


def test_an_unreadable_app_env_is_said_and_what_ours_lacks_is_not_claimed(tmp_path: Path) -> None:
    clone = recipe_repo(tmp_path / "mattermost-lts", {OURS_TAG: MATTERMOST})
    broken = AppEnv("abra/servers/default/m.env", None, "abra/servers/default/m.env is a FIFO")
    ours = read_effective(clone, OURS_TAG, "mattermost-lts", broken)
    theirs = _read(tmp_path, "bonfire", PEER_TAG, BONFIRE)
    assert ours is not None and not ours.complete
    result = compare(ours, theirs, "restore")
    assert result.differences and all(d.ours is not None for d in result.differences)  # nothing "ours has none"
    assert "could not be read" in notes(result, "restore", TEST)[0].excerpt


@pytest.mark.parametrize(
    ("ours_image", "theirs_image", "role"),
    [
        ("postgres:15", "ghcr.io/baosystems/postgis:17-3.5", "postgres databases"),
        ("mariadb:11.4", "mysql:8", "mysql databases"),
        ("mariadb:11.4", "ghcr.io/immich-app/postgres:14", "SQL databases"),
        ("mongo:7", "docker.io/library/mongo:6", "mongo databases"),
    ],
)
def test_databases_pair_by_image_family(tmp_path: Path, ours_image: str, theirs_image: str, role: str) -> None:
    def recipe(name: str, image: str) -> dict[str, str | None]:
        services = f"  app: {{image: x/app}}\n  cache: {{image: redis:7}}\n  store: {{image: '{image}'}}\n"
        return {"compose.yml": "services:\n" + services}

    ours = _read(tmp_path, "a", "1.0.0", recipe("a", ours_image))
    theirs = _read(tmp_path, "b", "1.0.0", recipe("b", theirs_image))
    pairs = compare(ours, theirs, "backup").pairs
    assert pairs[0] == Pair("store", "store", role)
    assert Pair("cache", "cache", "redis databases") in pairs


def test_list_and_mapping_labels_with_defaults_compare_equal(tmp_path: Path) -> None:
    mapping = BONFIRE_POSTGRES.replace("${ENABLE_BACKUPS:-true}", '"true"')
    ours = _read(tmp_path, "a", PEER_TAG, {**BONFIRE, "compose.postgres.yml": mapping})
    theirs = _read(tmp_path, "b", PEER_TAG, BONFIRE)
    assert compare(ours, theirs, "restore").differences == ()
    # outside backup/restore: the app services, by presence of a label or a healthcheck
    assert compare(ours, theirs, "install").differences == ()


# -- the stale-test search --------------------------------------------------------------------------

APP = """\
version: "3.8"
services:
  app:
    image: org/app:${APP_VERSION:-1.0.4}
    deploy:
      labels: ["coop-cloud.${STACK_NAME}.version=1.0.0+1.0.4"]
"""
WORKER = """\
version: "3.8"
x-common: &common
  restart_policy: {condition: on-failure}
services:
  worker:
    image: org/worker:${WORKER_VERSION:-2.0}
    deploy:
      <<: *common
"""
SIDEKIQ = "services:\n  sidekiq:\n    image: org/app:${APP_VERSION:-1.0.4}\n"
ENV = 'TYPE=app\nCOMPOSE_FILE="compose.yml"\nCOMPOSE_FILE="$COMPOSE_FILE:compose.worker.yml"\n'
WITH_SIDEKIQ = ENV + 'COMPOSE_FILE="$COMPOSE_FILE:compose.sidekiq.yml"\n'
FILES = {"compose.yml": APP, "compose.worker.yml": WORKER, "compose.sidekiq.yml": SIDEKIQ}


def _search(
    clone: Path, must_exist: tuple[str, ...] = (), gone: tuple[str, ...] = (), app_env: AppEnv | None = None
) -> str:
    found = GitRecipeSearch().check(clone, Expectation("test_x", "x", must_exist, gone), app_env)
    assert found is not None
    return found.where.value


def test_the_stale_search_reads_env_defaults_and_every_compose_file_at_each_ref(tmp_path: Path) -> None:
    clone = recipe_repo(
        tmp_path / "app",
        {"0.9.0+1.0.3": {**FILES, ".env.sample": WITH_SIDEKIQ}, "1.0.0+1.0.4": {**FILES, ".env.sample": ENV}},
        main={".env.sample": ENV + "APP_VERSION=1.0.5\n"},
    )
    assert _search(clone, ("org/app:1.0.4",)) == "released"  # only as ${APP_VERSION:-1.0.4} in any file
    assert _search(clone, ("org/worker:2.0",)) == "released"  # pinned in the override file
    assert _search(clone, ("org/app:1.0.5",)) == "main-only"  # main's .env.sample moves the pin
    assert _search(clone, ("org/app:1.0.6",)) == "nowhere"
    # sidekiq still has a file at 1.0.0, but its COMPOSE_FILE line is gone: dropped in that release
    assert _search(clone, (), ("sidekiq",)) == "released"
    assert _search(clone, (), ("worker",)) == "nowhere"
    # the run's app env pins a version of its own: that is the app as deployed from the releases
    pinned = AppEnv("abra/servers/s/app.env", {"TYPE": "app", "APP_VERSION": "1.0.7", "COMPOSE_FILE": "compose.yml"})
    assert _search(clone, ("org/app:1.0.7",), app_env=pinned) == "released"
    assert _search(clone, ("org/app:1.0.7",)) == "nowhere"


def test_a_value_wanted_gone_counts_in_a_ref_whose_compose_could_not_be_read(tmp_path: Path) -> None:
    clone = recipe_repo(
        tmp_path / "app", {"1.0.0+1.0.4": {**FILES, ".env.sample": WITH_SIDEKIQ, "compose.worker.yml": None}}
    )
    # the release names compose.worker.yml, which it lacks: sidekiq's file as written still counts
    assert _search(clone, (), ("sidekiq",)) == "nowhere"
    assert _search(clone, (), ("org/app:1.0.4",)) == "nowhere"
