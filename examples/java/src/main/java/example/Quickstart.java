// Keyport quickstart for Java: get an access token with the client credentials
// grant (Nimbus OAuth 2.0 SDK), validate it as a resource server would
// (nimbus-jose-jwt: JWKS, ES256 only, typ at+jwt, issuer, audience; then the
// tenant and the scope), then call the protected API with it. Exits non-zero
// on any failure.
package example;

import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.jwk.source.JWKSourceBuilder;
import com.nimbusds.jose.proc.DefaultJOSEObjectTypeVerifier;
import com.nimbusds.jose.proc.JWSVerificationKeySelector;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.proc.DefaultJWTClaimsVerifier;
import com.nimbusds.jwt.proc.DefaultJWTProcessor;
import com.nimbusds.oauth2.sdk.ClientCredentialsGrant;
import com.nimbusds.oauth2.sdk.Scope;
import com.nimbusds.oauth2.sdk.TokenRequest;
import com.nimbusds.oauth2.sdk.TokenResponse;
import com.nimbusds.oauth2.sdk.as.AuthorizationServerMetadata;
import com.nimbusds.oauth2.sdk.auth.ClientAuthentication;
import com.nimbusds.oauth2.sdk.auth.ClientSecretBasic;
import com.nimbusds.oauth2.sdk.auth.PrivateKeyJWT;
import com.nimbusds.oauth2.sdk.auth.Secret;
import com.nimbusds.oauth2.sdk.id.ClientID;
import com.nimbusds.oauth2.sdk.id.Issuer;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.interfaces.ECPrivateKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Arrays;
import java.util.Set;

public final class Quickstart {

  /** What GET /orders needs: a token of the account the API serves, with this scope. */
  private static final String REQUIRED_SCOPE = "orders:read";

  private static String env(String name, String fallback) {
    String value = System.getenv(name);
    if (value != null && !value.isEmpty()) return value;
    if (fallback != null) return fallback;
    throw new IllegalStateException("set " + name);
  }

  public static void main(String[] args) {
    try {
      run();
    } catch (Exception e) {
      System.err.println("quickstart failed: " + e);
      System.exit(1);
    }
  }

  /**
   * private_key_jwt (RFC 7523 §2.2) with the PKCS#8 PEM private key in keyFile
   * (EC P-256/P-384 or RSA): Nimbus signs iss = sub = the key id, aud = the
   * token endpoint, a random jti, exp in 5 minutes (Keyport's longest).
   */
  private static ClientAuthentication privateKeyJwt(String keyFile, ClientID clientId, URI tokenEndpoint) throws Exception {
    String pem = Files.readString(Path.of(keyFile));
    byte[] der = Base64.getMimeDecoder().decode(pem.replaceAll("-----(BEGIN|END) PRIVATE KEY-----", "").trim());
    PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
    PrivateKey key;
    JWSAlgorithm alg;
    try {
      ECPrivateKey ec = (ECPrivateKey) KeyFactory.getInstance("EC").generatePrivate(spec);
      int bits = ec.getParams().getCurve().getField().getFieldSize();
      alg = bits == 256 ? JWSAlgorithm.ES256 : bits == 384 ? JWSAlgorithm.ES384 : null;
      if (alg == null) throw new IllegalStateException("EC keys must be P-256 or P-384");
      key = ec;
    } catch (java.security.spec.InvalidKeySpecException notEc) {
      key = KeyFactory.getInstance("RSA").generatePrivate(spec);
      alg = JWSAlgorithm.RS256;
    }
    return new PrivateKeyJWT(clientId, tokenEndpoint, alg, key, null, null);
  }

