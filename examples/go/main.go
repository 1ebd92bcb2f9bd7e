// Keyport quickstart for Go: get an access token with the client credentials
// grant (golang.org/x/oauth2/clientcredentials), the keypair authenticating with
// its secret (HTTP Basic) or, when KEYPORT_PRIVATE_KEY_FILE is set, with a JWT
// signed by its private key (private_key_jwt, built with go-jose), validate it as a resource
// server would (go-jose: JWKS, ES256 only, typ at+jwt, issuer, audience; then
// the tenant and the scope), then call the protected API with it. Exits
// non-zero on any failure.
package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

func env(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	if fallback == "" {
		fail(fmt.Errorf("set %s", name))
	}
	return fallback
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "quickstart failed:", err)
	os.Exit(1)
}

// Authorization server metadata (RFC 8414), the fields used here.
type metadata struct {
	Issuer        string `json:"issuer"`
	TokenEndpoint string `json:"token_endpoint"`
	JWKSURI       string `json:"jwks_uri"`
}

// What GET /orders needs: a token of the account the API serves, with this scope.
const requiredScope = "orders:read"

// Keyport's access token claims beyond the registered ones (RFC 9068).
type keyportClaims struct {
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	Account  string `json:"acc"`
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

func getJSON(url string, out any) error {
	response, err := httpClient.Get(url)
	if err != nil {
		return err
	}
	defer response.Body.Close()
	if response.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", url, response.StatusCode)
	}
	return json.NewDecoder(response.Body).Decode(out)
}

// clientAssertion signs a private_key_jwt assertion (RFC 7523 §2.2) with the
// PKCS#8 PEM private key in keyFile: iss = sub = the key id, aud = the token
// endpoint, a random jti, valid for 60 seconds (Keyport accepts at most 5 minutes).
func clientAssertion(keyFile, keyID, tokenEndpoint string) (string, error) {
	data, err := os.ReadFile(keyFile)
	if err != nil {
		return "", err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return "", fmt.Errorf("%s holds no PEM block", keyFile)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("%s: %w (a PKCS#8 \"PRIVATE KEY\" is expected)", keyFile, err)
	}
	var alg jose.SignatureAlgorithm
	switch key := parsed.(type) {
	case *ecdsa.PrivateKey:
		alg = map[string]jose.SignatureAlgorithm{"P-256": jose.ES256, "P-384": jose.ES384}[key.Curve.Params().Name]
	case ed25519.PrivateKey:
		alg = jose.EdDSA
	case *rsa.PrivateKey:
		alg = jose.RS256
	}
	if alg == "" {
		return "", fmt.Errorf("%s: unsupported key type %T", keyFile, parsed)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: parsed.(crypto.Signer)}, nil)
	if err != nil {
		return "", err
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	now := time.Now()
	return jwt.Signed(signer).Claims(jwt.Claims{
		Issuer:   keyID,
		Subject:  keyID,
		Audience: jwt.Audience{tokenEndpoint},
		ID:       hex.EncodeToString(jti),
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(60 * time.Second)),
	}).Serialize()
}

