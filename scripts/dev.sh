#!/usr/bin/env bash
# Quick start: install what is missing, then run nats-server, the agent on
# config/dev.yml and the sample app (scripts/quickstart.ts). Ctrl-C stops the agent,
# then nats-server, and removes the run's files (/tmp/dea-dev, /tmp/dea-dev-droplets-*).
# DEA_DEV_VERBOSE=1 shows every line the agent logs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run --silent build
exec node --import tsx scripts/quickstart.ts
