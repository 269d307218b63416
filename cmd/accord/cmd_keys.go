package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/store"
)

func init() {
	extraCommands = append(extraCommands, (*cli).keysCmd)
}

// keyJSON is a key as `keys create --json` and `keys list --json` print
// it; Key (the secret) only at creation.
type keyJSON struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes"`
	Key       string     `json:"key,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	RevokedBy string     `json:"revoked_by,omitempty"`
}

func toKeyJSON(k *store.APIKey) keyJSON {
	out := keyJSON{ID: k.ID, Name: k.Name, Scopes: k.Scopes, CreatedAt: k.CreatedAt, CreatedBy: k.CreatedBy, RevokedBy: k.RevokedBy}
	if out.Scopes == nil {
		out.Scopes = []string{}
	}
	if k.Revoked() {
		t := k.RevokedAt
		out.RevokedAt = &t
	}
	return out
}

// openStore opens only the store: managing keys needs no target, nor the
// targets' credentials.
func (c *cli) openStore(ctx context.Context) (store.Store, error) {
	cfg, _, probs, err := app.Check(c.configPath)
	if err != nil {
		return nil, fail(exitFailed, err)
	}
	if len(probs) > 0 {
		return nil, fail(exitFailed, probs)
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return nil, fail(exitFailed, err)
	}
	return st, nil
}

func (c *cli) keysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "create, list and revoke API keys"}
	var (
		name   string
		scopes []string
	)
	create := &cobra.Command{
		Use:   "create --name NAME --scope SCOPE...",
		Short: "create an API key; it is printed once and never again",
		Long: "Create an API key for the HTTP API. Scopes: " + strings.Join(api.Scopes, ", ") +
			" (admin implies all). Only a hash is stored: keep the key in a secret manager.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, err := c.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			key, k, err := api.CreateKey(ctx, st, name, scopes, "cli:"+currentUser(), time.Now().UTC())
			if err != nil {
				return fail(exitFailed, err)
			}
			if c.jsonOut {
				out := toKeyJSON(&k)
				out.Key = key
				return json.NewEncoder(c.stdout).Encode(out)
			}
			fmt.Fprintf(c.stdout, "API key %q created (id %s, scopes %s).\n", k.Name, k.ID, strings.Join(k.Scopes, ", "))
			fmt.Fprintf(c.stdout, "It is shown only now; store it in a secret manager and send it as 'Authorization: Bearer <key>':\n\n%s\n", key)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "a name for the key (who or what uses it); shown in the audit trail")
	create.Flags().StringSliceVar(&scopes, "scope", nil, "a scope the key grants, repeatable or comma-separated: "+strings.Join(api.Scopes, ", "))
	create.Flags().BoolVar(&c.jsonOut, "json", false, "print JSON")
	_ = create.MarkFlagRequired("name")
	_ = create.MarkFlagRequired("scope")

	list := &cobra.Command{
		Use:   "list",
		Short: "list API keys (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := c.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			keys, err := st.ListAPIKeys(cmd.Context())
			if err != nil {
				return fail(exitFailed, err)
			}
			if c.jsonOut {
				out := make([]keyJSON, len(keys))
				for i := range keys {
					out[i] = toKeyJSON(&keys[i])
				}
				return json.NewEncoder(c.stdout).Encode(out)
			}
			tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tCREATED\tBY\tSTATE")
			for _, k := range keys {
				state := "active"
				if k.Revoked() {
					state = "revoked " + k.RevokedAt.Format(time.RFC3339) + " by " + k.RevokedBy
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, strings.Join(k.Scopes, ","), k.CreatedAt.Format(time.RFC3339), k.CreatedBy, state)
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&c.jsonOut, "json", false, "print JSON")

	revoke := &cobra.Command{
		Use:   "revoke NAME|ID",
		Short: "revoke an API key; its next request is refused",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := c.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			k, err := api.RevokeKey(cmd.Context(), st, args[0], "cli:"+currentUser(), time.Now().UTC())
			if err != nil {
				if errors.Is(err, store.ErrConflict) {
					return fail(exitFailed, fmt.Errorf("API key %q is already revoked", args[0]))
				}
				return fail(exitFailed, err)
			}
			fmt.Fprintf(c.stdout, "API key %q (id %s) revoked\n", k.Name, k.ID)
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
