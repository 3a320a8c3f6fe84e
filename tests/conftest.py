"""Shared fixtures: one generated cc-ci world per session (made by really running pytest tiers)."""

from __future__ import annotations

import fcntl
import os
import pickle
import shutil
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from msgspec.structs import replace

from bot.config import Config, LinksConfig
from bot.store import Store
from demo.devserver.synapse import LocalSynapse
from demo.sample.generate import GeneratedData, generate

NOW = datetime(2026, 6, 18, 12, 0, tzinfo=UTC)
BASE_URL = "https://ci.example.org/runs/{run_id}/{path}"
SERVICE_MARKS = ("dockerd", "synapse", "browser", "registry")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the real Synapse is marked `synapse`, so the fast tier (`-m "not synapse …"`) skips it."""
    for item in items:
        if "synapse" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.synapse)


class OffMachine(BaseException):  # not an Exception: no `except Exception` in the bot may hide it
    """A probe asked a host that is not this machine: tests send traffic to 127.0.0.1 only."""


@pytest.fixture(autouse=True, scope="session")
def probes_ask_loopback_only() -> Iterator[None]:
    """Every request a probe makes goes through ``bot.probes.http.request``: here it may reach loopback only.

    The sample world names real registries (ghcr.io, …); a test that enabled the probes on it by mistake
    fails here instead of sending a request off the machine."""
    from urllib.parse import urlsplit

    import bot.probes.http as probe_http

    real = probe_http.request

    def loopback_only(method: str, url: str, headers: Mapping[str, str], timeout: float) -> probe_http.Answer:
        host = urlsplit(url).hostname
        if host not in probe_http.LOOPBACK:
            raise OffMachine(f"a probe tried {method} {url}: tests ask 127.0.0.1 only")
        return real(method, url, headers, timeout)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(probe_http, "request", loopback_only)
        yield


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> GeneratedData:
    """The sample world, made once per pytest run even when pytest-xdist splits it over workers.

    Making it is ~15 s of CPU (real pytest tiers for 41 runs), so the first worker makes it under a
    lock in the run's shared base temp dir and the others load what it saved.
    """
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # each worker's base is <run's base>/popen-gwN
    return _made_once(base / "sample")


def _made_once(dest: Path) -> GeneratedData:
    with open(dest.with_name("sample.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        saved = dest.with_name("sample.pickle")
        if saved.exists():
            data: GeneratedData = pickle.loads(saved.read_bytes())
            return data
        data = generate(dest, now=NOW)
        saved.write_bytes(pickle.dumps(data))
        return data


@dataclass
class Site:
    """A private copy of the sample runs/warm dirs, a config pointing at it, and a fresh store."""

    runs_dir: Path
    warm_dir: Path
    config: Config
    store: Store


def _tree(root: Path) -> frozenset[tuple[str, int, int, int, int]]:
    """Every entry under ``root`` by path, mode, size, inode and mtime: what any write would change."""
    top = os.lstat(root)
    entries = [(".", top.st_mode, 0, top.st_ino, top.st_mtime_ns)]  # an entry added and taken away again
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            size = 0 if stat.S_ISDIR(st.st_mode) else st.st_size  # a dir's size is the file system's business
            entries.append((os.path.relpath(path, root), st.st_mode, size, st.st_ino, st.st_mtime_ns))
    return frozenset(entries)


@pytest.fixture(scope="session")
def sample_tree(sample: GeneratedData) -> frozenset[tuple[str, int, int, int, int]]:
    return _tree(sample.runs_dir) | _tree(sample.warm_dir)


@pytest.fixture
def site(
    request: pytest.FixtureRequest,
    sample: GeneratedData,
    sample_tree: frozenset[tuple[str, int, int, int, int]],
    tmp_path: Path,
) -> Iterator[Site]:
    """The sample world with a fresh store and config; its runs and warm dirs are shared unless the test is
    marked ``writes_runs``, which gets its own copy.

    Copying the world is ~0.1 s of CPU, and most tests only read it. A test that writes into the shared
    dirs without the mark fails at teardown with a message saying so, so no test sees another's writes
    unannounced. Tests of the full suite's services (dockerd, Synapse, Chromium) get a copy too: they
    are slow anyway, and a real rerun on a stack writes its run dir.
    """
    writes = any(request.node.get_closest_marker(m) for m in ("writes_runs", *SERVICE_MARKS))
    if writes:
        runs_dir, warm_dir = tmp_path / "runs", tmp_path / "warm"
        shutil.copytree(sample.runs_dir, runs_dir, symlinks=True)  # copy2 keeps mtimes: runs stay "settled"
        shutil.copytree(sample.warm_dir, warm_dir)
    else:
        runs_dir, warm_dir = sample.runs_dir, sample.warm_dir
    (tmp_path / "active").mkdir()
    config = Config(data_dir=tmp_path / "state", links=LinksConfig(BASE_URL)).with_overrides(
        runs_dir=runs_dir, warm_dir=warm_dir
    )
    config = replace(config, ccci=replace(config.ccci, active_dir=tmp_path / "active"))
    store = Store(config.db_path)
    yield Site(runs_dir, warm_dir, config, store)
    store.close()
    if not writes and _tree(runs_dir) | _tree(warm_dir) != sample_tree:
        pytest.fail(
            f"{request.node.nodeid} wrote into the shared sample world ({runs_dir.parent}); "
            "mark it @pytest.mark.writes_runs to give it its own copy",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSynapse]:
    """A real Synapse on 127.0.0.1 (relaxed rate limits), shared by the Matrix tests."""
    pytest.importorskip("synapse", reason="matrix-synapse is not installed (pip install -e '.[test]')")
    server = LocalSynapse(tmp_path_factory.mktemp("synapse"))
    server.start()
    yield server
    server.stop()
