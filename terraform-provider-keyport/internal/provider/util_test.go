package provider

import (
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

func tfjsonPath(name string) tfjsonpath.Path { return tfjsonpath.New(name) }

// diagnostic matches a diagnostic's text however the CLI wraps its lines.
func diagnostic(text string) *regexp.Regexp {
	words := strings.Fields(text)
	for i, w := range words {
		words[i] = regexp.QuoteMeta(w)
	}
	return regexp.MustCompile(strings.Join(words, `\s+`))
}
