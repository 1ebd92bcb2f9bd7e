#!/usr/bin/env bash
# Keyport quickstart for the shell: curl + jq.
# Gets an access token with the client credentials grant, checks it with
# Keyport's introspection endpoint (a shell cannot check an ES256 signature
# comfortably; a resource server written in a real language validates the JWT
# offline, see the other quickstarts) as a resource server would, issuer,
# audience, tenant and scope, then calls the protected API with it.
# Exits non-zero on any failure.
set -euo pipefail

fail() { echo "quickstart failed: $*" >&2; exit 1; }
command -v curl >/dev/null || fail "curl is not installed"
command -v jq >/dev/null || fail "jq is not installed"

KEYPORT_URL="${KEYPORT_URL:?set KEYPORT_URL}"
KEYPORT_URL="${KEYPORT_URL%/}"
: "${KEYPORT_KEY_ID:?set KEYPORT_KEY_ID}"
: "${KEYPORT_SECRET:?set KEYPORT_SECRET}"
API_URL="${API_URL:-http://localhost:4000}"
API_URL="${API_URL%/}"
AUDIENCE="${KEYPORT_AUDIENCE:-https://api.example.com}"
SCOPE="${KEYPORT_SCOPE:-orders:read}"
# The account whose tokens the API accepts (acc_…), and what GET /orders needs.
ACCOUNT="${KEYPORT_ACCOUNT:?set KEYPORT_ACCOUNT to the account the API serves (acc_…)}"
REQUIRED_SCOPE=orders:read

# Base64url → text (JWT segments have no padding).
b64url_decode() {
  local s="${1//-/+}"
  s="${s//_//}"
  case $(( ${#s} % 4 )) in 2) s="$s==" ;; 3) s="$s=" ;; esac
  printf '%s' "$s" | base64 -d
}

# Secrets and tokens go to curl as a config on stdin, not on the command line,
# where other users of the machine could read them in the process list.
credentials() { printf 'user = "%s:%s"\n' "$KEYPORT_KEY_ID" "$KEYPORT_SECRET"; }

# 1. Discovery (RFC 8414); the document must name the issuer we asked.
metadata=$(curl -sS --fail-with-body --max-time 10 "$KEYPORT_URL/.well-known/oauth-authorization-server") \
  || fail "discovery: $metadata"
[ "$(jq -r .issuer <<<"$metadata")" = "$KEYPORT_URL" ] || fail "discovery names another issuer: $(jq -r .issuer <<<"$metadata")"
token_endpoint=$(jq -er .token_endpoint <<<"$metadata")
introspection_endpoint=$(jq -er .introspection_endpoint <<<"$metadata")

# 2. Client credentials grant, the keypair as HTTP Basic client credentials.
response=$(credentials | curl -sS --max-time 10 --config - \
  --data-urlencode grant_type=client_credentials --data-urlencode "scope=$SCOPE" \
  --write-out '\n%{http_code}' "$token_endpoint") || fail "token request: curl error"
status=${response##*$'\n'}
body=${response%$'\n'*}
[ "$status" = 200 ] || fail "token request: HTTP $status $body"
access_token=$(jq -er .access_token <<<"$body") || fail "token response without access_token"
echo "token issued: $(jq -c '{token_type, expires_in, scope}' <<<"$body")"

# 3. Check it. The header must say ES256 and at+jwt (RFC 9068); introspection
#    (RFC 7662) checks the signature, the expiry and that the keypair is still
#    usable; issuer and audience must be ours, and so must the tenant: Keyport
#    signs every account's tokens for the same audience, so a check of the scope
#    alone would let any account's keypair with that scope in.
header=$(b64url_decode "${access_token%%.*}")
jq -e '.alg == "ES256" and (.typ | ascii_downcase | . == "at+jwt" or . == "application/at+jwt")' <<<"$header" >/dev/null \
  || fail "unexpected token header: $header"
introspection=$({ credentials; printf 'data-urlencode = "token=%s"\n' "$access_token"; } \
  | curl -sS --fail-with-body --max-time 10 --config - "$introspection_endpoint") || fail "introspection: $introspection"
jq -e --arg iss "$KEYPORT_URL" --arg aud "$AUDIENCE" \
  '.active == true and .iss == $iss and ([.aud] | flatten | index($aud) != null)' <<<"$introspection" >/dev/null \
  || fail "token rejected: $(jq -c '{active, iss, aud}' <<<"$introspection")"
jq -e --arg acc "$ACCOUNT" '.acc == $acc' <<<"$introspection" >/dev/null \
  || fail "wrong_tenant: the token belongs to account $(jq -r .acc <<<"$introspection"), this API serves $ACCOUNT"
jq -e --arg scope "$REQUIRED_SCOPE" '(.scope // "") | split(" ") | index($scope) != null' <<<"$introspection" >/dev/null \
  || fail "insufficient_scope: the token lacks $REQUIRED_SCOPE"
echo "token valid: $(jq -c '{client_id, acc, aud, scope, exp}' <<<"$introspection")"

# 4. Call the protected API with the token.
response=$(printf 'header = "Authorization: Bearer %s"\n' "$access_token" \
  | curl -sS --max-time 10 --config - --write-out '\n%{http_code}' "$API_URL/orders") || fail "GET /orders: curl error"
status=${response##*$'\n'}
body=${response%$'\n'*}
[ "$status" = 200 ] || fail "GET /orders: HTTP $status $body"
echo "GET /orders -> $body"
