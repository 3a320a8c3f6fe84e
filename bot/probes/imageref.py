"""Image references read the way Docker reads them, and found in failure text.

Docker's grammar (the distribution project's ``reference`` package): ``[domain/]path[:tag][@digest]``.
The first component is a registry host only when it has a ``.`` or a ``:``, is ``localhost``, or has an
upper-case letter; otherwise the image is on Docker Hub (``docker.io``), and a one-component Hub name is
an official image under ``library/``. ``index.docker.io`` is ``docker.io``, whose API is served at
``registry-1.docker.io``. Path components are lower case; a tag is ``[\\w][\\w.-]{0,127}``; a digest is
``algorithm:hex`` (at least 32 hex digits).

A failure names an image in a few shapes (docker, swarm, containerd): :func:`named_in` finds the refs
with an explicit tag or digest there, never guessing ``latest``. A digest that swarm cut short
(``…:0.4.182@sha256:6e1f``) is dropped and the tag kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.linear_regex import linear

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
LEGACY_HUB = "index.docker.io"
MAX_NAME = 255  # Docker refuses longer repository names

_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = linear(rf"{_LABEL}(?:\.{_LABEL})*(?::[0-9]+)?")
_COMPONENT = linear(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = linear(r"[\w][\w.-]{0,127}")
_DIGEST = linear(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")

# Where a failure names an image that could not be had. Each alternative captures one candidate ref;
# the candidates are then parsed like Docker does and kept only with an explicit tag or digest.
_REF = r"[A-Za-z0-9][A-Za-z0-9._/:@+-]*"
_NAMED = linear(
    rf"manifest for ({_REF}) not found"  # docker pull, swarm tasks: "manifest for X not found: manifest unknown"
    rf"|failed to resolve reference \"({_REF})\""  # containerd
    rf"|({_REF}): (?:manifest unknown|not found)"  # "X: not found", "X: manifest unknown"
    rf"|No such image: ({_REF})"  # swarm tasks, docker inspect
)


@dataclass(frozen=True)
class ImageRef:
    """A parsed image reference, normalised as Docker normalises it."""

    domain: str  # "docker.io", "ghcr.io", "127.0.0.1:5000"
    path: str  # "library/nginx", "bluesky-social/pds"
    tag: str | None
    digest: str | None

    @property
    def reference(self) -> str:
        """What the manifest is asked by: the digest when there is one (a pull by digest ignores the tag)."""
        return self.digest or self.tag or "latest"

    @property
    def api_host(self) -> str:
        """Where the v2 API is served."""
        return DOCKER_HUB_API if self.domain == DOCKER_HUB else self.domain

    def __str__(self) -> str:
        return (
            f"{self.domain}/{self.path}"
            + (f":{self.tag}" if self.tag else "")
            + (f"@{self.digest}" if self.digest else "")
        )


def parse_ref(text: str) -> ImageRef | None:
    """``text`` as Docker would read an image reference; None when Docker would refuse it."""
    name, at, digest = text.partition("@")
    if at and not _DIGEST.fullmatch(digest):
        return None
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = None
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.fullmatch(tag):
            return None
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.lower() != first):
        domain, path = first, rest
        if not _DOMAIN.fullmatch(domain):
            return None
    else:
        domain, path = DOCKER_HUB, name
    if domain == LEGACY_HUB:
        domain = DOCKER_HUB
    if domain == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if not path or len(path) > MAX_NAME or not all(_COMPONENT.fullmatch(c) for c in path.split("/")):
        return None
    return ImageRef(domain, path, tag, digest or None)


def named_in(text: str) -> list[ImageRef]:
    """The images a failure text says could not be had, each once, in the order named; only refs with an
    explicit tag or digest (a bare name is not guessed to mean ``latest``)."""
    found: dict[str, ImageRef] = {}
    for m in _NAMED.finditer(text):
        candidate = next(g for g in (m[1], m[2], m[3], m[4]) if g).rstrip(".:/@-")
        ref = parse_ref(candidate)
        if ref is None and "@" in candidate:  # a digest cut short (swarm's table): the tag is still whole
            ref = parse_ref(candidate.split("@", 1)[0])
        if ref is not None and (ref.tag or ref.digest):
            found.setdefault(str(ref), ref)
    return list(found.values())
