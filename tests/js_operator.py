"""The operator with Element's crypto stack: tests/js/operator.mjs (matrix-js-sdk + Rust crypto) run
by Node, one JSON request per line. Every request carries a deadline on both sides; the process is
stopped by its PID. Without Node or without `npm ci` in tests/js the tests skip and say why."""

from __future__ import annotations

import itertools
import json
import os
import selectors
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

JS_DIR = Path(__file__).parent / "js"
SCRIPT = JS_DIR / "operator.mjs"
MARK = b"@@ccci "  # protocol lines; anything else on stdout is a library's log line


def skip_without_node() -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the E2EE tests drive matrix-js-sdk with it (scripts/test.sh installs it)")
    if not (JS_DIR / "node_modules" / "matrix-js-sdk").is_dir():
        pytest.skip("tests/js/node_modules is missing: run `npm ci` in tests/js (scripts/test.sh does)")


class JsError(AssertionError):
    """The Node side answered with an error (its stack is the message)."""


class JsOperator:
    """One Node process holding any number of named js-sdk clients."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        stderr = log_path.open("ab")
        self.proc = subprocess.Popen(
            ["node", str(SCRIPT)],
            cwd=JS_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
        )
        stderr.close()
        self.ids = itertools.count(1)
        self.selector = selectors.DefaultSelector()
        assert self.proc.stdout is not None
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.selector.register(self.proc.stdout, selectors.EVENT_READ)
        self.buffer = b""
        ready = self._read_answer(0, 60)
        assert ready.get("ready"), ready

    def call(self, op: str, timeout: float = 60.0, **args: Any) -> dict[str, Any]:
        """Send one request; the Node side gets the same deadline (timeout_ms) for its waits."""
        request_id = next(self.ids)
        args.setdefault("timeout_ms", int(timeout * 1000))
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"id": request_id, "op": op, "args": args}) + "\n").encode())
        self.proc.stdin.flush()
        return self._read_answer(request_id, timeout + 15)

    def _read_answer(self, request_id: int, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                if not line.startswith(MARK):
                    continue
                answer = json.loads(line[len(MARK) :])
                if answer.get("id") != request_id:
                    continue
                if not answer.get("ok"):
                    raise JsError(f"node operator: {answer.get('error')}")
                result = answer.get("result")
                assert isinstance(result, dict)
                return result
            left = deadline - time.monotonic()
            assert left > 0, f"node operator gave no answer within {timeout}s; stderr in {self.log_path}"
            assert self.proc.poll() is None, f"node operator exited {self.proc.returncode}; stderr in {self.log_path}"
            for key, _ in self.selector.select(min(left, 1.0)):
                chunk = key.fileobj.read()  # type: ignore[union-attr]
                if chunk:
                    self.buffer += chunk

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()  # the script stops its clients and exits
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.selector.close()
