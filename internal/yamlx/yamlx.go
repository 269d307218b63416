// Package yamlx decodes YAML strictly into Go values and reports every
// problem at once with its key path and line, e.g.
// `targets[1].account.userName (line 23): unknown key`.
//
// go.yaml.in/yaml/v3 gives us the node tree with positions; we walk it
// ourselves because its own strict mode stops at the first unknown key and
// names Go types instead of the user's keys.
package yamlx

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/accord-iam/accord/internal/textsafe"
)

// Problem is one thing wrong with the input.
type Problem struct {
	Path string
	Line int
	Msg  string
}

func (p Problem) String() string {
	// A path is made of the file's own keys, which may hold anything.
	p.Path = textsafe.Escape(p.Path)
	switch {
	case p.Path != "" && p.Line > 0:
		return fmt.Sprintf("%s (line %d): %s", p.Path, p.Line, p.Msg)
	case p.Path != "":
		return fmt.Sprintf("%s: %s", p.Path, p.Msg)
	case p.Line > 0:
		return fmt.Sprintf("line %d: %s", p.Line, p.Msg)
	}
	return p.Msg
}

// Problems is a list of problems that is also an error.
type Problems []Problem

func (ps Problems) Error() string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, "\n")
}

// Sort orders problems by line, then path.
func (ps Problems) Sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Path < ps[j].Path
	})
}

// Join appends a child key or index to a path.
func Join(base, key string) string {
	if key == "" {
		return base
	}
	if strings.HasPrefix(key, "[") || base == "" {
		return base + key
	}
	return base + "." + key
}

// Index joins an index to a path.
func Index(base string, i int) string { return base + "[" + strconv.Itoa(i) + "]" }

// Parse reads a document and returns its root content node. A syntax
// error is a Problems of one, at the line that broke the document and
// with the key path that encloses it.
func Parse(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, Problems{syntaxProblem(data, err)}
	}
	if doc.Kind == 0 {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: 1}, nil
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0], nil
	}
	return &doc, nil
}

// Lines maps every key path under node to its line, for problems found
// after decoding (semantic checks) that know the path but not the line.
func Lines(node *yaml.Node, base string) map[string]int {
	m := map[string]int{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		n = resolve(n)
		if n == nil {
			return
		}
		if _, ok := m[path]; !ok {
			m[path] = n.Line
		}
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := Join(path, n.Content[i].Value)
				m[p] = n.Content[i].Line
				walk(n.Content[i+1], p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, Index(path, i))
			}
		}
	}
	walk(node, base)
	return m
}

// LineOf finds the line of path in lines, falling back to the nearest
// parent that has one.
func LineOf(lines map[string]int, path string) int {
	for p := path; p != ""; {
		if l, ok := lines[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return lines[""]
}

// Unmarshaler lets a type decode itself from a node; a returned error
// becomes a problem at the node's path and line.
type Unmarshaler interface {
	UnmarshalYAML(*yaml.Node) error
}

var (
	unmarshalerType = reflect.TypeOf((*Unmarshaler)(nil)).Elem()
	nodeType        = reflect.TypeOf(yaml.Node{})
	durationType    = reflect.TypeOf(time.Duration(0))
)

// Decode fills out (a non-nil pointer) from node, strictly: unknown keys,
// wrong types and malformed values are all reported, with path and line.
func Decode(node *yaml.Node, out any, base string) Problems {
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		panic("yamlx.Decode needs a non-nil pointer")
	}
	d := &decoder{}
	d.value(resolve(node), rv.Elem(), base)
	return d.problems
}

type decoder struct{ problems Problems }

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.problems = append(d.problems, Problem{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		return n.Content[0]
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if v.Type() == nodeType {
		if n != nil {
			v.Set(reflect.ValueOf(*n))
		}
		return
	}
	if v.CanAddr() && v.Addr().Type().Implements(unmarshalerType) {
		if isNull(n) {
			return
		}
		if err := v.Addr().Interface().(Unmarshaler).UnmarshalYAML(n); err != nil {
			var ps Problems
			if errors.As(err, &ps) {
				for _, p := range ps {
					p.Path = Join(path, p.Path)
					if p.Line == 0 {
						p.Line = n.Line
					}
					d.problems = append(d.problems, p)
				}
				return
			}
			d.fail(n, path, "%v", err)
		}
		return
	}
	if isNull(n) {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		nv := reflect.New(v.Type().Elem())
		d.value(n, nv.Elem(), path)
		v.Set(nv)
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "expected a list, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.value(resolve(c), s.Index(i), Index(path, i))
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "expected a mapping, got %s", describe(n))
			return
		}
		if v.Type().Key().Kind() != reflect.String {
			panic("yamlx: only string-keyed maps are supported")
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			p := Join(path, k)
			if m.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key())).IsValid() {
				d.fail(n.Content[i], p, "duplicate key")
				continue
			}
			e := reflect.New(v.Type().Elem()).Elem()
			d.value(resolve(n.Content[i+1]), e, p)
			m.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), e)
		}
		v.Set(m)
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			d.fail(n, path, "%v", err)
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
	default:
		d.scalar(n, v, path)
	}
}

func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "expected %s, got %s", kindName(v), describe(n))
		return
	}
	s := n.Value
	if v.Type() == durationType {
		dur, err := time.ParseDuration(s)
		if err != nil {
			d.fail(n, path, "expected a duration such as 30s or 5m, got %q", s)
			return
		}
		v.SetInt(int64(dur))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			d.fail(n, path, "expected true or false, got %q", s)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v.OverflowInt(i) {
			d.fail(n, path, "expected a whole number, got %q", s)
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		i, err := strconv.ParseUint(s, 10, 64)
		if err != nil || v.OverflowUint(i) {
			d.fail(n, path, "expected a non-negative whole number, got %q", s)
			return
		}
		v.SetUint(i)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			d.fail(n, path, "expected a number, got %q", s)
			return
		}
		v.SetFloat(f)
	default:
		panic("yamlx: unsupported kind " + v.Kind().String())
	}
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping, got %s", describe(n))
		return
	}
	fields := fieldsOf(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], resolve(n.Content[i+1])
		key := kn.Value
		p := Join(path, key)
		idx, ok := fields[key]
		if !ok {
			d.fail(kn, p, "unknown key (known keys: %s)", strings.Join(knownKeys(fields), ", "))
			continue
		}
		if seen[key] {
			d.fail(kn, p, "duplicate key")
			continue
		}
		seen[key] = true
		d.value(vn, v.FieldByIndex(idx), p)
	}
}

func fieldsOf(t reflect.Type) map[string][]int {
	m := map[string][]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if opts == "inline" && f.Type.Kind() == reflect.Struct {
			for k, idx := range fieldsOf(f.Type) {
				m[k] = append([]int{i}, idx...)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = []int{i}
	}
	return m
}

func knownKeys(m map[string][]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "something else"
}

func kindName(v reflect.Value) string {
	switch v.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return v.Kind().String()
}
