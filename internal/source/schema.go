package source

import (
	"errors"
	"fmt"
	"math"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/textsafe"
)

// schema is a checked Spec prepared for reading.
type schema struct {
	name        string
	cols        []column
	byName      map[string]int
	key         int // column indexes; -1 when the spec has none
	start, end  int
	prev        int
	sep         byte
	ignoreExtra bool
	vals        []any // build's scratch space, one per column
}

type column struct {
	name     string
	typ      Type
	required bool
	values   []string
	layout   string
	maxLen   int
	// allowTab lets tabs into free text; never into keys, which are
	// matched and printed.
	allowTab bool
	// boxed holds the enum values as interfaces, and dates the dates
	// parsed so far: feeds repeat them on many rows, and sharing one
	// boxed value spares an allocation per cell.
	boxed []any
	dates map[string]any
}

// maxDates bounds a date column's cache; HR dates cluster, so a few
// thousand cover most feeds.
const maxDates = 4096

// compile checks the spec and prepares it; a bad spec is a config error,
// not a problem of the feed.
func (s *Spec) compile() (*schema, error) {
	if ps := s.problems(); len(ps) > 0 {
		return nil, fmt.Errorf("source %q is misconfigured:\n%w", s.Name, ps)
	}
	sc := &schema{
		name:        s.Name,
		cols:        make([]column, len(s.Columns)),
		vals:        make([]any, len(s.Columns)),
		byName:      make(map[string]int, len(s.Columns)),
		sep:         ',',
		ignoreExtra: s.ExtraColumns == "ignore",
	}
	if s.Delimiter != "" {
		sc.sep = s.Delimiter[0]
	}
	for i, c := range s.Columns {
		t, _ := ParseType(c.Type)
		col := column{name: c.Name, typ: t, required: c.Required || c.Name == s.Key, values: c.Values, layout: c.Format,
			maxLen: c.MaxLength, allowTab: t == String && c.Name != s.Key && c.Name != s.PreviousKey}
		if col.maxLen == 0 {
			col.maxLen = DefaultMaxLength
		}
		switch t {
		case Date:
			if col.layout == "" {
				col.layout = model.DateLayout
			}
			col.dates = map[string]any{}
		case Enum:
			col.boxed = make([]any, len(c.Values))
			for j, v := range c.Values {
				col.boxed[j] = v
			}
		}
		sc.cols[i] = col
		sc.byName[c.Name] = i
	}
	idx := func(name string) int {
		if i, ok := sc.byName[name]; ok && name != "" {
			return i
		}
		return -1
	}
	sc.key, sc.start, sc.end, sc.prev = idx(s.Key), idx(s.Start), idx(s.End), idx(s.PreviousKey)
	return sc, nil
}

// kind says where a raw value came from, which decides what it may become.
type kind uint8

const (
	absent     kind = iota // not given: a JSON key left out
	text                   // a CSV cell: parsed by the column's type
	jsonString             // the JSON types, which must fit the column
	jsonNumber
	jsonBool
	jsonNull
	jsonObject
	jsonArray
	notInHeader // the CSV header lacks the column: reported once, not per row
)

var kindNames = [...]string{jsonString: "a JSON string", jsonNumber: "a JSON number", jsonBool: "a JSON boolean",
	jsonObject: "a JSON object", jsonArray: "a JSON list"}

// cell is one raw value: text is the CSV cell, the decoded JSON string,
// the JSON number's literal or "true"/"false".
type cell struct {
	kind kind
	text string
}

// fits reports whether a JSON value of kind k may fill a column of type t.
// JSON is typed, so we take it at its word instead of guessing from text:
// "42" is not an int and 42 is not a string.
func fits(k kind, t Type) bool {
	switch k {
	case text, absent, jsonNull:
		return true
	case jsonString:
		return t == String || t == Email || t == Enum || t == Date
	case jsonNumber:
		return t == Int
	case jsonBool:
		return t == Bool
	}
	return false
}

// parse turns a raw value into the column's typed value; nil means empty.
// A non-empty reason says why the value is refused.
func (c *column) parse(v cell) (any, string) {
	switch v.kind {
	case absent, jsonNull, notInHeader:
		return nil, ""
	}
	if !fits(v.kind, c.typ) {
		want := "a JSON string"
		switch c.typ {
		case Int:
			want = "a JSON number"
		case Bool:
			want = "a JSON boolean"
		}
		return nil, fmt.Sprintf("%s does not fit %s column; expected %s", kindNames[v.kind], article(c.typ), want)
	}
	if !utf8.ValidString(v.text) {
		return nil, "not valid UTF-8"
	}
	s := strings.TrimSpace(v.text)
	if s == "" {
		return nil, ""
	}
	// Checked after trimming: a CR or LF an export leaves at the end of a
	// value never reaches a target, one inside it would.
	if bad, ok := textsafe.Check(s, c.allowTab); !ok {
		return nil, bad.Reason()
	}
	// Bytes bound characters from above, so most values skip the count.
	if len(s) > c.maxLen {
		if n := utf8.RuneCountInString(s); n > c.maxLen {
			return nil, fmt.Sprintf("is %d characters long; the column allows at most %d (max_length)", n, c.maxLen)
		}
	}
	switch c.typ {
	case Int:
		return parseInt(v.kind, s)
	case Bool:
		b, ok := parseBool(s)
		if !ok {
			return nil, "not a boolean (use true/false, yes/no or 1/0)"
		}
		return b, ""
	case Date:
		if d, ok := c.dates[s]; ok {
			return d, ""
		}
		t, err := time.Parse(c.layout, s)
		if err != nil {
			return nil, "not a valid date in the layout " + c.layout
		}
		var d any = model.DateOf(t)
		if c.dates != nil && len(c.dates) < maxDates {
			c.dates[strings.Clone(s)] = d
		}
		return d, ""
	case Email:
		addr, reason := parseEmail(s)
		if reason != "" {
			return nil, reason
		}
		return addr, ""
	case Enum:
		for i, a := range c.values {
			if s == a {
				return c.boxed[i], ""
			}
		}
		for _, a := range c.values {
			if strings.EqualFold(s, a) {
				return nil, fmt.Sprintf("not an allowed value; did you mean %q? (values are case-sensitive)", a)
			}
		}
		return nil, "not an allowed value (allowed: " + listValues(c.values) + ")"
	}
	return s, ""
}

