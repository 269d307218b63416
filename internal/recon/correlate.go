package recon

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

// personValue is what a correlation rule compares on the person's side,
// normalised as the rule says; "" when the person has no value.
func personValue(p *model.Person, rule config.Correlation) string {
	if rule.Person == config.PersonKeyAttr {
		return normalise(p.Key, rule)
	}
	return normalise(model.FormatValue(p.Attributes[rule.Person]), rule)
}

// accountValue is the account's side of a rule.
func accountValue(a *connector.Account, rule config.Correlation) string {
	return normalise(model.FormatValue(a.Attributes[rule.Account]), rule)
}

func normalise(v string, rule config.Correlation) string {
	v = strings.TrimSpace(v)
	if rule.IgnoreCase {
		v = strings.ToLower(v)
	}
	return v
}

// correlator matches the accounts of one page to persons: an account
// whose native ID a known account has belongs to that account's person;
// any other goes through the rules in order, and the first rule that
// finds anyone decides. A rule that finds several persons makes the
// account ambiguous: it is reported, never linked to a guess.
type correlator struct {
	st      correlationIndex
	target  string
	reconID string
	rules   []config.Correlation
}

func (c *correlator) page(ctx context.Context, accts []connector.Account, now time.Time) ([]store.ObservedAccount, error) {
	out := make([]store.ObservedAccount, len(accts))
	ids := make([]string, len(accts))
	for i := range accts {
		a := &accts[i]
		if a.NativeID == "" {
			return nil, fmt.Errorf("list accounts: the connector returned an account without a native id")
		}
		ids[i] = a.NativeID
		out[i] = store.ObservedAccount{
			Target: c.target, NativeID: a.NativeID, Correlation: store.CorrelationNone, Link: a.Link,
			Attributes: a.Attributes, Active: a.Active, Entitlements: a.Entitlements, ReconID: c.reconID, SeenAt: now,
		}
	}
	known, err := c.st.KnownByNativeID(ctx, c.target, ids)
	if err != nil {
		return nil, fmt.Errorf("correlate: %w", err)
	}
	open := 0
	for i := range out {
		if p, ok := known[out[i].NativeID]; ok {
			out[i].PersonKey, out[i].Correlation = p, store.CorrelationKnown
		} else {
			open++
		}
	}
	for ri, rule := range c.rules {
		if open == 0 {
			break
		}
		var vals []string
		for i := range out {
			if out[i].Correlation == store.CorrelationNone {
				if v := accountValue(&accts[i], rule); v != "" {
					vals = append(vals, v)
				}
			}
		}
		if len(vals) == 0 {
			continue
		}
		found, err := c.st.LookupReconKeys(ctx, c.reconID, ri+1, vals)
		if err != nil {
			return nil, fmt.Errorf("correlate: %w", err)
		}
		for i := range out {
			o := &out[i]
			if o.Correlation != store.CorrelationNone {
				continue
			}
			persons := found[accountValue(&accts[i], rule)]
			switch {
			case len(persons) == 1:
				o.PersonKey, o.Correlation, o.Rule = persons[0], store.CorrelationMatched, ri+1
			case len(persons) > 1:
				o.Correlation, o.Rule, o.Candidates = store.CorrelationAmbiguous, ri+1, persons
			default:
				continue
			}
			open--
		}
	}
	return out, nil
}
