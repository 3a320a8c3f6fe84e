"""The probes without a registry: image refs read as Docker reads them, the node's Docker credentials,
and the runner facing a registry that does not answer (a closed port on 127.0.0.1: real, and fast).

The registry itself (present, absent, auth) is tests/test_registry_probe.py, against a real one."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from pathlib import Path

import pytest
import yaml

from bot.config import Config, ProbesConfig
from bot.doctor import local as doctor_checks
from bot.doctor.result import Doctor, Result
from bot.doctor.result import Outcome as DoctorOutcome
from bot.kb import load_kb
from bot.model.records import Category
from bot.probes.dockerauth import default_path, read_docker_auth, registry_host
from bot.probes.imageref import named_in, parse_ref
from bot.probes.records import Clue, Outcome, ProbeName
from bot.probes.registry import ACCEPT, RegistryProbe, parse_challenge
from bot.probes.runner import ProbeRunner, configured
from demo.devserver.process import free_port
from tests.conftest import OffMachine

FIXTURES = Path(__file__).parent / "fixtures" / "tool-output"
SIGNATURES = Path(__file__).parent.parent / "bot" / "kb" / "signatures" / "upstream-defect.yaml"


# Docker's normalisation (the distribution project's reference package), case by case.
@pytest.mark.parametrize(
    ("text", "normalised", "api_host", "reference"),
    [
        ("nginx:1.25", "docker.io/library/nginx:1.25", "registry-1.docker.io", "1.25"),
        ("library/nginx:1", "docker.io/library/nginx:1", "registry-1.docker.io", "1"),
        ("bitnamilegacy/discourse:3.5.0", "docker.io/bitnamilegacy/discourse:3.5.0", "registry-1.docker.io", "3.5.0"),
        ("index.docker.io/foo/bar:2", "docker.io/foo/bar:2", "registry-1.docker.io", "2"),
        ("docker.io/redis:7", "docker.io/library/redis:7", "registry-1.docker.io", "7"),
        ("ghcr.io/bluesky-social/pds:0.4.182", "ghcr.io/bluesky-social/pds:0.4.182", "ghcr.io", "0.4.182"),
        ("localhost/app:1", "localhost/app:1", "localhost", "1"),  # localhost is a registry
        ("localhost:5000/app:1", "localhost:5000/app:1", "localhost:5000", "1"),
        ("127.0.0.1:5000/a/b/c:v1", "127.0.0.1:5000/a/b/c:v1", "127.0.0.1:5000", "v1"),
        ("Registry/app:1", "Registry/app:1", "Registry", "1"),  # an upper-case first part is a host too
        ("git.coopcloud.tech/coop-cloud/app:1.0.0+2", None, None, None),  # '+' is no tag character
        ("app", "docker.io/library/app", "registry-1.docker.io", "latest"),
        ("UPPER:1", None, None, None),  # a repository name is lower case
        ("a/b:" + "x" * 129, None, None, None),  # a tag is at most 128 characters
        ("a//b:1", None, None, None),
        ("x/y@sha256:abc", None, None, None),  # a digest has at least 32 hex digits
    ],
)
def test_image_refs_are_read_as_docker_reads_them(
    text: str, normalised: str | None, api_host: str | None, reference: str | None
) -> None:
    ref = parse_ref(text)
    if normalised is None:
        assert ref is None
        return
    assert ref is not None
    assert (str(ref), ref.api_host, ref.reference) == (normalised, api_host, reference)


def test_a_digest_is_what_is_asked_when_there_is_one() -> None:
    digest = "sha256:" + "ab" * 32
    ref = parse_ref(f"ghcr.io/x/app:1.2@{digest}")
    assert ref is not None and (ref.tag, ref.digest, ref.reference) == ("1.2", digest, digest)
    probe = RegistryProbe(Path("/nonexistent"))
    assert probe.manifest_url(ref) == f"https://ghcr.io/v2/x/app/manifests/{digest}"


def _examples() -> list[str]:
    doc = yaml.safe_load(SIGNATURES.read_text(encoding="utf-8"))
    return [e for sig in doc["signatures"] for e in sig["examples"]["match"]]


def test_the_images_named_in_the_shipped_examples_and_in_real_swarm_output() -> None:
    named = {text: [str(r) for r in named_in(text)] for text in _examples()}
    assert named == {
        "tasks rejected: {'app': 'manifest for ghcr.io/bluesky-social/pds:0.4.182 not found: manifest unknown'}": [
            "ghcr.io/bluesky-social/pds:0.4.182"
        ],
        "Error response from daemon: pull access denied for foo/bar, repository does not exist": [],  # no tag
        "exec /usr/local/bin/docker-entrypoint.sh: exec format error": [],
        # swarm cut the digest short: the tag is asked
        next(e for e in _examples() if "@sha256:6e1f" in e): ["ghcr.io/bluesky-social/pds:0.4.182"],
        next(e for e in _examples() if "recipe-app" in e): ["ccci.invalid/recipe-app:1.0.0"],
    }
    real = (FIXTURES / "swarm-no-such-image.txt").read_text(encoding="utf-8")  # scripts/capture_tool_output.py
    assert [str(r) for r in named_in(real)] == ["ccci.invalid/recipe-app:1.0.0"]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        # docker pull, as the sample world's runner log writes it
        (
            "Error response from daemon: manifest for ghcr.io/x/app:2 not found: manifest unknown: manifest unknown",
            ["ghcr.io/x/app:2"],
        ),
        # containerd names the ref twice: asked once
        (
            'failed to resolve reference "docker.io/library/foo:1": docker.io/library/foo:1: not found',
            ["docker.io/library/foo:1"],
        ),
        ("ghcr.io/x/app:3: manifest unknown", ["ghcr.io/x/app:3"]),
        ("Error response from daemon: manifest unknown: manifest unknown", []),  # names nothing
        ("manifest for app not found", []),  # no tag: latest is not guessed
        (
            "pds:0.4.182 not found: ok\nNo such image: a/b:1.",
            ["docker.io/a/b:1"],
        ),  # the sentence's '.' is not the tag's
    ],
)
def test_the_images_a_failure_says_could_not_be_had(text: str, found: list[str]) -> None:
    assert [str(r) for r in named_in(text)] == found


def test_every_shipped_upstream_signature_example_that_names_a_tag_gives_a_subject() -> None:
    """The probe reads what the image signatures match: their examples that name an image with a tag."""
    kb = load_kb()
    probe = RegistryProbe(Path("/nonexistent"))
    for sig in kb.signatures:
        if sig.category is Category.UPSTREAM_DEFECT and sig.id in ("image-manifest-unknown", "swarm-no-such-image"):
            for example in sig.examples_match:
                clue = Clue(example, ((sig.id, sig.category),))
                assert probe.subjects(clue), (sig.id, example)


def test_a_challenge_is_read_as_docker_reads_it() -> None:
    c = parse_challenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/nginx:pull,push"'
    )
    assert c.scheme == "bearer"
    assert c.params == {
        "realm": "https://auth.docker.io/token",
        "service": "registry.docker.io",
        "scope": "repository:library/nginx:pull,push",
    }
    assert parse_challenge('Basic realm="ccci-local"') == parse_challenge('basic realm="ccci-local"')
    assert parse_challenge("").scheme == ""


def test_the_manifest_kinds_asked_for() -> None:
    assert ACCEPT.split(", ") == [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ]


# --- the node's Docker credentials ------------------------------------------------------------------


def _auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def test_docker_login_credentials_are_read_per_registry(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "auths": {
                    "https://index.docker.io/v1/": {"auth": _auth("hubuser", "hubpass")},
                    "ghcr.io": {"auth": _auth("gh", "tok:en")},  # a ':' in the password stays in it
                    "127.0.0.1:5000": {"auth": _auth("ops", "s3cret")},
                    "quay.io": {},  # a credential helper's stub: nothing to read, nothing wrong
                    "bad.example": {"auth": "not base64!"},
                },
                "credsStore": "desktop",
            }
        )
    )
    auth = read_docker_auth(path)
    hub, gh, local = auth.for_host("docker.io"), auth.for_host("ghcr.io"), auth.for_host("127.0.0.1:5000")
    assert hub is not None and (hub.username, hub.password) == ("hubuser", "hubpass")
    assert gh is not None and (gh.username, gh.password) == ("gh", "tok:en")
    assert local is not None and local.basic() == "Basic " + _auth("ops", "s3cret")
    assert auth.for_host("quay.io") is None
    assert auth.helpers == ("credsStore",)
    assert auth.problem is not None and "bad.example" in auth.problem and str(tmp_path) not in auth.problem
    assert "s3cret" not in repr(auth) and "hubpass" not in repr(auth)  # never printed


def test_registry_keys_are_normalised_as_docker_keys_them() -> None:
    assert registry_host("https://index.docker.io/v1/") == "docker.io"
    assert registry_host("registry-1.docker.io") == "docker.io"
    assert registry_host("http://Registry.Example.org:5000/v2/") == "registry.example.org:5000"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, None),  # no file: no credentials, nothing wrong
        ("{not json", "the Docker config is not valid JSON"),
        ("[]", "the Docker config is not a JSON object"),
    ],
)
def test_a_missing_or_broken_docker_config_is_no_credentials(tmp_path: Path, content: str | None, problem: str) -> None:
    path = tmp_path / "config.json"
    if content is not None:
        path.write_text(content)
    auth = read_docker_auth(path)
    assert (dict(auth.auths), auth.problem) == ({}, problem)


def test_the_default_docker_config_is_where_docker_looks(tmp_path: Path) -> None:
    assert default_path({"DOCKER_CONFIG": str(tmp_path)}) == tmp_path / "config.json"
    assert default_path({}) == Path.home() / ".docker" / "config.json"


# --- the runner, facing a registry that does not answer -------------------------------------------


def _clue(text: str) -> Clue:
    return Clue(text, (("image-manifest-unknown", Category.UPSTREAM_DEFECT),))


def test_probing_is_off_unless_enabled() -> None:
    assert configured(ProbesConfig()) is None
    runner = configured(ProbesConfig(enabled=True, timeout_s=2.0, insecure_registries=("127.0.0.1:5000",)))
    assert runner is not None and [p.name for p in runner.probes] == [ProbeName.REGISTRY]


def test_an_unreachable_registry_is_asked_once_and_logged_once_for_fifty_reds(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A report of fifty reds on a registry that is down: one connection attempt, one log line, and every
    red says it could not be checked (which changes no verdict: tests/test_engine.py)."""
    host = f"127.0.0.1:{free_port()}"  # nothing listens there: connection refused
    probe = RegistryProbe(tmp_path / "config.json", [host])
    runner = ProbeRunner([probe], timeout_s=2.0, cache_s=300.0)
    caplog.set_level(logging.WARNING, logger="bot.probes.runner")
    facts = [runner.run([_clue(f"manifest for {host}/app/r{i}:1.0.{i} not found")]) for i in range(50)]
    assert runner.asked == 1
    outcomes = {f.finding.outcome for found in facts for f in found}
    assert outcomes == {Outcome.UNREACHABLE} and all(len(found) == 1 for found in facts)
    assert "did not answer" in facts[0][0].finding.said
    assert "not asked again" in facts[1][0].finding.said
    assert facts[7][0].finding.subject.name == f"{host}/app/r7:1.0.7"  # each red speaks of its own image
    warnings = [r.getMessage() for r in caplog.records if r.name == "bot.probes.runner"]
    assert len(warnings) == 1 and host in warnings[0] and "no verdict changes" in warnings[0]


