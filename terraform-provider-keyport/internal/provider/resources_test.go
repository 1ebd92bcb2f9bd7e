package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/keyport/terraform-provider-keyport/internal/keyport"
)

// stateAttr reads one attribute of a resource from the state.
func stateAttr(s *terraform.State, name, key string) (string, error) {
	rs, ok := s.RootModule().Resources[name]
	if !ok {
		return "", fmt.Errorf("%s is not in the state", name)
	}
	return rs.Primary.Attributes[key], nil
}

// remember stores an attribute's value, for a later step to compare with.
func remember(name, key string, into *string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		v, err := stateAttr(s, name, key)
		*into = v
		return err
	}
}

func TestAccEnvironment(t *testing.T) {
	var id string
	config := func(name string) string {
		return providerConfig + fmt.Sprintf(`
resource "keyport_environment" "test" {
  account_id = %q
  name       = %q
}`, accountID(), name)
	}
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             environmentsClosed,
		Steps: []resource.TestStep{
			{
				Config: config("tf-staging"),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestMatchResourceAttr("keyport_environment.test", "id", regexp.MustCompile(`^env_`)),
					resource.TestCheckResourceAttr("keyport_environment.test", "account_id", accountID()),
					resource.TestCheckResourceAttr("keyport_environment.test", "name", "tf-staging"),
					resource.TestCheckResourceAttr("keyport_environment.test", "status", "active"),
					remember("keyport_environment.test", "id", &id),
				),
			},
			{
				// A rename is made in place: the same environment, its keypairs kept.
				Config:           config("tf-staging-renamed"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("keyport_environment.test", plancheck.ResourceActionUpdate)}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("keyport_environment.test", "name", "tf-staging-renamed"),
					resource.TestCheckResourceAttrWith("keyport_environment.test", "id", func(v string) error {
						if v != id {
							return fmt.Errorf("id changed from %s to %s", id, v)
						}
						env, err := apiClient().Environment(context.Background(), v)
						if err != nil {
							return err
						}
						if env.Name != "tf-staging-renamed" {
							return fmt.Errorf("Keyport has the name %q", env.Name)
						}
						return nil
					}),
				),
			},
			{ResourceName: "keyport_environment.test", ImportState: true, ImportStateVerify: true},
		},
	})
}

// environmentsClosed: after a destroy, every environment of the state is closed in Keyport.
func environmentsClosed(s *terraform.State) error {
	for _, rs := range s.RootModule().Resources {
		if rs.Type != "keyport_environment" {
			continue
		}
		env, err := apiClient().Environment(context.Background(), rs.Primary.ID)
		if err != nil && !keyport.IsNotFound(err) {
			return err
		}
		if err == nil && env.Status == "active" {
			return fmt.Errorf("environment %s is still active after destroy", rs.Primary.ID)
		}
	}
	return nil
}

// keypairsRemoved: after a destroy, Keyport no longer knows the state's keypairs.
func keypairsRemoved(s *terraform.State) error {
	for _, rs := range s.RootModule().Resources {
		if rs.Type != "keyport_keypair" {
			continue
		}
		if _, err := apiClient().Keypair(context.Background(), rs.Primary.ID); !keyport.IsNotFound(err) {
			return fmt.Errorf("keypair %s still exists after destroy (%v)", rs.Primary.ID, err)
		}
	}
	return environmentsClosed(s)
}

func keypairConfig(body string) string {
	return providerConfig + fmt.Sprintf(`
resource "keyport_environment" "env" {
  account_id = %q
  name       = "tf-keypairs"
}
`, accountID()) + body
}

