package provider

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/keyport/terraform-provider-keyport/internal/keyport"
)

// The acceptance tests run against a live Keyport (scripts/test-terraform.sh starts one
// and sets these variables) with OpenTofu as the CLI.
var testProviders = map[string]func() (tfprotov6.ProviderServer, error){
	"keyport": providerserver.NewProtocol6WithError(New("test")()),
}

// The configuration every test starts with: the provider block reads KEYPORT_URL,
// KEYPORT_CLIENT_ID and KEYPORT_CLIENT_SECRET from the environment.
const providerConfig = `
terraform {
  required_providers {
    keyport = { source = "keyport/keyport" }
  }
}
provider "keyport" {}
`

func preCheck(t *testing.T) {
	t.Helper()
	for _, name := range []string{"KEYPORT_URL", "KEYPORT_CLIENT_ID", "KEYPORT_CLIENT_SECRET", "KEYPORT_TEST_ACCOUNT_ID", "KEYPORT_TEST_USER_EMAILS"} {
		if os.Getenv(name) == "" {
			t.Fatalf("%s must be set: run the acceptance tests with scripts/test-terraform.sh", name)
		}
	}
}

func accountID() string { return os.Getenv("KEYPORT_TEST_ACCOUNT_ID") }

func userEmails() []string { return strings.Split(os.Getenv("KEYPORT_TEST_USER_EMAILS"), ",") }

// apiClient is the admin API as the provider's own keypair, for changes made
// outside Terraform (as in the web UI) and for checks after a destroy.
func apiClient() *keyport.Client {
	return keyport.NewClient(os.Getenv("KEYPORT_URL"), os.Getenv("KEYPORT_CLIENT_ID"), os.Getenv("KEYPORT_CLIENT_SECRET"), nil)
}

// tokenStatus asks Keyport's token endpoint for a token with a keypair's key id and secret.
func tokenStatus(keyID, secret string) (int, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, strings.TrimRight(os.Getenv("KEYPORT_URL"), "/")+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.SetBasicAuth(keyID, secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}

func expectToken(keyID, secret, which string, want int) error {
	status, err := tokenStatus(keyID, secret)
	if err != nil {
		return err
	}
	if status != want {
		return fmt.Errorf("token request with the %s secret: HTTP %d, want %d", which, status, want)
	}
	return nil
}