def test_only_the_categories_a_probe_checks_are_read(tmp_path: Path) -> None:
    host = f"127.0.0.1:{free_port()}"
    runner = ProbeRunner([RegistryProbe(tmp_path / "c.json", [host])], timeout_s=2.0, cache_s=0.0)
    infra = Clue(f"manifest for {host}/app:1 not found", (("pull-timeout", Category.INFRA),))
    assert runner.run([infra]) == [] and runner.asked == 0
    found = runner.run([infra, _clue(f"No such image: {host}/app:1"), _clue(f"manifest for {host}/app:1 not found")])
    assert len(found) == 1 and found[0].signatures == frozenset({"image-manifest-unknown"})


def test_a_red_naming_many_images_asks_about_four(tmp_path: Path) -> None:
    host = f"127.0.0.1:{free_port()}"
    runner = ProbeRunner([RegistryProbe(tmp_path / "c.json", [host])], timeout_s=2.0, cache_s=0.0)
    text = "\n".join(f"No such image: {host}/app{i}:1" for i in range(10))
    assert len(runner.run([_clue(text)])) == 4


def test_the_tests_let_no_probe_leave_the_machine(tmp_path: Path) -> None:
    """tests/conftest.py wraps the probes' one request function: a real registry name fails the test."""
    probe = RegistryProbe(tmp_path / "c.json")
    [subject] = probe.subjects(_clue("manifest for ghcr.io/bluesky-social/pds:0.4.182 not found"))
    with pytest.raises(OffMachine, match=r"ghcr\.io"):
        probe.check(subject, 1.0)


