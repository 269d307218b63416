package yamlx

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The YAML parser reports a syntax error at the line where the enclosing
// block began, not where it went wrong ("line 3: did not find expected
// key" for a bad indentation on line 8), and says nothing of the key it
// was in. syntaxProblem finds the line itself: the first line of the
// last run of lines after which the document no longer parses, and the
// key path that encloses it in the part that does.

// maxSyntaxLines bounds the search: it parses up to one prefix per line.
const maxSyntaxLines = 5000

var (
	yamlLinePrefix = regexp.MustCompile(`^yaml: (?:line \d+: )?`)
	yamlLine       = regexp.MustCompile(`^yaml: line (\d+):`)
)

func syntaxProblem(data []byte, err error) Problem {
	msg := yamlLinePrefix.ReplaceAllString(err.Error(), "")
	p := Problem{Msg: msg}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) > maxSyntaxLines {
		return p
	}
	// good is the longest prefix that parses; the line after it is where
	// the document went wrong.
	good := -1
	for k := len(lines) - 1; k >= 0; k-- {
		if parses(bytes.Join(lines[:k], nil)) {
			good = k
			break
		}
	}
	if good < 0 || good >= len(lines) {
		return p
	}
	bad := string(bytes.TrimRight(lines[good], "\r\n"))
	p.Line = good + 1
	p.Msg = explain(bad, msg)
	var prefix yaml.Node
	if yaml.Unmarshal(bytes.Join(lines[:good], nil), &prefix) == nil {
		p.Path = enclosing(&prefix, indentOf(bad))
	}
	return p
}

func parses(b []byte) bool {
	var n yaml.Node
	return yaml.Unmarshal(b, &n) == nil
}

// explain says what is wrong with the line in the user's terms where it
// can tell, and keeps the parser's words as well.
func explain(line, msg string) string {
	lead := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
	switch {
	case strings.Contains(lead, "\t"):
		// The parser's words here ("found character that cannot start
		// any token") do not help.
		return "a tab in the indentation; YAML indents with spaces only"
	case unclosedQuote(line):
		return "a quoted value that is never closed (" + msg + ")"
	case strings.Count(line, "{") > strings.Count(line, "}") || strings.Count(line, "[") > strings.Count(line, "]"):
		return "a { or [ that is not closed on this line (" + msg + ")"
	}
	return msg + "; check this line's indentation against the lines above"
}

// unclosedQuote reports whether a value on the line opens a quote it does
// not close.
func unclosedQuote(line string) bool {
	s := strings.TrimSpace(line)
	s = strings.TrimPrefix(s, "- ")
	if _, v, ok := strings.Cut(s, ": "); ok {
		s = strings.TrimSpace(v)
	}
	switch {
	case strings.HasPrefix(s, `"`):
		body := strings.ReplaceAll(s[1:], `\\`, "")
		body = strings.ReplaceAll(body, `\"`, "")
		return !strings.Contains(body, `"`)
	case strings.HasPrefix(s, "'"):
		return !strings.Contains(strings.ReplaceAll(s[1:], "''", ""), "'")
	}
	return false
}

// indentOf is the column a line starts at, counting a tab as one column.
func indentOf(line string) int { return len(line) - len(strings.TrimLeft(line, " \t")) }

// enclosing is the path of the last key or list item, in document order,
// that starts left of column indent (0-based): the block a line indented
// so would belong to.
func enclosing(doc *yaml.Node, indent int) string {
	path := ""
	var walk func(n *yaml.Node, p string)
	walk = func(n *yaml.Node, p string) {
		n = resolve(n)
		if n == nil {
			return
		}
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, p)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				kp := Join(p, k.Value)
				if k.Column-1 < indent {
					path = kp
				}
				walk(n.Content[i+1], kp)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				ip := Index(p, i)
				// An item's dash is two columns left of its content.
				if c.Column-3 < indent {
					path = ip
				}
				walk(c, ip)
			}
		}
	}
	walk(doc, "")
	return path
}
