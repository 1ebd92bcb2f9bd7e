"""Keyport DPoP quickstart for Python (RFC 9449).

The token is bound to a key this process holds, so that a leaked token is
useless without it. A DPoP proof is a small JWT signed with that key (PyJWT,
cryptography); Authlib makes the token request with a proof in the DPoP
header. The token is validated as a resource server would (PyJWT + PyJWKClient),
including its binding (cnf.jkt = our key's thumbprint); then the protected API
is called with the token and a fresh proof, and the same token presented as a
plain Bearer token is shown to be refused. Exits non-zero on any failure.
"""
import base64
import hashlib
import json
import os
import sys
import time
import uuid

import jwt
import requests
from authlib.integrations.requests_client import OAuth2Session
from cryptography.hazmat.primitives.asymmetric import ec

# What GET /orders needs: a token of the account the API serves, with this scope.
REQUIRED_SCOPE = "orders:read"


def env(name, default=None):
    value = os.environ.get(name) or default
    if not value:
        sys.exit(f"quickstart failed: set {name}")
    return value


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class DpopKey:
    """An ES256 key pair for this process only, and the proofs it signs (RFC 9449 §4)."""

    def __init__(self):
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.public_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.private_key.public_key()))
        # RFC 7638: SHA-256 of the required members, sorted, without whitespace.
        members = {name: self.public_jwk[name] for name in ("crv", "kty", "x", "y")}
        self.thumbprint = b64url(hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest())

    def proof(self, method, url, access_token=None):
        claims = {"htm": method, "htu": url.split("?")[0].split("#")[0], "iat": int(time.time()), "jti": str(uuid.uuid4())}
        if access_token is not None:
            claims["ath"] = b64url(hashlib.sha256(access_token.encode("ascii")).digest())
        return jwt.encode(claims, self.private_key, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": self.public_jwk})


def main():
    keyport_url = env("KEYPORT_URL").rstrip("/")
    key_id = env("KEYPORT_KEY_ID")
    secret = env("KEYPORT_SECRET")
    api_url = env("API_URL", "http://localhost:4000").rstrip("/")
    audience = env("KEYPORT_AUDIENCE", "https://api.example.com")
    scope = env("KEYPORT_SCOPE", "orders:read")
    account = env("KEYPORT_ACCOUNT")  # acc_…: the account whose tokens the API accepts

    # 1. Discovery (RFC 8414); Keyport lists the proof algorithms it accepts.
    response = requests.get(f"{keyport_url}/.well-known/oauth-authorization-server", timeout=10)
    response.raise_for_status()
    metadata = response.json()
    if metadata["issuer"] != keyport_url:
        raise RuntimeError(f"discovery names issuer {metadata['issuer']!r}, expected {keyport_url!r}")
    if "ES256" not in metadata.get("dpop_signing_alg_values_supported", []):
        raise RuntimeError("the server does not accept ES256 DPoP proofs")

    # 2. Client credentials grant with a proof for POST <token endpoint>: the token comes back bound.
    key = DpopKey()
    token_endpoint = metadata["token_endpoint"]
    session = OAuth2Session(key_id, secret, token_endpoint_auth_method="client_secret_basic", scope=scope)
    token = session.fetch_token(token_endpoint, grant_type="client_credentials", headers={"DPoP": key.proof("POST", token_endpoint)}, timeout=10)
    if str(token.get("token_type", "")).lower() != "dpop":
        raise RuntimeError(f"expected a DPoP token, got token_type {token.get('token_type')!r}")
    access_token = token["access_token"]

    # 3. Validate as a resource server (ES256 only, typ at+jwt, issuer, audience),
    #    then the tenant, the scope and the binding to our key.
    jwks = jwt.PyJWKClient(metadata["jwks_uri"], cache_keys=True, lifespan=300, timeout=10)
    decoded = jwt.decode_complete(
        access_token,
        jwks.get_signing_key_from_jwt(access_token).key,
        algorithms=["ES256"],
        issuer=metadata["issuer"],
        audience=audience,
        leeway=5,
        options={"require": ["iss", "aud", "exp", "iat", "sub", "client_id", "jti", "acc", "cnf"]},
    )
    typ = str(decoded["header"].get("typ", "")).lower()
    if typ not in ("at+jwt", "application/at+jwt"):
        raise RuntimeError(f"token typ is {typ!r}, expected at+jwt")
    claims = decoded["payload"]
    if claims["acc"] != account:
        raise RuntimeError(f"wrong_tenant: the token belongs to account {claims['acc']}, this API serves {account}")
    if REQUIRED_SCOPE not in str(claims.get("scope", "")).split(" "):
        raise RuntimeError(f"insufficient_scope: the token lacks {REQUIRED_SCOPE}")
    if claims["cnf"].get("jkt") != key.thumbprint:
        raise RuntimeError("the token is not bound to this process's key (cnf.jkt)")
    print(f"token valid: client_id={claims['client_id']} acc={claims['acc']} aud={claims['aud']} scope={claims.get('scope')} bound to jkt={key.thumbprint}")

    # 4. Call the protected API: Authorization: DPoP <token>, plus a fresh proof for this request.
    url = f"{api_url}/orders"
    response = requests.get(url, headers={"Authorization": f"DPoP {access_token}", "DPoP": key.proof("GET", url, access_token)}, timeout=10)
    if response.status_code != 200:
        raise RuntimeError(f"GET /orders: HTTP {response.status_code} {response.headers.get('WWW-Authenticate', '')} {response.text}")
    print(f"GET /orders -> {response.text}")

    # 5. The same token without its proof, as a plain Bearer token: refused.
    stolen = requests.get(url, headers={"Authorization": f"Bearer {access_token}"}, timeout=10)
    if stolen.status_code != 401:
        raise RuntimeError(f"the token was accepted as a Bearer token: HTTP {stolen.status_code}")
    print(f"as Bearer -> {stolen.status_code} {stolen.headers.get('WWW-Authenticate', '')}")


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # any failure: say what, exit non-zero
        print(f"quickstart failed: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
