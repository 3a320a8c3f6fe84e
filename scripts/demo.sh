#!/usr/bin/env bash
# The bot's main job on embedded sample data: no external service. Extra arguments go to `ccci-bot demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[demo]"
exec .venv/bin/ccci-bot demo "$@"
