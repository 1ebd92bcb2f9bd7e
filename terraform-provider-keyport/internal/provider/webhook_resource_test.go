package provider

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/keyport/terraform-provider-keyport/internal/keyport"
)

// receiver is a webhook receiver on loopback (scripts/test-terraform.sh starts
// Keyport with KEYPORT_WEBHOOKS_ALLOW_LOOPBACK=true, as the ava tests do): it
// answers 204 and keeps every request.
type receiver struct {
	server *httptest.Server
	mu     sync.Mutex
	got    []received
}

type received struct {
	header http.Header
	body   []byte
}

func startReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{header: req.Header.Clone(), body: body})
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.server.Close)
	return r
}

// eventFor waits for the delivery of the event about keyID of the given type
// (other events of the shared test account come too), at most a minute.
func (r *receiver) eventFor(keyID, eventType string) (*received, error) {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		for i := range r.got {
			var event struct {
				Type      string `json:"type"`
				KeypairID string `json:"keypairId"`
			}
			if json.Unmarshal(r.got[i].body, &event) == nil && event.KeypairID == keyID && event.Type == eventType {
				found := r.got[i]
				r.mu.Unlock()
				return &found, nil
			}
		}
		r.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
	}
	return nil, fmt.Errorf("no %s event for %s reached the receiver", eventType, keyID)
}

// signedWith checks Keyport-Signature (t=<unix>,v1=<hex HMAC-SHA-256(secret, "<t>.<body>")>) against a secret.
func signedWith(got *received, secret string) error {
	header := got.header.Get("Keyport-Signature")
	var timestamp string
	var signatures []string
	for _, part := range strings.Split(header, ",") {
		key, value, _ := strings.Cut(part, "=")
		switch key {
		case "t":
			timestamp = value
		case "v1":
			signatures = append(signatures, value)
		}
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp + "."))
	mac.Write(got.body)
	want := mac.Sum(nil)
	for _, s := range signatures {
		if decoded, err := hex.DecodeString(s); err == nil && hmac.Equal(decoded, want) {
			return nil
		}
	}
	return fmt.Errorf("Keyport-Signature %q is not signed with the secret in the state", header)
}

// deliveredWith makes a keypair event in the account and checks that the
// endpoint receives it signed with the secret the state holds.
func deliveredWith(r *receiver, name string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		secret, err := stateAttr(s, name, "secret")
		if err != nil {
			return err
		}
		issued, err := apiClient().CreateKeypair(context.Background(), accountID(), keyport.KeypairInput{Name: ptr("webhook probe")})
		if err != nil {
			return err
		}
		defer apiClient().DeleteKeypair(context.Background(), issued.Keypair.KeyID)
		got, err := r.eventFor(issued.Keypair.KeyID, "keypair.created")
		if err != nil {
			return err
		}
		return signedWith(got, secret)
	}
}

func ptr[T any](v T) *T { return &v }

// webhooksRemoved: after a destroy, Keyport no longer has the state's endpoints.
func webhooksRemoved(s *terraform.State) error {
	for _, rs := range s.RootModule().Resources {
		if rs.Type != "keyport_webhook" {
			continue
		}
		if _, err := apiClient().Webhook(context.Background(), rs.Primary.ID); !keyport.IsNotFound(err) {
			return fmt.Errorf("webhook endpoint %s still exists after destroy (%v)", rs.Primary.ID, err)
		}
	}
	return nil
}

func webhookConfig(url, description string) string {
	return providerConfig + fmt.Sprintf(`
resource "keyport_webhook" "test" {
  account_id  = %q
  url         = %q
  description = %q
}`, accountID(), url, description)
}

