# Keyport as code: a staging environment, a keypair for a service in it (its
# secret rotated by changing rotation.trigger), an admin for the environment,
# the account's keypairs listed, and (if you give a receiver's URL) a webhook
# endpoint for the account's keypair events. Run it as described in
# terraform-provider-keyport/README.md (the provider reads KEYPORT_URL,
# KEYPORT_CLIENT_ID and KEYPORT_CLIENT_SECRET: an account keypair with keyport:admin).
terraform {
  required_providers {
    keyport = { source = "keyport/keyport" }
  }
}

provider "keyport" {}

variable "admin_email" {
  description = "An existing Keyport user who administers the staging environment."
  type        = string
}

variable "alerts_webhook_url" {
  description = "Optional: your receiver's https:// URL, on a public address, for the account's keypair events (locks, rotations, …). Empty: no webhook."
  type        = string
  default     = ""
}

# The provider keypair's own account.
data "keyport_account" "this" {}

resource "keyport_environment" "staging" {
  account_id = data.keyport_account.this.id
  name       = "staging"
}

resource "keyport_keypair" "orders_sync" {
  environment_id = keyport_environment.staging.id
  name           = "orders sync"
  comment        = "managed by Terraform"
  scopes         = ["orders:read", "orders:write"]

  # Change the trigger (e.g. monthly) to issue a new secret; the old one keeps
  # working for 24 hours while the service picks up the new one.
  rotation = {
    trigger = "2026-11"
    grace   = "24h"
  }
}

resource "keyport_membership" "staging_admin" {
  environment_id = keyport_environment.staging.id
  email          = var.admin_email
  role           = "admin"
}

# Keyport POSTs every keypair event of the account (and of its environments)
# here, signed with the endpoint's secret: give the secret to the receiver.
resource "keyport_webhook" "alerts" {
  count       = var.alerts_webhook_url == "" ? 0 : 1
  account_id  = data.keyport_account.this.id
  url         = var.alerts_webhook_url
  description = "keypair alerts"
}

data "keyport_keypairs" "staging" {
  environment_id = keyport_environment.staging.id
  depends_on     = [keyport_keypair.orders_sync]
}

output "orders_sync_key_id" {
  value = keyport_keypair.orders_sync.key_id
}

# Hand the secret to the service's secret store, e.g. with another provider;
# `tofu output -raw orders_sync_secret` shows it.
output "orders_sync_secret" {
  value     = keyport_keypair.orders_sync.secret
  sensitive = true
}

output "staging_keypairs" {
  value = [for kp in data.keyport_keypairs.staging.keypairs : "${kp.key_id} ${kp.name} (${kp.status})"]
}

# The receiver checks Keyport-Signature with it; `tofu output -raw alerts_webhook_secret`.
output "alerts_webhook_secret" {
  value     = one(keyport_webhook.alerts[*].secret)
  sensitive = true
}
