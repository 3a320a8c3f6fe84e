"""The doctor's Matrix checks, over plain read-only client-server API calls.

Not through :mod:`bot.matrix.client` on purpose: the bot's connection saves its session and keeps a
device store, and the doctor must change nothing. Here a configured token or the bot's saved session
is only used for GETs; with a password alone the doctor logs in and logs that device out again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.backoff import Backoff
from bot.doctor.result import Doctor, Result
from bot.matrix.crosssign import Session, cross_signing_status
from bot.matrix.errors import REFUSALS
from bot.matrix.session import SESSION_FILE

TIMEOUT_S = 15
WHOAMI = "/_matrix/client/v3/account/whoami"
WHOAMI_TRIES, RETRY_MIN_S, RETRY_MAX_S = 3, 0.5, 2.0
NO_ANSWER = 0  # Reply.status when the request got no HTTP answer at all
# An initial sync that carries room membership only: enough to see invites.
_INVITES_FILTER = {
    "presence": {"types": []},
    "account_data": {"types": []},
    "room": {
        "timeline": {"limit": 0},
        "state": {"types": []},
        "ephemeral": {"types": []},
        "account_data": {"types": []},
    },
}


@dataclass
class Reply:
    status: int
    body: dict[str, Any]


class MatrixProbe:
    def __init__(self, homeserver: str) -> None:
        self.homeserver = homeserver
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S))
        self.token: str | None = None
        self.logout_after = False  # a device the doctor made itself is removed again

    async def call(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Reply:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.http.request(
            method, f"{self.homeserver}{path}", json=body, params=params, headers=headers
        ) as resp:
            try:
                data = await resp.json(content_type=None)
            except ValueError:
                data = {}
            return Reply(resp.status, data if isinstance(data, dict) else {})

    async def close(self) -> None:
        if self.logout_after and self.token:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):  # else the device stays: harmless
                await self.call("POST", "/_matrix/client/v3/logout", {})
        await self.http.close()


def _error(reply: Reply) -> str:
    if reply.status == NO_ANSWER:
        return f"no answer ({reply.body.get('error', '')})"
    return f"{reply.status} {reply.body.get('errcode', '')} {reply.body.get('error', '')}".strip()


def _transient(reply: Reply) -> bool:
    """The homeserver's (or a proxy's) moment, not a refusal: no answer, 5xx or 429 — as the bot's login
    tells them apart (:mod:`bot.matrix.errors`)."""
    if reply.body.get("errcode") in REFUSALS or reply.status in (401, 403):
        return False
    return reply.status == NO_ANSWER or reply.status >= 500 or reply.status == 429


async def _answer(probe: MatrixProbe, method: str, path: str, body: Any = None) -> Reply:
    """The homeserver's answer; a :data:`NO_ANSWER` reply when there was none (refused, reset, timeout)."""
    try:
        return await probe.call(method, path, body)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return Reply(NO_ANSWER, {"error": str(exc) or type(exc).__name__})


async def _whoami(probe: MatrixProbe) -> Reply:
    """whoami with the probe's token, asked again a few times (with the bot's backoff) while the answer
    is transient: a blip of a second is not worth a failed check."""
    backoff = Backoff(RETRY_MIN_S, RETRY_MAX_S)
    reply = await _answer(probe, "GET", WHOAMI)
    for _ in range(WHOAMI_TRIES - 1):
        if not _transient(reply):
            break
        await asyncio.sleep(backoff.next_delay())
        reply = await _answer(probe, "GET", WHOAMI)
    return reply


def _unavailable(name: str, reply: Reply, how: str) -> Result:
    return Result.fail(
        name,
        f"whoami ({how}) got {_error(reply)} {WHOAMI_TRIES} times: the homeserver or a proxy in front of it"
        " is failing, not the token",
        "check the homeserver and any proxy in front of it (their logs), then run doctor again",
    )


