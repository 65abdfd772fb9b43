#!/usr/bin/env bash
# The one test command (README, `make test`, .ci/run): installs what it needs, runs every suite,
# starts and stops every server the e2e tests use (they pick free ports themselves).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

command -v go >/dev/null || { echo "test: Go 1.26+ is required (https://go.dev/dl/)" >&2; exit 1; }
export GOTOOLCHAIN=local # Go stays the machine's 1.26; never a toolchain download

step "toolchain (Node: the machine's when 22.12+, else a pinned Node 24 LTS fetched into .tools/)"
. scripts/node.sh || exit 1 # one line on failure: "node: cannot fetch …"
# What runs, at the top of CI's output: the lock files are what npm ci installs.
node -e '
  const fs = require("fs");
  const lock = (dir) => JSON.parse(fs.readFileSync(dir + "/package-lock.json", "utf8")).packages;
  const w = lock("worker"), c = lock("client");
  const v = (l, name) => (l["node_modules/" + name] || {}).version || "?";
  const date = /"compatibility_date":\s*"([^"]+)"/.exec(fs.readFileSync("wrangler.jsonc", "utf8"));
  console.log([
    ["go", process.argv[1]], ["node", process.version + " (" + process.execPath + ")"], ["npm", process.argv[2]],
    ["wrangler", v(w, "wrangler")], ["workerd", v(w, "workerd")], ["miniflare", v(w, "miniflare")],
    ["@cloudflare/vitest-plugin", v(w, "@cloudflare/vitest-plugin")], ["vitest", v(w, "vitest")],
    ["@cloudflare/workers-types", v(w, "@cloudflare/workers-types")], ["typescript", v(w, "typescript")],
    ["client typescript", v(c, "typescript")], ["compatibility_date", date ? date[1] : "?"],
  ].map(([k, x]) => "  " + k.padEnd(27) + x).join("\n"));
' "$(go env GOVERSION)" "$(npm --version)"

step "Go modules"
go mod download

step "npm ci (worker/)"
if [ -n "${CI:-}" ] || [ ! -f worker/node_modules/.package-lock.json ] || [ worker/package-lock.json -nt worker/node_modules/.package-lock.json ]; then
  ./scripts/npm-ci.sh worker || exit 1 # one line on failure: "npm ci in worker/ failed: ECONNREFUSED: …"
fi

step "npm ci (client/)"
if [ -n "${CI:-}" ] || [ ! -f client/node_modules/.package-lock.json ] || [ client/package-lock.json -nt client/node_modules/.package-lock.json ]; then
  ./scripts/npm-ci.sh client || exit 1
fi

step "gofmt and go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './worker/*'))
if [ -n "$unformatted" ]; then echo "gofmt needed on: $unformatted" >&2; exit 1; fi
go vet ./...

