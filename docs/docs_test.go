package docs

import (
	"strings"
	"testing"
)

// The reference is in the binary, and its key rows are there to be read.
func TestConfigReferenceIsEmbedded(t *testing.T) {
	if !strings.HasPrefix(ConfigReference, "# accord configuration reference") {
		t.Fatalf("config.md is not embedded as expected: %.60q", ConfigReference)
	}
	if !strings.Contains(ConfigReference, "| `store.driver` | string | `sqlite` |") {
		t.Fatal("config.md has no row for store.driver")
	}
}