  private static void run() throws Exception {
    String keyportUrl = env("KEYPORT_URL", null).replaceAll("/+$", "");
    String keyId = env("KEYPORT_KEY_ID", null);
    String keyFile = System.getenv("KEYPORT_PRIVATE_KEY_FILE");
    String apiUrl = env("API_URL", "http://localhost:4000").replaceAll("/+$", "");
    String audience = env("KEYPORT_AUDIENCE", "https://api.example.com");
    String scope = env("KEYPORT_SCOPE", "orders:read");
    String account = env("KEYPORT_ACCOUNT", null); // acc_…: the account whose tokens the API accepts

    // 1. Discovery (RFC 8414): the SDK checks that the document names the same issuer.
    AuthorizationServerMetadata metadata = AuthorizationServerMetadata.resolve(new Issuer(keyportUrl));

    // 2. Client credentials grant, the keypair as HTTP Basic client credentials,
    //    or authenticated by an assertion signed with its private key.
    ClientAuthentication auth = keyFile != null && !keyFile.isEmpty()
        ? privateKeyJwt(keyFile, new ClientID(keyId), metadata.getTokenEndpointURI())
        : new ClientSecretBasic(new ClientID(keyId), new Secret(env("KEYPORT_SECRET", null)));
    TokenRequest request = new TokenRequest(
        metadata.getTokenEndpointURI(),
        auth,
        new ClientCredentialsGrant(),
        Scope.parse(scope));
    TokenResponse response = TokenResponse.parse(request.toHTTPRequest().send());
    if (!response.indicatesSuccess()) {
      var error = response.toErrorResponse().getErrorObject();
      throw new IllegalStateException("token request failed: HTTP " + error.getHTTPStatusCode() + " " + error.getCode() + " " + error.getDescription());
    }
    String token = response.toSuccessResponse().getTokens().getAccessToken().getValue();

    // 3. Validate as a resource server: keys from the JWKS (cached), ES256 only,
    //    typ at+jwt (RFC 9068), exact issuer, our audience, the claims we rely on.
    JWKSource<SecurityContext> keys = JWKSourceBuilder.create(metadata.getJWKSetURI().toURL()).retrying(true).build();
    DefaultJWTProcessor<SecurityContext> processor = new DefaultJWTProcessor<>();
    processor.setJWSTypeVerifier(new DefaultJOSEObjectTypeVerifier<>(new JOSEObjectType("at+jwt")));
    processor.setJWSKeySelector(new JWSVerificationKeySelector<>(JWSAlgorithm.ES256, keys));
    processor.setJWTClaimsSetVerifier(new DefaultJWTClaimsVerifier<>(
        audience,
        new JWTClaimsSet.Builder().issuer(metadata.getIssuer().getValue()).build(),
        Set.of("sub", "client_id", "iat", "exp", "jti", "acc")));
    JWTClaimsSet claims = processor.process(token, null);
    // Keyport signs every account's tokens for the same audience: the tenant must
    // be checked, or any account's keypair with the scope would be served.
    String tokenAccount = claims.getStringClaim("acc");
    if (!account.equals(tokenAccount)) {
      throw new IllegalStateException("wrong_tenant: the token belongs to account " + tokenAccount + ", this API serves " + account);
    }
    String granted = claims.getStringClaim("scope");
    if (granted == null || !Arrays.asList(granted.split(" ")).contains(REQUIRED_SCOPE)) {
      throw new IllegalStateException("insufficient_scope: the token lacks " + REQUIRED_SCOPE);
    }
    System.out.println("token valid: client_id=" + claims.getStringClaim("client_id")
        + " acc=" + tokenAccount + " aud=" + claims.getAudience() + " scope=" + claims.getStringClaim("scope")
        + " expires=" + claims.getExpirationTime().toInstant());

    // 4. Call the protected API with the token.
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    HttpResponse<String> api = http.send(
        HttpRequest.newBuilder(URI.create(apiUrl + "/orders"))
            .header("Authorization", "Bearer " + token)
            .timeout(Duration.ofSeconds(10))
            .GET().build(),
        HttpResponse.BodyHandlers.ofString());
    if (api.statusCode() != 200) {
      throw new IllegalStateException("GET /orders: HTTP " + api.statusCode() + " "
          + api.headers().firstValue("WWW-Authenticate").orElse("") + " " + api.body());
    }
    System.out.println("GET /orders -> " + api.body());
  }
}
