#!/usr/bin/env bash
# Sets everything up and runs the demo: users 1001-1003 and an IVR on
# 127.0.0.1:5060 (UDP and TCP). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec bin/entvoice serve --data ./data "$@"
