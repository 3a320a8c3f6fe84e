"""`ccci-bot web`: the evidence pages without chat, for people who want pages only.

The same application the bot serves, plus the scan every ``reports.poll_s`` so pages stay current.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from bot.backoff import sleep_unless
from bot.config import Config
from bot.masking import Masker
from bot.service import Service
from bot.web.metrics import Metrics
from bot.web.routes import make_app
from bot.web.server import start_server
from bot.web.warm import warm_logs

log = logging.getLogger(__name__)


async def run_web(config: Config, listen: str) -> int:
    service = Service(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    app = make_app(service, Masker.from_environment(config.secret_envs), Metrics(service.store))
    server = await start_server(app, listen, config.web)
    print(f"ccci-bot web: serving on http://{listen}/ (Ctrl-C stops)", flush=True)
    try:
        while not stop.is_set():
            try:
                report = await service.ingest()
                if report.ingested:
                    log.info("ingested %d new run(s)", len(report.ingested))
                    await warm_logs(service, report.ingested)
            except Exception:  # a broken scan must not take the pages down; the log says why
                log.exception("scan of %s failed", config.ccci.runs_dir)
            if await sleep_unless(stop, config.reports.poll_s):
                break
    finally:
        await server.cleanup()
        service.close()
    return 0
