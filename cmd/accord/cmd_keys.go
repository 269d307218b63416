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
	"github.com/accord-iam/accord/internal/textsafe"
)

// keyStateText is keyState with the when and who, for the table.
func keyStateText(k *store.APIKey, now time.Time) string {
	switch st := api.KeyState(k, now); st {
	case "revoked":
		return "revoked " + k.RevokedAt.Format(time.RFC3339) + " by " + k.RevokedBy
	case "expired":
		return "expired " + k.ExpiresAt.Format(time.RFC3339)
	case "rotated":
		return "rotated, valid until " + k.ExpiresAt.Format(time.RFC3339)
	default:
		return st
	}
}

func expiryText(k *store.APIKey) string {
	if k.ExpiresAt.IsZero() {
		return "never"
	}
	return k.ExpiresAt.Format(time.RFC3339)
}

// openKeyStore opens only the store, for its keys: managing keys needs no
// target, nor the targets' credentials.
func (c *cli) openKeyStore(ctx context.Context) (keyStore, error) {
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
	cmd := &cobra.Command{Use: "keys", Short: "create, list, rotate and revoke API keys"}
	var (
		name    string
		scopes  []string
		expires string
		grace   time.Duration
	)
	create := &cobra.Command{
		Use:   "create --name NAME --scope SCOPE...",
		Short: "create an API key; it is printed once and never again",
		Long: "Create an API key for the HTTP API. Scopes: " + strings.Join(api.Scopes, ", ") +
			" (admin implies all). Only a hash is stored: keep the key in a secret manager.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.printNewKey(cmd.Context(), expires, func(st api.Keys, until, now time.Time) (string, store.APIKey, string, error) {
				key, k, err := api.CreateKey(cmd.Context(), st, name, scopes, until, "cli:"+currentUser(), now)
				return key, k, fmt.Sprintf("API key %q created (id %s, scopes %s, expires %s).", k.Name, k.ID, strings.Join(k.Scopes, ", "), expiryText(&k)), err
			})
		},
	}
	create.Flags().StringVar(&expires, "expires", "", "when the key stops working: a lifetime (90d, 36h), a date (2027-01-31) or a time (RFC 3339); default never")
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
			st, err := c.openKeyStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			keys, err := st.ListAPIKeys(cmd.Context())
			if err != nil {
				return fail(exitFailed, err)
			}
			now := time.Now().UTC()
			if c.jsonOut {
				out := make([]api.KeyView, len(keys))
				for i := range keys {
					out[i] = api.ToKeyView(&keys[i], now)
				}
				return json.NewEncoder(c.stdout).Encode(out)
			}
			tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tCREATED\tBY\tEXPIRES\tSTATE")
			for i := range keys {
				k := &keys[i]
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, strings.Join(k.Scopes, ","), k.CreatedAt.Format(time.RFC3339),
					textsafe.Escape(k.CreatedBy), expiryText(k), textsafe.Escape(keyStateText(k, now)))
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
			st, err := c.openKeyStore(cmd.Context())
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
	rotate := &cobra.Command{
		Use:   "rotate NAME|ID [--grace 24h]",
		Short: "give a key a new secret under the same name; the old one works for the grace period",
		Long: "Rotate an API key: a new key with the same name and scopes is printed once, and the old key keeps " +
			"working for --grace (0: it stops at once), so that clients can switch over without an outage. " +
			"The new key lasts as long as the old one was made to, unless --expires says otherwise.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.printNewKey(cmd.Context(), expires, func(st api.Keys, until, now time.Time) (string, store.APIKey, string, error) {
				key, old, k, err := api.RotateKey(cmd.Context(), st, args[0], grace, until, "cli:"+currentUser(), now)
				return key, k, fmt.Sprintf("API key %q rotated: new id %s (expires %s); the old id %s works until %s.",
					k.Name, k.ID, expiryText(&k), old.ID, old.ExpiresAt.Format(time.RFC3339)), err
			})
		},
	}
	rotate.Flags().DurationVar(&grace, "grace", api.DefaultGrace, "how long the old key keeps working (0: not at all)")
	rotate.Flags().StringVar(&expires, "expires", "", "when the new key stops working: a lifetime (90d, 36h), a date or a time; default: the old key's lifetime")
	rotate.Flags().BoolVar(&c.jsonOut, "json", false, "print JSON")
	cmd.AddCommand(create, list, revoke, rotate)
	return cmd
}

// printNewKey runs issue, which stores a new key (created or rotated),
// and prints the key: the one place the CLI shows a secret, once.
func (c *cli) printNewKey(ctx context.Context, expires string, issue func(st api.Keys, until, now time.Time) (string, store.APIKey, string, error)) error {
	now := time.Now().UTC()
	until, err := expiryFlag(expires, now)
	if err != nil {
		return err
	}
	st, err := c.openKeyStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	key, k, headline, err := issue(st, until, now)
	if err != nil {
		return fail(exitFailed, err)
	}
	if c.jsonOut {
		out := api.ToKeyView(&k, now)
		out.Key = key
		return json.NewEncoder(c.stdout).Encode(out)
	}
	fmt.Fprintln(c.stdout, headline)
	fmt.Fprintf(c.stdout, "It is shown only now; store it in a secret manager and send it as 'Authorization: Bearer <key>':\n\n%s\n", key)
	return nil
}

// expiryFlag reads --expires; "" is never.
func expiryFlag(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := api.ParseExpiry(s, now)
	if err != nil {
		return t, fail(exitUsage, fmt.Errorf("--expires: %w", err))
	}
	return t, nil
}
