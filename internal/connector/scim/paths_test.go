package scim

import (
	"strings"
	"testing"
	"unicode/utf8"

	filter "github.com/scim2/filter-parser/v2"
	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
)

func TestParseAttrPath(t *testing.T) {
	cases := []struct {
		name  string
		want  attrPath
		patch string
		err   string
	}{
		{name: "userName", want: attrPath{attr: "userName"}, patch: "userName"},
		{name: "name.givenName", want: attrPath{attr: "name", sub: "givenName"}, patch: "name.givenName"},
		{name: `emails[type eq "work"].value`, want: attrPath{attr: "emails", fAttr: "type", fValue: "work", sub: "value"}, patch: `emails[type eq "work"].value`},
		{name: `phoneNumbers[type eq "mobile"]`, want: attrPath{attr: "phoneNumbers", fAttr: "type", fValue: "mobile", sub: "value"}, patch: `phoneNumbers[type eq "mobile"].value`},
		{name: enterpriseNS + ":employeeNumber", want: attrPath{urn: enterpriseNS, attr: "employeeNumber"}, patch: enterpriseNS + ":employeeNumber"},
		{name: enterpriseNS + ":manager.value", want: attrPath{urn: enterpriseNS, attr: "manager", sub: "value"}, patch: enterpriseNS + ":manager.value"},
		{name: coreUserURN + ":name.familyName", want: attrPath{attr: "name", sub: "familyName"}, patch: "name.familyName"},
		{name: `emails[type eq "a\"b"].value`, want: attrPath{attr: "emails", fAttr: "type", fValue: `a"b`, sub: "value"}, patch: `emails[type eq "a\"b"].value`},
		{name: `emails[type ne "work"].value`, err: "single equality"},
		{name: `emails[type eq "work" or type eq "home"].value`, err: "single equality"},
		{name: `emails[primary eq true].value`, err: "string"},
		{name: "not a path", err: "not a SCIM attribute path"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parseAttrPath(tc.name)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			tc.want.name = tc.name
			require.Equal(t, tc.want, p)
			require.Equal(t, tc.patch, p.patchPath())
			back, err := parseAttrPath(p.patchPath())
			require.NoError(t, err)
			require.Equal(t, p.key(), back.key())
		})
	}
}

func TestRemovePathDropsTheWholeElement(t *testing.T) {
	p, err := parseAttrPath(`emails[type eq "work"].value`)
	require.NoError(t, err)
	require.Equal(t, `emails[type eq "work"]`, p.removePath())
	p, err = parseAttrPath(`emails[type eq "work"].primary`)
	require.NoError(t, err)
	require.Equal(t, `emails[type eq "work"].primary`, p.removePath())
}

var hostileValues = []string{
	"plain", "with/slash", `quote"d`, `"`, `""`, `\`, `back\slash`, `\"`, "with space", "tab\tand\nnewline",
	"ünïcödé 名前 🎉", `) or (userName pr`, `x" or userName pr or userName eq "y`, "]", "[type eq \"x\"]", "{{userName}}", "", "bell\a", "esc\x1b[0m",
}

func TestEqFilterRoundTrips(t *testing.T) {
	p, err := parseAttrPath("userName")
	require.NoError(t, err)
	for _, v := range hostileValues {
		t.Run(v, func(t *testing.T) {
			f, err := eqFilter(p, v)
			require.NoError(t, err)
			e, err := filter.ParseFilter([]byte(f))
			require.NoError(t, err)
			ae, ok := e.(*filter.AttributeExpression)
			require.True(t, ok, "the value cannot change the filter's shape: %s", f)
			require.Equal(t, "userName", ae.AttributePath.String())
			got, err := unquote(ae.CompareValue.(string))
			require.NoError(t, err)
			require.Equal(t, v, got)
		})
	}
}

func TestValueFilterPathEquality(t *testing.T) {
	p, err := parseAttrPath(`emails[type eq "work"].value`)
	require.NoError(t, err)
	f, err := eqFilter(p, `a"b@example.com`)
	require.NoError(t, err)
	require.Equal(t, `emails[type eq "work" and value eq "a\"b@example.com"]`, f)
}

