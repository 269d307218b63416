package ldap

import (
	"errors"
	"fmt"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/secret"
)

// KindForCode maps an LDAP result code (RFC 4511 §4.1.9) to accord's
// failure kind. The decision is on the code, never on the server's text;
// a flavour may refine it (Flavour.Kind).
func KindForCode(code uint16) connector.Kind {
	switch code {
	case goldap.LDAPResultInvalidCredentials, goldap.LDAPResultInappropriateAuthentication:
		return connector.Auth
	case goldap.LDAPResultInsufficientAccessRights, goldap.LDAPResultConfidentialityRequired,
		goldap.LDAPResultStrongAuthRequired:
		return connector.Forbidden
	case goldap.LDAPResultNoSuchObject, goldap.LDAPResultNoSuchAttribute:
		return connector.NotFound
	case goldap.LDAPResultEntryAlreadyExists, goldap.LDAPResultAttributeOrValueExists:
		return connector.Conflict
	case goldap.LDAPResultBusy, goldap.LDAPResultUnavailable, goldap.LDAPResultOther,
		goldap.LDAPResultLoopDetect, goldap.ErrorNetwork, goldap.LDAPResultServerDown,
		goldap.LDAPResultConnectError, goldap.LDAPResultAdminLimitExceeded:
		return connector.Unavailable
	case goldap.LDAPResultTimeLimitExceeded, goldap.LDAPResultTimeout:
		return connector.Timeout
	case goldap.LDAPResultUnwillingToPerform, goldap.LDAPResultConstraintViolation,
		goldap.LDAPResultInvalidAttributeSyntax, goldap.LDAPResultUndefinedAttributeType,
		goldap.LDAPResultInappropriateMatching, goldap.LDAPResultObjectClassViolation,
		goldap.LDAPResultNotAllowedOnNonLeaf, goldap.LDAPResultNotAllowedOnRDN,
		goldap.LDAPResultObjectClassModsProhibited, goldap.LDAPResultInvalidDNSyntax,
		goldap.LDAPResultNamingViolation, goldap.LDAPResultAffectsMultipleDSAs,
		goldap.LDAPResultProtocolError, goldap.LDAPResultFilterError,
		goldap.LDAPResultUnavailableCriticalExtension, goldap.LDAPResultSizeLimitExceeded:
		return connector.Validation
	}
	return connector.Unknown
}

// wrapError turns what go-ldap returned into a *connector.Error: the kind
// from the result code (refined by the flavour), the result code as
// Status and the server's diagnostic message, its own words, as Reason.
// what says what accord was doing ("modify uid=ann,ou=people,...").
func (c *Conn) wrapError(op, what string, err error) error {
	if err == nil {
		return nil
	}
	var ce *connector.Error
	if errors.As(err, &ce) {
		return err
	}
	var le *goldap.Error
	if !errors.As(err, &le) {
		e := connector.AsError(err)
		return &connector.Error{Kind: e.Kind, Message: secret.Redact(what + ": " + err.Error()), Err: err}
	}
	diag := ""
	if le.Err != nil {
		diag = le.Err.Error()
	}
	kind := KindForCode(le.ResultCode)
	if le.ResultCode == goldap.ErrorNetwork || le.ResultCode >= goldap.ErrorNetwork {
		// go-ldap's own codes (200+): the connection, not the server.
		if k := connector.AsError(le.Err).Kind; k == connector.Timeout || timedOut(err) {
			kind = connector.Timeout
		} else if kind == connector.Unknown {
			kind = connector.Unavailable
		}
	}
	if k, ok := c.flavour.Kind(op, le.ResultCode, diag); ok {
		kind = k
	}
	name := goldap.LDAPResultCodeMap[le.ResultCode]
	if name == "" {
		name = fmt.Sprintf("result %d", le.ResultCode)
	}
	return &connector.Error{
		Kind:    kind,
		Status:  int(le.ResultCode),
		Message: secret.Redact(fmt.Sprintf("%s: %s", what, name)),
		Reason:  secret.Redact(diag),
		Err:     err,
	}
}

// codeOf is the LDAP result code in err, or 0.
func codeOf(err error) uint16 {
	var le *goldap.Error
	if errors.As(err, &le) {
		return le.ResultCode
	}
	var ce *connector.Error
	if errors.As(err, &ce) && ce.Status > 0 {
		return uint16(ce.Status)
	}
	return 0
}
