"""Steps that run as systemd units, and stopping those units when a step is cancelled or times out.

On the cc-ci host each step is ``systemd-run --wait --unit=ccci-rerun-{run_id}-… -- …`` (deploy/
config.yaml): the work runs in the unit's cgroup, not in the bot's process group, so killing the
``systemd-run`` client leaves it running. The unit's name is read from the step's own argv (as
configured, placeholders filled in), and ``runner.unit_stop`` + the name is run as an argv list,
never through a shell. polkit's ``org.freedesktop.systemd1.manage-units`` rule for the bot's user
(deploy/50-ccci-bot.rules) allows stopping units as it allows starting them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path

STOP_TIMEOUT_S = 120.0  # systemd's own stop timeout is 90 s before it kills the unit's cgroup


def step_units(argv: Sequence[str]) -> list[str]:
    """The units a ``systemd-run`` step names with ``--unit=NAME``, ``--unit NAME`` or ``-u NAME``.

    Only options before ``--`` (the command's own arguments are not systemd-run's); none for a
    step that is not ``systemd-run``.
    """
    if not argv or Path(argv[0]).name != "systemd-run":
        return []
    units: list[str] = []
    args = list(argv[1:])
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg.startswith("--unit="):
            units.append(arg.removeprefix("--unit="))
        elif arg in ("--unit", "-u") and i + 1 < len(args):
            units.append(args[i + 1])
    return [u for u in units if u and not u.startswith("-")]


async def stop_units(command: Sequence[str], units: list[str], env: Mapping[str, str]) -> str:
    """Run ``command + units`` (bounded in time); what happened, in words, for the rerun's log."""
    if not command or not units:
        return ""
    argv = [*command, *units]
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            env=dict(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
    except OSError as exc:
        return f"could not stop {', '.join(units)}: {argv[0]}: {exc.strerror or exc}"
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), STOP_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return f"{' '.join(argv)}: no answer within {STOP_TIMEOUT_S:.0f} s"
    said = out.decode("utf-8", "replace").strip()[:500]
    return f"{' '.join(argv)}: exit {proc.returncode}" + (f" ({said})" if said else "")
