package source

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/accord-iam/accord/internal/model"
)

// ParseRecord validates one person given over the API, as decoded by
// encoding/json (with or without UseNumber), by the rules of a JSONL line:
// JSON types must fit the column types, null and "" are empty, keys the
// spec does not declare follow ExtraColumns. It returns every problem;
// the person is only meaningful when there are none. Checks that need
// the whole feed (unique keys, previous keys claimed twice) are the
// caller's, against the store.
func (s *Spec) ParseRecord(values map[string]any) (model.Person, []FieldProblem) {
	sc, err := s.compile()
	if err != nil {
		return model.Person{}, []FieldProblem{{Reason: err.Error()}}
	}
	out := newSink(s.Name, "api")
	cells := make([]cell, len(sc.cols))
	for _, k := range slices.Sorted(maps.Keys(values)) {
		i, ok := sc.byName[k]
		if !ok {
			if !sc.ignoreExtra {
				out.add(k, "", "not declared in the source"+sc.hint(k))
			}
			continue
		}
		cells[i] = cellOf(values[k])
	}
	p, ok := sc.build(cells, out)
	if ok && !out.failed() {
		return p, nil
	}
	fps := make([]FieldProblem, len(out.rep.Problems))
	for i, q := range out.rep.Problems {
		fps[i] = FieldProblem{Field: q.Column, Reason: q.Reason}
	}
	return model.Person{}, fps
}

// cellOf classifies a value decoded from JSON. Go integers are accepted
// too, for callers that build records in code.
func cellOf(v any) cell {
	switch x := v.(type) {
	case nil:
		return cell{kind: jsonNull}
	case string:
		return cell{kind: jsonString, text: x}
	case bool:
		return cell{kind: jsonBool, text: strconv.FormatBool(x)}
	case json.Number:
		return cell{kind: jsonNumber, text: x.String()}
	case float64:
		return cell{kind: jsonNumber, text: strconv.FormatFloat(x, 'f', -1, 64)}
	case int:
		return cell{kind: jsonNumber, text: strconv.Itoa(x)}
	case int64:
		return cell{kind: jsonNumber, text: strconv.FormatInt(x, 10)}
	case []any:
		return cell{kind: jsonArray}
	default:
		// Objects, and anything encoding/json does not produce.
		return cell{kind: jsonObject}
	}
}

// Rekey says that the person with key From is now the person with key To,
// as after a contractor is hired as an employee: the store moves the
// person's state and accounts to To instead of treating the change as a
// leaver and a joiner.
type Rekey struct {
	From, To string
}

// Rekeys returns the key changes the persons of spec's source declare in
// its previous_key column, sorted by To. Persons of other sources are
// ignored. A feed repeats a conversion on every import until HR drops the
// column, so the store must apply a Rekey only when From still exists and
// To does not, and treat "From gone, To present" as already done.
//
// The list is refused, as a whole, when applying it could merge or lose
// persons: a person naming their own key, two persons naming the same
// previous key, or a previous key that is still a current key (which also
// rules out chains and cycles). Read already rejects feeds like that;
// this guards persons assembled any other way.
func Rekeys(persons []model.Person, spec *Spec) ([]Rekey, error) {
	if spec.PreviousKey == "" {
		return nil, nil
	}
	current := make(map[string]bool, len(persons))
	for _, p := range persons {
		if p.Source == spec.Name {
			current[p.Key] = true
		}
	}
	var (
		out      []Rekey
		problems []string
		claimed  = map[string]string{}
	)
	for _, p := range persons {
		prev, _ := p.Attributes[spec.PreviousKey].(string)
		if p.Source != spec.Name || prev == "" {
			continue
		}
		switch to, dup := claimed[prev]; {
		case prev == p.Key:
			problems = append(problems, fmt.Sprintf("person %q names their own key as previous key", p.Key))
		case dup:
			problems = append(problems, fmt.Sprintf("persons %q and %q both name previous key %q", to, p.Key, prev))
		case current[prev]:
			problems = append(problems, fmt.Sprintf("person %q names previous key %q, which is still a current key", p.Key, prev))
		default:
			claimed[prev] = p.Key
			out = append(out, Rekey{From: prev, To: p.Key})
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("source %q: unsafe key changes:\n  %s", spec.Name, strings.Join(problems, "\n  "))
	}
	slices.SortFunc(out, func(a, b Rekey) int { return strings.Compare(a.To, b.To) })
	return out, nil
}