async def homeserver(doctor: Doctor) -> list[Result]:
    name = "homeserver"
    if doctor.config is None or not doctor.config.matrix.homeserver:
        return [Result.skip(name, "no matrix.homeserver")]
    url = doctor.config.matrix.homeserver
    probe = MatrixProbe(url)
    try:
        reply = await probe.call("GET", "/_matrix/client/versions")
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        await probe.close()
        return [
            Result.fail(name, f"{url} unreachable: {exc or type(exc).__name__}", "check matrix.homeserver and DNS/TLS")
        ]
    if reply.status != 200 or "versions" not in reply.body:
        await probe.close()
        return [Result.fail(name, f"{url} is not a Matrix homeserver ({_error(reply)})", "check matrix.homeserver")]
    doctor.matrix = probe
    return [Result.ok(name, f"{url} answers (spec {', '.join(reply.body['versions'][-2:])})")]


def _saved_token(doctor: Doctor) -> str | None:
    """The token of the bot's saved session, if it has logged in before."""
    assert doctor.config is not None
    try:
        data = json.loads((doctor.config.data_dir / SESSION_FILE).read_text())
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and data.get("user_id") == doctor.config.matrix.user_id and data.get("access_token"):
        return str(data["access_token"])
    return None


async def login(doctor: Doctor) -> list[Result]:
    name = "login"
    probe: MatrixProbe | None = doctor.matrix
    if probe is None or doctor.config is None:
        return [Result.skip(name, "the homeserver was not reached")]
    matrix = doctor.config.matrix
    token_env = matrix.access_token_env
    how = ""
    if token_env and doctor.environ.get(token_env):
        probe.token, how = doctor.environ[token_env], f"token in ${token_env}"
    elif token_env and not matrix.password_env:
        return [Result.fail(name, f"${token_env} is not set", f"put {token_env}=… in the EnvironmentFile")]
    elif (saved := _saved_token(doctor)) is not None:
        probe.token, how = saved, "the bot's saved session"
    who: Reply | None = None
    refused = ""
    if probe.token is not None:
        who = await _whoami(probe)
        if _transient(who):
            return [_unavailable(name, who, how)]
        if who.status != 200:
            refused, who = f"{how} refused: {_error(who)}", None
    if who is None:
        probe.token = None
        doctor.bot_device = None
        password = doctor.environ.get(matrix.password_env or "")
        if not password:
            if refused:
                return [Result.fail(name, refused, "renew the access token (or set matrix.password_env)")]
            what = f"${matrix.password_env} is not set" if matrix.password_env else "no usable token"
            return [Result.fail(name, what, "put the secret in the EnvironmentFile (0600)")]
        reply = await _answer(
            probe,
            "POST",
            "/_matrix/client/v3/login",
            {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": matrix.user_id},
                "password": password,
                "initial_device_display_name": "ccci-bot doctor (logged out again)",
            },
        )
        if reply.status != 200:
            if _transient(reply):
                detail = f"password login got {_error(reply)}: the homeserver or a proxy in front of it is failing"
                return [Result.fail(name, detail, "check the homeserver and any proxy, then run doctor again")]
            return [Result.fail(name, f"password login refused: {_error(reply)}", f"check ${matrix.password_env}")]
        probe.token, probe.logout_after = str(reply.body["access_token"]), True
        how = f"password in ${matrix.password_env}"
        who = await _whoami(probe)
        if _transient(who):
            return [_unavailable(name, who, how)]
        if who.status != 200:
            return [Result.fail(name, f"whoami refused ({how}): {_error(who)}", "renew the access token")]
    if who.body.get("user_id") != matrix.user_id:
        return [
            Result.fail(
                name,
                f"{how} belongs to {who.body.get('user_id')}, not {matrix.user_id}",
                "use a token of the bot's account, or fix matrix.user_id",
            )
        ]
    doctor.logged_in = True
    if not probe.logout_after:  # a token of the bot's own device
        doctor.bot_device = str(who.body.get("device_id") or "") or None
    return [Result.ok(name, f"whoami is {matrix.user_id} ({how})")]


async def _resolve(probe: MatrixProbe, room: str) -> str | None:
    if room.startswith("!"):
        return room
    reply = await probe.call("GET", f"/_matrix/client/v3/directory/room/{quote(room, safe='')}")
    return str(reply.body["room_id"]) if reply.status == 200 and "room_id" in reply.body else None


