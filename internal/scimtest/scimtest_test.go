package scimtest_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/scimtest"
)

func TestStartReal(t *testing.T) {
	base, token := scimtest.StartReal(t)
	cases := []struct {
		name, auth string
		want       int
	}{
		{"with the token", "Bearer " + token, http.StatusOK},
		{"without", "", http.StatusUnauthorized},
		{"with another token", "Bearer not-" + token, http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", base+"/ServiceProviderConfig", nil)
			require.NoError(t, err)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, tc.want, resp.StatusCode)
		})
	}
}

func TestEachServerIsFresh(t *testing.T) {
	a, _ := scimtest.StartReal(t)
	b, _ := scimtest.StartReal(t)
	require.NotEqual(t, a, b)
}
