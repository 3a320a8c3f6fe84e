"""`ccci-bot doctor`: what still stands between this config and a working bot, one line per check.

A check is a small async function ``(Doctor) -> list[Result]``; :func:`all_checks` lists them in the
order they print. To add one, write the function (in :mod:`bot.doctor.local` or
:mod:`bot.doctor.matrix`, or a new module) and put it in that list. Checks only read: the doctor
never creates the store, never saves a session, never joins a room.
"""

from __future__ import annotations

from bot.doctor import local, matrix
from bot.doctor.result import Check, Doctor, Outcome, Result, healthy, to_json, to_text

__all__ = ["Check", "Doctor", "Outcome", "Result", "all_checks", "diagnose", "healthy", "to_json", "to_text"]


def all_checks() -> list[Check]:
    """The checks in the order they run and print."""
    return [
        local.config_valid,
        local.directories,
        local.knowledge,
        local.store,
        matrix.homeserver,
        matrix.login,
        matrix.rooms,
        matrix.e2ee,
        local.docker,
        local.probes,
        local.runner_steps,
        local.web_listen,
        local.webhook_secret,
        local.next_red_report,
    ]


async def diagnose(doctor: Doctor, checks: list[Check] | None = None) -> list[Result]:
    results: list[Result] = []
    try:
        for check in checks or all_checks():
            results.extend(await check(doctor))
    finally:
        if doctor.matrix is not None:
            await doctor.matrix.close()
    return results
