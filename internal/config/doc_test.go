package config_test

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/connector/ldap"
	"github.com/accord-iam/accord/internal/connector/rest"
	"github.com/accord-iam/accord/internal/connector/scim"
)

// docRow is a key row of docs/config.md's tables: | `path` | type | default | ...
var docRow = regexp.MustCompile("(?m)^\\| `([^`]+)` \\|([^|]*)\\|([^|]*)\\|")

// The configuration reference documents every key the config structs
// accept, with its type and default, and no key they do not: a key added
// to a struct without a line in docs/config.md fails here.
func TestConfigReferenceCoversEveryKey(t *testing.T) {
	data, err := os.ReadFile("../../docs/config.md")
	require.NoError(t, err)
	documented := map[string]bool{}
	for _, m := range docRow.FindAllStringSubmatch(string(data), -1) {
		path := m[1]
		require.False(t, documented[path], "docs/config.md documents %s twice", path)
		documented[path] = true
		require.NotEmpty(t, strings.TrimSpace(m[2]), "docs/config.md: %s has no type", path)
		require.NotEmpty(t, strings.TrimSpace(m[3]), "docs/config.md: %s has no default (write — for none)", path)
	}

	want := map[string]bool{}
	w := walker{out: want, seen: map[reflect.Type]bool{}}
	// The connection block is each connector's own; its keys are
	// documented under connection. REST operations share one shape,
	// documented once as connection.operations.*. Walked first, so that
	// the auth block a pull source shares (sources[].http.auth) is
	// documented once, under connection.auth.
	w.keys(reflect.TypeOf(scim.Settings{}), "connection.")
	w.seen[reflect.TypeOf(rest.Operation{})] = true
	w.keys(reflect.TypeOf(rest.Settings{}), "connection.")
	w.seen[reflect.TypeOf(rest.Operation{})] = false
	w.value(reflect.TypeOf(rest.Operation{}), "connection.operations.*")
	w.keys(reflect.TypeOf(ldap.Settings{}), "connection.")
	w.keys(reflect.TypeOf(config.Config{}), "")
	want["connection.name"] = true // memory connector (tests, demos); its settings type is unexported

	var missing, stale []string
	for k := range want {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !want[k] {
			stale = append(stale, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	if os.Getenv("ACCORD_LIST_CONFIG_KEYS") != "" {
		all := make([]string, 0, len(want))
		for k := range want {
			all = append(all, k)
		}
		sort.Strings(all)
		t.Log("\n" + strings.Join(all, "\n"))
	}
	require.Empty(t, missing, "keys the config structs accept but docs/config.md does not document")
	require.Empty(t, stale, "keys docs/config.md documents but no config struct has")
}

var nodeType = reflect.TypeOf(yaml.Node{})

// walker collects key paths. A struct type met again (a response shape,
// logout after login) is documented where it first appears: later
// places list only their own key.
type walker struct {
	out  map[string]bool
	seen map[reflect.Type]bool
}

// keys adds the key paths of t under prefix: a slice's elements are
// path[], a map's values path.*.
func (w walker) keys(t reflect.Type, prefix string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("yaml")
		if !ok || tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if slices.Contains(strings.Split(opts, ","), "inline") {
			w.keys(f.Type, prefix)
			continue
		}
		path := prefix + name
		w.out[path] = true
		w.value(f.Type, path)
	}
}

func (w walker) value(t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice:
		w.value(t.Elem(), path+"[]")
	case reflect.Map:
		w.value(t.Elem(), path+".*")
	case reflect.Struct:
		if t == nodeType || !hasYAMLFields(t) || w.seen[t] {
			return // a scalar with its own syntax (a limit, a secret reference), or documented already
		}
		w.seen[t] = true
		w.keys(t, path+".")
	}
}

func hasYAMLFields(t reflect.Type) bool {
	for i := 0; i < t.NumField(); i++ {
		if _, ok := t.Field(i).Tag.Lookup("yaml"); ok {
			return true
		}
	}
	return false
}
