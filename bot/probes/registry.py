"""The registry probe: is the image tag a failure says is gone really not in its registry?

One ``HEAD /v2/<name>/manifests/<tag>`` (the registry HTTP API v2, as ``docker manifest inspect``
asks it), accepting Docker's manifest v2 and manifest list and OCI's manifest and index, so the answer
is about the tag, not about a format. 200 is present; 404 from a registry (it says
``Docker-Distribution-Api-Version``, or answers ``/v2/``) is absent. A 401 is answered as Docker
answers it: a ``Bearer`` challenge (Docker Hub, ghcr.io, a distribution registry with token auth)
gets a token from the challenge's realm for ``repository:<name>:pull``, sent the node's credentials
when it has some for that registry; a ``Basic`` challenge gets the credentials themselves. What
cannot be asked, or is refused, is a finding too: it changes no verdict.

Registries are asked over https, except those listed as insecure (``probes.insecure_registries``,
as Docker's ``insecure-registries``: a local registry speaks plain http). Credentials go only to the
registry they are for and to the token realm it names, and never over plain http unless that host is
listed as insecure.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from bot.linear_regex import linear
from bot.model.records import Category
from bot.probes import http
from bot.probes.dockerauth import Credentials, DockerAuth, read_docker_auth
from bot.probes.imageref import ImageRef, named_in, parse_ref
from bot.probes.records import Clue, Finding, Outcome, ProbeName, Subject

MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
)
ACCEPT = ", ".join(MANIFEST_TYPES)
MAX_SUBJECTS_PER_CLUE = 4  # a text naming more images than this is not a pull failure of one recipe

_PARAM = linear(r"([A-Za-z0-9_-]+)=(?:\"([^\"]*)\"|([^,\s]*))")


@dataclass(frozen=True)
class Challenge:
    """A ``WWW-Authenticate`` header: its scheme (lower case) and parameters."""

    scheme: str
    params: dict[str, str]


def parse_challenge(header: str) -> Challenge:
    scheme, _, rest = header.strip().partition(" ")
    params = {m[1].lower(): m[2] if m[2] is not None else m[3] for m in _PARAM.finditer(rest)}
    return Challenge(scheme.lower(), params)


class RegistryProbe:
    """Looks image tags up in their registries (see the module's docstring)."""

    name = ProbeName.REGISTRY
    categories = frozenset({Category.UPSTREAM_DEFECT})

    def __init__(self, docker_config: Path, insecure: Sequence[str] = ()) -> None:
        self.docker_config = docker_config
        self.insecure = frozenset(h.lower() for h in insecure)

    def scheme(self, host: str) -> str:
        return "http" if host.lower() in self.insecure else "https"

    def manifest_url(self, ref: ImageRef) -> str:
        return f"{self.scheme(ref.api_host)}://{ref.api_host}/v2/{ref.path}/manifests/{ref.reference}"

    def subjects(self, clue: Clue) -> list[Subject]:
        return [
            Subject(self.name, str(ref), ref.domain, self.manifest_url(ref))
            for ref in named_in(clue.text)[:MAX_SUBJECTS_PER_CLUE]
        ]

    def check(self, subject: Subject, timeout: float) -> Finding:
        ref = parse_ref(subject.name)
        if ref is None:  # a subject is made from a parsed ref: this is a bug, said as a finding
            return Finding(subject, Outcome.UNREACHABLE, f"{subject.name} is not an image reference", time.time())
        return _Check(self, ref, subject, read_docker_auth(self.docker_config), time.monotonic() + timeout).run()


class _Check:
    """One look-up: the HEAD, and the challenge it may take to get an answer."""

    def __init__(self, probe: RegistryProbe, ref: ImageRef, subject: Subject, auth: DockerAuth, deadline: float):
        self.probe = probe
        self.ref = ref
        self.subject = subject
        self.auth = auth
        self.creds = auth.for_host(ref.domain)
        self.deadline = deadline
        self.how = "anonymously"

    def run(self) -> Finding:
        try:
            first = self._head({})
            answer = self._authenticated(first) if first.status == 401 else first
            return answer if isinstance(answer, Finding) else self._finding(answer)
        except http.NoAnswer as exc:
            return self._said(Outcome.UNREACHABLE, f"could not be checked: {self.ref.api_host} did not answer ({exc})")

    def _request(self, method: str, url: str, headers: dict[str, str]) -> http.Answer:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise http.NoAnswer("the probe's time ran out")
        return http.request(method, url, headers, left)

    def _head(self, headers: dict[str, str]) -> http.Answer:
        return self._request("HEAD", self.subject.url, {"Accept": ACCEPT, **headers})

    def _authenticated(self, first: http.Answer) -> http.Answer | Finding:
        challenge = parse_challenge(first.headers.get("www-authenticate", ""))
        if challenge.scheme == "bearer" and challenge.params.get("realm"):
            token = self._token(challenge)
            if isinstance(token, Finding):
                return token
            return self._head({"Authorization": f"Bearer {token}"})
        if challenge.scheme == "basic":
            if self.creds is None:
                return self._refused(first.status, "the registry asks for credentials")
            if not self._may_send_to(self.subject.url):
                return self._refused(first.status, "credentials are not sent over plain http")
            self.how = f"with the node's credentials for {self.ref.domain}"
            return self._head({"Authorization": self.creds.basic()})
        return self._refused(first.status, f"the registry asks for {challenge.scheme or 'an unknown'} authentication")

    def _token(self, challenge: Challenge) -> str | Finding:
        realm = challenge.params["realm"]
        scope = challenge.params.get("scope") or f"repository:{self.ref.path}:pull"
        query = {
            "scope": scope,
            **({"service": challenge.params["service"]} if challenge.params.get("service") else {}),
        }
        url = realm + ("&" if "?" in realm else "?") + urlencode(query)
        headers: dict[str, str] = {}
        creds: Credentials | None = self.creds if self._may_send_to(realm) else None
        if creds is not None:
            headers["Authorization"] = creds.basic()
            self.how = f"with a token for the node's credentials for {self.ref.domain}"
        else:
            self.how = "with an anonymous token"
        answer = self._request("GET", url, headers)
        if answer.status != 200:
            if answer.status in (401, 403):
                return self._refused(answer.status, f"the token service {_host(realm)} refused")
            return self._said(
                Outcome.UNREACHABLE, f"could not be checked: the token service {_host(realm)} answered {answer.status}"
            )
        try:
            body = json.loads(answer.body)
            token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        except (ValueError, UnicodeDecodeError):
            token = None
        if not isinstance(token, str) or not token:
            return self._said(
                Outcome.UNREACHABLE, f"could not be checked: the token service {_host(realm)} gave no token"
            )
        return token

    def _may_send_to(self, url: str) -> bool:
        """Credentials go over https, or plain http to a host listed as insecure."""
        parts = urlsplit(url)
        return parts.scheme == "https" or (parts.scheme == "http" and parts.netloc.lower() in self.probe.insecure)

    def _finding(self, answer: http.Answer) -> Finding:
        status = answer.status
        if status == 200:
            digest = answer.headers.get("docker-content-digest")
            kind = answer.headers.get("content-type", "").split(";")[0].strip()
            what = ", ".join(x for x in (digest, kind) if x)
            return self._said(
                Outcome.PRESENT, f"is in its registry: HEAD answered 200 ({self.how}){f': {what}' if what else ''}"
            )
        if status == 404:
            if self._is_registry(answer):
                return self._said(Outcome.ABSENT, f"is not in its registry: HEAD answered 404 ({self.how})")
            return self._said(
                Outcome.UNREACHABLE, f"could not be checked: {self.ref.api_host} answered 404 and is not a registry"
            )
        if status in (401, 403):
            return self._refused(status, "access refused")
        return self._said(Outcome.UNREACHABLE, f"could not be checked: {self.ref.api_host} answered {status}")

    def _is_registry(self, answer: http.Answer) -> bool:
        """A 404 means "no such manifest" only from a registry: it says so in a header, or answers /v2/."""
        if answer.headers.get("docker-distribution-api-version", "").startswith("registry/2"):
            return True
        ping = self._request("GET", f"{self.probe.scheme(self.ref.api_host)}://{self.ref.api_host}/v2/", {})
        return ping.status in (200, 401)

    def _refused(self, status: int, why: str) -> Finding:
        notes = [] if self.creds else [f"no credentials for {self.ref.domain} in the node's Docker config"]
        if self.auth.helpers:
            notes.append(f"its {' and '.join(self.auth.helpers)} not read (credential helpers are not run)")
        if self.auth.problem:
            notes.append(self.auth.problem)
        said = f"could not be checked: {why} ({status}, {self.how})" + "".join(f"; {n}" for n in notes)
        return self._said(Outcome.REFUSED, said)

    def _said(self, outcome: Outcome, text: str) -> Finding:
        return Finding(self.subject, outcome, f"{self.subject.name} {text}", time.time())


def _host(url: str) -> str:
    return urlsplit(url).netloc or url
