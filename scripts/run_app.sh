#!/usr/bin/env bash
# Set up on a fresh machine, prepare the bundled data, and start the app.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
.venv/bin/spro-access prepare
exec .venv/bin/spro-access app "$@"