func FuzzEqFilter(f *testing.F) {
	for _, v := range hostileValues {
		f.Add(v)
	}
	p, err := parseAttrPath("userName")
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, v string) {
		out, err := eqFilter(p, v)
		if err != nil {
			return // refused, never sent
		}
		e, err := filter.ParseFilter([]byte(out))
		require.NoError(t, err)
		ae, ok := e.(*filter.AttributeExpression)
		require.True(t, ok, out)
		got, err := unquote(ae.CompareValue.(string))
		require.NoError(t, err)
		if utf8.ValidString(v) {
			require.Equal(t, v, got)
		}
	})
}

func TestCorrelationTemplate(t *testing.T) {
	c, err := parseCorrelation(`externalId eq "{{employeeId}}" and (userName eq "{{userName}}" or userName eq "x\"y")`)
	require.NoError(t, err)
	require.Equal(t, []string{"employeeId", "userName"}, c.holes)
	require.Nil(t, c.terms, "an or is not a conjunction")
	vals, err := c.values(model.Attributes{"employeeId": int64(42), "userName": `a"b`})
	require.NoError(t, err)
	f, err := c.build(vals)
	require.NoError(t, err)
	require.Equal(t, `externalId eq "42" and (userName eq "a\"b" or userName eq "x\"y")`, f)

	_, err = c.values(model.Attributes{"employeeId": "1"})
	require.ErrorContains(t, err, "userName has no value")

	for _, bad := range []string{`userName eq "x"`, `userName eq "pre{{userName}}"`, `userName eq`} {
		_, err := parseCorrelation(bad)
		require.Error(t, err, bad)
	}
}

func TestLooseFilter(t *testing.T) {
	c, err := parseCorrelation("userName")
	require.NoError(t, err)
	cases := map[string]string{
		"plain":                             `userName eq "plain"`,
		`ab"cdef\gh`:                        `userName co "cdef"`,
		`"`:                                 "",
		strings.Repeat("x", 3) + `"` + "yy": `userName co "xxx"`,
	}
	for v, want := range cases {
		require.Equal(t, want, looseFilter(c.terms, map[string]string{"userName": v}), v)
	}
}

func TestFlattenAndSet(t *testing.T) {
	r, err := decodeResource([]byte(`{"id":"1","userName":"ann","active":false,"Name":{"givenName":"Ann"},
		"emails":[{"type":"Work","value":"a@x"},{"type":"home","value":"h@x"}],"x509Certificates":[{"value":"c"}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"7","manager":{"value":"m"}},"count":12345678901,"tags":["a","b"]}`))
	require.NoError(t, err)
	require.Equal(t, model.Attributes{
		"userName":                       "ann",
		"Name.givenName":                 "Ann",
		`emails[type eq "Work"].value`:   "a@x",
		`emails[type eq "home"].value`:   "h@x",
		enterpriseNS + ":employeeNumber": "7",
		enterpriseNS + ":manager.value":  "m",
		"count":                          int64(12345678901),
		"tags":                           []string{"a", "b"},
	}, flatten(r, nil))

	var want []attrPath
	for _, n := range []string{"name.givenName", `emails[type eq "work"].value`, enterpriseNS + ":employeeNumber", "displayName"} {
		p, err := parseAttrPath(n)
		require.NoError(t, err)
		want = append(want, p)
	}
	require.Equal(t, model.Attributes{"name.givenName": "Ann", `emails[type eq "work"].value`: "a@x", enterpriseNS + ":employeeNumber": "7"}, flatten(r, want))

	setValue(r, want[1], nil)
	setValue(r, want[0], "Annie")
	setValue(r, want[3], "Ann E")
	got := flatten(r, want)
	require.Equal(t, model.Attributes{"name.givenName": "Annie", enterpriseNS + ":employeeNumber": "7", "displayName": "Ann E"}, got)
	require.Len(t, r["emails"], 1, "the work address element is gone, the home one stays")
}
