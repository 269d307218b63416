package audit_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/secret"
)

// ExcerptBytes is Excerpt of the same bytes, whatever the size, with a
// secret or a multi-byte character where the bytes are cut.
func TestExcerptBytesIsExcerpt(t *testing.T) {
	secret.Register("reg-secret-Zq8xk")
	long := "long-secret-" + strings.Repeat("Q", 52) // 64 bytes
	secret.Register(long)
	pad := func(n int) string { return strings.Repeat("a", n) }
	cases := []string{
		"",
		`{"id":"1"}`,
		`{"password":"pw-Zq8","x":"` + pad(20_000) + `"}`,
		pad(audit.MaxExcerpt-3) + "reg-secret-Zq8xk" + pad(20_000),
		pad(audit.MaxExcerpt+8<<10-1) + "é" + pad(100), // cut inside the é
		pad(audit.MaxExcerpt+8<<10-2) + "€€" + pad(100),
		strings.Repeat("é", 20_000),
		// redaction shortens what is kept below MaxExcerpt: the cut
		// inside the é would show
		strings.Repeat(long, 159) + pad(63) + "é" + pad(100),
	}
	for i, s := range cases {
		got := audit.ExcerptBytes([]byte(s))
		require.Equal(t, audit.Excerpt(s), got, "case %d", i)
		require.NotContains(t, got, "reg-secret-Zq8xk")
		require.NotContains(t, got, "pw-Zq8")
		require.LessOrEqual(t, len(got), audit.MaxExcerpt+len("…"))
	}
}

// Headers masks credential headers whatever their value, redacts
// registered secrets elsewhere, and joins repeated values.
func TestHeadersRedacted(t *testing.T) {
	secret.Register("reg-secret-Hd9")
	h := http.Header{
		"Authorization": {"Bearer tok-Hd9"},
		"X-Api-Key":     {"key-Hd9"},
		"X-Tenant-Key":  {"tenant-Hd9"},
		"X-Echo":        {"has reg-secret-Hd9 inside"},
		"Accept":        {"application/json", "text/plain"},
		"Content-Type":  {"application/json"},
	}
	got := audit.Headers(h, "X-Tenant-Key")
	require.Equal(t, map[string]string{
		"Authorization": secret.Mask,
		"X-Api-Key":     secret.Mask,
		"X-Tenant-Key":  secret.Mask,
		"X-Echo":        "has " + secret.Mask + " inside",
		"Accept":        "application/json, text/plain",
		"Content-Type":  "application/json",
	}, got)
	require.Nil(t, audit.Headers(nil))
}
