#!/usr/bin/env bash
# `npm ci` in one folder (worker/ or client/) on the Node first on PATH, for scripts/test.sh and
# internal/stack (make dev). On success npm's summary ("added 74 packages in 18s"). On failure one
# line on stderr and a non-zero status, never npm's stack trace:
#   npm ci in worker/ failed: ECONNREFUSED: FetchError: request to … failed, reason: connect ECONNREFUSED … (full log: …)
set -uo pipefail
dir=${1:?usage: scripts/npm-ci.sh DIR}
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT
if npm ci --prefix "$dir" --no-audit --no-fund >"$out" 2>&1; then
  cat "$out"
  exit 0
fi
# npm's error: a "code" line, a message, then (for network errors) a stack and an object dump.
code=$(sed -n 's/^npm error code //p' "$out" | head -n1)
msg=$(sed -n 's/^npm error //p' "$out" |
  grep -Ev '^(code|errno|syscall) |^[[:space:]]*$|^[[:space:]]+at |^[{}]|^[[:space:]]+[a-zA-Z]+: |complete log of this run|behind a proxy' |
  head -n1)
# Anything else (no npm on PATH, a crash before npm's logger): its last line.
[ -n "$code$msg" ] || msg=$(grep -v '^[[:space:]]*$' "$out" | tail -n1)
log=$(sed -n 's/^npm error A complete log of this run can be found in: //p' "$out" | tail -n1)
echo "npm ci in ${dir%/}/ failed: ${code:-npm error}${msg:+: $msg}${log:+ (full log: $log)}" >&2
exit 1
