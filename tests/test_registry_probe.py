"""The registry probe against a real registry on 127.0.0.1: the CNCF distribution registry (Debian's
``docker-registry``), without auth, with htpasswd basic auth, and with token auth whose tokens come
from a token service stand-in (demo/devserver/registry.py). Images are pushed with plain v2 API calls.

Cases: a present tag (Docker and OCI manifests, and by digest), an absent one, auth required with and
without the node's credentials, the cache (fifty reds, one HEAD), and a recipe's verdict from ingest
to `why`: absent settles it, present takes "image gone" away, no answer changes nothing.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from msgspec.structs import replace

from bot.answers.why import why
from bot.config import ProbesConfig
from bot.ingest.scan import ingest
from bot.kb import load_kb
from bot.model.answers import WhyAnswer
from bot.model.records import Category, EvidenceKind
from bot.probes.records import Clue, Finding, Outcome
from bot.probes.registry import RegistryProbe
from bot.probes.runner import ProbeRunner
from bot.render import to_text
from bot.verdicts.cache import Verdicts
from bot.verdicts.staletest import GitRecipeSearch
from demo.devserver.process import free_port
from demo.devserver.registry import LocalRegistry, Pushed, TokenServiceStandIn, basic, registry_binary
from tests.conftest import Site

pytestmark = [
    pytest.mark.registry,
    pytest.mark.skipif(
        registry_binary() is None or shutil.which("htpasswd") is None,
        reason="the registry's tests need Debian's docker-registry and apache2-utils (scripts/test.sh installs them)",
    ),
]

APP = "bluesky-social/pds"
RECIPE_IMAGE = "recipes/pds"  # where bluesky's runs look for their image in the verdict tests (pushed there once)
OPS, PASSWORD = "ops", "s3cret-pw"


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalRegistry, dict[str, Pushed]]]:
    """A registry without auth holding APP:0.4.181 (a Docker manifest) and APP:oci (an OCI manifest)."""
    with LocalRegistry(tmp_path_factory.mktemp("registry-plain")) as registry:
        yield registry, {"0.4.181": registry.push(APP, "0.4.181"), "oci": registry.push(APP, "oci", oci=True)}


@pytest.fixture(scope="module")
def htpasswd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    with LocalRegistry(tmp_path_factory.mktemp("registry-basic"), htpasswd={OPS: PASSWORD}) as registry:
        registry.push(APP, "0.4.181", headers=basic(OPS, PASSWORD))
        yield registry


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalRegistry, TokenServiceStandIn]]:
    """Token auth, as Docker Hub and ghcr.io do it: ``pub/app`` is public, ``priv/app`` needs credentials."""
    workdir = tmp_path_factory.mktemp("registry-token")
    standin = TokenServiceStandIn(workdir, {OPS: PASSWORD}, public=frozenset({"pub/app"}))
    standin.start()
    try:
        with LocalRegistry(workdir, token=standin) as registry:
            for name in ("pub/app", "priv/app"):
                granted = standin.token(OPS, [{"type": "repository", "name": name, "actions": ["pull", "push"]}])
                registry.push(name, "1.0", headers={"Authorization": f"Bearer {granted}"})
            yield registry, standin
    finally:
        standin.stop()


def docker_config(tmp_path: Path, auths: dict[str, tuple[str, str]], **extra: object) -> Path:
    """A config.json as ``docker login`` writes it."""
    path = tmp_path / "docker-config.json"
    entries = {host: {"auth": base64.b64encode(f"{u}:{p}".encode()).decode()} for host, (u, p) in auths.items()}
    path.write_text(json.dumps({"auths": entries, **extra}))
    return path


def look_up(probe: RegistryProbe, ref: str) -> Finding:
    [subject] = probe.subjects(
        Clue(f"manifest for {ref} not found: manifest unknown", (("s", Category.UPSTREAM_DEFECT),))
    )
    return probe.check(subject, 10.0)


def test_a_present_tag_an_absent_tag_and_an_oci_manifest(
    plain: tuple[LocalRegistry, dict[str, Pushed]], tmp_path: Path
) -> None:
    registry, pushed = plain
    probe = RegistryProbe(tmp_path / "none.json", [registry.host])
    present = look_up(probe, f"{registry.host}/{APP}:0.4.181")
    assert present.outcome is Outcome.PRESENT
    assert present.subject.url == f"http://{registry.host}/v2/{APP}/manifests/0.4.181"
    assert pushed["0.4.181"].digest in present.said and "HEAD answered 200 (anonymously)" in present.said
    absent = look_up(probe, f"{registry.host}/{APP}:0.4.182")
    assert absent.outcome is Outcome.ABSENT
    assert absent.said == f"{registry.host}/{APP}:0.4.182 is not in its registry: HEAD answered 404 (anonymously)"
    oci = look_up(probe, f"{registry.host}/{APP}:oci")
    assert oci.outcome is Outcome.PRESENT and "application/vnd.oci.image.manifest.v1+json" in oci.said
    assert look_up(probe, f"{registry.host}/never/pushed:1").outcome is Outcome.ABSENT  # no such repository


def test_a_digest_is_looked_up_by_digest(plain: tuple[LocalRegistry, dict[str, Pushed]], tmp_path: Path) -> None:
    registry, pushed = plain
    probe = RegistryProbe(tmp_path / "none.json", [registry.host])
    digest = pushed["0.4.181"].digest
    assert look_up(probe, f"{registry.host}/{APP}:0.4.181@{digest}").outcome is Outcome.PRESENT
    gone = look_up(probe, f"{registry.host}/{APP}:0.4.181@sha256:{'0' * 64}")  # the tag is there, the digest is not
    assert gone.outcome is Outcome.ABSENT and gone.subject.url.endswith(f"/manifests/sha256:{'0' * 64}")


def test_a_registry_spoken_to_over_https_that_speaks_http_is_no_answer(
    plain: tuple[LocalRegistry, dict[str, Pushed]], tmp_path: Path
) -> None:
    """Not listed as insecure, the local registry is asked over TLS, which it does not speak."""
    registry, _ = plain
    finding = look_up(RegistryProbe(tmp_path / "none.json"), f"{registry.host}/{APP}:0.4.181")
    assert finding.subject.url.startswith("https://") and finding.outcome is Outcome.UNREACHABLE


def test_basic_auth_with_and_without_the_nodes_credentials(htpasswd: LocalRegistry, tmp_path: Path) -> None:
    host = htpasswd.host
    anonymous = look_up(RegistryProbe(tmp_path / "none.json", [host]), f"{host}/{APP}:0.4.181")
    assert anonymous.outcome is Outcome.REFUSED
    assert "the registry asks for credentials (401, anonymously)" in anonymous.said
    assert f"no credentials for {host} in the node's Docker config" in anonymous.said
    node = RegistryProbe(docker_config(tmp_path, {host: (OPS, PASSWORD)}), [host])
    assert look_up(node, f"{host}/{APP}:0.4.181").outcome is Outcome.PRESENT
    absent = look_up(node, f"{host}/{APP}:0.4.182")
    assert absent.outcome is Outcome.ABSENT and f"with the node's credentials for {host}" in absent.said
    assert PASSWORD not in absent.said and PASSWORD not in absent.subject.url
    wrong = RegistryProbe(docker_config(tmp_path, {host: (OPS, "wrong")}), [host])
    assert look_up(wrong, f"{host}/{APP}:0.4.181").outcome is Outcome.REFUSED


def test_credentials_are_not_sent_over_plain_http_to_a_registry_not_listed_as_insecure(
    htpasswd: LocalRegistry, tmp_path: Path
) -> None:
    """Only a listed registry is asked over http at all; the realm of a token service is checked the same way
    (test_bearer_tokens_...): here the scheme of the registry's own URL decides, and it is https."""
    node = RegistryProbe(docker_config(tmp_path, {htpasswd.host: (OPS, PASSWORD)}))
    assert look_up(node, f"{htpasswd.host}/{APP}:0.4.181").subject.url.startswith("https://")


