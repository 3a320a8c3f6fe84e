"""The recipe's effective compose at a ref (bot.artifacts.compose) and the app env it is rendered with
(bot.artifacts.appenv), on recipes shaped as Co-op Cloud writes them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bot.artifacts import gitrun
from bot.artifacts.appenv import compose_files, find_app_env, parse_env, substitute
from bot.artifacts.compose import MAX_FILE_BYTES, read_at_refs, read_effective
from demo.sample.gitutil import git
from tests.recipe_repos import BONFIRE, BONFIRE_ENV, recipe_repo

TAG = "1.0.0+1.0.4"


def test_env_file_lines_are_read_as_text_and_nothing_is_run() -> None:
    env = parse_env(
        """
# a comment
export APP_VERSION=1.0.5
DOMAIN=bonfire.example.com
OAUTH_ISSUER=https://${DOMAIN}/oauth
PLAIN=$DOMAIN
LATER=$NOT_YET
NOT_YET=now
SINGLE='$DOMAIN stays'
DOUBLE="a \\"quoted\\" \\$DOMAIN and $DOMAIN" # trailing comment
SECRET_KEY_VERSION=v1 # length=128
RUN=$(touch /tmp/pwned-by-env)
TICKS=`id`
DEFAULTED=${UNSET:-fallback}
  INDENTED = spaced
not a line at all
"""
    )
    assert env["APP_VERSION"] == "1.0.5"
    assert env["OAUTH_ISSUER"] == "https://bonfire.example.com/oauth"
    assert env["PLAIN"] == "bonfire.example.com"
    assert env["LATER"] == ""  # only lines above count
    assert env["SINGLE"] == "$DOMAIN stays"
    assert env["DOUBLE"] == 'a "quoted" $DOMAIN and bonfire.example.com'
    assert env["SECRET_KEY_VERSION"] == "v1"
    assert env["RUN"] == "$(touch /tmp/pwned-by-env)" and env["TICKS"] == "`id`"
    assert env["DEFAULTED"] == "fallback"
    assert env["INDENTED"] == "spaced"
    assert not Path("/tmp/pwned-by-env").exists()


def test_compose_file_is_built_up_line_by_line_and_commented_lines_are_options_not_taken() -> None:
    assert compose_files(parse_env(BONFIRE_ENV)) == ["compose.yml", "compose.postgres.yml"]
    assert compose_files(parse_env('COMPOSE_FILE="$COMPOSE_FILE:compose.x.yml"\n')) == ["compose.x.yml"]
    assert compose_files(parse_env("COMPOSE_FILE=a.yml:b.yml:a.yml::\n")) == ["a.yml", "b.yml"]
    assert compose_files(parse_env("TYPE=x\n")) == []


def test_substitution_fills_defaults_and_evaluates_nothing_else() -> None:
    env = {"SET": "v", "EMPTY": ""}
    cases = {
        "${SET:-d}": "v",
        "${EMPTY:-d}": "d",
        "${EMPTY-d}": "",
        "${UNSET-d}": "d",
        "${UNSET:-${SET}}": "v",
        "${UNSET}": "${UNSET}",  # abra sets STACK_NAME and the like at deploy: left as written
        "$SET/$UNSET": "v/$UNSET",
        "$$SET": "$SET",
        "${SET:?must be set}": "${SET:?must be set}",
        "${SET:+alt}": "${SET:+alt}",
        "${unclosed": "${unclosed",
        "org/app:${APP_VERSION:-1.0.4}-${FLAVOUR:-social}": "org/app:1.0.4-social",
    }
    assert {text: substitute(text, env.get) for text in cases} == cases


def test_override_files_merge_in_order_and_labels_remember_their_file(tmp_path: Path) -> None:
    clone = recipe_repo(tmp_path / "bonfire", {TAG: BONFIRE})
    compose = read_effective(clone, TAG, "bonfire")
    assert compose is not None and compose.complete, compose and compose.problems
    assert (compose.ref, compose.env_from, compose.files) == (
        TAG,
        ".env.sample",
        ("compose.yml", "compose.postgres.yml"),
    )
    assert set(compose.services) == {"app", "db"}  # compose.mail.yml's line is commented out
    app, db = compose.services["app"], compose.services["db"]
    assert db.image == "ghcr.io/baosystems/postgis:17-3.5"  # env defaults filled in
    assert app.image == "bonfirenetworks/bonfire:1.0.4-social-amd64"
    assert db.files == ("compose.postgres.yml",) and app.files == ("compose.yml", "compose.postgres.yml")
    # list labels in compose.yml, a mapping in the override; both normalised, each with its file
    assert app.labels["backupbot.backup"].value == "true" and app.labels["backupbot.backup"].file == "compose.yml"
    assert db.label_values() == {
        "backupbot.backup": "true",
        "backupbot.backup.pre-hook": "/pg_backup.sh backup",
        "backupbot.backup.volumes.db-data.path": "backup.sql",
        "backupbot.restore.post-hook": "/pg_backup.sh restore",
    }
    assert {label.file for label in db.labels.values()} == {"compose.postgres.yml"}
    assert "traefik.http.routers.${STACK_NAME}.rule" in app.labels  # abra's own variable stays as written
    assert app.labels["traefik.http.routers.${STACK_NAME}.rule"].value == "Host(`bonfire.example.com`${EXTRA_DOMAINS})"
    # a list environment and a mapping one (with an anchor merged in by `<<:`) merge by key
    assert app.body["environment"] == {
        "HOSTNAME": "bonfire.example.com",
        "LANG": "en_US.UTF-8",
        "POSTGRES_DB": "bonfire_db",
        "POSTGRES_USER": "postgres",
        "POSTGRES_HOST": "${STACK_NAME}_db",
    }
    assert app.origin["environment"] == "compose.postgres.yml" and app.origin["image"] == "compose.yml"
    assert "x-postgres-env" not in compose.top and "version" not in compose.top
    assert set(compose.top["volumes"]) == {"upload-data", "db-data"}
    assert "postgres" in set(compose.strings()) and "bonfire_db" in set(compose.strings())


def test_merging_follows_compose_for_replaced_keyed_and_appended_lists(tmp_path: Path) -> None:
    base = """\
