package provider

import "github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

func tfjsonPath(name string) tfjsonpath.Path { return tfjsonpath.New(name) }
