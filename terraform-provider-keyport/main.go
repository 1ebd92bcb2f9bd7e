// terraform-provider-keyport manages Keyport (accounts' environments, keypairs
// and memberships) from OpenTofu or Terraform, through Keyport's admin API.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/keyport/terraform-provider-keyport/internal/provider"
)

// version is set at release time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers (prints TF_REATTACH_PROVIDERS)")
	flag.Parse()
	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.opentofu.org/keyport/keyport",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err)
	}
}