// maxExact is the largest magnitude below which every whole float64 is
// exact, so converting it to int64 loses nothing.
const maxExact = 1 << 53

func parseInt(k kind, s string) (any, string) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err == nil {
		return n, ""
	}
	if errors.Is(err, strconv.ErrRange) {
		return nil, "whole number out of range"
	}
	if k == text {
		return nil, "not a whole number (digits only, no fraction or exponent)"
	}
	// JSON has one number type: 1e3 and 2.0 are whole numbers too, and a
	// decoder without UseNumber hands them to ParseRecord as floats anyway.
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == math.Trunc(f) && math.Abs(f) < maxExact {
		return int64(f), ""
	}
	return nil, "not a whole number"
}

// article names a type with its indefinite article: "an int", "a date".
func article(t Type) string {
	switch t {
	case Int, Email, Enum:
		return "an " + t.String()
	}
	return "a " + t.String()
}

func parseBool(s string) (bool, bool) {
	switch {
	case s == "1" || strings.EqualFold(s, "true") || strings.EqualFold(s, "yes"):
		return true, true
	case s == "0" || strings.EqualFold(s, "false") || strings.EqualFold(s, "no"):
		return false, true
	}
	return false, false
}

// parseEmail accepts a bare address (no display name, no angle brackets)
// that net/mail accepts, and lower-cases its domain; the local part is
// case-sensitive by the standard, so it is kept as given.
func parseEmail(s string) (string, string) {
	if !plainAddress(s) {
		a, err := mail.ParseAddress(s)
		if err != nil {
			return "", "not a valid email address"
		}
		if a.Name != "" || a.Address != s {
			return "", "must be a bare address such as name@example.com, without a display name or brackets"
		}
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	if !hasUpper(domain) {
		return s, ""
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:at+1])
	for i := 0; i < len(domain); i++ {
		c := domain[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String(), ""
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// plainAddress recognises the addresses HR feeds are made of (a dot-atom
// local part, a host name) without net/mail, which costs several
// allocations per call. It only ever says yes to addresses net/mail
// accepts unchanged; anything else goes to net/mail.
func plainAddress(s string) bool {
	at := strings.IndexByte(s, '@')
	return at > 0 && dotAtom(s[:at], true) && dotAtom(s[at+1:], false)
}

func dotAtom(s string, local bool) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.':
		case local && strings.IndexByte("!#$%&'*+/=?^_`{|}~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// listValues shows allowed values, shortened when there are many.
func listValues(vs []string) string {
	const show = 10
	if len(vs) <= show {
		return strings.Join(vs, ", ")
	}
	return strings.Join(vs[:show], ", ") + fmt.Sprintf(", … %d more", len(vs)-show)
}

// build validates one record's cells (indexed like sc.cols) and makes the
// person, reporting every problem to out. ok is false when any was found.
func (sc *schema) build(cells []cell, out *sink) (p model.Person, ok bool) {
	ok = true
	present := 0
	for i := range sc.cols {
		c := &sc.cols[i]
		v, reason := c.parse(cells[i])
		sc.vals[i] = v
		switch {
		case reason != "":
			out.add(c.name, cells[i].text, reason)
			ok = false
		case v != nil:
			present++
		case c.required && cells[i].kind != notInHeader:
			if cells[i].kind == absent {
				out.add(c.name, "", "required value is missing")
			} else {
				out.add(c.name, "", "required value is empty")
			}
			ok = false
		}
	}
	// Sized exactly: a map of up to 8 entries is one allocation smaller.
	attrs := make(model.Attributes, present)
	for i, v := range sc.vals {
		if v != nil {
			attrs[sc.cols[i].name] = v
		}
	}
	clear(sc.vals)
	p = model.Person{Source: sc.name, Attributes: attrs}
	if sc.key >= 0 {
		p.Key = keyString(attrs[sc.cols[sc.key].name])
	}
	if sc.start >= 0 {
		p.Start, _ = attrs[sc.cols[sc.start].name].(model.Date)
	}
	if sc.end >= 0 {
		p.End, _ = attrs[sc.cols[sc.end].name].(model.Date)
	}
	if !p.Start.IsZero() && !p.End.IsZero() && p.Start.After(p.End) {
		out.add(sc.cols[sc.end].name, p.End.String(), "end is before start "+p.Start.String())
		ok = false
	}
	if prev := sc.previousKey(p); prev != "" && prev == p.Key {
		out.add(sc.cols[sc.prev].name, prev, "previous key is the person's own key")
		ok = false
	}
	return p, ok
}

// previousKey is the key the person had before a conversion, or "".
func (sc *schema) previousKey(p model.Person) string {
	if sc.prev < 0 {
		return ""
	}
	s, _ := p.Attributes[sc.cols[sc.prev].name].(string)
	return s
}

func keyString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return ""
}
