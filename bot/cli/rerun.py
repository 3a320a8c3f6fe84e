"""`ccci-bot rerun`: the same rerun as `!ccci rerun`, from the CI host's terminal, waiting for the result.

Exit codes: 0 the rerun ran (whatever its outcome); 2 invalid input; 3 the node stayed busy; 4 the
runner could not start, wrote no results, or its log or the store could not be written (a full disk).
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import asdict

from bot.config import Config
from bot.errors import BadInput
from bot.masking import Masker
from bot.model.reruns import NotifyKind, RerunState
from bot.reruns.manager import STORE_ERRORS, RerunManager
from bot.reruns.preflight import Node
from bot.service import Service
from bot.store.reruns import Rerun

EXIT_BUSY = 3
EXIT_RUNNER = 4


async def rerun_command(config: Config, recipe: str, version: str | None, times: int, as_json: bool) -> int:
    service = Service(config)
    masker = Masker.from_environment(config.secret_envs)
    try:
        await service.ingest()
        node = Node(config.ccci.active_dir, config.docker.base_url, config.docker.allowed_stacks)

        async def notify(rerun: Rerun, kind: NotifyKind, text: str) -> None:
            if kind is not NotifyKind.FINAL:
                print(masker.mask(text), file=sys.stderr)

        manager = RerunManager(service, node, notify, asyncio.Event())
        try:
            rerun, _, _ = await manager.request(recipe, version, times, "cli")
        except BadInput as exc:  # a RerunError or an unknown recipe
            print(f"ccci-bot: {exc}", file=sys.stderr)
            return 2
        try:
            ran = await manager.process(rerun)
            final = await asyncio.to_thread(manager.store.get, rerun.id)
        except STORE_ERRORS as exc:  # a full disk: say so, no traceback (the next bot start reports it)
            print(
                f"ccci-bot: rerun {rerun.id} could not be recorded: {exc} (is the data dir's disk full?)",
                file=sys.stderr,
            )
            return EXIT_RUNNER
        if as_json:
            print(
                masker.mask(
                    json.dumps(
                        {
                            "rerun_id": final.id,
                            "recipe": final.recipe,
                            "version": final.version,
                            "state": final.state,
                            "result": final.result,
                            "attempts": [asdict(a) for a in final.attempts],
                            "report": final.message,
                        },
                        indent=2,
                    )
                )
            )
        else:
            print(masker.mask(final.message))
        if final.state is RerunState.FAILED:
            return EXIT_BUSY
        return 0 if ran else EXIT_RUNNER
    finally:
        service.close()
