"""`ccci-bot demo`: the main job on generated sample data, with no external service.

Generates a cc-ci runs dir and warm dir (by really running the sample pytest suites), ingests them
into a fresh SQLite history, and prints what an operator would ask first: the sweep summary and
`why` for two red recipes — then, with a local Synapse, the same questions asked in a Matrix room.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from msgspec.structs import replace

from bot.config import Config, LinksConfig
from bot.config.values import UrlTemplate
from bot.render import reports as render
from bot.render import to_text
from bot.render.text import ingest_text
from bot.service import Service

MARKER = ".ccci-demo"
DEMO_WHY = ("discourse", "mumble")


def prepare_out(out: Path) -> None:
    """Start from an empty dir; only ever delete a dir this command made before."""
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise FileExistsError(f"{out} exists and was not made by `ccci-bot demo`; choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("made by ccci-bot demo; safe to delete\n")


def demo_config(base: Config, out: Path, runs_dir: Path, warm_dir: Path) -> Config:
    return replace(
        base,
        ccci=replace(base.ccci, runs_dir=runs_dir, warm_dir=warm_dir, active_dir=out / "active"),
        data_dir=out / "state",
        links=LinksConfig(base_url=UrlTemplate(f"file://{runs_dir.resolve()}/{{run_id}}/{{path}}")),
    )


async def _main_job(config: Config) -> None:
    service = Service(config)
    try:
        print("== ccci-bot ingest")
        print(ingest_text(await service.ingest()))
        print("\n== ccci-bot report sweep   (what the ops room is told when a sweep finishes)")
        report = await service.sweep_report()
        print(render.whole(render.headline(report), render.details(report, config.reports.flip_window)).text)
        for recipe in DEMO_WHY:
            print(f"\n== ccci-bot why {recipe}")
            print(to_text(await service.why(recipe)))
    finally:
        service.close()


def run_demo(out: Path, base: Config, chat: bool = True, keep: bool = False) -> int:
    from demo.sample.generate import generate

    out = out.resolve()
    try:
        prepare_out(out)
    except FileExistsError as exc:
        print(f"ccci-bot demo: {exc}")
        return 2
    print(f"== generating sample cc-ci data in {out} (really running the sample pytest tiers)")
    data = generate(out / "cc-ci")
    config = demo_config(base, out, data.runs_dir, data.warm_dir)
    asyncio.run(_main_job(config))
    if chat:
        from demo.demo_chat import chat_demo, synapse_available

        if synapse_available():
            asyncio.run(chat_demo(config, out, keep, data))
        else:
            print("\n(matrix-synapse is not installed, so the chat part is skipped: pip install -e '.[demo]')")
    print(
        f"\nSample data and history are in {out}; try: ccci-bot --runs-dir {data.runs_dir} "
        f"--warm-dir {data.warm_dir} --data-dir {out / 'state'} why mattermost-lts"
    )
    return 0