func TestAccWebhook(t *testing.T) {
	hook := startReceiver(t)
	url := hook.server.URL + "/hooks/keyport"
	var id, firstSecret string
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             webhooksRemoved,
		Steps: []resource.TestStep{
			{
				// An address Keyport must not call (SSRF): Keyport's own reason, in the diagnostic.
				Config:      webhookConfig("https://10.0.0.1/hook", ""),
				ExpectError: diagnostic(`/webhooks: HTTP 400 validation_failed: url is not allowed: 10.0.0.1 is not a public address`),
			},
			{
				// Webhooks belong to accounts: an environment id is refused before any request.
				Config:      strings.Replace(webhookConfig(url, ""), accountID(), "env_0000000000000000", 1),
				ExpectError: diagnostic(`must be an account id (acc_…)`),
			},
			{
				Config:      webhookConfig(url, strings.Repeat("d", 501)),
				ExpectError: diagnostic(`string length must be at most 500`),
			},
			{
				Config: webhookConfig(url, "ops alerts"),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestMatchResourceAttr("keyport_webhook.test", "id", regexp.MustCompile(`^whk_`)),
					resource.TestMatchResourceAttr("keyport_webhook.test", "secret", regexp.MustCompile(`^whsec_`)),
					resource.TestCheckResourceAttr("keyport_webhook.test", "account_id", accountID()),
					resource.TestCheckResourceAttr("keyport_webhook.test", "url", url),
					resource.TestCheckResourceAttr("keyport_webhook.test", "description", "ops alerts"),
					resource.TestCheckTypeSetElemAttr("keyport_webhook.test", "events.*", "keypair.created"),
					resource.TestCheckTypeSetElemAttr("keyport_webhook.test", "events.*", "keypair.locked"),
					resource.TestCheckResourceAttrSet("keyport_webhook.test", "created_at"),
					remember("keyport_webhook.test", "id", &id),
					remember("keyport_webhook.test", "secret", &firstSecret),
					func(s *terraform.State) error {
						hint, err := stateAttr(s, "keyport_webhook.test", "secret_hint")
						if err != nil {
							return err
						}
						if tail := strings.TrimPrefix(hint, "whsec_…"); tail == "" || tail == hint || !strings.HasSuffix(firstSecret, tail) {
							return fmt.Errorf("secret_hint %q does not end the secret", hint)
						}
						wh, err := apiClient().Webhook(context.Background(), id)
						if err != nil {
							return err
						}
						if wh.URL != url || wh.Description != "ops alerts" || wh.AccountID != accountID() {
							return fmt.Errorf("Keyport has %+v", wh)
						}
						return nil
					},
					// The secret in the state is the one Keyport signs with.
					deliveredWith(hook, "keyport_webhook.test"),
				),
			},
			{
				// No edit in Keyport's API: a new description replaces the endpoint, with a new secret.
				Config: webhookConfig(url, "ops alerts, paged"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("keyport_webhook.test", plancheck.ResourceActionDestroyBeforeCreate),
					plancheck.ExpectUnknownValue("keyport_webhook.test", tfjsonPath("secret")),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("keyport_webhook.test", "description", "ops alerts, paged"),
					resource.TestCheckResourceAttrWith("keyport_webhook.test", "id", func(v string) error {
						if v == id {
							return fmt.Errorf("the endpoint was not replaced")
						}
						if _, err := apiClient().Webhook(context.Background(), id); !keyport.IsNotFound(err) {
							return fmt.Errorf("the replaced endpoint %s is still in Keyport (%v)", id, err)
						}
						return nil
					}),
					resource.TestCheckResourceAttrWith("keyport_webhook.test", "secret", func(v string) error {
						if !strings.HasPrefix(v, "whsec_") || v == firstSecret {
							return fmt.Errorf("the new endpoint has no new secret in the state")
						}
						return nil
					}),
					deliveredWith(hook, "keyport_webhook.test"),
				),
			},
			{
				// Import by id: everything but the secret (Keyport shows it only at creation).
				ResourceName: "keyport_webhook.test", ImportState: true, ImportStateVerify: true,
				ImportStateVerifyIgnore: []string{"secret"},
			},
		},
	})
}

func TestAccWebhookDrift(t *testing.T) {
	hook := startReceiver(t)
	// Without a path: Keyport stores "…/" (a WHATWG URL); the configured spelling is no change to plan.
	config := providerConfig + fmt.Sprintf(`
resource "keyport_webhook" "drift" {
  account_id = %q
  url        = %q
}`, accountID(), hook.server.URL)
	var id, secret string
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             webhooksRemoved,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("keyport_webhook.drift", "url", hook.server.URL),
					resource.TestCheckResourceAttr("keyport_webhook.drift", "description", ""),
					remember("keyport_webhook.drift", "id", &id),
					remember("keyport_webhook.drift", "secret", &secret),
					func(*terraform.State) error {
						wh, err := apiClient().Webhook(context.Background(), id)
						if err != nil {
							return err
						}
						if wh.URL != hook.server.URL+"/" {
							return fmt.Errorf("Keyport stored %q", wh.URL)
						}
						return nil
					},
				),
			},
			// The same configuration: nothing to do.
			{Config: config, PlanOnly: true},
			{
				// Removed outside Terraform (web UI, CLI): the next plan adds it again, with a new secret.
				PreConfig: func() {
					if err := apiClient().DeleteWebhook(context.Background(), id); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("keyport_webhook.drift", plancheck.ResourceActionCreate),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttrWith("keyport_webhook.drift", "id", func(v string) error {
						if v == id {
							return fmt.Errorf("the removed endpoint is still in the state")
						}
						return nil
					}),
					resource.TestCheckResourceAttrWith("keyport_webhook.drift", "secret", func(v string) error {
						if v == secret || !strings.HasPrefix(v, "whsec_") {
							return fmt.Errorf("the endpoint added again has no new secret in the state")
						}
						return nil
					}),
					deliveredWith(hook, "keyport_webhook.drift"),
				),
			},
		},
	})
}
