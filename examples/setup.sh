#!/usr/bin/env bash
# Installs the dependencies of the quickstarts and builds the compiled ones, so
# that each quickstart then runs at once (and test/examples.test.ts can run them).
#
#   examples/setup.sh                  all ecosystems
#   examples/setup.sh python go        only these (curl node python go java)
#
# Everything lands in caches that stay on the machine: npm's cache and
# examples/node/node_modules, examples/python/.venv (pip's cache), the Go module
# and build caches, Maven's ~/.m2. A second run is quick.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
# Node 24 from the main package (the `node` npm package), as for every npm script.
if [ -x "$root/node_modules/.bin/node" ]; then export PATH="$root/node_modules/.bin:$PATH"; fi

all=(curl node python go java)
selected=("$@")
[ ${#selected[@]} -gt 0 ] || selected=("${all[@]}")

step() { printf '\n==> [%s] %s\n' "$1" "$2"; }
need() { command -v "$1" >/dev/null 2>&1 || { echo "examples/setup.sh: '$1' is not installed; it is needed for the $2 quickstart" >&2; exit 1; }; }
timed() {
  local name=$1 started=$SECONDS
  shift
  "$@"
  printf '    [%s] done in %ss\n' "$name" $((SECONDS - started))
}

setup_curl() {
  step curl "checking curl and jq"
  need curl curl; need jq curl
  echo "    $(curl --version | head -n1 | cut -d' ' -f1-2), $(jq --version)"
}

setup_node() {
  step node "npm ci in examples/node (openid-client, jose) with $(node --version)"
  need node node; need npm node
  (cd "$here/node" && npm ci --no-audit --no-fund --no-update-notifier --loglevel=error)
}

setup_python() {
  step python "virtualenv examples/python/.venv + pip install -r requirements.txt"
  need python3 python
  local venv="$here/python/.venv" stamp
  stamp="$(sha256sum "$here/python/requirements.txt" | cut -d' ' -f1) $(python3 --version 2>&1)"
  if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.keyport-stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "    up to date ($(python3 --version 2>&1))"
    return
  fi
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off -q -r "$here/python/requirements.txt"
  echo "$stamp" >"$venv/.keyport-stamp"
  "$venv/bin/python" -m pip list --disable-pip-version-check 2>/dev/null | grep -iE '^(authlib|pyjwt|requests|cryptography) ' | sed 's/^/    /'
}

setup_go() {
  step go "go build -o examples/go/bin/quickstart ($(go version 2>/dev/null | cut -d' ' -f3))"
  need go go
  (cd "$here/go" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly go build -o bin/quickstart .)
}

setup_java() {
  step java "mvn package in examples/java -> target/keyport-quickstart.jar"
  need java java; need mvn java
  local log="$here/java/target/setup.log"
  mkdir -p "$here/java/target"
  # -q prints only errors (and colour resets): keep the output for a failure.
  (cd "$here/java" && mvn -B -q -ntp -Dstyle.color=never package >"$log" 2>&1) || { cat "$log" >&2; exit 1; }
}

started=$SECONDS
for ecosystem in "${selected[@]}"; do
  case "$ecosystem" in
    curl|node|python|go|java) timed "$ecosystem" "setup_$ecosystem" ;;
    *) echo "examples/setup.sh: unknown ecosystem '$ecosystem' (one of: ${all[*]})" >&2; exit 2 ;;
  esac
done
printf '\nexamples/setup.sh: ready (%s) in %ss\n' "${selected[*]}" $((SECONDS - started))
