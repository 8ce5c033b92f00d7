#!/usr/bin/env bash
# Quick start: install what is missing, then run nats-server, the agent on
# config/dev.yml and the sample app. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run --silent build
exec node --import tsx scripts/quickstart.ts
