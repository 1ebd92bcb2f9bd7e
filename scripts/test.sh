#!/usr/bin/env bash
# The test command (`npm test`): every set-up step the tests need, then the
# checks, then the whole ava suite over HTTP against the real embedded database.
# The same on a laptop and in CI (.ci/run calls exactly this). Arguments go to
# ava: `npm test -- test/token.test.ts` runs one file (after the same set-up).
# Without arguments, the Terraform provider's acceptance tests run after ava
# (scripts/test-terraform.sh). Ends with one line: "N passed, N failed", both counted.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

started=$SECONDS
step() { printf '\n==> [%ss] %s\n' "$((SECONDS - started))" "$*"; }
setup_failed() { echo "npm test: $1" >&2; echo "0 passed, 1 failed"; exit 1; }

step "build the resource-server kit (dist/verify: the tests use it as other projects get it)"
npm run --silent build || setup_failed "npm run build failed"
step "embedded database: FerretDB, built once and cached in ~/.cache/keyport"
node scripts/setup-ferretdb.ts --if-needed || setup_failed "the FerretDB build failed"
step "browser for the web UI tests (Debian's chromium)"
bash scripts/setup-browser.sh || setup_failed "no browser for the web UI tests"
step "quickstart dependencies (examples/setup.sh, cached)"
bash examples/setup.sh || setup_failed "examples/setup.sh failed"
step "type check (tsc --noEmit)"
tsc --noEmit || setup_failed "the type check failed"
step "lint (eslint: type-aware rules, import boundaries)"
eslint . || setup_failed "lint failed"

step "ava: every test file against a real Keyport and a real database"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
ava "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# ava's own summary says "N tests passed" only when nothing failed; with
# failures it prints "N tests failed" (and "N hooks failed"), and every passed
# test has its "✔" line.
number() { local n; n=$(grep -oE "^ *[0-9]+ $1" "$log" | tail -1 | grep -oE '[0-9]+'); echo "${n:-0}"; }
passed=$(number 'tests? passed')
[ "$passed" -gt 0 ] || passed=$(grep -cE '^ *✔ ' "$log")
failed=$(( $(number 'tests? failed') + $(number 'hooks? failed') ))
# A crashed worker or an uncaught exception fails the run even when no test did.
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi

# The Terraform provider's acceptance tests (Go, OpenTofu) against their own live
# Keyport; skipped when ava was given arguments (one file), counted in the total.
if [ "$#" -eq 0 ]; then
  step "Terraform provider: acceptance tests with OpenTofu (scripts/test-terraform.sh)"
  tf_log=$(mktemp)
  trap 'rm -f "$log" "$tf_log"' EXIT
  bash scripts/test-terraform.sh 2>&1 | tee "$tf_log"
  tf_status=${PIPESTATUS[0]}
  tf_counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$tf_log" | tail -1)
  tf_passed=$(echo "$tf_counts" | grep -oE '^[0-9]+'); tf_failed=$(echo "$tf_counts" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
  passed=$(( ${passed:-0} + ${tf_passed:-0} ))
  failed=$(( failed + ${tf_failed:-0} ))
  if [ "$tf_status" -ne 0 ]; then
    [ "${tf_failed:-0}" -gt 0 ] || failed=$((failed + 1))
    [ "$status" -ne 0 ] || status=$tf_status
  fi
fi
step "done"
echo "${passed:-0} passed, $failed failed"
exit "$status"