step "static build of every binary (the Dockerfile's build command)"
bindir=$(mktemp -d)
./scripts/build.sh "$bindir"
for b in "$bindir"/*; do
  if ldd "$b" >/dev/null 2>&1; then echo "not static: $b" >&2; exit 1; fi
done
rm -rf "$bindir"

step "soak against the shipped edgeproxy (issue 12): exactly-once in-order delivery, nothing over 1 s, no drift"
# The issue's load per org (100 members, 40 messages/s, 1 connect and 1 disconnect/s), in 10 of
# its 50 orgs. The full 5,000 sockets at 2,000 messages/s need most of this machine's 2 cores
# for the harness and the server together; beside the other jobs (load 14-19) they got half a
# core, sent half the rate and delivered up to 3.5 s late, while this run needs a third of a core
# (docs/performance.md has both). 120 s with the drift measured over the last 30: RSS still
# climbs for the first minute or so (a 30 s warm-up measured +11%, a 90 s one -4.3%).
soakdir=$(mktemp -d)
./scripts/build.sh "$soakdir" edgeproxy wsharness
soak_status=0
"$soakdir/wsharness" soak -edgeproxy "$soakdir/edgeproxy" -conns 1000 -orgs 10 -churn 10 -rate 400 -duration 120s -warmup 90s || soak_status=$?
rm -rf "$soakdir"
[ "$soak_status" = 0 ] || exit "$soak_status"

step "Worker: generated Env current, tsc --noEmit and vitest (workerd, shared vectors)"
(cd worker && npm run --silent types:check && npx tsc --noEmit && npx vitest run)

step "client: build (the committed ES module must match its source) and unit tests"
(cd client && npx tsc -p tsconfig.json)
if [ -n "${CI:-}" ] && ! git diff --quiet -- client/dist; then
  echo "client/dist is stale: run 'cd client && npx tsc -p tsconfig.json' and commit it" >&2; exit 1
fi
(cd client && npm test)

step "Go: unit, integration and e2e tests (-race); e2e starts wrangler dev, the issuer and the proxy"
go test -race -count=1 -timeout 20m ./...

step "Go: lost wake-up regressions under contention (issue 12): 20 runs at -cpu=1,2 beside a CPU-heavy test"
# A test that fails only under load is a bug, not flakiness: these found lost wake-ups in the
# proxy's read path and shutdown. The CPU hog is itself a regression test (back-to-back frames).
stressdir=$(mktemp -d)
go test -race -c -o "$stressdir/proxy.test" ./proxy
( while [ ! -e "$stressdir/stop" ]; do
    "$stressdir/proxy.test" -test.run '^TestBackToBackFramesNeverStall$' -test.short -test.count=1 >"$stressdir/hog.log" 2>&1 || { cat "$stressdir/hog.log"; exit 1; }
  done ) &
hog=$!
stress_rc=0
"$stressdir/proxy.test" -test.short -test.count=20 -test.cpu=1,2 \
  -test.run '^(TestChurn|TestLeaveAfterCloseRightAfterWelcome|TestShutdownWhileConnecting|TestHTTPLevelAbuse|TestSlowloris|TestFrameLevelAbuse|TestFrameAbuse|TestPongsAndMessagesInterleave|TestFloodAfterCloseIsCut|TestFramesSplitAnywhere|TestControlFrameCompletedByALaterRead)$' || stress_rc=$?
touch "$stressdir/stop"
wait "$hog" || stress_rc=1
rm -rf "$stressdir"
[ "$stress_rc" = 0 ] || { echo "lost wake-up regressions failed under contention" >&2; exit 1; }

step "Go: short fuzz runs"
for target in verifier:FuzzVerify verifier:FuzzParsePublishBody verifier:FuzzParseDisconnectBody contract:FuzzExtract contract:FuzzScopeList proxy:FuzzParseInbound internal/rsakey:FuzzParse; do
  # -fuzz that matches nothing passes silently: a moved target must fail here instead.
  go test -list "^${target#*:}\$" "./${target%%:*}" | grep -x "${target#*:}" >/dev/null || { echo "fuzz target ${target#*:} is not in ./${target%%:*}" >&2; exit 1; }
  # A count, not a duration: with a duration, go1.26's fuzz coordinator can report its own
  # -fuzztime deadline as "context deadline exceeded" and fail a target that found nothing
  # (golang/go#75804, fixed in go1.27; it failed FuzzExtract in a CI run here).
  go test -run '^$' -fuzz "^${target#*:}\$" -fuzztime "${FUZZTIME:-100000x}" "./${target%%:*}"
done

step "browser e2e: headless Chromium against the local stack (Worker and Go proxy)"
if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's chromium (about a minute on a fresh machine)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "test: the browser e2e needs Chromium: sudo apt-get install -y chromium (or set CHROMIUM_PATH)" >&2; exit 1
  fi
fi
(cd client && node --test test/browser.e2e.mjs)

step "benchmark suite, quick mode (keeps it working; figures are not pass/fail)"
benchdir=$(mktemp -d)
go run ./cmd/bench -short -out "$benchdir"
rm -rf "$benchdir"

step "all tests passed"
