#!/usr/bin/env bash
# Builds every binary in cmd/ as a static, stripped executable into $1 (default bin/).
# The Dockerfile runs exactly this; scripts/test.sh runs it too, since CI has no Docker engine.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-bin}"
mkdir -p "$out"
CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$out/" ./cmd/...
