"""Marks for the tests that need a real service, so `scripts/test.sh --fast` can leave them out.

A test that uses the `synapse` fixture is marked by conftest; these decorators mark (and skip, with the
reason, where the service cannot run here) the tests that start a private dockerd or a headless Chromium.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from demo.devserver.dockerd import dockerd_available

F = TypeVar("F", bound=Callable[..., Any])
DOCKERD_UNAVAILABLE = dockerd_available()


def needs_dockerd(test: F) -> F:
    skip = pytest.mark.skipif(DOCKERD_UNAVAILABLE is not None, reason=f"no private dockerd here: {DOCKERD_UNAVAILABLE}")
    return pytest.mark.dockerd(skip(test))  # type: ignore[no-any-return]
