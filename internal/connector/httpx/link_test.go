package httpx_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector/httpx"
)

func TestNextLink(t *testing.T) {
	cases := map[string]string{
		`<https://a.example/u?page=2>; rel="next"`:                                         "https://a.example/u?page=2",
		`<https://a.example/u?page=1>; rel="prev", <https://a.example/u?page=3>; rel=next`: "https://a.example/u?page=3",
		`</u?a=1,2>; rel="next"; title="x, y"`:                                             "/u?a=1,2",
		`<https://a.example/u?page=1>; title="next, please"; rel="prev"`:                   "",
		`<https://a.example/u>; rel="last next"`:                                           "https://a.example/u",
		`<https://a.example/u>; REL="Next"`:                                                "https://a.example/u",
		``:                                                                                 "",
		`garbage`:                                                                          "",
	}
	for in, want := range cases {
		require.Equal(t, want, httpx.NextLink(http.Header{"Link": {in}}), in)
	}
	require.Equal(t, "/b", httpx.NextLink(http.Header{"Link": {`</a>; rel="prev"`, `</b>; rel="next"`}}))
}
