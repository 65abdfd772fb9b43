#!/usr/bin/env bash
# worker-configuration.d.ts (the Worker's Env) must be what `npm run types` writes from
# ../wrangler.jsonc today. Regenerates beside it and compares the body: `wrangler types --check`
# alone compares only the config hash in the header, so a hand edit would pass it.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=.types-check.d.ts # same folder, so the generated import paths match
trap 'rm -f "$tmp"' EXIT
WRANGLER_SEND_METRICS=false npx wrangler types --config ../wrangler.jsonc --include-runtime=false --strict-vars=false "$tmp" >/dev/null
if ! diff <(sed 2d worker-configuration.d.ts) <(sed 2d "$tmp") >&2; then
  echo "worker/worker-configuration.d.ts is stale: run 'npm run types --prefix worker' and commit it" >&2
  exit 1
fi
WRANGLER_SEND_METRICS=false npx wrangler types --config ../wrangler.jsonc --include-runtime=false --strict-vars=false --check worker-configuration.d.ts >/dev/null
