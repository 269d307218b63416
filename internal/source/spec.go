// Package source reads persons from HR feeds (CSV and JSON-lines files)
// against a declared, typed schema. A feed is validated as a whole before
// anything is returned: one bad row rejects the file, and the *Report error
// lists every problem with its row, column, value and reason, so an
// operator fixes the export once instead of once per problem.
package source

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/yamlx"
)

// Spec declares one HR feed. It is decoded from the config with yamlx.
type Spec struct {
	Name   string `yaml:"name"`
	Format string `yaml:"format"` // "csv", "jsonl", "http" (pulled from an HR API) or "scim" (pushed over inbound SCIM)
	// Path is the feed file; the config loader resolves relative paths
	// against the config file's directory. A source without a path can
	// only receive persons over the API (ParseRecord).
	Path string `yaml:"path"`
	// Key is the column holding the person's unique, stable key. It is
	// always required, whatever its column says.
	Key string `yaml:"key"`
	// Start and End name optional date columns bounding employment.
	Start string `yaml:"start"`
	End   string `yaml:"end"`
	// PreviousKey names an optional string column holding the key the
	// person had before a conversion (contractor -> employee); see Rekeys.
	PreviousKey string `yaml:"previous_key"`
	// Schedule is how often `accord serve` re-imports (0 = on demand only).
	Schedule time.Duration `yaml:"schedule"`
	// Delimiter is the CSV field separator, one ASCII character; default ",".
	Delimiter string `yaml:"delimiter"`
	// ExtraColumns says what to do with columns (CSV) or keys (JSONL) the
	// feed has but the spec does not declare: "error" (default) or "ignore".
	ExtraColumns string   `yaml:"extra_columns"`
	Columns      []Column `yaml:"columns"`
	// HTTP is where a pull source (format http) reads its feed.
	HTTP *HTTP `yaml:"http"`
}

// Column declares one typed column of a feed.
type Column struct {
	Name     string   `yaml:"name"`
	Type     string   `yaml:"type"` // string, int, bool, date, email, enum
	Required bool     `yaml:"required"`
	Values   []string `yaml:"values"` // enum only: the allowed values
	Format   string   `yaml:"format"` // date only: a Go layout, default 2006-01-02
	// MaxLength bounds a value in characters (after trimming); 0 means
	// DefaultMaxLength. A value over it rejects the feed: a target would
	// refuse or cut it, and a million-character name is a broken export.
	MaxLength int `yaml:"max_length"`
}

// DefaultMaxLength is a column's maximum length when it declares none:
// longer than any name, title or address HR systems hold.
const DefaultMaxLength = 1024

// maxMaxLength is the most a column may declare: a record is at most
// maxRecord bytes anyway.
const maxMaxLength = maxRecord

// Type is the type of a column and of the attribute it becomes.
type Type int

// Column types. The Go type of the attribute value is given for each.
const (
	String Type = iota + 1 // string
	Int                    // int64
	Bool                   // bool
	Date                   // model.Date
	Email                  // string: a bare address, domain lower-cased
	Enum                   // string: one of the declared values
)

var typeNames = []string{String: "string", Int: "int", Bool: "bool", Date: "date", Email: "email", Enum: "enum"}

