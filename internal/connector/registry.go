package connector

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/accord-iam/accord/internal/yamlx"
)

// CheckEnv is what a connector's config check may rely on.
type CheckEnv struct {
	Target string
	// AccountAttributes are the names the target's account mapping
	// produces; templates may refer to them and to nothing else.
	AccountAttributes []string
}

// Spec is everything needed to open a configured target.
type Spec struct {
	Target            string
	Settings          *yaml.Node
	AccountAttributes []string
	Logger            *slog.Logger
	// Sessions keeps login sessions across restarts; nil keeps none.
	Sessions SessionStore
}

// Factory makes connectors of one type.
type Factory struct {
	// Check validates the settings without touching the target. Problem
	// paths are relative to the settings node.
	Check func(settings *yaml.Node, env CheckEnv) yamlx.Problems
	// Open builds a connector; it may resolve secrets but should not need
	// the target to be reachable.
	Open func(ctx context.Context, spec Spec) (Connector, error)
	// Settings is the type the connection block decodes into (its yaml
	// tags are the keys): the config's JSON Schema describes the block of
	// this connector type from it. Settled fills it in; nil leaves the
	// block unchecked by the schema.
	Settings reflect.Type
}

var registry = struct {
	sync.RWMutex
	m map[string]Factory
}{m: map[string]Factory{}}

// Register makes a connector type available under name. It panics on a
// duplicate, which is a programming error.
func Register(name string, f Factory) {
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.m[name]; dup {
		panic("connector: duplicate type " + name)
	}
	registry.m[name] = f
}

// Lookup returns the factory for a type.
func Lookup(name string) (Factory, bool) {
	registry.RLock()
	defer registry.RUnlock()
	f, ok := registry.m[name]
	return f, ok
}

// Types lists the registered types, sorted.
func Types() []string {
	registry.RLock()
	defer registry.RUnlock()
	out := make([]string, 0, len(registry.m))
	for k := range registry.m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Open builds the connector of the given type.
func Open(ctx context.Context, typ string, spec Spec) (Connector, error) {
	f, ok := Lookup(typ)
	if !ok {
		return nil, fmt.Errorf("target %s: unknown connector type %q (known: %v)", spec.Target, typ, Types())
	}
	if spec.Logger == nil {
		spec.Logger = slog.Default()
	}
	return f.Open(ctx, spec)
}

// Settled builds the Factory of a connector type whose settings are decoded
// and checked by check and opened by open: Check reports every problem, and
// Open refuses settings that have any.
func Settled[S any](check func(*yaml.Node, CheckEnv) (S, yamlx.Problems), open func(S, Spec) (Connector, error)) Factory {
	return Factory{
		Settings: reflect.TypeFor[S](),
		Check: func(settings *yaml.Node, env CheckEnv) yamlx.Problems {
			_, ps := check(settings, env)
			return ps
		},
		Open: func(_ context.Context, spec Spec) (Connector, error) {
			s, ps := check(spec.Settings, CheckEnv{Target: spec.Target, AccountAttributes: spec.AccountAttributes})
			if len(ps) > 0 {
				return nil, fmt.Errorf("target %s: %w", spec.Target, ps)
			}
			c, err := open(s, spec)
			if err != nil {
				return nil, fmt.Errorf("target %s: %w", spec.Target, err)
			}
			return c, nil
		},
	}
}
