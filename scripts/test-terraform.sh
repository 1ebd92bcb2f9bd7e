#!/usr/bin/env bash
# The Terraform provider's acceptance tests (terraform-provider-keyport/) against
# a live Keyport: builds OpenTofu once (scripts/setup-tofu.sh, cached), starts
# Keyport on a temporary data directory and a free port with its embedded
# database (loopback webhook receivers allowed), creates an account, a keypair
# with keyport:admin for the provider and two users for the memberships (with
# the CLI), runs `go test ./...` with TF_ACC=1 and OpenTofu as the CLI, applies
# and destroys examples/terraform/, stops Keyport and removes its data.
# Ends with one line: "N passed, N failed" (Go tests and subtests, from go test -json).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

fail() { echo "test-terraform: $1" >&2; echo "0 passed, 1 failed"; exit 1; }

command -v go >/dev/null || fail "Go is needed for the Terraform provider's tests"
tofu=$(bash scripts/setup-tofu.sh | tail -1) || fail "the OpenTofu build failed"
[ -x "$tofu" ] || fail "no OpenTofu binary"

data=$(mktemp -d "${TMPDIR:-/tmp}/keyport-terraform.XXXXXX")
log="$data/keyport.log"
results="$data/go-test.json"
keyport_pid=
cleanup() {
  if [ -n "$keyport_pid" ]; then kill "$keyport_pid" 2>/dev/null; wait "$keyport_pid" 2>/dev/null; fi
  rm -rf "$data"
}
trap cleanup EXIT

# Only this run's settings: none of the machine's KEYPORT_* or MONGODB_URI.
for name in $(env | grep -oE '^(KEYPORT_[A-Z0-9_]*|MONGODB_URI)=' | tr -d =); do unset "$name"; done
# Loopback webhook receivers (the keyport_webhook tests run theirs in the test process), as in the ava tests.
export KEYPORT_DATA_DIR="$data/keyport" KEYPORT_LOG_LEVEL=warn KEYPORT_WEBHOOKS_ALLOW_LOOPBACK=true
mkdir -p "$KEYPORT_DATA_DIR"
# OpenTofu with no CLI configuration of the machine's (no dev overrides, mirrors or credentials of its own).
: >"$data/empty.tofurc"
export TF_CLI_CONFIG_FILE="$data/empty.tofurc"

echo "test-terraform: starting Keyport (embedded database in $KEYPORT_DATA_DIR)" >&2
KEYPORT_PORT=0 node src/main.ts >"$log" 2>&1 &
keyport_pid=$!
url=
for _ in $(seq 1 600); do
  url=$(grep -oE 'Keyport is ready at http://[^ ]+' "$log" | head -1 | sed 's/Keyport is ready at //')
  [ -n "$url" ] && break
  kill -0 "$keyport_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$url" ] || { cat "$log" >&2; fail "Keyport did not start"; }

cli() { node src/cli/main.ts "$@"; }
json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let v=JSON.parse(s);for(const k of process.argv[1].split("."))v=v[k];console.log(v)})' "$1"; }

account=$(cli account create --name "Terraform tests" --json | json id) || fail "could not create the account"
issued=$(cli keypair create --account "$account" --name terraform --scope keyport:admin --json) || fail "could not create the provider's keypair"
password=$(head -c 24 /dev/urandom | base64)
for email in tf-admin@keyport.test tf-dev@keyport.test; do
  printf '%s' "$password" | cli user create --email "$email" --password-stdin --json >/dev/null || fail "could not create the user $email"
done

echo "test-terraform: go test against $url with $($tofu version | head -1)" >&2
(
  cd terraform-provider-keyport &&
  TF_ACC=1 TF_ACC_TERRAFORM_PATH="$tofu" TF_ACC_PROVIDER_HOST=registry.opentofu.org TF_ACC_PROVIDER_NAMESPACE=keyport \
  CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 \
  KEYPORT_URL="$url" KEYPORT_CLIENT_ID="$(echo "$issued" | json keypair.keyId)" KEYPORT_CLIENT_SECRET="$(echo "$issued" | json secret)" \
  KEYPORT_TEST_ACCOUNT_ID="$account" KEYPORT_TEST_USER_EMAILS="tf-admin@keyport.test,tf-dev@keyport.test" \
  go test ./... -count=1 -timeout 20m -json
) >"$results"
status=$?

