"""The doctor's checks of this machine: config, dirs, knowledge base, store, Docker, runner, HTTP port, schedule."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from bot.config import Config, ConfigError, load_config
from bot.doctor.result import Doctor, Result
from bot.kb import load_kb
from bot.kb.watch import FIX
from bot.reruns.preflight import Node, NodeUnreachable
from bot.schedule import parse_cron
from bot.store.check import inspect_file
from bot.store.errors import RESTORE_HINT, StoreError
from bot.store.schema import MIGRATIONS


def _skip_without_config(doctor: Doctor, name: str) -> list[Result] | None:
    return [Result.skip(name, "the config did not load")] if doctor.config is None else None


async def config_valid(doctor: Doctor) -> list[Result]:
    name = "config"
    try:
        config = load_config(doctor.config_path).with_overrides(**doctor.overrides)
    except ConfigError as exc:
        return [Result.fail(name, str(exc), "correct the key named; config.example.yaml documents every key")]
    doctor.config = config
    source = str(doctor.config_path) if doctor.config_path else "no file (defaults)"
    missing = config.matrix.missing()
    if missing:
        return [Result.fail(name, f"{source}: " + "; ".join(missing), "add the matrix keys `ccci-bot run` needs")]
    return [Result.ok(name, f"{source} is valid")]


def _readable_dir(path: Path) -> str | None:
    """None when the bot can list and read the dir; else what is wrong."""
    if not path.exists():
        return f"{path} does not exist"
    if not path.is_dir():
        return f"{path} is not a directory"
    if not os.access(path, os.R_OK | os.X_OK):
        return f"{path} is not readable by uid {os.getuid()}"
    return None


async def directories(doctor: Doctor) -> list[Result]:
    if (skipped := _skip_without_config(doctor, "dirs")) is not None:
        return skipped
    config = doctor.config
    assert config is not None
    results = []
    for key, path, fix in (
        ("ccci.runs_dir", config.ccci.runs_dir, "point ccci.runs_dir at cc-ci's runs dir; give the bot read access"),
        ("ccci.warm_dir", config.ccci.warm_dir, "point ccci.warm_dir at cc-ci's warm dir; give the bot read access"),
        (
            "ccci.active_dir",
            config.ccci.active_dir,
            "point ccci.active_dir at cc-ci's in-flight markers: without it a rerun cannot tell a busy node",
        ),
    ):
        problem = _readable_dir(path)
        results.append(Result.fail(key, problem, fix) if problem else Result.ok(key, f"{path} readable"))
    data = config.data_dir
    target = data if data.exists() else data.parent
    if data.exists() and not data.is_dir():
        results.append(Result.fail("data_dir", f"{data} is not a directory", "set data_dir to a directory"))
    elif not os.access(target, os.W_OK | os.X_OK):
        what = data if data.exists() else f"{data.parent} (to create {data.name})"
        results.append(
            Result.fail("data_dir", f"{what} is not writable by uid {os.getuid()}", "chown it to the bot's user")
        )
    else:
        results.append(Result.ok("data_dir", f"{data} writable"))
    return results


async def knowledge(doctor: Doctor) -> list[Result]:
    """Every signature loads: a bad one (a pattern RE2 cannot run, bad YAML, …) is skipped by the bot."""
    if (skipped := _skip_without_config(doctor, "knowledge")) is not None:
        return skipped
    assert doctor.config is not None
    dirs = doctor.config.knowledge.dirs

    def load() -> tuple[int, list[str]]:
        kb = load_kb(dirs)
        return len(kb.signatures), kb.problems

    count, problems = await asyncio.to_thread(load)
    if not problems:
        return [Result.ok("knowledge", f"{count} signatures load ({len(dirs)} dir(s) of your own)")]
    fix = f"{FIX}; a starting bot skips it, a running one keeps the knowledge base it has"
    return [Result.warn("knowledge", problem, fix) for problem in problems]


async def store(doctor: Doctor) -> list[Result]:
    if (skipped := _skip_without_config(doctor, "store")) is not None:
        return skipped
    assert doctor.config is not None
    path = doctor.config.db_path
    latest = len(MIGRATIONS)
    if not path.exists():
        return [Result.ok("store", f"{path} not created yet; the bot creates it (schema v{latest}) on first start")]
    try:
        seen = await asyncio.to_thread(inspect_file, path)
    except StoreError as exc:
        return [Result.fail("store", f"{path}: {exc}", RESTORE_HINT)]
    version = seen.version
    if seen.integrity != "ok":
        return [Result.fail("store", f"{path}: quick_check says {seen.integrity}", RESTORE_HINT)]
    if version > latest:
        return [
            Result.fail(
                "store", f"schema v{version} is newer than this bot (v{latest})", "upgrade ccci-bot, or restore"
            )
        ]
    if seen.drift:
        detail = f"{path}: schema v{version} is not what its migrations define ({seen.drift.describe()})"
        return [Result.fail("store", detail, seen.drift.fix)]
    if version < latest:
        detail = f"integrity ok; schema v{version}, migrated to v{latest} on start (backed up first)"
        return [Result.ok("store", detail)]
    return [Result.ok("store", f"integrity ok; schema v{version} (current)")]


async def docker(doctor: Doctor) -> list[Result]:
    if (skipped := _skip_without_config(doctor, "docker")) is not None:
        return skipped
    config = doctor.config
    assert config is not None
    if config.docker.base_url is None:
        return [Result.ok("docker", "not configured (docker.base_url: null): reruns look at ccci.active_dir only")]
    node = Node(config.ccci.active_dir, config.docker.base_url, config.docker.allowed_stacks)
    try:
        version = await asyncio.to_thread(node.engine_version)
    except NodeUnreachable as exc:
        return [
            Result.fail(
                "docker",
                str(exc),
                "add the bot's user to the docker group (root-equivalent; see docs/deployment.md) "
                "or set docker.base_url",
            )
        ]
    return [Result.ok("docker", f"engine {version} at {config.docker.base_url}")]


async def probes(doctor: Doctor) -> list[Result]:
    """The registry probe's credentials: read as the probe reads them (no registry is asked from here)."""
    if (skipped := _skip_without_config(doctor, "probes")) is not None:
        return skipped
    assert doctor.config is not None
    config = doctor.config.probes
    if not config.enabled:
        return [Result.ok("probes", "off (probes.enabled: false): an image-gone verdict waits for a rerun")]
    from bot.probes.dockerauth import default_path, read_docker_auth

    path = config.docker_config or default_path(doctor.environ)
    auth = await asyncio.to_thread(read_docker_auth, path)
    if auth.problem:
        return [
            Result.warn("probes", f"{path}: {auth.problem}", "fix the file; meanwhile registries are asked anonymously")
        ]
    if auth.helpers:
        detail = f"{path} names {' and '.join(auth.helpers)}, which the probe does not run"
        return [
            Result.warn("probes", detail, "add `auths` entries with base64 `auth` for the registries that need a login")
        ]
    hosts = ", ".join(sorted(auth.auths)) or "none: registries are asked anonymously"
    return [Result.ok("probes", f"registry probe on; logins from {path}: {hosts}")]