async def _state(probe: MatrixProbe, room_id: str, event_type: str) -> Reply:
    return await probe.call("GET", f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/state/{event_type}")


def _post_level(levels: dict[str, Any], user_id: str) -> tuple[int, int]:
    """(the bot's level, the level m.room.message needs)."""
    users = levels.get("users") or {}
    mine = int(users.get(user_id, levels.get("users_default", 0)))
    events = levels.get("events") or {}
    needed = int(events.get("m.room.message", levels.get("events_default", 0)))
    return mine, needed


async def rooms(doctor: Doctor) -> list[Result]:
    """Each configured room (commands and reports): joined or joinable, and the bot may post there."""
    probe: MatrixProbe | None = doctor.matrix
    config = doctor.config
    if probe is None or config is None or not doctor.logged_in:
        return [Result.skip("rooms", "not logged in")]
    wanted = list(config.matrix.rooms)
    wanted += [r for r in config.reports.report_rooms(config.matrix.rooms) if r not in wanted]
    user_id = config.matrix.user_id or ""
    joined_reply = await probe.call("GET", "/_matrix/client/v3/joined_rooms")
    joined = set(joined_reply.body.get("joined_rooms") or [])
    params = {"timeout": "0", "filter": json.dumps(_INVITES_FILTER)}
    sync = await probe.call("GET", "/_matrix/client/v3/sync", params=params)
    invited = set((sync.body.get("rooms") or {}).get("invite") or {})
    results = []
    for room in wanted:
        role = "reports" if room not in config.matrix.rooms else "room"
        name = f"{role} {room}"
        room_id = await _resolve(probe, room)
        if room_id is None:
            results.append(Result.fail(name, "the alias does not resolve", "create the room or fix the alias"))
            continue
        if room_id in invited:
            results.append(Result.ok(name, "invited; the bot joins on start"))
            continue
        if room_id not in joined:
            rule = await _state(probe, room_id, "m.room.join_rules")
            if rule.status == 200 and rule.body.get("join_rule") == "public":
                results.append(Result.ok(name, "not joined; public, the bot joins on start"))
            else:
                results.append(
                    Result.fail(name, f"{user_id} is not in {room} and has no invite", f"invite {user_id} to {room}")
                )
            continue
        levels = await _state(probe, room_id, "m.room.power_levels")
        mine, needed = _post_level(levels.body, user_id) if levels.status == 200 else (0, 0)
        if mine < needed:
            results.append(
                Result.fail(
                    name,
                    f"joined, but power level {mine} < {needed} needed to post",
                    f"raise {user_id}'s power level in {room} to {needed}",
                )
            )
            continue
        if (await _state(probe, room_id, "m.room.encryption")).status == 200:
            doctor.encrypted_rooms.append(room)
        results.append(Result.ok(name, f"joined; may post (power level {mine} ≥ {needed})"))
    return results


async def e2ee(doctor: Doctor) -> list[Result]:
    """``matrix.e2ee`` against the rooms' encryption, and whether the bot's device is cross-signed.

    The device is the bot's own (its token's, or the saved session's); the doctor's temporary
    password-login device is never the one that matters. Before the bot's first start there is none.
    """
    name = "E2EE / cross-signing"
    probe: MatrixProbe | None = doctor.matrix
    if not doctor.logged_in or doctor.config is None or probe is None or probe.token is None:
        return [Result.skip(name, "not logged in")]
    matrix = doctor.config.matrix
    rooms = ", ".join(doctor.encrypted_rooms) or "none"
    if not matrix.e2ee:
        if doctor.encrypted_rooms:
            return [
                Result.fail(
                    name, f"encrypted rooms: {rooms}; matrix.e2ee is off, commands there are unseen", "set matrix.e2ee"
                )
            ]
        return [Result.ok(name, "matrix.e2ee off; no configured room is encrypted")]
    if doctor.bot_device is None:
        detail = f"matrix.e2ee on (encrypted rooms: {rooms}); cross-signing is checked once the bot has a device"
        return [Result.ok(name, detail + " (after its first start)")]
    session = Session(matrix.homeserver or "", matrix.user_id or "", doctor.bot_device, probe.token)
    try:
        signed, detail = await cross_signing_status(session)
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
        return [
            Result.fail(name, f"cross-signing state unreadable: {exc}", "check the homeserver, then run doctor again")
        ]
    if not signed:
        return [Result.fail(name, f"matrix.e2ee on (encrypted rooms: {rooms}); {detail.split(':', 1)[0]}", detail)]
    return [Result.ok(name, f"matrix.e2ee on (encrypted rooms: {rooms}); {detail}")]
