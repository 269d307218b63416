package targetsim

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Resources are rendered by hand rather than through encoding/json: the
// output keeps schema order (what real servers do and what people read in
// logs), and a GET serves cached bytes without reflection.

const timeLayout = "2006-01-02T15:04:05.000Z07:00"

const hexDigits = "0123456789abcdef"

func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendJSONChars(b, s)
	return append(b, '"')
}

// appendJSONChars writes s escaped for the inside of a JSON string.
func appendJSONChars(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

func appendKey(b []byte, key string, first *bool) []byte {
	if !*first {
		b = append(b, ',')
	}
	*first = false
	b = appendJSONString(b, key)
	return append(b, ':')
}

// appendValue writes v; def orders the sub-attributes of complex values
// and hides write-only ones. A nil def (open extension attributes) falls
// back to sorted keys.
func appendValue(b []byte, v any, def *attrDef) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendJSONString(b, x)
	case bool:
		return strconv.AppendBool(b, x)
	case json.Number:
		return append(b, x...)
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, e, def)
		}
		return append(b, ']')
	case map[string]any:
		var defs []*attrDef
		if def != nil {
			defs = def.Sub
		}
		return appendObject(b, x, defs)
	}
	enc, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, enc...)
}

func appendObject(b []byte, m map[string]any, defs []*attrDef) []byte {
	b = append(b, '{')
	first := true
	known := 0
	for _, d := range defs {
		v, ok := m[d.Name]
		if !ok {
			continue
		}
		known++
		if d.Returned == "never" {
			continue
		}
		b = appendKey(b, d.Name, &first)
		b = appendValue(b, v, d)
	}
	if known < len(m) {
		b = appendUnknownKeys(b, m, defs, &first)
	}
	return append(b, '}')
}

func appendUnknownKeys(b []byte, m map[string]any, defs []*attrDef, first *bool) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		if !hasDef(defs, k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		b = appendKey(b, k, first)
		b = appendValue(b, m[k], nil)
	}
	return b
}

func hasDef(defs []*attrDef, name string) bool {
	for _, d := range defs {
		if d.Name == name {
			return true
		}
	}
	return false
}

// appendRef writes a member or group reference with its $ref built from
// the base URL, so references stay right whatever address the sim got.
// Large groups render one per member, so nothing here allocates.
func appendRef(b []byte, base, endpoint, value, display, typ string) []byte {
	b = append(b, `{"value":`...)
	b = appendJSONString(b, value)
	b = append(b, `,"$ref":"`...)
	b = appendJSONChars(b, base)
	b = append(b, scimPrefix...)
	b = append(b, endpoint...)
	b = appendJSONChars(b, value)
	b = append(b, '"')
	if display != "" {
		b = append(b, `,"display":`...)
		b = appendJSONString(b, display)
	}
	if typ != "" {
		b = append(b, `,"type":`...)
		b = appendJSONString(b, typ)
	}
	return append(b, '}')
}

// fold maps s to a key under which two strings are equal exactly when
// strings.EqualFold says so: every rune becomes the smallest rune of its
// case-folding orbit. Used for userName and displayName uniqueness.
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	var sb strings.Builder
	sb.Grow(len(s))
	for _, r := range s {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		if min < utf8.RuneSelf {
			// agree with the ASCII fast path: 'K' (U+212A KELVIN SIGN)
			// and "k" must fold alike
			min = unicode.ToLower(min)
		}
		sb.WriteRune(min)
	}
	return sb.String()
}

// render returns the resource as a client sees it, cached until the next
// change. Must hold s.mu (read is enough).
func (s *SCIM) render(rt *resourceType, r *resource) []byte {
	if c := r.cache.Load(); c != nil {
		return *c
	}
	b := s.renderFresh(rt, r)
	r.cache.Store(&b)
	return b
}

func (s *SCIM) renderFresh(rt *resourceType, r *resource) []byte {
	base := s.sim.URL()
	b := make([]byte, 0, 512)
	b = append(b, `{"schemas":[`...)
	b = appendJSONString(b, rt.core.ID)
	for _, ext := range rt.exts {
		if _, ok := r.attrs[ext.ID]; ok {
			b = append(b, ',')
			b = appendJSONString(b, ext.ID)
		}
	}
	b = append(b, `],"id":`...)
	b = appendJSONString(b, r.id)
	first := false
	if v, ok := r.attrs["externalId"].(string); ok {
		b = appendKey(b, "externalId", &first)
		b = appendJSONString(b, v)
	}
	for _, d := range rt.core.Attrs {
		switch {
		case rt == userType && d.Name == "groups":
			if s.behave.NoGroupsOnUser {
				continue
			}
			b = s.appendGroups(b, r.id, base, &first)
			continue
		case rt == groupType && d.Name == "members":
			b = appendMembers(b, r.attrs["members"], base, &first)
			continue
		}
		v, ok := r.attrs[d.Name]
		if !ok || d.Returned == "never" {
			continue
		}
		b = appendKey(b, d.Name, &first)
		b = appendValue(b, v, d)
	}
	for _, ext := range rt.exts {
		if obj, ok := r.attrs[ext.ID].(map[string]any); ok {
			b = appendKey(b, ext.ID, &first)
			b = appendObject(b, obj, ext.Attrs)
		}
	}
	b = append(b, `,"meta":{"resourceType":`...)
	b = appendJSONString(b, rt.Name)
	b = append(b, `,"created":`...)
	b = appendJSONString(b, r.created.UTC().Format(timeLayout))
	b = append(b, `,"lastModified":`...)
	b = appendJSONString(b, r.modified.UTC().Format(timeLayout))
	b = append(b, `,"location":`...)
	b = appendJSONString(b, base+scimPrefix+rt.Endpoint+"/"+r.id)
	b = append(b, `,"version":`...)
	b = appendJSONString(b, r.etag())
	return append(b, "}}"...)
}

func (s *SCIM) appendGroups(b []byte, id, base string, first *bool) []byte {
	groups := s.groupsOf(id)
	return appendRefs(b, "groups", len(groups), first, func(b []byte, i int) []byte {
		return appendRef(b, base, "/Groups/", groups[i].id, groups[i].str("displayName"), "direct")
	})
}

func appendMembers(b []byte, v any, base string, first *bool) []byte {
	members, _ := v.([]any)
	return appendRefs(b, "members", len(members), first, func(b []byte, i int) []byte {
		m, _ := members[i].(map[string]any)
		typ, _ := m["type"].(string)
		display, _ := m["display"].(string)
		endpoint := "/Users/"
		if typ == "Group" {
			endpoint = "/Groups/"
		}
		return appendRef(b, base, endpoint, memberValue(m), display, typ)
	})
}

func appendRefs(b []byte, key string, n int, first *bool, ref func(b []byte, i int) []byte) []byte {
	if n == 0 {
		return b
	}
	b = appendKey(b, key, first)
	b = append(b, '[')
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = ref(b, i)
	}
	return append(b, ']')
}