services:
  app:
    image: a:1
    command: ["run", "--old"]
    healthcheck: {test: ["CMD", "old"], interval: 30s}
    volumes: ["data:/data", "cache:/cache"]
    secrets: [one]
    depends_on: [db]
    labels: {keep: "1", change: old}
"""
    over = """\
services:
  app:
    command: ["run", "--new"]
    healthcheck: {test: ["CMD", "new"]}
    volumes: ["other:/data", {type: tmpfs, target: /tmp}]
    secrets: [{source: one, target: renamed}, two]
    depends_on: [db, cache]
    labels: ["change=new", "added"]
"""
    env = 'COMPOSE_FILE="compose.yml:compose.extra.yml"\n'
    clone = recipe_repo(tmp_path / "r", {TAG: {"compose.yml": base, "compose.extra.yml": over, ".env.sample": env}})
    compose = read_effective(clone, TAG, "r")
    assert compose is not None
    app = compose.services["app"].body
    assert app["command"] == ["run", "--new"]
    assert app["healthcheck"] == {"test": ["CMD", "new"], "interval": "30s"}
    assert app["volumes"] == ["other:/data", "cache:/cache", {"type": "tmpfs", "target": "/tmp"}]
    assert app["secrets"] == [{"source": "one", "target": "renamed"}, "two"]
    assert app["depends_on"] == ["db", "cache"]
    assert app["labels"] == {"keep": "1", "change": "new", "added": ""}
    assert compose.services["app"].labels["change"].file == "compose.extra.yml"


def test_the_runs_app_env_decides_the_files_and_values(tmp_path: Path) -> None:
    clone = recipe_repo(tmp_path / "bonfire", {TAG: BONFIRE})
    run = tmp_path / "run"
    env_file = run / "abra" / "servers" / "default" / "bonfire-1.ci.example.org.env"
    env_file.parent.mkdir(parents=True)
    (env_file.parent / "other.example.org.env").write_text("TYPE=gitea\nCOMPOSE_FILE=nothing.yml\n")
    env_file.write_text(
        BONFIRE_ENV.replace("# COMPOSE_FILE=", "COMPOSE_FILE=").replace("#APP_VERSION=latest", "APP_VERSION=1.0.6")
    )
    app_env = find_app_env(run, "bonfire")
    assert app_env is not None and app_env.path == "abra/servers/default/bonfire-1.ci.example.org.env"
    compose = read_effective(clone, TAG, "bonfire", app_env)
    assert compose is not None and compose.complete
    assert compose.env_from == app_env.path
    assert compose.files == ("compose.yml", "compose.postgres.yml", "compose.mail.yml")
    assert compose.services["app"].image == "bonfirenetworks/bonfire:1.0.6-social-amd64"
    assert compose.services["app"].body["environment"]["MAIL_BACKEND"] == "smtp"
    assert find_app_env(run, "mumble") is None  # env files of other recipes are not this one's
    assert find_app_env(tmp_path / "no-run", "bonfire") is None


def test_without_env_sample_the_recipe_is_compose_yml_with_its_defaults(tmp_path: Path) -> None:
    files = {k: v for k, v in BONFIRE.items() if k != ".env.sample"}
    clone = recipe_repo(tmp_path / "bonfire", {TAG: files})
    compose = read_effective(clone, TAG, "bonfire")
    assert compose is not None and compose.complete
    assert (compose.env_from, compose.files, set(compose.services)) == ("", ("compose.yml",), {"app"})
    assert compose.services["app"].label_values()["backupbot.backup"] == "true"  # ${ENABLE_BACKUPS:-true}


def test_a_named_file_missing_at_the_tag_makes_the_compose_partial(tmp_path: Path) -> None:
    older = {k: v for k, v in BONFIRE.items() if k != "compose.postgres.yml"}
    clone = recipe_repo(tmp_path / "bonfire", {"0.9.0+1.0.3": older, TAG: BONFIRE})
    compose = read_effective(clone, "0.9.0+1.0.3", "bonfire")
    assert compose is not None and not compose.complete
    assert compose.problems == (
        "compose.postgres.yml (named in COMPOSE_FILE in .env.sample) is missing at 0.9.0+1.0.3",
    )
    assert set(compose.services) == {"app"}
    later = read_effective(clone, TAG, "bonfire")
    assert later is not None and later.complete and "db" in later.services


def test_the_tag_is_read_not_the_checkout_and_an_unknown_tag_falls_back_to_head(tmp_path: Path) -> None:
    moved = BONFIRE["compose.postgres.yml"].replace("17-3.5", "18-3.6")
    clone = recipe_repo(tmp_path / "bonfire", {TAG: BONFIRE}, main={"compose.postgres.yml": moved})
    at_tag = read_effective(clone, TAG, "bonfire")
    at_head = read_effective(clone, "9.9.9+nope", "bonfire")
    assert at_tag is not None and at_head is not None
    assert at_tag.services["db"].image.endswith(":17-3.5")
    assert at_head.ref == "HEAD" and at_head.services["db"].image.endswith(":18-3.6")
    assert read_effective(tmp_path, TAG, "bonfire") is None  # not a git repository


def test_every_ref_gets_the_app_env_rendering_and_its_own_defaults(tmp_path: Path) -> None:
    newer = {".env.sample": BONFIRE_ENV.replace("#APP_VERSION=latest", "APP_VERSION=1.0.5")}
    clone = recipe_repo(tmp_path / "bonfire", {TAG: BONFIRE}, main=newer)
    run = tmp_path / "run"
    (run / "abra" / "servers" / "s").mkdir(parents=True)
    (run / "abra" / "servers" / "s" / "b.env").write_text("TYPE=bonfire\nAPP_VERSION=1.0.9\n")
    found = read_at_refs(clone, [TAG, "main", "9.9.9"], "bonfire", find_app_env(run, "bonfire"))
    assert set(found) == {TAG, "main"}  # a ref without a compose file has no rendering
    images = {ref: sorted(c.services["app"].image for c in views) for ref, views in found.items()}
    assert images == {
        TAG: ["bonfirenetworks/bonfire:1.0.4-social-amd64", "bonfirenetworks/bonfire:1.0.9-social-amd64"],
        "main": ["bonfirenetworks/bonfire:1.0.5-social-amd64", "bonfirenetworks/bonfire:1.0.9-social-amd64"],
    }
    # the app env names no COMPOSE_FILE: compose.yml alone; the .env.sample rendering has the database
    assert {tuple(c.files) for c in found[TAG]} == {("compose.yml",), ("compose.yml", "compose.postgres.yml")}


# -- hostile recipes and run dirs -------------------------------------------------------------------


def test_an_app_env_that_is_not_a_regular_file_inside_the_run_is_not_read(tmp_path: Path) -> None:
    clone = recipe_repo(tmp_path / "bonfire", {TAG: BONFIRE})
    secret = tmp_path / "secret.env"
    secret.write_text("TYPE=bonfire\nCOMPOSE_FILE=compose.yml\n")
    servers = tmp_path / "run" / "abra" / "servers" / "default"
    servers.mkdir(parents=True)
    (servers / "linked.env").symlink_to(secret)
    os.mkfifo(servers / "fifo.env")
    app_env = find_app_env(tmp_path / "run", "bonfire")
    assert app_env is not None and app_env.values is None
    assert "not a regular file inside the run" in (app_env.problem or "")
    compose = read_effective(clone, TAG, "bonfire", app_env)
    assert compose is not None and not compose.complete
    assert compose.env_from == ".env.sample" and "db" in compose.services  # the defaults, said to be a fallback
    assert "the app env could not be read" in compose.problems[0]
    (servers / "big.env").write_text("TYPE=bonfire\n" + "X=" + "y" * (70 << 10) + "\n")
    (servers / "linked.env").unlink()
    (servers / "fifo.env").unlink()
    big = find_app_env(tmp_path / "run", "bonfire")
    assert big is not None and big.values is None and "cap" in (big.problem or "")


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        (
            "compose.bomb.yml",
            "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(
                f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
                for p, c in zip("abcde", "bcdef", strict=True)
            )
            + "services: {bomb: {image: x, x-all: *f}}\n",
            "alias bomb",
        ),
        ("compose.dup.yml", "services:\n  db: {image: a}\n  db: {image: b}\n", "duplicate key"),
        ("compose.big.yml", "services: {}\n#" + "x" * MAX_FILE_BYTES + "\n", "not read"),
        ("compose.bin.yml", "services: {}\n\udcff", "not UTF-8"),
    ],
)
def test_a_bad_override_file_is_a_problem_never_a_crash(tmp_path: Path, name: str, text: str, problem: str) -> None:
    env = f'COMPOSE_FILE="compose.yml:{name}"\n'
    clone = recipe_repo(tmp_path / "r", {TAG: {**BONFIRE, ".env.sample": env}})
    (clone / name).write_bytes(text.encode("utf-8", "surrogateescape"))
    git("add", "--all", cwd=clone)
    git("commit", "--quiet", "-m", "bad", cwd=clone)
    git("tag", "-f", TAG, cwd=clone)
    compose = read_effective(clone, TAG, "r")
    assert compose is not None and not compose.complete
    assert problem in compose.problems[0] and name in compose.problems[0]
    assert "app" in compose.services  # what could be read still is


def test_compose_file_entries_outside_the_recipe_are_skipped(tmp_path: Path) -> None:
    env = 'COMPOSE_FILE="compose.yml:../../../etc/passwd:/etc/shadow:./compose.postgres.yml"\n'
    clone = recipe_repo(tmp_path / "r", {TAG: {**BONFIRE, ".env.sample": env}})
    compose = read_effective(clone, TAG, "r")
    assert compose is not None
    assert compose.files == ("compose.yml", "compose.postgres.yml")
    assert list(compose.problems) == [
        "COMPOSE_FILE names '../../../etc/passwd', which is not a file of the recipe; skipped",
        "COMPOSE_FILE names '/etc/shadow', which is not a file of the recipe; skipped",
    ]


def test_a_clone_configured_to_run_a_program_does_not_run_it(tmp_path: Path) -> None:
    clone = recipe_repo(tmp_path / "bonfire", {TAG: BONFIRE})
    marker = tmp_path / "ran"
    script = tmp_path / "evil.sh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\n")
    script.chmod(0o755)
    with (clone / ".git" / "config").open("a") as config:
        config.write(f"[core]\n\tfsmonitor = {script}\n")
    subprocess.run(["git", "-C", str(clone), "status"], capture_output=True, check=False)
    assert marker.exists(), "control: the planted config runs a program for an unguarded git"
    marker.unlink()
    assert gitrun.git(clone, ["status"]).returncode == 0
    assert read_effective(clone, TAG, "bonfire") is not None
    assert read_at_refs(clone, [TAG, "main"], "bonfire")
    assert not marker.exists()
