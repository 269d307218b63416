package testkit_test

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/testkit"
)

// The starter's server answers on its ports, its LDAPS certificate is
// trusted through CAFile alone, and a restart keeps the ports.
func TestStartSlapd(t *testing.T) {
	s := testkit.StartSlapd(t, testkit.SlapdOptions{UniqueUID: true})
	pem, err := os.ReadFile(s.CAFile)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(pem))
	host := strings.TrimSuffix(strings.TrimPrefix(s.LDAPSURL, "ldaps://"), "/")
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", host, &tls.Config{RootCAs: roots, ServerName: "localhost"})
	require.NoError(t, err, "the LDAPS certificate verifies against CAFile")
	require.NoError(t, conn.Close())

	_, err = tls.Dial("tcp", host, &tls.Config{ServerName: "localhost"})
	require.Error(t, err, "and not against the system's roots")

	old := s.PID
	s.Restart(t)
	require.NotEqual(t, old, s.PID)
	c, err := net.DialTimeout("tcp", strings.TrimSuffix(strings.TrimPrefix(s.URL, "ldap://"), "/"), 5*time.Second)
	require.NoError(t, err)
	require.NoError(t, c.Close())
}