# The example configuration, applied and destroyed with the built provider as a
# user runs it (a development override instead of a registry), so it stays working.
example() {
  local dir="$data/example" bin="$data/provider-bin"
  (cd terraform-provider-keyport && go build -o "$bin/terraform-provider-keyport" .) || return 1
  cp -r examples/terraform "$dir"
  printf 'provider_installation {\n  dev_overrides { "registry.opentofu.org/keyport/keyport" = "%s" }\n  direct {}\n}\n' "$bin" >"$data/tofurc"
  local run=(env TF_CLI_CONFIG_FILE="$data/tofurc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 KEYPORT_URL="$url"
    KEYPORT_CLIENT_ID="$(echo "$issued" | json keypair.keyId)" KEYPORT_CLIENT_SECRET="$(echo "$issued" | json secret)" "$tofu" -chdir="$dir")
  # The webhook goes to a loopback port with no receiver: this Keyport allows loopback, and its
  # deliveries only fail and wait for a retry until the destroy removes the endpoint.
  local vars=(-var admin_email=tf-admin@keyport.test -var alerts_webhook_url=http://127.0.0.1:9/keyport)
  "${run[@]}" apply -auto-approve -input=false -no-color "${vars[@]}" || return 1
  local key_id secret
  key_id=$("${run[@]}" output -raw orders_sync_key_id) && secret=$("${run[@]}" output -raw orders_sync_secret) || return 1
  [[ "$("${run[@]}" output -raw alerts_webhook_secret)" == whsec_* ]] || { echo "the example's webhook has no secret in the state" >&2; return 1; }
  # The keypair it made gets a token with the secret it stored.
  curl -sf -u "$key_id:$secret" -d grant_type=client_credentials "$url/oauth/token" >/dev/null || { echo "the example's keypair got no token" >&2; return 1; }
  "${run[@]}" destroy -auto-approve -input=false -no-color "${vars[@]}" || return 1
  [ "$(curl -s -o /dev/null -w '%{http_code}' -u "$key_id:$secret" -d grant_type=client_credentials "$url/oauth/token")" = 401 ] || { echo "the example's keypair outlived the destroy" >&2; return 1; }
}
echo "test-terraform: examples/terraform/main.tf: apply, a token with its keypair, its webhook secret, destroy" >&2
if example >"$data/example.log" 2>&1; then
  echo '{"Action":"pass","Package":"examples/terraform","Test":"examples/terraform/main.tf"}' >>"$results"
else
  status=1
  sed 's/^/    /' "$data/example.log" >&2
  echo '{"Action":"fail","Package":"examples/terraform","Test":"examples/terraform/main.tf"}' >>"$results"
fi

# Each test's outcome ("pass"/"fail" events that name a test), and its output when it failed.
node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean);
  let passed = 0, failed = 0; const output = new Map();
  for (const line of lines) {
    let e; try { e = JSON.parse(line); } catch { process.stderr.write(line + "\n"); continue; }
    const key = `${e.Package} ${e.Test ?? ""}`;
    if (e.Action === "output") output.set(key, (output.get(key) ?? "") + e.Output);
    if (e.Action === "pass" && e.Test) { passed++; console.error(`  ✔ ${e.Test}`); }
    if (e.Action === "fail") {
      if (e.Test) { failed++; console.error(`  ✘ ${e.Test}\n${output.get(key) ?? ""}`); }
      else if (![...output.keys()].some((k) => k.startsWith(`${e.Package} `) && k !== key)) { failed++; console.error(`  ✘ ${e.Package}\n${output.get(key) ?? ""}`); }
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
' "$results"
exit "$status"
