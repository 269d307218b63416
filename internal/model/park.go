package model

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Park is a person's create on a target that the target refused with a
// conflict accord could not resolve (no account matched the correlation
// rule). Planning it again would only repeat the refusal, so the planner
// leaves the pair alone while Fingerprint still matches what it would
// send: a change to the person's record or to the mapping changes the
// attributes, and so ends the park, as does an explicit retry of the
// action or the account becoming known.
type Park struct {
	Target    string `json:"target"`
	PersonKey string `json:"person"`
	// Fingerprint of the refused create's attributes (AttrsFingerprint).
	Fingerprint string `json:"fingerprint"`
	// Reason is the failure as shown to the operator, the target's words
	// and what to do included.
	Reason   string    `json:"reason"`
	ActionID int64     `json:"action_id"`
	RunID    string    `json:"run_id"`
	At       time.Time `json:"at"`
}

// AttrsFingerprint identifies a set of attribute values, whatever their
// order: equal attributes give equal fingerprints.
func AttrsFingerprint(a Attributes) string {
	b, err := EncodeAttrs(a)
	if err != nil {
		// Unencodable attributes never reach a target: nothing to match.
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}
