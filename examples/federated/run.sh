#!/usr/bin/env bash
# Secretless, from the shell: a workload trades the OIDC token its platform
# gives it (GitHub Actions, a Kubernetes service account) for a Keyport token,
# with no Keyport secret anywhere. Here a local OIDC issuer
# (test/helpers/oidc-issuer.ts) stands in for the platform: this script starts
# it, asks it for a token the way a GitHub Actions step asks
# $ACTIONS_ID_TOKEN_REQUEST_URL, exchanges that token at Keyport's token
# endpoint with curl, checks the answer, shows that the same token is refused a
# second time (single use), and calls the protected demo API when API_URL is set.
# Exits non-zero on any failure.
#
# Keyport must trust the local issuer (config, see README "Secretless"):
#   KEYPORT_FEDERATION_ISSUERS=http://127.0.0.1:8089 KEYPORT_FEDERATION_ALLOW_LOOPBACK=true npm start
# and the keypair needs a trust rule for it:
#   keyport keypair trust add kp_… --issuer http://127.0.0.1:8089 \
#     --subject repo:acme/api:ref:refs/heads/main --audience keyport --claim repository=acme/api
set -euo pipefail

fail() { echo "federated example failed: $*" >&2; exit 1; }
command -v curl >/dev/null || fail "curl is not installed"
command -v jq >/dev/null || fail "jq is not installed"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
node=node
if [ -x "$root/node_modules/.bin/node" ]; then node="$root/node_modules/.bin/node"; fi

KEYPORT_URL="${KEYPORT_URL:?set KEYPORT_URL}"
KEYPORT_URL="${KEYPORT_URL%/}"
: "${KEYPORT_KEY_ID:?set KEYPORT_KEY_ID to the keypair that trusts the local issuer}"
ISSUER_PORT="${ISSUER_PORT:-8089}"
SUBJECT="${SUBJECT:-repo:acme/api:ref:refs/heads/main}"
AUDIENCE="${AUDIENCE:-keyport}"
REPOSITORY="${REPOSITORY:-acme/api}"
ASSERTION_TYPE=urn:ietf:params:oauth:client-assertion-type:jwt-bearer

b64url_decode() {
  local s="${1//-/+}"
  s="${s//_//}"
  case $(( ${#s} % 4 )) in 2) s="$s==" ;; 3) s="$s=" ;; esac
  printf '%s' "$s" | base64 -d
}

# 1. The local issuer (the platform's stand-in), stopped when this script ends.
log=$(mktemp)
"$node" "$root/test/helpers/oidc-issuer.ts" "$ISSUER_PORT" >"$log" 2>&1 &
issuer_pid=$!
trap 'kill "$issuer_pid" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 100); do
  grep -q 'issuer listening on' "$log" && break
  kill -0 "$issuer_pid" 2>/dev/null || fail "the local issuer did not start: $(cat "$log")"
  sleep 0.1
done
issuer=$(sed -n 's/^issuer listening on //p' "$log")
[ -n "$issuer" ] || fail "the local issuer did not start: $(cat "$log")"
echo "local issuer: $issuer"

# 2. The workload's OIDC token, for Keyport's audience. On GitHub Actions:
#    curl -H "Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN" "$ACTIONS_ID_TOKEN_REQUEST_URL&audience=$AUDIENCE"
oidc_token=$(curl -sS --fail-with-body --max-time 10 -G "$issuer/token" \
  --data-urlencode "audience=$AUDIENCE" --data-urlencode "sub=$SUBJECT" --data-urlencode "repository=$REPOSITORY" | jq -er .value) \
  || fail "the local issuer gave no token"
echo "workload token: $(b64url_decode "$(cut -d. -f2 <<<"$oidc_token")" | jq -c '{iss, sub, aud, repository}')"

# 3. The exchange: the workload token as client_assertion (jwt-bearer), client_id = the key id.
#    Tokens go to curl as a config on stdin, never on the command line (the process list).
token_endpoint=$(curl -sS --fail-with-body --max-time 10 "$KEYPORT_URL/.well-known/oauth-authorization-server" | jq -er .token_endpoint) \
  || fail "discovery failed"
exchange() {
  printf 'data-urlencode = "client_assertion=%s"\n' "$oidc_token" | curl -sS --max-time 10 --config - \
    --data-urlencode grant_type=client_credentials --data-urlencode "client_id=$KEYPORT_KEY_ID" \
    --data-urlencode "client_assertion_type=$ASSERTION_TYPE" --write-out '\n%{http_code}' "$token_endpoint"
}
response=$(exchange) || fail "token request: curl error"
status=${response##*$'\n'}
body=${response%$'\n'*}
[ "$status" = 200 ] || fail "token request: HTTP $status $body"
access_token=$(jq -er .access_token <<<"$body") || fail "token response without access_token"
echo "token issued: $(jq -c '{token_type, expires_in, scope}' <<<"$body")"
claims=$(b64url_decode "$(cut -d. -f2 <<<"$access_token")")
jq -e --arg iss "$KEYPORT_URL" --arg kid "$KEYPORT_KEY_ID" '.iss == $iss and .client_id == $kid' <<<"$claims" >/dev/null \
  || fail "unexpected token: $(jq -c '{iss, client_id}' <<<"$claims")"
echo "token valid: $(jq -c '{client_id, acc, aud, scope}' <<<"$claims")"

# 4. The same workload token again: refused, a token is single use (its jti).
response=$(exchange) || fail "second token request: curl error"
status=${response##*$'\n'}
[ "$status" = 401 ] || fail "the same workload token was accepted twice: HTTP $status"
echo "replay refused: $(jq -r .error <<<"${response%$'\n'*}")"

# 5. Call the protected API with the Keyport token.
if [ -n "${API_URL:-}" ]; then
  response=$(printf 'header = "Authorization: Bearer %s"\n' "$access_token" \
    | curl -sS --max-time 10 --config - --write-out '\n%{http_code}' "${API_URL%/}/orders") || fail "GET /orders: curl error"
  status=${response##*$'\n'}
  [ "$status" = 200 ] || fail "GET /orders: HTTP $status ${response%$'\n'*}"
  echo "GET /orders -> ${response%$'\n'*}"
fi
