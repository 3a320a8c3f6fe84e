"""Recipe repositories of the sample world: real git repos with release tags, main and PR refs.

The suites read a run's recipe clone the way cc-ci's tests read a deployed app, and the bot
compares a failing test's expectation against the tags and main of that clone; so the clones
must be real git history, not loose files.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from demo.sample.gitutil import git
from demo.sample.model import Change, RecipeSpec, Release, Service

ABRA_PROVIDED = frozenset({"STACK_NAME"})
BASE = "compose.yml"
_VAR = re.compile(r"\$\{(\w+)\}")


@dataclass
class _State:
    """The recipe after applying releases' (and maybe a PR's) changes in order."""

    env_sample: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, tuple[str, ...]] = field(default_factory=dict)
    traefik_port: int | None = None

    def apply(self, change: Change) -> None:
        self.env_sample.update(change.env_sample)
        for service, names in change.service_env.items():
            self.extra_env[service] = self.extra_env.get(service, ()) + names
        if change.traefik_port is not None:
            self.traefik_port = change.traefik_port


def _state(spec: RecipeSpec, upto: Release, pr: Change | None = None) -> _State:
    state = _State(env_sample={name: spec.env_sample.get(name, "") for s in spec.services for name in s.env})
    for release in spec.releases:
        state.apply(release.change)
        if release.tag == upto.tag:
            break
    if pr is not None:
        state.apply(pr)
    return state


def render_compose(spec: RecipeSpec, release: Release, state: _State) -> dict[str, Any]:
    """compose.yml as Co-op Cloud writes it: traefik labels, backupbot labels, version label.

    Services kept in an override file (``Service.file``) are left to :func:`render_override`."""
    services: dict[str, Any] = {}
    volumes: dict[str, Any] = {}
    for index, svc in enumerate(s for s in spec.services if s.file == BASE):
        body: dict[str, Any] = {"image": svc.image.format(upstream=release.upstream)}
        names = svc.env + state.extra_env.get(svc.name, ())
        if names:
            body["environment"] = [f"{name}=${{{name}}}" for name in names]
        body["networks"] = ["proxy", "internal"] if svc.port else ["internal"]
        if svc.volumes:
            body["volumes"] = [f"{vol}:{path}" for vol, path in svc.volumes]
            volumes.update({vol: None for vol, _ in svc.volumes})
        if svc.depends_on:
            body["depends_on"] = list(svc.depends_on)
        labels: list[str] = []
        if svc.port:
            body["healthcheck"] = {
                "test": ["CMD", "curl", "-fsS", f"http://localhost:{svc.port}/"],
                "interval": "30s",
                "timeout": "10s",
                "retries": 10,
                "start_period": "1m",
            }
            labels += [
                "traefik.enable=true",
                f"traefik.http.services.${{STACK_NAME}}.loadbalancer.server.port={state.traefik_port or svc.port}",
                "traefik.http.routers.${STACK_NAME}.rule=Host(`${DOMAIN}`)",
                "traefik.http.routers.${STACK_NAME}.entrypoints=web-secure",
                "traefik.http.routers.${STACK_NAME}.tls.certresolver=${LETS_ENCRYPT_ENV}",
            ]
        if index == 0:
            labels.append(f"coop-cloud.${{STACK_NAME}}.version={release.tag}")
        labels += [f"{key}={value}" for key, value in svc.labels]
        body["deploy"] = {"restart_policy": {"condition": "on-failure"}, **({"labels": labels} if labels else {})}
        services[svc.name] = body
    return {
        "version": "3.8",
        "services": services,
        "networks": {"proxy": {"external": True}, "internal": None},
        "volumes": volumes,
    }


def _scalar(value: str) -> str:
    """A label value as recipes write it: a bare ``${VAR:-default}``, anything else double-quoted."""
    return value if re.fullmatch(r"\$\{\w+:-[^}]*\}", value) else json.dumps(value)


def render_override(name: str, services: tuple[Service, ...], release: Release) -> str:
    """An override file (``compose.postgres.yml``) as Co-op Cloud writes one by hand: ``version:``, an ``x-``
    anchor for the env the service shares with the app (merged in with ``<<:``), deploy labels as a mapping."""
    key = name.removeprefix("compose.").removesuffix(".yml")
    env = sorted({n for svc in services for n in svc.env})
    lines = ['version: "3.8"', ""]
    if env:
        lines += [f"x-{key}-env: &{key}-env", *(f"  {n}: ${{{n}}}" for n in env), ""]
        lines += ["services:", "  app:", "    environment:", f"      <<: *{key}-env"]
    else:
        lines += ["services:"]
    for svc in services:
        lines += [f"  {svc.name}:", f"    image: {svc.image.format(upstream=release.upstream)}"]
        if svc.env:
            lines += ["    environment:", f"      <<: *{key}-env"]
        lines += ["    networks:", "      - internal"]
        if svc.volumes:
            lines += ["    volumes:", *(f"      - {vol}:{path}" for vol, path in svc.volumes)]
        lines += ["    deploy:", "      restart_policy:", "        condition: on-failure"]
        if svc.labels:
            lines += ["      labels:", *(f"        {k}: {_scalar(v)}" for k, v in svc.labels)]
    volumes = [vol for svc in services for vol, _ in svc.volumes]
    if volumes:
        lines += ["", "volumes:", *(f"  {vol}:" for vol in volumes)]
    return "\n".join(lines) + "\n"


def _compose_file_lines(spec: RecipeSpec) -> list[str]:
    """``COMPOSE_FILE`` built up line by line; the options' lines commented out (options not taken)."""
    used = list(dict.fromkeys(s.file for s in spec.services if s.file != BASE))
    if not used and not spec.options:
        return []
    lines = [f'COMPOSE_FILE="{BASE}"', *(f'COMPOSE_FILE="$COMPOSE_FILE:{f}"' for f in used)]
    for option in dict.fromkeys(s.file for s in spec.options):
        lines += [f"# Enable {option} to run it too:", f'#COMPOSE_FILE="$COMPOSE_FILE:{option}"']
    return [*lines, ""]


