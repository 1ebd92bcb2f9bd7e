"""Keyport quickstart for Python.

Gets an access token with the client credentials grant (Authlib), validates it
as a resource server would (PyJWT + PyJWKClient: JWKS, ES256 only, typ at+jwt,
issuer, audience; then the tenant and the scope), then calls the protected API
with it. Exits non-zero on any failure.
"""
import os
import sys

import jwt
import requests
from authlib.integrations.requests_client import OAuth2Session

# What GET /orders needs: a token of the account the API serves, with this scope.
REQUIRED_SCOPE = "orders:read"


def env(name, default=None):
    value = os.environ.get(name) or default
    if not value:
        sys.exit(f"quickstart failed: set {name}")
    return value


def main():
    keyport_url = env("KEYPORT_URL").rstrip("/")
    key_id = env("KEYPORT_KEY_ID")
    secret = env("KEYPORT_SECRET")
    api_url = env("API_URL", "http://localhost:4000").rstrip("/")
    audience = env("KEYPORT_AUDIENCE", "https://api.example.com")
    scope = env("KEYPORT_SCOPE", "orders:read")
    account = env("KEYPORT_ACCOUNT")  # acc_…: the account whose tokens the API accepts

    # 1. Discovery (RFC 8414); the document must name the issuer we asked.
    response = requests.get(f"{keyport_url}/.well-known/oauth-authorization-server", timeout=10)
    response.raise_for_status()
    metadata = response.json()
    if metadata["issuer"] != keyport_url:
        raise RuntimeError(f"discovery names issuer {metadata['issuer']!r}, expected {keyport_url!r}")

    # 2. Client credentials grant, the keypair as HTTP Basic client credentials.
    session = OAuth2Session(key_id, secret, token_endpoint_auth_method="client_secret_basic", scope=scope)
    token = session.fetch_token(metadata["token_endpoint"], grant_type="client_credentials", timeout=10)
    access_token = token["access_token"]

    # 3. Validate as a resource server. PyJWKClient caches the JWKS and refetches
    #    it (rate-limited) only for an unknown kid. ES256 is the only algorithm
    #    accepted; typ must be at+jwt (RFC 9068), which PyJWT leaves to us.
    jwks = jwt.PyJWKClient(metadata["jwks_uri"], cache_keys=True, lifespan=300, timeout=10)
    signing_key = jwks.get_signing_key_from_jwt(access_token)
    decoded = jwt.decode_complete(
        access_token,
        signing_key.key,
        algorithms=["ES256"],
        issuer=metadata["issuer"],
        audience=audience,
        leeway=5,
        options={"require": ["iss", "aud", "exp", "iat", "sub", "client_id", "jti", "acc"]},
    )
    typ = str(decoded["header"].get("typ", "")).lower()
    if typ not in ("at+jwt", "application/at+jwt"):
        raise RuntimeError(f"token typ is {typ!r}, expected at+jwt")
    claims = decoded["payload"]
    # Keyport signs every account's tokens for the same audience: the tenant must
    # be checked, or any account's keypair with the scope would be served.
    if claims["acc"] != account:
        raise RuntimeError(f"wrong_tenant: the token belongs to account {claims['acc']}, this API serves {account}")
    if REQUIRED_SCOPE not in str(claims.get("scope", "")).split(" "):
        raise RuntimeError(f"insufficient_scope: the token lacks {REQUIRED_SCOPE}")
    print(f"token valid: client_id={claims['client_id']} acc={claims['acc']} aud={claims['aud']} scope={claims.get('scope')} exp={claims['exp']}")

    # 4. Call the protected API: the session sends the bearer token.
    response = session.get(f"{api_url}/orders", timeout=10)
    if response.status_code != 200:
        raise RuntimeError(f"GET /orders: HTTP {response.status_code} {response.headers.get('WWW-Authenticate', '')} {response.text}")
    print(f"GET /orders -> {response.text}")


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # any failure: say what, exit non-zero
        print(f"quickstart failed: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
