#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what it needs, then lint, types and tests.
#   bash scripts/test.sh          everything, with the real Synapse, dockerd/swarm, headless Chromium and a registry
#   bash scripts/test.sh --fast   the fast tier: lint, types and the tests that need none of those services
# Other arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
# Cache bytecode even where the environment says not to: the suite starts hundreds of Pythons (xdist
# workers, CLI calls, pytest runs) that would each compile the bot and the tests again.
unset PYTHONDONTWRITEBYTECODE

fast=0
if [ "${1:-}" = "--fast" ]; then
  fast=1
  shift
fi

if ! command -v git >/dev/null 2>&1; then  # the sample generator builds real recipe git repos
  apt-get update -qq && apt-get install -y -qq --no-install-recommends git
fi
if [ "$fast" = 0 ]; then
  # A private Docker engine for the docker-mode tests (tests/test_dockerd.py, tests/test_standin_stack.py);
  # best effort: without it those tests skip and say why.
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && ! command -v dockerd >/dev/null 2>&1; then
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends docker.io iptables busybox-static; }; then
      echo "warning: could not install docker.io iptables busybox-static; the docker tests will be skipped" >&2
    fi
  fi
  # Debian's headless Chromium for the browser test of the evidence pages (tests/test_web_app.py);
  # best effort like Docker: without it that test skips and says why.
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && ! command -v chromium >/dev/null 2>&1; then
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; }; then
      echo "warning: could not install chromium; the browser test will be skipped" >&2
    fi
  fi
  # The CNCF distribution registry (Debian's docker-registry) and htpasswd for the registry probe's tests
  # (tests/test_registry_probe.py); best effort like Chromium: without them those tests skip and say why.
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && ! { command -v docker-registry && command -v htpasswd; } >/dev/null 2>&1; then
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends docker-registry apache2-utils; }; then
      echo "warning: could not install docker-registry apache2-utils; the registry probe's tests will be skipped" >&2
    fi
  fi
  # Node and Element's crypto stack (matrix-js-sdk, pinned by tests/js/package-lock.json) for the E2EE tests
  # (tests/test_e2ee_matrix.py); best effort like Chromium: without them those tests skip and say why.
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && ! command -v npm >/dev/null 2>&1; then
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm; }; then
      echo "warning: could not install nodejs npm; the E2EE tests will be skipped" >&2
    fi
  fi
  if command -v npm >/dev/null 2>&1; then
    if ! (cd tests/js && npm ci --no-audit --no-fund --loglevel=error); then
      echo "warning: npm ci in tests/js failed; the E2EE tests will be skipped" >&2
    fi
  fi
fi
# Debian's nix-bin to parse the NixOS module and package (tests/test_deploy.py); best effort too.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && ! command -v nix-instantiate >/dev/null 2>&1; then
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends nix-bin; }; then
    echo "warning: could not install nix-bin; the NixOS file checks will be skipped" >&2
  fi
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
# The install is editable, so only a change to pyproject.toml needs pip again (~8 s even when all is there).
stamp=".venv/.ccci-installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[test]'
  rm -f .venv/.ccci-installed-*
  touch "$stamp"
fi

# Two lines, not one `&&` list: set -e ignores a failure anywhere in such a list but its last command.
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy --strict"; .venv/bin/mypy --strict bot commands demo scripts/configdoc.py
if [ "$fast" = 1 ]; then
  # Most fast tests copy the sample world into their tmp_path; on a tmpfs that copy is ~0.1 s instead
  # of up to 1 s on a busy disk, so the temp dirs go to /dev/shm when it has room (removed on exit).
  if [ -d /dev/shm ] && [ -w /dev/shm ] && [ "$(df -Pk /dev/shm | awk 'NR==2 {print $4}')" -gt 2097152 ]; then
    TMPDIR="$(mktemp -d /dev/shm/ccci-XXXXXX)"
    export TMPDIR
    trap 'rm -rf "$TMPDIR"' EXIT
  fi
  # One xdist worker per core and one more: some tests wait on subprocesses and timeouts, and the spare
  # worker fills those waits (2 cores here: 54-62 s with 3 workers, 59-64 s with 2, 66 s with 4).
  workers=$(( $(nproc) + 1 ))
  echo "== pytest (fast tier: no Synapse, dockerd, Chromium or registry; $workers workers)"
  CCCI_FAST_TIER=1 .venv/bin/python -m pytest -m "not synapse and not dockerd and not browser and not registry" \
    -n "$workers" --dist worksteal "$@"
else
  echo "== pytest"; .venv/bin/python -m pytest "$@"
fi
