package app

import (
	"context"
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/secret"
	"github.com/accord-iam/accord/internal/yamlx"
)

// AttributeError is a planned create or update whose mapped values the
// target's declared schema refuses: caught before anything is sent, the
// person's job on that target is left out of the run.
type AttributeError struct {
	PersonKey string
	Target    string
	Problems  []connector.AttributeProblem
}

func (e *AttributeError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = fmt.Sprintf("account.%s: %s", p.Attribute, p.Message)
	}
	return fmt.Sprintf("person %s on %s: %s", e.PersonKey, e.Target, strings.Join(parts, "; "))
}

// identifier is implemented by connectors whose target identifies an
// account by some of its attributes (SCIM userName, a REST find's
// match): those must never be sent empty.
type identifier interface {
	IdentityAttributes() []string
}

// attributeCheck returns the check of one job's creates and updates
// against its target's schema and identity attributes: an
// *AttributeError leaves the job out of the plan, as the target would
// refuse a mapped value or the user name would be sent empty. Nil when
// no target declares anything to check.
//
// A target whose discovery did not answer before planning (undiscovered)
// is not checked against what it declares: the check would wait for the
// discovery that planning did not wait for, and the plan would mix what
// the target said with what was assumed of it. Its identity attributes
// are still checked.
func (a *App) attributeCheck(ctx context.Context, undiscovered []Assumption) func(*model.Job) error {
	checkers := map[string]connector.AttributeChecker{}
	ids := map[string][]string{}
	for name, c := range a.Conns {
		if ch, ok := c.(connector.AttributeChecker); ok && !assumedOf(undiscovered, name) {
			checkers[name] = ch
		}
		if id, ok := c.(identifier); ok {
			ids[name] = id.IdentityAttributes()
		}
	}
	if len(checkers) == 0 && len(ids) == 0 {
		return nil
	}
	return func(j *model.Job) error {
		ch := checkers[j.Target]
		var probs []connector.AttributeProblem
		for _, act := range j.Actions {
			if act.Op != model.OpCreate && act.Op != model.OpUpdate {
				continue
			}
			var these []connector.AttributeProblem
			if ch != nil {
				these = ch.CheckAttributes(ctx, act.Op == model.OpCreate, act.Attributes)
			}
			probs = append(probs, these...)
			probs = append(probs, emptyIdentity(ids[j.Target], act.Attributes, these)...)
		}
		if len(probs) > 0 {
			return &AttributeError{PersonKey: j.PersonKey, Target: j.Target, Problems: probs}
		}
		return nil
	}
}

// emptyIdentity reports the identity attributes attrs gives empty, unless
// the target's own check has said so already.
func emptyIdentity(names []string, attrs model.Attributes, told []connector.AttributeProblem) []connector.AttributeProblem {
	var out []connector.AttributeProblem
	for _, n := range names {
		for k, v := range attrs {
			if !strings.EqualFold(k, n) || !model.ValueEqual(v, nil) || reported(told, k) {
				continue
			}
			out = append(out, connector.AttributeProblem{Attribute: k,
				Message: "the target identifies accounts by it, and the mapping gives an empty value; nothing is sent for this person"})
		}
	}
	return out
}

func reported(ps []connector.AttributeProblem, attr string) bool {
	for _, p := range ps {
		if strings.EqualFold(p.Attribute, attr) {
			return true
		}
	}
	return false
}

// CheckSecrets resolves every secret reference of the config at path
// (`${env:…}`, `${file:…}`, wherever it stands: store, targets' auth,
// webhook) without keeping any value, and reports each that cannot be
// resolved now with its key path and line. A config that passes only
// the syntax check would otherwise start, and its targets' actions wait
// on credentials nobody will supply.
func CheckSecrets(path string) (yamlx.Problems, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	root, err := yamlx.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var probs yamlx.Problems
	var walk func(n *yaml.Node, at string)
	walk = func(n *yaml.Node, at string) {
		if n == nil {
			return
		}
		switch n.Kind {
		case yaml.AliasNode:
			walk(n.Alias, at)
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], yamlx.Join(at, n.Content[i].Value))
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, yamlx.Index(at, i))
			}
		case yaml.ScalarNode:
			ref, err := secret.Parse(n.Value)
			if err != nil {
				return // not a reference: the syntax check judges it
			}
			if err := ref.Check(); err != nil {
				probs = append(probs, yamlx.Problem{Path: at, Line: n.Line, Msg: err.Error()})
			}
		}
	}
	walk(root, "")
	probs.Sort()
	return probs, nil
}