# --- what `ccci-bot doctor` says about them -----------------------------------------------------------


def _doctor(config: Config) -> list[Result]:
    return asyncio.run(doctor_checks.probes(Doctor(None, {}, config=config)))


def test_the_doctor_says_whether_the_probe_is_on_and_whose_logins_it_has(tmp_path: Path) -> None:
    [off] = _doctor(Config())
    assert off.outcome is DoctorOutcome.PASS and "off" in off.detail
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps({"auths": {"ghcr.io": {"auth": _auth("gh", "t")}, "127.0.0.1:5000": {"auth": _auth("a", "b")}}})
    )
    [on] = _doctor(Config(probes=ProbesConfig(enabled=True, docker_config=path)))
    assert on.outcome is DoctorOutcome.PASS and on.detail.endswith(": 127.0.0.1:5000, ghcr.io")
    path.write_text(json.dumps({"auths": {}, "credsStore": "pass"}))
    [helper] = _doctor(Config(probes=ProbesConfig(enabled=True, docker_config=path)))
    assert helper.outcome is DoctorOutcome.WARN and "credsStore" in helper.detail
    path.write_text("{not json")
    [broken] = _doctor(Config(probes=ProbesConfig(enabled=True, docker_config=path)))
    assert broken.outcome is DoctorOutcome.WARN and "not valid JSON" in broken.detail and broken.fix
