#!/usr/bin/env bash
# Builds static, stripped executables into $1 (default bin/): the binaries named after it, or
# every binary in cmd/. VERSION (e.g. v1.2.3, a git describe) is stamped into -version, for
# builds without VCS information such as the Dockerfile's.
# The Dockerfile runs exactly this; scripts/test.sh runs it too, since CI has no Docker engine.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-bin}"
shift || true
pkgs=(./cmd/...)
if [ "$#" -gt 0 ]; then
  pkgs=()
  for b in "$@"; do pkgs+=("./cmd/$b"); done
fi
ldflags="-s -w"
if [ -n "${VERSION:-}" ]; then
  ldflags="$ldflags -X github.com/qubital/office-router/internal/cli.stamped=${VERSION}"
fi
mkdir -p "$out"
CGO_ENABLED=0 go build -trimpath -ldflags="$ldflags" -o "$out/" "${pkgs[@]}"
