package scim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/httpx"
	"github.com/accord-iam/accord/internal/secret"
)

// scimError is the body of a SCIM error answer (RFC 7644 §3.12).
// status is a string in the RFC and a number in some targets.
type scimError struct {
	Status   json.RawMessage `json:"status"`
	ScimType string          `json:"scimType"`
	Detail   string          `json:"detail"`
}

// validationTypes are the scimTypes that say the request itself is wrong.
var validationTypes = map[string]bool{
	"invalidfilter": true, "toomany": true, "invalidpath": true, "notarget": true, "invalidvalue": true,
	"invalidsyntax": true, "invalidvers": true, "sensitive": true, "mutability": true,
}

// failure turns a non-2xx answer into a *connector.Error, refining the
// status's kind with the scimType. names are the account attributes the
// request carried, so that the one the detail mentions can be named.
func (c *Conn) failure(resp *httpx.Response, names []string) *connector.Error {
	e := resp.Failure()
	var se scimError
	if json.Unmarshal(resp.Body, &se) != nil {
		return e
	}
	st := strings.ToLower(se.ScimType)
	switch {
	case st == "uniqueness":
		e.Kind = connector.Conflict
	case resp.Status == http.StatusBadRequest && validationTypes[st]:
		e.Kind = connector.Validation
	}
	if se.ScimType != "" {
		e.Message = secret.Redact(fmt.Sprintf("%s %s answered %d %s", resp.Method, resp.URL, resp.Status, se.ScimType))
	}
	if se.Detail != "" {
		e.Reason = secret.Redact(se.Detail)
	}
	if a := mentioned(se.Detail, names); a != "" && (e.Kind == connector.Validation || e.Kind == connector.Conflict) {
		// A uniqueness answer names the attribute that is taken ("A User
		// already uses this email"): the operator needs it as much as a
		// validation's.
		e.Attribute = a
	}
	return e
}

func isScimType(resp *httpx.Response, typ string) bool {
	var se scimError
	return json.Unmarshal(resp.Body, &se) == nil && strings.EqualFold(se.ScimType, typ)
}

// mentioned picks the account attribute a detail message is about: the
// longest flat name it contains, else the one whose top-level attribute
// it names (SCIMMY says "Complex attribute 'emails' …").
func mentioned(detail string, names []string) string {
	if detail == "" {
		return ""
	}
	d := strings.ToLower(detail)
	sorted := append([]string(nil), names...)
	sort.Slice(sorted, func(i, j int) bool { return len(sorted[i]) > len(sorted[j]) })
	for _, n := range sorted {
		if strings.Contains(d, strings.ToLower(n)) {
			return n
		}
	}
	var hit string
	for _, n := range sorted {
		p, err := parseAttrPath(n)
		if err != nil {
			continue
		}
		if containsWord(d, strings.ToLower(p.attr)) {
			if hit != "" && hit != n {
				return p.attr
			}
			hit = n
		}
	}
	return hit
}

// containsWord finds w in s not as part of a longer name.
func containsWord(s, w string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], w)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(w)
		if (j == 0 || !isNameByte(s[j-1])) && (end == len(s) || !isNameByte(s[end])) {
			return true
		}
		i = j + 1
	}
}

func isNameByte(b byte) bool {
	return b == '_' || b == '-' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}