def _find_executable(program: str, cwd: Path | None, path_var: str | None) -> str | None:
    if "/" in program:
        candidate = (cwd or Path.cwd()) / program
        return str(candidate) if os.access(candidate, os.X_OK) and candidate.is_file() else None
    return shutil.which(program, path=path_var)


async def runner_steps(doctor: Doctor) -> list[Result]:
    if (skipped := _skip_without_config(doctor, "runner")) is not None:
        return skipped
    runner = doctor.config.runner if doctor.config else None
    assert runner is not None
    results = []
    for i, step in enumerate(runner.steps, start=1):
        name = f"runner.steps[{i}]"
        found = _find_executable(step[0], runner.cwd, doctor.environ.get("PATH"))
        if found is None:
            where = f" (relative to runner.cwd {runner.cwd})" if "/" in step[0] else " on PATH"
            results.append(
                Result.fail(name, f"{step[0]} not found{where}", "install it, or fix runner.steps / runner.cwd")
            )
        else:
            results.append(Result.ok(name, f"{step[0]} → {found}"))
    return results


async def _healthz(address: str) -> bool:
    """Whether a ccci-bot answers on ``address`` (the running bot holds the port we want)."""
    timeout = aiohttp.ClientTimeout(total=5)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.get(f"http://{address}/healthz") as resp,
        ):
            return resp.status == 200 and "ok" in (await resp.text())
    except (aiohttp.ClientError, TimeoutError):
        return False


async def web_listen(doctor: Doctor) -> list[Result]:
    if (skipped := _skip_without_config(doctor, "web.listen")) is not None:
        return skipped
    assert doctor.config is not None
    listen = doctor.config.web.listen
    if listen is None:
        return [Result.ok("web.listen", "not set: no pages, no webhook")]
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    try:
        infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
        family, _, _, _, address = infos[0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind(address)
    except OSError as exc:
        if await _healthz(listen):
            return [Result.ok("web.listen", f"{listen} is served by a running ccci-bot")]
        return [Result.fail("web.listen", f"cannot bind {listen}: {exc.strerror or exc}", "choose a free host:port")]
    return [Result.ok("web.listen", f"{listen} can be bound")]


async def webhook_secret(doctor: Doctor) -> list[Result]:
    if (skipped := _skip_without_config(doctor, "webhook")) is not None:
        return skipped
    config: Config = doctor.config  # type: ignore[assignment]
    env = config.reports.webhook_secret_env
    if not env:
        return [Result.ok("webhook", "not configured (reports.webhook_secret_env unset); scans every reports.poll_s")]
    if not doctor.environ.get(env):
        return [Result.fail("webhook", f"${env} is not set or empty", f"put {env}=… in the EnvironmentFile")]
    if config.web.listen is None:
        return [Result.fail("webhook", "web.listen is not set; nothing serves the hook", "set web.listen")]
    return [Result.ok("webhook", f"secret in ${env}; POST /hooks/run-finished on {config.web.listen}")]


async def next_red_report(doctor: Doctor) -> list[Result]:
    if (skipped := _skip_without_config(doctor, "red report")) is not None:
        return skipped
    assert doctor.config is not None
    reports = doctor.config.reports
    now = datetime.now(UTC)
    due = parse_cron(reports.cron, reports.timezone).get_next_fire_time(None, now)
    if due is None:
        return [Result.fail("red report", f"{reports.cron!r} never fires", "fix reports.cron")]
    hours = (due - now).total_seconds() / 3600
    return [Result.ok("red report", f"next due {due.isoformat(timespec='minutes')} (in {hours:.1f} h)")]