def test_a_credential_helper_is_not_run_and_the_refusal_says_so(htpasswd: LocalRegistry, tmp_path: Path) -> None:
    config = docker_config(tmp_path, {}, credsStore="pass")
    refused = look_up(RegistryProbe(config, [htpasswd.host]), f"{htpasswd.host}/{APP}:0.4.181")
    assert refused.outcome is Outcome.REFUSED
    assert "its credsStore not read (credential helpers are not run)" in refused.said


def test_bearer_tokens_anonymous_and_with_the_nodes_credentials(
    token: tuple[LocalRegistry, TokenServiceStandIn], tmp_path: Path
) -> None:
    registry, standin = token
    realm_host = f"127.0.0.1:{standin.port}"
    anonymous = RegistryProbe(tmp_path / "none.json", [registry.host, realm_host])
    public = look_up(anonymous, f"{registry.host}/pub/app:1.0")
    assert public.outcome is Outcome.PRESENT and "(with an anonymous token)" in public.said
    assert look_up(anonymous, f"{registry.host}/pub/app:2.0").outcome is Outcome.ABSENT
    private = look_up(anonymous, f"{registry.host}/priv/app:1.0")  # a token without access: as Docker Hub does
    assert private.outcome is Outcome.REFUSED and "access refused (401, with an anonymous token)" in private.said
    node = RegistryProbe(docker_config(tmp_path, {registry.host: (OPS, PASSWORD)}), [registry.host, realm_host])
    present = look_up(node, f"{registry.host}/priv/app:1.0")
    assert (
        present.outcome is Outcome.PRESENT
        and f"with a token for the node's credentials for {registry.host}" in present.said
    )
    assert look_up(node, f"{registry.host}/priv/app:9.9").outcome is Outcome.ABSENT
    # the realm is plain http and not listed as insecure: the credentials stay home, the token is anonymous
    unlisted = RegistryProbe(docker_config(tmp_path, {registry.host: (OPS, PASSWORD)}), [registry.host])
    assert look_up(unlisted, f"{registry.host}/priv/app:1.0").outcome is Outcome.REFUSED
    wrong = RegistryProbe(docker_config(tmp_path, {registry.host: (OPS, "wrong")}), [registry.host, realm_host])
    refused = look_up(wrong, f"{registry.host}/priv/app:1.0")
    assert refused.outcome is Outcome.REFUSED and f"the token service {realm_host} refused" in refused.said


