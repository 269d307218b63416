package targetsim

import (
	"strings"
	"sync"

	filter "github.com/scim2/filter-parser/v2"
)

// The filter parser backtracks and takes hundreds of microseconds for even
// `userName eq "x"`, longer than the rest of a request. Clients send the
// same few filter and path shapes with different values, so the parsed
// shape is cached with its string literals blanked, and each request only
// puts its own literals back in.

const parseCacheMax = 1024

type parseCache struct {
	mu      sync.Mutex
	filters map[string]filter.Expression
	paths   map[string]filter.Path
}

var shapes = &parseCache{filters: map[string]filter.Expression{}, paths: map[string]filter.Path{}}

// blankLiterals returns src with every string literal replaced by "" and
// the literals' raw contents (escapes kept, as the parser reports them).
// ok is false for an unterminated literal or a raw control character,
// left to the parser to report.
func blankLiterals(src string) (shape string, lits []string, ok bool) {
	if !strings.Contains(src, `"`) {
		return src, nil, true
	}
	var b strings.Builder
	b.Grow(len(src))
	for i := 0; i < len(src); i++ {
		if src[i] != '"' {
			b.WriteByte(src[i])
			continue
		}
		j := i + 1
		for ; j < len(src) && src[j] != '"'; j++ {
			switch {
			case src[j] < 0x20:
				return "", nil, false // the parser rejects it, and says where
			case src[j] == '\\':
				j++
			}
		}
		if j >= len(src) {
			return "", nil, false
		}
		lits = append(lits, src[i+1:j])
		b.WriteString(`""`)
		i = j
	}
	return b.String(), lits, true
}

func parseFilterCached(src string) (filter.Expression, error) {
	if shape, lits, ok := blankLiterals(src); ok {
		if expr, ok := lookupShape(shapes.filters, shape, filter.ParseFilter); ok {
			if out, rest := fillLiterals(expr, lits); out != nil && len(rest) == 0 {
				return out, nil
			}
		}
	}
	// the parser reports the error on what the client sent
	return filter.ParseFilter([]byte(fixHexEscapes(src)))
}

func parsePathCached(src string) (filter.Path, error) {
	if shape, lits, ok := blankLiterals(src); ok {
		if p, ok := lookupShape(shapes.paths, shape, filter.ParsePath); ok {
			if p.ValueExpression == nil && len(lits) == 0 {
				return p, nil
			}
			if p.ValueExpression != nil {
				var rest []string
				if p.ValueExpression, rest = fillLiterals(p.ValueExpression, lits); p.ValueExpression != nil && len(rest) == 0 {
					return p, nil
				}
			}
		}
	}
	return filter.ParsePath([]byte(fixHexEscapes(src)))
}

// lookupShape returns the parsed shape, parsing and caching it on a miss;
// false when the shape does not parse.
func lookupShape[T any](m map[string]T, shape string, parse func([]byte) (T, error)) (T, bool) {
	shapes.mu.Lock()
	v, hit := m[shape]
	shapes.mu.Unlock()
	if hit {
		return v, true
	}
	v, err := parse([]byte(shape))
	if err != nil {
		return v, false
	}
	shapes.mu.Lock()
	if len(m) >= parseCacheMax {
		clear(m)
	}
	m[shape] = v
	shapes.mu.Unlock()
	return v, true
}

// fillLiterals copies a cached shape, giving its string comparisons the
// literals in source order (the parser builds the tree left to right). A
// nil result means the shape and the literals do not line up.
func fillLiterals(e filter.Expression, lits []string) (filter.Expression, []string) {
	switch x := e.(type) {
	case *filter.AttributeExpression:
		c := *x
		if _, isStr := c.CompareValue.(string); isStr {
			if len(lits) == 0 {
				return nil, nil
			}
			c.CompareValue, lits = lits[0], lits[1:]
		}
		return &c, lits
	case *filter.LogicalExpression:
		l, lits := fillLiterals(x.Left, lits)
		if l == nil {
			return nil, nil
		}
		r, lits := fillLiterals(x.Right, lits)
		if r == nil {
			return nil, nil
		}
		return &filter.LogicalExpression{Left: l, Right: r, Operator: x.Operator}, lits
	case *filter.NotExpression:
		inner, lits := fillLiterals(x.Expression, lits)
		if inner == nil {
			return nil, nil
		}
		return &filter.NotExpression{Expression: inner}, lits
	case *filter.ValuePath:
		inner, lits := fillLiterals(x.ValueFilter, lits)
		if inner == nil {
			return nil, nil
		}
		return &filter.ValuePath{AttributePath: x.AttributePath, ValueFilter: inner}, lits
	}
	return nil, nil
}