def render_files(spec: RecipeSpec, release: Release, pr: Change | None = None) -> dict[str, str]:
    """The recipe's files at a release (or at a PR on top of it)."""
    state = _state(spec, release, pr)
    compose = yaml.safe_dump(render_compose(spec, release, state), sort_keys=False, width=200)
    env_lines = [
        f"TYPE={spec.name}",
        f"DOMAIN={spec.name}.example.com",
        "## Domain aliases",
        f"#EXTRA_DOMAINS=', `www.{spec.name}.example.com`'",
        "LETS_ENCRYPT_ENV=production",
        "",
        *_compose_file_lines(spec),
        *(f"{key}={value}" for key, value in sorted(state.env_sample.items())),
        "",
        "SECRET_DB_PASSWORD_VERSION=v1",
    ]
    has_pg_hook = any("/pg_backup.sh" in value for s in spec.services for _, value in s.labels)
    abra = [
        "# abra integration for the recipe; sourced by `abra app cmd`.",
        "export ABRA_ENTRYPOINT_VERSION=v1",
        *(["export PG_BACKUP_VERSION=v2"] if has_pg_hook else []),
        "",
        "environment() {",
        "  env | grep -v -e SECRET -e PASSWORD | sort",
        "}",
    ]
    overrides = {
        name: render_override(name, tuple(s for s in (*spec.services, *spec.options) if s.file == name), release)
        for name in dict.fromkeys(s.file for s in (*spec.services, *spec.options) if s.file != BASE)
    }
    return {
        "compose.yml": compose,
        **overrides,
        ".env.sample": "\n".join(env_lines) + "\n",
        "abra.sh": "\n".join(abra) + "\n",
        "README.md": f"# {spec.name}\n\nCo-op Cloud recipe for {spec.name}. Released as `<recipe>+<upstream>` tags.\n",
    }


def compose_vars(text: str) -> set[str]:
    """Variables a compose file takes from the app's env (abra's own excluded)."""
    return set(_VAR.findall(text)) - ABRA_PROVIDED


def _commit(repo: Path, files: dict[str, str], message: str, release: Release) -> None:
    for name, text in files.items():
        (repo / name).write_text(text, encoding="utf-8")
    git("add", "--all", cwd=repo)
    git("commit", "--quiet", "--allow-empty", "-m", message, cwd=repo, date=release.released)


def build_recipe_repo(spec: RecipeSpec, dest: Path) -> Path:
    """Create `dest` as the recipe's upstream repo: one commit and tag per release, then main.

    PRs become `refs/pull/<n>/head` (as forges expose them) on top of the latest release.
    """
    dest.mkdir(parents=True)
    git("init", "--quiet", "--initial-branch=main", cwd=dest)
    for release in spec.releases:
        note = release.change.note or "Upgrade upstream"
        _commit(dest, render_files(spec, release), f"chore: {note} ({release.upstream})", release)
        git("tag", "-a", release.tag, "-m", f"Release {release.tag}", cwd=dest, date=release.released)
    latest = spec.releases[-1]
    readme = dest / "README.md"
    readme.write_text(
        readme.read_text(encoding="utf-8") + "\nSee `abra recipe versions` for releases.\n", encoding="utf-8"
    )
    git("commit", "--quiet", "-am", "docs: mention abra recipe versions", cwd=dest, date=latest.released)
    for number, change in spec.prs.items():
        git("checkout", "--quiet", "--detach", latest.tag, cwd=dest)
        _commit(dest, render_files(spec, latest, change), f"feat: {change.note} (#{number})", latest)
        git("update-ref", f"refs/pull/{number}/head", "HEAD", cwd=dest)
        git("checkout", "--quiet", "main", cwd=dest)
    return dest


def tag_commit(repo: Path, ref: str) -> str:
    """The commit a tag or ref points at."""
    return git("rev-parse", f"{ref}^{{commit}}", cwd=repo).strip()
