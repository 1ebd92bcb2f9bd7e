"""Keyport quickstart for Python.

Gets an access token with the client credentials grant (Authlib), the keypair
authenticating with its secret (HTTP Basic) or, when KEYPORT_PRIVATE_KEY_FILE
is set, with a JWT signed by its private key (private_key_jwt), validates it
as a resource server would (PyJWT + PyJWKClient: JWKS, ES256 only, typ at+jwt,
issuer, audience; then the tenant and the scope), then calls the protected API
with it. Exits non-zero on any failure.
"""
import os
import sys

import jwt
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc7523.assertion import private_key_jwt_sign
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from joserfc.jwk import ECKey, OKPKey, RSAKey

# What GET /orders needs: a token of the account the API serves, with this scope.
REQUIRED_SCOPE = "orders:read"


def env(name, default=None):
    value = os.environ.get(name) or default
    if not value:
        sys.exit(f"quickstart failed: set {name}")
    return value


class ShortLivedPrivateKeyJWT(PrivateKeyJWT):
    """Authlib's private_key_jwt with a 60-second assertion: Keyport refuses an
    exp more than 5 minutes ahead, and Authlib's default is an hour."""

    def sign(self, auth, token_endpoint):
        return private_key_jwt_sign(auth.client_secret, client_id=auth.client_id, token_endpoint=token_endpoint, alg=self.alg, expires_in=60)


def private_key_session(key_id, key_file, token_endpoint, scope):
    """An OAuth2Session that signs each token request with the PKCS#8 PEM private key in key_file."""
    with open(key_file, "rb") as handle:
        pem = handle.read()
    private_key = load_pem_private_key(pem, password=None)
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        alg, key = {"secp256r1": "ES256", "secp384r1": "ES384"}[private_key.curve.name], ECKey.import_key(pem)
    elif isinstance(private_key, ed25519.Ed25519PrivateKey):
        alg, key = "EdDSA", OKPKey.import_key(pem)
    elif isinstance(private_key, rsa.RSAPrivateKey):
        alg, key = "RS256", RSAKey.import_key(pem)
    else:
        raise RuntimeError(f"unsupported private key type {type(private_key).__name__}")
    session = OAuth2Session(key_id, key, token_endpoint_auth_method="private_key_jwt", scope=scope)
    # aud = the token endpoint, iss = sub = the key id, a random jti per request.
    session.register_client_auth_method(ShortLivedPrivateKeyJWT(token_endpoint, alg=alg))
    return session


def main():
    keyport_url = env("KEYPORT_URL").rstrip("/")
    key_id = env("KEYPORT_KEY_ID")
    key_file = os.environ.get("KEYPORT_PRIVATE_KEY_FILE")
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

    # 2. Client credentials grant, the keypair as HTTP Basic client credentials,
    #    or authenticated by an assertion signed with its private key.
    if key_file:
        session = private_key_session(key_id, key_file, metadata["token_endpoint"], scope)
    else:
        session = OAuth2Session(key_id, env("KEYPORT_SECRET"), token_endpoint_auth_method="client_secret_basic", scope=scope)
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