func main() {
	keyportURL := strings.TrimRight(env("KEYPORT_URL", ""), "/")
	keyID := env("KEYPORT_KEY_ID", "")
	keyFile := os.Getenv("KEYPORT_PRIVATE_KEY_FILE")
	apiURL := strings.TrimRight(env("API_URL", "http://localhost:4000"), "/")
	audience := env("KEYPORT_AUDIENCE", "https://api.example.com")
	scope := env("KEYPORT_SCOPE", "orders:read")
	account := env("KEYPORT_ACCOUNT", "") // acc_…: the account whose tokens the API accepts
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, httpClient)

	// 1. Discovery (RFC 8414); the document must name the issuer we asked.
	var meta metadata
	if err := getJSON(keyportURL+"/.well-known/oauth-authorization-server", &meta); err != nil {
		fail(err)
	}
	if meta.Issuer != keyportURL {
		fail(fmt.Errorf("discovery names issuer %q, expected %q", meta.Issuer, keyportURL))
	}

	// 2. Client credentials grant, the keypair as HTTP Basic client credentials,
	//    or authenticated by an assertion signed with its private key (x/oauth2
	//    has no private_key_jwt of its own: the assertion goes in EndpointParams).
	config := clientcredentials.Config{
		ClientID:  keyID,
		TokenURL:  meta.TokenEndpoint,
		Scopes:    strings.Fields(scope),
		AuthStyle: oauth2.AuthStyleInHeader,
	}
	if keyFile != "" {
		assertion, err := clientAssertion(keyFile, keyID, meta.TokenEndpoint)
		if err != nil {
			fail(err)
		}
		config.AuthStyle = oauth2.AuthStyleInParams
		config.EndpointParams = url.Values{
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {assertion},
		}
	} else {
		config.ClientSecret = env("KEYPORT_SECRET", "")
	}
	token, err := config.Token(ctx)
	if err != nil {
		fail(fmt.Errorf("token request failed: %w", err))
	}

	// 3. Validate as a resource server: ES256 is the only algorithm accepted,
	//    typ must be at+jwt (RFC 9068), then signature, issuer, audience, lifetime.
	parsed, err := jwt.ParseSigned(token.AccessToken, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		fail(fmt.Errorf("token is not an ES256 JWT: %w", err))
	}
	if typ, _ := parsed.Headers[0].ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		fail(fmt.Errorf("token typ is %q, expected at+jwt", typ))
	}
	var jwks jose.JSONWebKeySet // fetch once and keep it; refetch when a token names an unknown kid
	if err := getJSON(meta.JWKSURI, &jwks); err != nil {
		fail(err)
	}
	var claims jwt.Claims
	var extra keyportClaims
	if err := parsed.Claims(&jwks, &claims, &extra); err != nil {
		fail(fmt.Errorf("signature check failed: %w", err))
	}
	expected := jwt.Expected{Issuer: meta.Issuer, AnyAudience: jwt.Audience{audience}, Time: time.Now()}
	if err := claims.ValidateWithLeeway(expected, 5*time.Second); err != nil {
		fail(fmt.Errorf("claims check failed: %w", err))
	}
	if claims.Subject == "" || claims.ID == "" || extra.ClientID == "" || extra.Account == "" || claims.IssuedAt == nil || claims.Expiry == nil {
		fail(fmt.Errorf("token lacks a required claim (sub, jti, client_id, acc, iat, exp)"))
	}
	// Keyport signs every account's tokens for the same audience: the tenant must
	// be checked, or any account's keypair with the scope would be served.
	if extra.Account != account {
		fail(fmt.Errorf("wrong_tenant: the token belongs to account %s, this API serves %s", extra.Account, account))
	}
	if !slices.Contains(strings.Fields(extra.Scope), requiredScope) {
		fail(fmt.Errorf("insufficient_scope: the token lacks %s", requiredScope))
	}
	fmt.Printf("token valid: client_id=%s acc=%s aud=%v scope=%s expires=%s\n", extra.ClientID, extra.Account, []string(claims.Audience), extra.Scope, claims.Expiry.Time().UTC().Format(time.RFC3339))

	// 4. Call the protected API with the token validated above. (config.Client
	//    would request another token, and an assertion is accepted only once: a
	//    long-running client signs a new one per token request.)
	response, err := oauth2.NewClient(ctx, oauth2.StaticTokenSource(token)).Get(apiURL + "/orders")
	if err != nil {
		fail(err)
	}
	defer response.Body.Close()
	body, _ := io.ReadAll(response.Body)
	if response.StatusCode != http.StatusOK {
		fail(fmt.Errorf("GET /orders: HTTP %d %s %s", response.StatusCode, response.Header.Get("WWW-Authenticate"), body))
	}
	fmt.Printf("GET /orders -> %s\n", body)
}
