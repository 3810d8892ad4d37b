#!/usr/bin/env bash
# Set up on a fresh machine (venv + Debian's chromium for the browser test) and run the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is not installed and we are not root: the browser test will be skipped" >&2
  fi
fi
bash scripts/setup_env.sh
export SPRO_OFFLINE=${SPRO_OFFLINE:-1}
.venv/bin/ruff check --quiet .
.venv/bin/ruff format --check --quiet .
.venv/bin/mypy  # type check of analysis/ (settings in pyproject.toml)
exec .venv/bin/python -m pytest "$@"
