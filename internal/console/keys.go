package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/accord-iam/accord/internal/api"
)

// The keys page (admin): list, create (the secret shown once, on the
// answer to the form, never in a link, cookie or log), revoke. Each calls
// the API's keys route as the signed-in key.

type keysView struct {
	Keys   []api.KeyView
	Scopes []string
}

func (c *Console) listKeys(rq *Request) error {
	var d struct {
		Keys []api.KeyView `json:"keys"`
	}
	if err := rq.Get("/api/v1/keys", &d); err != nil {
		return err
	}
	return rq.Render("API keys", keysView{Keys: d.Keys, Scopes: api.Scopes})
}

type keyCreatedView struct {
	Key api.KeyView
}

func (c *Console) createKey(rq *Request) error {
	body := map[string]any{"name": strings.TrimSpace(rq.PostFormValue("name")), "scopes": rq.PostForm["scope"]}
	if e := strings.TrimSpace(rq.PostFormValue("expires")); e != "" {
		body["expires"] = e
	}
	var k api.KeyView
	if err := rq.Post("/api/v1/keys", body, &k); err != nil {
		return err
	}
	// The page holding the secret is answered to the POST itself and
	// never stored by the browser (no-store): reloading it shows nothing.
	rq.W.Header().Set("Cache-Control", "no-store")
	return rq.Render("Key "+k.Name+" created", keyCreatedView{Key: k})
}

func (c *Console) revokeKey(rq *Request) error {
	name := rq.PathValue("name")
	var k api.KeyView
	if err := rq.Post("/api/v1/keys/"+url.PathEscape(name)+"/revoke", nil, &k); err != nil {
		return err
	}
	if k.ID == rq.Key.ID || k.Name == rq.Key.Name {
		// The key of this session: the next page asks to sign in again.
		http.Redirect(rq.W, rq.Request, "/signin", http.StatusSeeOther)
		return nil
	}
	return rq.Redirect("/keys", fmt.Sprintf("Key %q (id %s) revoked: it is refused from its next request.", k.Name, k.ID))
}