func TestAccKeypair(t *testing.T) {
	var keyID, firstSecret, secondSecret string
	account := fmt.Sprintf(`
resource "keyport_keypair" "account" {
  account_id = %q
  name       = "tf account keypair"
}
`, accountID())
	envKeypair := func(attributes string) string {
		return keypairConfig(account + `
resource "keyport_keypair" "test" {
  environment_id = keyport_environment.env.id
` + attributes + `
}`)
	}
	tokenWith := func(which *string, label string, want int) resource.TestCheckFunc {
		return func(s *terraform.State) error {
			return expectToken(keyID, *which, label, want)
		}
	}
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             keypairsRemoved,
		Steps: []resource.TestStep{
			{
				// A grace period that Keyport does not offer is refused before any request.
				Config: envKeypair(`
  name     = "orders sync v2"
  rotation = { trigger = "2027-01", grace = "5h" }`),
				ExpectError: diagnostic(`rotation.grace value must be one of`),
			},
			{
				Config: envKeypair(`
  name    = "orders sync"
  comment = "made by Terraform"
  scopes  = ["orders:read"]`),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestMatchResourceAttr("keyport_keypair.test", "key_id", regexp.MustCompile(`^kp_`)),
					resource.TestMatchResourceAttr("keyport_keypair.test", "secret", regexp.MustCompile(`^kps_`)),
					resource.TestCheckResourceAttr("keyport_keypair.test", "enabled", "true"),
					resource.TestCheckResourceAttr("keyport_keypair.test", "status", "enabled"),
					resource.TestCheckResourceAttr("keyport_keypair.test", "scopes.#", "1"),
					resource.TestCheckTypeSetElemAttr("keyport_keypair.test", "scopes.*", "orders:read"),
					resource.TestCheckResourceAttr("keyport_keypair.test", "comment", "made by Terraform"),
					resource.TestCheckNoResourceAttr("keyport_keypair.test", "account_id"),
					resource.TestCheckResourceAttrPair("keyport_keypair.test", "environment_id", "keyport_environment.env", "id"),
					// The account-owned keypair, with the defaults.
					resource.TestCheckResourceAttr("keyport_keypair.account", "account_id", accountID()),
					resource.TestCheckResourceAttr("keyport_keypair.account", "scopes.#", "0"),
					resource.TestCheckResourceAttr("keyport_keypair.account", "comment", ""),
					resource.TestCheckResourceAttr("keyport_keypair.account", "enabled", "true"),
					remember("keyport_keypair.test", "key_id", &keyID),
					remember("keyport_keypair.test", "secret", &firstSecret),
					tokenWith(&firstSecret, "created", 200),
				),
			},
			{
				// Edits in place, and disabling: the secret no longer gets a token.
				Config: envKeypair(`
  name    = "orders sync v2"
  comment = "edited"
  scopes  = ["orders:read", "orders:write"]
  enabled = false`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("keyport_keypair.test", plancheck.ResourceActionUpdate)}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("keyport_keypair.test", "name", "orders sync v2"),
					resource.TestCheckResourceAttr("keyport_keypair.test", "comment", "edited"),
					resource.TestCheckResourceAttr("keyport_keypair.test", "scopes.#", "2"),
					resource.TestCheckResourceAttr("keyport_keypair.test", "enabled", "false"),
					resource.TestCheckResourceAttr("keyport_keypair.test", "status", "disabled"),
					resource.TestCheckResourceAttrWith("keyport_keypair.test", "secret", func(v string) error {
						if v != firstSecret {
							return fmt.Errorf("the secret changed without a rotation")
						}
						return nil
					}),
					func(*terraform.State) error {
						kp, err := apiClient().Keypair(context.Background(), keyID)
						if err != nil {
							return err
						}
						if kp.Enabled || kp.Name != "orders sync v2" || kp.Comment != "edited" || len(kp.Scopes) != 2 {
							return fmt.Errorf("Keyport has %+v", kp)
						}
						return nil
					},
					tokenWith(&firstSecret, "disabled keypair's", 401),
				),
			},
			{
				// Enabled again, and a rotation trigger: a new secret, the old one still works for the grace period.
				Config: envKeypair(`
  name     = "orders sync v2"
  comment  = "edited"
  scopes   = ["orders:read", "orders:write"]
  rotation = { trigger = "2026-11", grace = "1h" }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("keyport_keypair.test", plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue("keyport_keypair.test", tfjsonPath("secret")),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("keyport_keypair.test", "enabled", "true"),
					resource.TestCheckResourceAttr("keyport_keypair.test", "rotation.grace", "1h"),
					resource.TestCheckResourceAttrSet("keyport_keypair.test", "last_rotated_at"),
					remember("keyport_keypair.test", "secret", &secondSecret),
					func(*terraform.State) error {
						if !strings.HasPrefix(secondSecret, "kps_") || secondSecret == firstSecret {
							return fmt.Errorf("the rotation did not store a new secret")
						}
						return nil
					},
					tokenWith(&secondSecret, "new", 200),
					tokenWith(&firstSecret, "old (in its grace period)", 200),
				),
			},
			{
				// The same trigger: nothing to do.
				Config: envKeypair(`
  name     = "orders sync v2"
  comment  = "edited"
  scopes   = ["orders:read", "orders:write"]
  rotation = { trigger = "2026-11", grace = "1h" }`),
				PlanOnly: true,
			},
			{
				// Another trigger with grace 0: the previous secret stops at once.
				Config: envKeypair(`
  name     = "orders sync v2"
  comment  = "edited"
  scopes   = ["orders:read", "orders:write"]
  rotation = { trigger = "2026-12", grace = "0" }`),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttrWith("keyport_keypair.test", "secret", func(v string) error {
						if v == secondSecret || v == firstSecret {
							return fmt.Errorf("the rotation did not store a new secret")
						}
						return expectToken(keyID, v, "newest", 200)
					}),
					tokenWith(&secondSecret, "rotated out with grace 0", 401),
				),
			},
			{
				// Import by key id: everything but the secret (Keyport cannot show it again) and the trigger.
				ResourceName: "keyport_keypair.test", ImportState: true, ImportStateVerify: true,
				ImportStateVerifyIgnore: []string{"secret", "rotation"},
			},
		},
	})
}

func TestAccKeypairDrift(t *testing.T) {
	var keyID string
	config := keypairConfig(`
resource "keyport_keypair" "drift" {
  environment_id = keyport_environment.env.id
  name           = "drifting"
}`)
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             keypairsRemoved,
		Steps: []resource.TestStep{
			{Config: config, Check: remember("keyport_keypair.drift", "key_id", &keyID)},
			{
				// Disabled outside Terraform (as in the web UI): the next plan shows it and the apply enables it again.
				PreConfig: func() {
					if _, err := apiClient().SetKeypairEnabled(context.Background(), keyID, false); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("keyport_keypair.drift", plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("keyport_keypair.drift", "enabled", "true"),
					func(*terraform.State) error {
						kp, err := apiClient().Keypair(context.Background(), keyID)
						if err != nil {
							return err
						}
						if !kp.Enabled {
							return fmt.Errorf("the apply did not enable the keypair again")
						}
						return nil
					},
				),
			},
			{
				// Renamed outside Terraform: a drift of the name too.
				PreConfig: func() {
					name := "renamed in the UI"
					if _, err := apiClient().UpdateKeypair(context.Background(), keyID, keyport.KeypairInput{Name: &name}); err != nil {
						t.Fatal(err)
					}
				},
				Config:             config,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				// Removed outside Terraform: the next plan creates it again.
				PreConfig: func() {
					if err := apiClient().DeleteKeypair(context.Background(), keyID); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("keyport_keypair.drift", plancheck.ResourceActionCreate),
				}},
				Check: resource.TestCheckResourceAttrWith("keyport_keypair.drift", "key_id", func(v string) error {
					if v == keyID {
						return fmt.Errorf("the removed keypair is still in the state")
					}
					return nil
				}),
			},
		},
	})
}

func TestAccMembership(t *testing.T) {
	emails := userEmails()
	config := func(role string) string {
		return keypairConfig(fmt.Sprintf(`
resource "keyport_membership" "env" {
  environment_id = keyport_environment.env.id
  email          = %q
  role           = %q
}
resource "keyport_membership" "account" {
  account_id = %q
  email      = %q
  role       = "member"
}`, emails[0], role, accountID(), emails[1]))
	}
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             membershipsRemoved,
		Steps: []resource.TestStep{
			{
				Config: config("member"),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestMatchResourceAttr("keyport_membership.env", "user_id", regexp.MustCompile(`.+`)),
					resource.TestMatchResourceAttr("keyport_membership.env", "id", regexp.MustCompile(`^env_[^/]+/.+`)),
					resource.TestCheckResourceAttr("keyport_membership.env", "role", "member"),
					resource.TestCheckResourceAttr("keyport_membership.account", "account_id", accountID()),
					memberHasRole("keyport_membership.env", "member"),
					memberHasRole("keyport_membership.account", "member"),
				),
			},
			{
				Config:           config("admin"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("keyport_membership.env", plancheck.ResourceActionUpdate)}},
				Check:            memberHasRole("keyport_membership.env", "admin"),
			},
			{ResourceName: "keyport_membership.env", ImportState: true, ImportStateVerify: true},
			{ResourceName: "keyport_membership.account", ImportState: true, ImportStateVerify: true},
			{
				// A user that does not exist: Keyport's own error, in the diagnostic.
				Config: config("admin") + `
resource "keyport_membership" "nobody" {
  environment_id = keyport_environment.env.id
  email          = "nobody@keyport.test"
  role           = "member"
}`,
				ExpectError: diagnostic(`/members: HTTP 400 validation_failed: no user has this email`),
			},
		},
	})
}

func memberHasRole(name, role string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		id, err := stateAttr(s, name, "id")
		if err != nil {
			return err
		}
		owner, userID, _ := strings.Cut(id, "/")
		members, err := apiClient().Members(context.Background(), owner)
		if err != nil {
			return err
		}
		for _, m := range members {
			if m.UserID == userID {
				if m.Role != role {
					return fmt.Errorf("%s has the role %s in Keyport, want %s", m.Email, m.Role, role)
				}
				return nil
			}
		}
		return fmt.Errorf("%s is not a member of %s in Keyport", userID, owner)
	}
}

func membershipsRemoved(s *terraform.State) error {
	for _, rs := range s.RootModule().Resources {
		if rs.Type != "keyport_membership" {
			continue
		}
		owner, userID, _ := strings.Cut(rs.Primary.ID, "/")
		members, err := apiClient().Members(context.Background(), owner)
		if err != nil {
			if strings.HasPrefix(owner, "env_") {
				continue // closed with its environment
			}
			return err
		}
		for _, m := range members {
			if m.UserID == userID {
				return fmt.Errorf("%s is still a member of %s after destroy", m.Email, owner)
			}
		}
	}
	return environmentsClosed(s)
}
