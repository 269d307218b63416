package targetsim

import (
	"net/http"
	"strings"
)

// Behaviours make the SCIM surface act like servers accord meets in the
// field rather than like the RFC. Each is off in the zero value.
type Behaviours struct {
	// NoGroupsOnUser: the User schema in /Schemas has no groups attribute
	// and User resources never list their groups; membership shows only
	// on the group (a server that keeps memberships one-sided).
	NoGroupsOnUser bool
	// EmailsUniqueForever: an email address once used by a user stays
	// taken after that user is deleted (a server that keeps deleted users'
	// emails); a create or update reusing it answers 409 "A User already
	// uses this email".
	EmailsUniqueForever bool
	// OwnErrors: error answers are not SCIM errors but a JSON body in the
	// server's own words, {"message": …, "field": …}.
	OwnErrors bool
}

// emailTaken is the answer of a server that keeps emails of deleted
// users, in its words.
const emailTaken = "A User already uses this email"

// userSchemaAttrs are the User schema's attributes as /Schemas shows
// them under the configured behaviours.
func (s *SCIM) schemaAttrs(sd *schemaDef) []*attrDef {
	if sd != userSchema || !s.behave.NoGroupsOnUser {
		return sd.Attrs
	}
	out := make([]*attrDef, 0, len(sd.Attrs))
	for _, d := range sd.Attrs {
		if d.Name != "groups" {
			out = append(out, d)
		}
	}
	return out
}

// emailsOf lists a user's email values, folded.
func emailsOf(attrs map[string]any) []string {
	list, _ := attrs["emails"].([]any)
	var out []string
	for _, e := range list {
		m, _ := e.(map[string]any)
		if v, _ := m["value"].(string); v != "" {
			out = append(out, fold(v))
		}
	}
	return out
}

// checkEmails refuses an email another user, living or deleted, has
// used. Must hold s.mu.
func (s *SCIM) checkEmails(rt *resourceType, id string, attrs map[string]any) error {
	if rt != userType || !s.behave.EmailsUniqueForever {
		return nil
	}
	for _, e := range emailsOf(attrs) {
		if owner, ok := s.emailOwner[e]; ok && owner != id {
			return scimErr(http.StatusConflict, "", "%s", emailTaken)
		}
	}
	return nil
}

// keepEmails records a user's emails as taken for good. Must hold s.mu.
func (s *SCIM) keepEmails(rt *resourceType, id string, attrs map[string]any) {
	if rt != userType || !s.behave.EmailsUniqueForever {
		return
	}
	for _, e := range emailsOf(attrs) {
		if _, ok := s.emailOwner[e]; !ok {
			s.emailOwner[e] = id
		}
	}
}

// ownError renders an error as a server that does not speak SCIM errors
// does: its message and, when it names one, the field.
// ("userName is required", field userName).
func ownError(se *SCIMError) []byte {
	msg, field := se.Detail, ""
	if rest, ok := strings.CutPrefix(msg, `attribute "`); ok && se.ScimType == "invalidValue" {
		if name, words, ok := strings.Cut(rest, `": `); ok {
			msg, field = name+" "+words, name
		}
	}
	b := append([]byte(nil), `{"message":`...)
	b = appendJSONString(b, msg)
	if field != "" {
		b = append(b, `,"field":`...)
		b = appendJSONString(b, field)
	}
	return append(b, '}')
}

// ownErrorWriter marks a response whose errors are written in the
// server's own words (Behaviours.OwnErrors).
type ownErrorWriter struct{ http.ResponseWriter }