def test_fifty_reds_naming_one_tag_ask_the_registry_once(
    plain: tuple[LocalRegistry, dict[str, Pushed]], tmp_path: Path
) -> None:
    registry, _ = plain
    path = f"/v2/{APP}/manifests/cached-absent"
    runner = ProbeRunner([RegistryProbe(tmp_path / "none.json", [registry.host])], timeout_s=10.0, cache_s=300.0)
    clue = Clue(f"manifest for {registry.host}/{APP}:cached-absent not found", (("s", Category.UPSTREAM_DEFECT),))
    found = [runner.run([clue]) for _ in range(50)]
    assert {f[0].finding for f in found} == {found[0][0].finding}  # one finding, reused
    assert found[0][0].finding.outcome is Outcome.ABSENT
    assert runner.asked == 1 and registry.requests("HEAD", path) == 1
    fresh = ProbeRunner(runner.probes, timeout_s=10.0, cache_s=0.0)  # no cache: every red asks
    for _ in range(3):
        fresh.run([clue])
    assert registry.requests("HEAD", path) == 4


# --- a recipe's verdict, from its run dir to `why` -----------------------------------------------------


def point_bluesky_at(site: Site, registry_host: str) -> None:
    """bluesky's runs in the site's copy of the sample world name the image on ``registry_host``."""
    for run_dir in site.runs_dir.iterdir():
        results = run_dir / "results.json"
        if not results.is_file() or json.loads(results.read_text()).get("recipe") != "bluesky":
            continue
        for path in [results, run_dir / "run.log", *(run_dir / "junit").glob("*.xml")]:
            if path.is_file():
                stat = path.stat()
                text = path.read_text().replace("ghcr.io/bluesky-social/pds", f"{registry_host}/{RECIPE_IMAGE}")
                path.write_text(text)
                os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # settled runs stay settled


def decided(site: Site, probes: ProbesConfig) -> WhyAnswer:
    """bluesky's verdict, decided again with ``probes`` (a new Verdicts: a new runner, an empty cache)."""
    config = replace(site.config, probes=probes)
    ingest(site.store, config)
    verdicts = Verdicts(site.store, config, load_kb(), GitRecipeSearch())
    verdicts.decide_again()
    return why(site.store, config, "bluesky", verdicts)


@pytest.mark.writes_runs
def test_bluesky_settled_by_the_registry_then_contradicted_by_it(
    site: Site, plain: tuple[LocalRegistry, dict[str, Pushed]]
) -> None:
    registry, _ = plain
    point_bluesky_at(site, registry.host)
    probes = ProbesConfig(enabled=True, timeout_s=10.0, insecure_registries=(registry.host,))
    image = f"{registry.host}/{RECIPE_IMAGE}:0.4.182"

    answer = decided(site, probes)
    v = answer.verdict
    assert v is not None and v.category is Category.UPSTREAM_DEFECT and v.rule == "registry_probe"
    assert v.settle is None and v.confidence >= 0.9
    assert v.reason.startswith(f"{image} is not in its registry") and "checked in the registry" in v.reason
    said = [e for e in answer.evidence if e.kind is EvidenceKind.PROBE]
    assert [e.path for e in said] == [f"http://{registry.host}/v2/{RECIPE_IMAGE}/manifests/0.4.182"]
    assert "to settle it" not in to_text(answer)

    # upstream publishes the tag again: the same red is no longer "image gone"
    registry.push(RECIPE_IMAGE, "0.4.182")
    answer = decided(site, probes)
    v = answer.verdict
    assert v is not None and v.category is not Category.UPSTREAM_DEFECT and v.rule != "registry_probe"
    assert v.reason.endswith(
        f"; the registry has {image} (checked), so image-manifest-unknown and swarm-no-such-image do not hold"
    )
    said = [e for e in answer.evidence if e.kind is EvidenceKind.PROBE]
    assert len(said) == 1 and "is in its registry: HEAD answered 200" in said[0].excerpt


@pytest.mark.writes_runs
def test_an_unreachable_registry_changes_no_verdict_and_says_so_once(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    host = f"127.0.0.1:{free_port()}"  # nothing listens there
    point_bluesky_at(site, host)
    before = decided(site, ProbesConfig())
    caplog.set_level(logging.WARNING, logger="bot.probes.runner")
    after = decided(site, ProbesConfig(enabled=True, timeout_s=5.0, insecure_registries=(host,)))
    b, a = before.verdict, after.verdict
    assert a is not None and b is not None
    assert (a.category, a.confidence, a.reason, a.rule, a.settle) == (
        b.category,
        b.confidence,
        b.reason,
        b.rule,
        b.settle,
    )
    said = [e for e in after.evidence if e.kind is EvidenceKind.PROBE]
    assert len(said) == 1 and "could not be checked" in said[0].excerpt and "did not answer" in said[0].excerpt
    assert len([r for r in caplog.records if r.name == "bot.probes.runner"]) == 1
