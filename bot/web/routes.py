"""The evidence pages and the JSON API as one aiohttp application (read-only).

Every handler goes through :class:`bot.service.Service` or a worker thread for store and file work,
so a 1 GiB log or a slow disk never stalls the bot's event loop. Files are served only when they
belong to a run the store knows, and only the artifacts cc-ci writes (results, log, JUnit): the
recipe clone under ``abra/`` and anything else in a run dir stay private.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from aiohttp import web

from bot.answers.suggest import UnknownNameError
from bot.answers.why import cited_lines, run_evidence
from bot.artifacts.junit import JunitFile, tier_and_source
from bot.artifacts.layout import Layout, RunFile
from bot.artifacts.safeopen import open_regular
from bot.artifacts.served import ArtifactMissing, ArtifactRefused, run_files, served_file
from bot.masking import Masker, mask_content
from bot.model.records import EvidenceKind, RunRow
from bot.render import to_json
from bot.render.jsonview import history_json
from bot.render.reports import red_report_json, sweep_report_json
from bot.reruns.runlog import log_file
from bot.service import Service
from bot.store import Store
from bot.web import logview, pages
from bot.web.metrics import Metrics
from bot.web.security import apply_headers, security_middlewares

log = logging.getLogger(__name__)
T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RAW_BLOCK = 1 << 20
MAX_HISTORY = 50


class FileWork:
    """The pages' file work (counting and paging logs) on threads of its own, each job cancellable.

    Store queries (and so ``/healthz``) use the default executor, which big-log requests therefore
    never fill. A job stops at its next block when its request times out (``web.request_timeout_s``),
    when the client goes away (the handler is cancelled), or when the server shuts down.
    """

    def __init__(self, workers: int = 2) -> None:
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="ccci-pages")
        self.active: set[threading.Event] = set()

    async def run(self, timeout: float, fn: Callable[..., T], *args: Any) -> T:
        cancel = threading.Event()
        self.active.add(cancel)

        def job() -> T:
            with logview.cancellable(cancel):
                logview.check_cancel()  # abandoned while it waited for a thread
                return fn(*args)

        try:
            async with asyncio.timeout(timeout):
                return await asyncio.get_running_loop().run_in_executor(self.pool, job)
        except TimeoutError:
            raise web.HTTPServiceUnavailable(
                reason=f"this page took longer than {timeout:g} s (web.request_timeout_s); the work done is kept, "
                "so asking again continues it"
            ) from None
        finally:
            cancel.set()
            self.active.discard(cancel)

    def close(self) -> None:
        for cancel in list(self.active):
            cancel.set()
        self.pool.shutdown(wait=False, cancel_futures=True)


SERVICE: web.AppKey[Service] = web.AppKey("service", Service)
FILE_WORK: web.AppKey[FileWork] = web.AppKey("file_work", FileWork)
MASKER: web.AppKey[Masker] = web.AppKey("masker", Masker)
METRICS: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)


def make_app(service: Service, masker: Masker, metrics: Metrics | None = None) -> web.Application:
    """The pages, the API, ``/healthz`` and ``/metrics``; the caller may add the webhook routes."""
    app = web.Application(middlewares=[*security_middlewares(service.config.web.auth), _errors])
    app[SERVICE] = service
    app[MASKER] = masker
    app[METRICS] = metrics or Metrics(service.store)
    app[FILE_WORK] = FileWork()

    async def stop_file_work(app: web.Application) -> None:
        app[FILE_WORK].close()  # a shutdown does not wait for a GiB of counting

    app.on_shutdown.append(stop_file_work)
    app.add_routes(
        [
            web.get("/", index),
            web.get("/healthz", healthz),
            web.get("/metrics", metrics_view),
            web.get("/recipes/{recipe}", recipe),
            web.get("/known", known),
            web.get("/runs/{run_id}/", run_view),
            web.get("/runs/{run_id}", run_redirect),
            web.get("/runs/{run_id}/log", log_view),
            web.get("/reruns/{run_id}/log", rerun_log_view),
            web.get("/runs/{run_id}/junit/{name}", junit_view),
            web.get("/runs/{run_id}/{path:.+}", artifact_view),
            web.get("/api/recipes", api_recipes),
            web.get("/api/known", api_known),
            web.get("/api/summary", api_summary),
            web.get("/api/summary/{sweep}", api_summary),
            web.get("/api/why/{recipe}", api_why),
            web.get("/api/history/{recipe}", api_history),
            web.get("/api/report/sweep", api_sweep_report),
            web.get("/api/report/sweep/{sweep}", api_sweep_report),
            web.get("/api/report/red", api_red_report),
            web.get("/api/runs/{run_id}", api_run),
        ]
    )
    return app


# --- errors -----------------------------------------------------------------------------------------


def _wants_json(request: web.Request) -> bool:
    return request.path.startswith("/api/") or request.path in ("/healthz",)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Unknown names, refused paths and HTTP errors as a page (or JSON under /api), never a traceback."""
    try:
        return await handler(request)
    except UnknownNameError as exc:
        return _error(request, 404, str(exc), {"did_you_mean": exc.suggestions})
    except ArtifactMissing as exc:
        return _error(request, 404, exc.reason)
    except ArtifactRefused as exc:
        return _error(request, 403, exc.reason)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error(request, exc.status, exc.reason)


