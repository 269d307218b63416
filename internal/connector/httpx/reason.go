package httpx

import (
	"encoding/json"
	"strings"

	"github.com/accord-iam/accord/internal/secret"
)

// maxReason bounds the target's words carried by a failure: enough for
// any message a person wrote, short enough for a table cell and an alert.
const maxReason = 300

// messageMembers are the JSON members targets put their words in, in
// reading order: a heading (problem+json's title, OAuth's error code, a
// framework's "Bad Request") before the sentence that explains it.
var messageMembers = []string{"title", "error", "detail", "message", "error_description", "errorMessage", "description"}

// attributeMembers name the attribute a target says is wrong.
var attributeMembers = []string{"attribute", "field", "param", "parameter", "path", "property"}

// TargetReason extracts what a target said in an error answer, in its
// own words: a JSON error's message members (nested under "error" or in
// an "errors" list included), else the start of the body as text. It also
// returns the attribute the target names, if any. Secrets are redacted
// before anything is cut, so a cut never leaves half a secret.
func TargetReason(body []byte) (reason, attribute string) {
	b := strings.TrimSpace(string(body))
	if b == "" {
		return "", ""
	}
	var v any
	if json.Unmarshal([]byte(b), &v) == nil {
		reason, attribute = jsonReason(v, 0)
		if reason != "" {
			return clip(secret.Redact(reason)), attribute
		}
		if _, isObj := v.(map[string]any); isObj {
			// A JSON answer without a message member: its own text is
			// still the target's words, credentials masked.
			return clip(secret.RedactBody(b)), attribute
		}
	}
	return clip(secret.RedactBody(plainText(b))), ""
}

// jsonReason looks for the message and attribute of a decoded error body.
func jsonReason(v any, depth int) (reason, attribute string) {
	if depth > 3 {
		return "", ""
	}
	switch x := v.(type) {
	case string:
		return x, ""
	case []any:
		var parts []string
		for _, el := range x {
			r, a := jsonReason(el, depth+1)
			if r != "" {
				parts = append(parts, r)
			}
			if attribute == "" {
				attribute = a
			}
			if len(parts) == 3 {
				break
			}
		}
		return strings.Join(parts, "; "), attribute
	case map[string]any:
		for _, k := range attributeMembers {
			if s, ok := x[k].(string); ok && s != "" {
				attribute = s
				break
			}
		}
		var parts []string
		for _, k := range messageMembers {
			m, ok := x[k]
			if !ok {
				continue
			}
			r, a := jsonReason(m, depth+1)
			if attribute == "" {
				attribute = a
			}
			if r != "" && !containsAny(parts, r) {
				parts = append(parts, r)
			}
			// "error" + "error_description" (OAuth) and "title" +
			// "detail" (problem+json) say one thing in two members.
			if len(parts) == 2 {
				break
			}
		}
		if errs, ok := x["errors"]; ok {
			// "Validation failed" says less than the list that follows.
			r, a := jsonReason(errs, depth+1)
			if attribute == "" {
				attribute = a
			}
			if r != "" && !containsAny(parts, r) {
				parts = append(parts, r)
			}
		}
		return strings.Join(parts, ": "), attribute
	}
	return "", ""
}

func containsAny(parts []string, s string) bool {
	for _, p := range parts {
		if strings.Contains(p, s) || strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// plainText drops the tags of an HTML answer and folds white space, so a
// proxy's error page reads as its words.
func plainText(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
			b.WriteByte(' ')
		case r == '>' && in:
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// clip cuts s to maxReason bytes, folding white space; a character cut
// in two is dropped rather than shown broken.
func clip(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= maxReason {
		return s
	}
	return strings.ToValidUTF8(s[:maxReason], "") + "…"
}
