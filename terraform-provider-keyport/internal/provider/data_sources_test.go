package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

func TestAccDataSources(t *testing.T) {
	config := keypairConfig(`
resource "keyport_keypair" "on" {
  environment_id = keyport_environment.env.id
  name           = "listed one"
  scopes         = ["orders:read"]
}
resource "keyport_keypair" "off" {
  environment_id = keyport_environment.env.id
  name           = "listed two"
  enabled        = false
}
data "keyport_account" "mine" {
  depends_on = [keyport_environment.env]
}
data "keyport_account" "by_id" {
  id = "` + accountID() + `"
}
data "keyport_keypairs" "all" {
  environment_id = keyport_environment.env.id
  depends_on     = [keyport_keypair.on, keyport_keypair.off]
}
data "keyport_keypairs" "disabled" {
  environment_id = keyport_environment.env.id
  status         = "disabled"
  depends_on     = [keyport_keypair.on, keyport_keypair.off]
}
data "keyport_keypairs" "search" {
  environment_id = keyport_environment.env.id
  search         = "LISTED O"
  depends_on     = [keyport_keypair.on, keyport_keypair.off]
}`)
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             keypairsRemoved,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: resource.ComposeAggregateTestCheckFunc(
					// The provider keypair's own account, found without an id.
					resource.TestCheckResourceAttr("data.keyport_account.mine", "id", accountID()),
					resource.TestCheckResourceAttr("data.keyport_account.mine", "name", "Terraform tests"),
					resource.TestCheckResourceAttr("data.keyport_account.mine", "status", "active"),
					resource.TestCheckTypeSetElemNestedAttrs("data.keyport_account.mine", "environments.*", map[string]string{"name": "tf-keypairs", "status": "active"}),
					resource.TestCheckResourceAttr("data.keyport_account.by_id", "name", "Terraform tests"),
					// Both (Terraform creates them in parallel: no order is asserted), never a secret.
					resource.TestCheckResourceAttr("data.keyport_keypairs.all", "keypairs.#", "2"),
					resource.TestCheckTypeSetElemAttrPair("data.keyport_keypairs.all", "keypairs.*.key_id", "keyport_keypair.on", "key_id"),
					resource.TestCheckTypeSetElemAttrPair("data.keyport_keypairs.all", "keypairs.*.key_id", "keyport_keypair.off", "key_id"),
					resource.TestCheckTypeSetElemNestedAttrs("data.keyport_keypairs.all", "keypairs.*", map[string]string{"name": "listed one", "enabled": "true", "status": "enabled", "scopes.#": "1", "scopes.0": "orders:read"}),
					resource.TestCheckTypeSetElemNestedAttrs("data.keyport_keypairs.all", "keypairs.*", map[string]string{"name": "listed two", "enabled": "false", "status": "disabled", "scopes.#": "0"}),
					resource.TestCheckNoResourceAttr("data.keyport_keypairs.all", "keypairs.0.secret"),
					resource.TestCheckNoResourceAttr("data.keyport_keypairs.all", "keypairs.1.secret"),
					resource.TestCheckResourceAttr("data.keyport_keypairs.disabled", "keypairs.#", "1"),
					resource.TestCheckResourceAttrPair("data.keyport_keypairs.disabled", "keypairs.0.key_id", "keyport_keypair.off", "key_id"),
					resource.TestCheckResourceAttr("data.keyport_keypairs.disabled", "keypairs.0.status", "disabled"),
					resource.TestCheckResourceAttr("data.keyport_keypairs.search", "keypairs.#", "1"),
					resource.TestCheckResourceAttr("data.keyport_keypairs.search", "keypairs.0.name", "listed one"),
				),
			},
		},
	})
}

// Wrong credentials: the token endpoint's OAuth error reaches the user as a diagnostic.
func TestAccProviderCredentialsError(t *testing.T) {
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: `
terraform {
  required_providers {
    keyport = { source = "keyport/keyport" }
  }
}
provider "keyport" {
  client_secret = "kps_not_the_secret"
}
data "keyport_account" "mine" {}
`,
				ExpectError: diagnostic(`HTTP 401 invalid_client: client authentication failed`),
			},
		},
	})
}