def _error(request: web.Request, status: int, message: str, extra: dict[str, Any] | None = None) -> web.Response:
    if _wants_json(request):
        return _json(request, {"error": message, **(extra or {})}, status)
    masked = request.app[MASKER].mask(pages.error_page(status, message))
    return web.Response(text=masked, content_type="text/html", status=status)


def _html(request: web.Request, body: str) -> web.Response:
    """A page, masked whole at the last step (names in links and titles included)."""
    response = web.Response(text=request.app[MASKER].mask(body), content_type="text/html", charset="utf-8")
    response.enable_compression()  # gzip when the client accepts it: pages are read on phones too
    return response


def _json(request: web.Request, data: Any, status: int = 200) -> web.Response:
    masker = request.app[MASKER]
    text = masker.mask(json.dumps(mask_content(masker, data), indent=2, ensure_ascii=False))
    return web.Response(text=text, content_type="application/json", charset="utf-8", status=status)


def _int(request: web.Request, name: str, default: int | None = None, low: int = 1, high: int = 10**12) -> int | None:
    raw = request.query.get(name)
    if raw in (None, ""):
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise web.HTTPBadRequest(reason=f"{name}: expected a whole number from {low} to {high}")
    return int(raw)


# --- pages ------------------------------------------------------------------------------------------


