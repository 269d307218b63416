package httpx_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector/httpx"
	"github.com/accord-iam/accord/internal/secret"
)

func TestTargetReason(t *testing.T) {
	secret.Register("hunter2-very-secret")
	long := strings.Repeat("x", 1000)
	cases := []struct {
		name, body, reason, attr string
	}{
		{"scim", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"400","scimType":"invalidValue","detail":"userName is required"}`, "userName is required", ""},
		{"message", `{"message":"username is required and must be a string"}`, "username is required and must be a string", ""},
		{"oauth", `{"error":"invalid_client","error_description":"client unknown"}`, "invalid_client: client unknown", ""},
		{"nested error", `{"error":{"code":400,"message":"Invalid email","field":"email"}}`, "Invalid email", "email"},
		{"errors list", `{"message":"Validation Failed","errors":[{"field":"login","message":"login is taken"}]}`, "Validation Failed: login is taken", "login"},
		{"problem json", `{"type":"about:blank","title":"Conflict","detail":"A User already uses this email"}`, "Conflict: A User already uses this email", ""},
		{"plain text", "  Bad\n request:   name too long ", "Bad request: name too long", ""},
		{"html", `<html><head><title>502 Bad Gateway</title></head><body><h1>502</h1></body></html>`, "502 Bad Gateway 502", ""},
		{"json without words", `{"status":400,"password":"p4ss"}`, `{"status":400,"password":"` + secret.Mask + `"}`, ""},
		{"secret in message", `{"message":"token hunter2-very-secret is invalid"}`, "token " + secret.Mask + " is invalid", ""},
		{"empty", "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reason, attr := httpx.TargetReason([]byte(tc.body))
			require.Equal(t, tc.reason, reason)
			require.Equal(t, tc.attr, attr)
		})
	}
	reason, _ := httpx.TargetReason([]byte(long))
	require.Less(t, len(reason), 310, "a long body is cut")
	reason, _ = httpx.TargetReason([]byte("x" + strings.Repeat("é", 500)))
	require.True(t, utf8.ValidString(reason), "no character is cut in two")
	require.True(t, strings.HasSuffix(reason, "é…"), reason)
}