func (t Type) String() string {
	if t >= String && t <= Enum {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", int(t))
}

// ParseType reads a type name as written in the config.
func ParseType(s string) (Type, bool) {
	for t := String; t <= Enum; t++ {
		if typeNames[t] == s {
			return t, true
		}
	}
	return 0, false
}

// Attribute describes one attribute a source gives its persons, for the
// policy layer to type-check rules against.
type Attribute struct {
	Name     string
	Type     Type
	Required bool
	// Values are the allowed values of an enum (a copy; nil otherwise).
	Values []string
}

// Attributes lists the source's attributes in declared order. Unknown
// column types (a spec that fails Check) are left out.
func (s *Spec) Attributes() []Attribute {
	out := make([]Attribute, 0, len(s.Columns))
	for _, c := range s.Columns {
		t, ok := ParseType(c.Type)
		if !ok {
			continue
		}
		a := Attribute{Name: c.Name, Type: t, Required: c.Required || c.Name == s.Key}
		if t == Enum {
			a.Values = append([]string(nil), c.Values...)
		}
		out = append(out, a)
	}
	return out
}

// AttributeTypes maps each attribute name to its type. Enum values are
// available from Attributes.
func (s *Spec) AttributeTypes() map[string]Type {
	out := make(map[string]Type, len(s.Columns))
	for _, a := range s.Attributes() {
		out[a.Name] = a.Type
	}
	return out
}

// Check validates the spec and forces the key column to be required.
// Problem paths are relative to the source (e.g. `columns[2].type`). The
// source name is left to the config, which also checks it is unique.
func (s *Spec) Check() yamlx.Problems {
	for i := range s.Columns {
		if s.Columns[i].Name == s.Key {
			s.Columns[i].Required = true
		}
	}
	return s.problems()
}

// problems is Check without the side effect, so that reading (which may
// run concurrently) never writes to the spec.
func (s *Spec) problems() yamlx.Problems {
	var ps yamlx.Problems
	add := func(path, format string, args ...any) {
		ps = append(ps, yamlx.Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	switch s.Format {
	case "csv", "jsonl", "http":
	case "scim":
		// Fed by HR over inbound SCIM (inbound.scim), never from a file.
		if s.Path != "" {
			add("path", "a source with format: scim is fed over inbound SCIM and has no path")
		}
		if s.Schedule > 0 {
			add("schedule", "a source with format: scim is pushed by HR, not imported on a schedule")
		}
	case "":
		add("format", "a source needs a format: csv, jsonl, http or scim")
	default:
		add("format", "unknown format %q (known: csv, jsonl, http, scim)", s.Format)
	}
	s.checkHTTP(add)
	if s.Schedule < 0 {
		add("schedule", "must not be negative")
	}
	if s.Delimiter != "" {
		r, size := utf8.DecodeRuneInString(s.Delimiter)
		switch {
		case s.Format != "csv":
			add("delimiter", "only csv sources have a delimiter")
		case size != len(s.Delimiter) || r >= utf8.RuneSelf:
			add("delimiter", "must be a single ASCII character such as , ; | or a tab, not %q", s.Delimiter)
		case r == '"' || r == '\n' || r == '\r' || r == ' ':
			add("delimiter", "%q cannot be a delimiter", s.Delimiter)
		}
	}
	switch s.ExtraColumns {
	case "", "error", "ignore":
	default:
		add("extra_columns", "must be error or ignore, not %q", s.ExtraColumns)
	}
	if len(s.Columns) == 0 {
		add("columns", "a source needs at least its key column")
	}
	byName := map[string]int{}
	for i, c := range s.Columns {
		base := yamlx.Index("columns", i)
		if prev, dup := byName[c.Name]; dup {
			add(base+".name", "duplicate column name %q (also columns[%d])", c.Name, prev)
		} else if c.Name != "" {
			byName[c.Name] = i
		}
		checkColumn(c, base, add)
	}
	s.checkRole(byName, "key", s.Key, true, add, String, Int, Email)
	s.checkRole(byName, "start", s.Start, false, add, Date)
	s.checkRole(byName, "end", s.End, false, add, Date)
	s.checkRole(byName, "previous_key", s.PreviousKey, false, add, String)
	if s.Start != "" && s.Start == s.End {
		add("end", "start and end must be different columns")
	}
	if s.PreviousKey != "" && s.PreviousKey == s.Key {
		add("previous_key", "must be a different column from key")
	}
	return ps
}

func checkColumn(c Column, base string, add func(path, format string, args ...any)) {
	switch {
	case c.Name == "":
		add(base+".name", "a column needs a name")
	case strings.TrimSpace(c.Name) != c.Name:
		add(base+".name", "column name %q has surrounding whitespace", c.Name)
	case !utf8.ValidString(c.Name):
		add(base+".name", "column name is not valid UTF-8")
	}
	t, ok := ParseType(c.Type)
	if !ok {
		if c.Type == "" {
			add(base+".type", "a column needs a type (string, int, bool, date, email, enum)")
		} else {
			add(base+".type", "unknown type %q (known: string, int, bool, date, email, enum)", c.Type)
		}
	}
	if t == Enum {
		if len(c.Values) == 0 {
			add(base+".values", "an enum needs its allowed values")
		}
		seen := map[string]bool{}
		for j, v := range c.Values {
			p := yamlx.Index(base+".values", j)
			switch {
			case strings.TrimSpace(v) == "":
				add(p, "an allowed value cannot be empty")
			case strings.TrimSpace(v) != v:
				add(p, "allowed value %q has surrounding whitespace, which is trimmed from input", v)
			case seen[v]:
				add(p, "duplicate allowed value %q", v)
			}
			seen[v] = true
		}
	} else if ok && len(c.Values) > 0 {
		add(base+".values", "only enum columns have values")
	}
	switch {
	case c.MaxLength < 0:
		add(base+".max_length", "must be positive (or left out for the default of %d characters), not %d", DefaultMaxLength, c.MaxLength)
	case c.MaxLength > maxMaxLength:
		add(base+".max_length", "must be at most %d characters (a record's limit), not %d", maxMaxLength, c.MaxLength)
	}
	if c.Format != "" {
		if ok && t != Date {
			add(base+".format", "only date columns have a format")
		} else if t == Date && !validLayout(c.Format) {
			add(base+".format", "%q is not a Go date layout with year, month and day, such as 2006-01-02 or 02.01.2006", c.Format)
		}
	}
}

// checkRole checks that a column named in a role (key, start, ...) is
// declared with one of the types the role needs.
func (s *Spec) checkRole(byName map[string]int, role, name string, needed bool, add func(path, format string, args ...any), types ...Type) {
	if name == "" {
		if needed {
			add(role, "a source needs a %s column", role)
		}
		return
	}
	i, ok := byName[name]
	if !ok {
		add(role, "column %q is not declared in columns", name)
		return
	}
	t, _ := ParseType(s.Columns[i].Type)
	for _, want := range types {
		if t == want {
			return
		}
	}
	names := make([]string, len(types))
	for j, want := range types {
		names[j] = want.String()
	}
	add(role, "column %q must be of type %s, not %q", name, strings.Join(names, " or "), s.Columns[i].Type)
}

// validLayout reports whether layout round-trips a date with distinct
// year, month and day; layouts that lose any of them are refused.
func validLayout(layout string) bool {
	ref := time.Date(2001, time.February, 3, 0, 0, 0, 0, time.UTC)
	t, err := time.Parse(layout, ref.Format(layout))
	return err == nil && model.DateOf(t) == model.DateOf(ref)
}