async def index(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    latest = await asyncio.to_thread(service.store.sweeps.latest_id)
    report = await service.sweep_report(latest) if latest else None
    return _html(request, pages.index_page(report))


async def healthz(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    try:
        runs = await service.status.run_count()
        last = await service.status.last_ingest()
    except Exception as exc:  # the store is unreadable: unhealthy, and say why
        return web.json_response({"ok": False, "error": str(exc)[:200]}, status=503)
    return web.json_response({"ok": True, "runs": runs, "last_ingest": last})


async def metrics_view(request: web.Request) -> web.Response:
    body, content_type = await asyncio.to_thread(request.app[METRICS].render)
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type
    return response


async def recipe(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    name = request.match_info["recipe"]
    why = await service.why(name)
    history = await service.history(name, _int(request, "n", 30, high=500) or 30)
    trail = await service.knowledge.trail(name)
    return _html(request, pages.recipe_page(why, history, request.app[MASKER], _layout(service), trail))


async def known(request: web.Request) -> web.Response:
    return _html(request, pages.known_page(await request.app[SERVICE].knowledge.known(), request.app[MASKER]))


async def _run(request: web.Request) -> RunRow:
    service = request.app[SERVICE]
    run_id = request.match_info["run_id"]
    row = await asyncio.to_thread(service.store.runs.get, run_id)
    if row is None:
        raise UnknownNameError("run", run_id, [])
    return row


async def _run_dir(request: web.Request, run_id: str) -> Path:
    service = request.app[SERVICE]
    row = await asyncio.to_thread(service.store.runs.get, run_id)
    directory = await asyncio.to_thread(service.store.runs.run_directory, run_id)
    if row is None or directory is None:
        raise UnknownNameError("run", run_id, [])
    if row.retired_at is not None:
        raise ArtifactMissing("the run's dir no longer exists (retired); its files are gone")
    return Path(directory)


def _layout(service: Service) -> Layout:
    return Layout.of(service.config.ccci)


async def run_redirect(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(f"{request.path}/")


def stored_junit(store: Store, run_id: str, relative: str) -> JunitFile:
    """A JUnit file as ingest read it (testcases, failure text, any problem), so a page costs a query
    instead of parsing a file that may be 100 MB."""
    tier, source = tier_and_source(PurePosixPath(relative).name)
    out = JunitFile(path=Path(relative), tier=tier, source=source)
    texts = {(f.tier, f.test): f for f in store.results.failures(run_id) if f.junit_file == relative}
    for case in store.results.testcases(run_id):
        if case.junit_file != relative:
            continue
        failure = texts.get((case.tier, case.name))
        if failure is not None:
            case = replace(case, message=failure.message, text=failure.text)
        out.tests.append(case)
    unreadable = EvidenceKind.JUNIT_UNREADABLE
    problems = [e.excerpt for e in store.results.evidence(run_id) if e.kind is unreadable and e.path == relative]
    if problems:
        out.problem = "; ".join(problems)
    elif not out.tests:
        out.problem = "no testcases were read from this file at ingest"
    return out


async def run_view(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    row = await _run(request)
    store = service.store
    tiers = await asyncio.to_thread(store.results.tiers, row.run_id)
    cases = await asyncio.to_thread(store.results.testcases, row.run_id)
    failures = await asyncio.to_thread(store.results.failures, row.run_id)
    verdict, evidence = await asyncio.to_thread(run_evidence, store, row.run_id)
    artifacts: list[tuple[str, int]] = []
    if row.retired_at is None:  # a retired run is history: its files are gone
        run_dir = await _run_dir(request, row.run_id)
        artifacts = await asyncio.to_thread(run_files, service.config.ccci, run_dir)
    page = pages.run_page(
        row, tiers, cases, failures, verdict, evidence, artifacts, request.app[MASKER], _layout(service)
    )
    return _html(request, page)


async def log_view(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICE]
    row = await _run(request)
    run_dir = await _run_dir(request, row.run_id)
    path = await asyncio.to_thread(served_file, service.config.ccci, run_dir, service.config.ccci.log_name)
    if request.query.get("raw"):
        return await _stream_masked(request, path)
    count = service.config.web.log_page_lines
    # the failure lines a reader wants to see first
    highlights = await asyncio.to_thread(cited_lines, service.store, row.run_id, service.config.ccci.log_name)
    line, start = _int(request, "line"), _int(request, "start")
    work, timeout = request.app[FILE_WORK], service.config.web.request_timeout_s
    if line is not None:
        page = await work.run(timeout, logview.page_around, path, line, count)
    elif start is not None:
        page = await work.run(timeout, logview.read_page, path, start, count)
    elif request.query.get("tail"):
        page = await work.run(timeout, logview.read_tail, path, count)
    elif highlights:  # open on the first failure line: the fragment makes the browser scroll to it
        first = min(highlights)
        raise web.HTTPFound(f"{pages.run_href(row.run_id, 'log')}?line={first}#L{first}")
    else:
        page = await work.run(timeout, logview.read_page, path, 1, count)
    return _html(request, pages.log_page(row.run_id, page, highlights, request.app[MASKER], count))


async def rerun_log_view(request: web.Request) -> web.StreamResponse:
    """A rerun's own log (its steps' output, data_dir/reruns) as it grows: the last page, refreshed by
    the browser every few seconds, so the link in the rerun's status message can be followed live."""
    service = request.app[SERVICE]
    run_id = request.match_info["run_id"]
    path = log_file(service.config.data_dir, run_id)
    if path is None:
        raise UnknownNameError("rerun", run_id[:80], [])
    count = service.config.web.log_page_lines
    try:
        page = await request.app[FILE_WORK].run(service.config.web.request_timeout_s, logview.read_tail, path, count)
    except FileNotFoundError:
        raise ArtifactMissing("no log for this rerun (not started, or rotated away)") from None
    return _html(request, pages.rerun_log_page(run_id, page, request.app[MASKER]))


async def junit_view(request: web.Request) -> web.StreamResponse:
    return await _junit(request, request.match_info["name"])


async def _junit(request: web.Request, name: str) -> web.StreamResponse:
    service = request.app[SERVICE]
    row = await _run(request)
    run_dir = await _run_dir(request, row.run_id)
    relative = _layout(service).junit(name)
    path = await asyncio.to_thread(served_file, service.config.ccci, run_dir, relative)
    if not name.endswith(".xml"):
        raise ArtifactRefused("only JUnit .xml files are served here")
    if request.query.get("raw"):
        return await _stream_masked(request, path)
    junit = await asyncio.to_thread(stored_junit, service.store, row.run_id, relative)
    return _html(request, pages.junit_page(row.run_id, name, junit, request.app[MASKER]))


async def artifact_view(request: web.Request) -> web.StreamResponse:
    """A run's file by its artifact path (the path evidence links carry): the log and JUnit get their
    pages, results.json is served as text; anything else in the run dir is not served."""
    service = request.app[SERVICE]
    relative = request.match_info["path"]
    kind = _layout(service).kind(relative)
    if kind is RunFile.LOG:
        return await log_view(request)
    if kind is RunFile.JUNIT:
        return await _junit(request, PurePosixPath(relative).name)
    row = await _run(request)
    run_dir = await _run_dir(request, row.run_id)
    path = await asyncio.to_thread(served_file, service.config.ccci, run_dir, relative)
    if kind is not RunFile.RESULTS:
        raise ArtifactRefused("only the run's results, log and JUnit files are served")
    return await _stream_masked(request, path)


async def _blocks(path: Path) -> AsyncIterator[bytes]:
    """The file in blocks that end at a line break, so a secret is never split across two blocks."""
    handle = await asyncio.to_thread(open_regular, path)
    try:
        carry = b""
        while True:
            block = await asyncio.to_thread(handle.read, RAW_BLOCK)
            if not block:
                if carry:
                    yield carry
                return
            block = carry + block
            cut = block.rfind(b"\n") + 1
            if cut == 0 and len(block) < 8 * RAW_BLOCK:
                carry = block
                continue
            cut = cut or len(block)
            carry = block[cut:]
            yield block[:cut]
    finally:
        await asyncio.to_thread(handle.close)


async def _stream_masked(request: web.Request, path: Path) -> web.StreamResponse:
    """A file as text/plain (never rendered by the browser), secrets masked, streamed in blocks."""
    masker = request.app[MASKER]
    response = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
    apply_headers(response)  # sent by prepare(), before the headers middleware could add them
    await response.prepare(request)
    async for block in _blocks(path):
        text = block.decode("utf-8", errors="replace")
        await response.write(masker.mask(text).encode("utf-8"))
    await response.write_eof()
    return response


# --- API: the CLI's JSON ------------------------------------------------------------------------------


async def api_recipes(request: web.Request) -> web.Response:
    return _json(request, {"recipes": await request.app[SERVICE].recipes()})


async def api_known(request: web.Request) -> web.Response:
    return _json(request, to_json(await request.app[SERVICE].knowledge.known()))


async def api_summary(request: web.Request) -> web.Response:
    answer = await request.app[SERVICE].summary(request.match_info.get("sweep"))
    return _json(request, to_json(answer))


async def api_why(request: web.Request) -> web.Response:
    return _json(request, to_json(await request.app[SERVICE].why(request.match_info["recipe"])))


async def api_history(request: web.Request) -> web.Response:
    n = _int(request, "n", 10, high=MAX_HISTORY) or 10
    return _json(request, history_json(await request.app[SERVICE].history(request.match_info["recipe"], n)))


async def api_sweep_report(request: web.Request) -> web.Response:
    return _json(request, sweep_report_json(await request.app[SERVICE].sweep_report(request.match_info.get("sweep"))))


async def api_red_report(request: web.Request) -> web.Response:
    return _json(request, red_report_json(await request.app[SERVICE].red_report(time.time())))


async def api_run(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    row = await _run(request)
    store = service.store
    tiers = await asyncio.to_thread(store.results.tiers, row.run_id)
    failures = await asyncio.to_thread(store.results.failures, row.run_id)
    stored = await asyncio.to_thread(store.verdicts.get, row.run_id)
    verdict = stored.verdict if stored else None
    return _json(
        request,
        {
            "run_id": row.run_id,
            "recipe": row.recipe,
            "version": row.version,
            "kind": row.kind.value,
            "sweep_id": row.sweep_id,
            "status": row.status.value,
            "unverified": row.unverified,
            "started": row.started,
            "finished": row.finished,
            "tiers": {t.name: t.status.value for t in tiers},
            "failures": [{"tier": f.tier, "test": f.test, "message": f.message} for f in failures],
            "verdict": None
            if verdict is None
            else {"category": verdict.category, "confidence": verdict.confidence, "reason": verdict.reason},
        },
    )
