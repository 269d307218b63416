package config

import (
	"time"

	"github.com/accord-iam/accord/internal/yamlx"
)

// Failure tunes how the engine meets a failing target: when to call it
// down (circuit breaking), how often to probe it, how many retries it may
// cost, and whether writes are read back.
type Failure struct {
	// OpenAfter consecutive failed requests (5xx, refused, timeout) open
	// the target's circuit: its actions wait, none is dropped. Default 10:
	// a target failing one request in five still gets a run of ten in a
	// row only once in ten million requests, while a target that is down
	// is recognised within a second.
	OpenAfter int `yaml:"open_after"`
	// ProbeAfter is the first wait before an open circuit is probed with
	// one action; it doubles after each failed probe up to ProbeMax.
	// Defaults 2s and 1m.
	ProbeAfter time.Duration `yaml:"probe_after"`
	ProbeMax   time.Duration `yaml:"probe_max"`
	// AuthProbe is how often a target whose credentials were refused
	// (after a refresh or re-login) is tried again. Default 1m.
	AuthProbe time.Duration `yaml:"auth_probe"`
	// RetryRatio bounds retries to this many per successful request over
	// time, with RetryBurst retries of credit: a target that fails often
	// gets fewer retries, not more load. Defaults 0.5 and 20.
	RetryRatio float64 `yaml:"retry_ratio"`
	RetryBurst int     `yaml:"retry_burst"`
	// Verify reads an account back after each write and compares what
	// matters; a mismatch is an error of kind unverified. Default true
	// where the connector can read.
	Verify *bool `yaml:"verify"`
	// Settle is how long the target may take to show its own writes
	// (replication lag, as some directories have). Within it, a read-back
	// that disagrees is read again, and a not_found for an account accord
	// has just written is retried instead of taken for a deletion.
	// Default 0: the target reads its own writes.
	Settle time.Duration `yaml:"settle"`
}

// maxSettle bounds failure.settle: a target that takes longer than this
// to show its own writes needs a reconciliation, not a worker waiting.
const maxSettle = 10 * time.Minute

// VerifyOn reports the effective verify setting.
func (f Failure) VerifyOn() bool { return f.Verify == nil || *f.Verify }

func (f *Failure) applyDefaults() {
	if f.OpenAfter == 0 {
		f.OpenAfter = 10
	}
	if f.ProbeAfter == 0 {
		f.ProbeAfter = 2 * time.Second
	}
	if f.ProbeMax == 0 {
		f.ProbeMax = time.Minute
	}
	if f.AuthProbe == 0 {
		f.AuthProbe = time.Minute
	}
	if f.RetryRatio == 0 {
		f.RetryRatio = 0.5
	}
	if f.RetryBurst == 0 {
		f.RetryBurst = 20
	}
}

func (c *Config) validateFailure(p *problems, i int) {
	f := c.Targets[i].Failure
	base := yamlx.Index("targets", i) + ".failure"
	if f.OpenAfter < 1 {
		p.add(base+".open_after", "must be at least 1")
	}
	if f.ProbeAfter <= 0 || f.ProbeMax < f.ProbeAfter {
		p.add(base+".probe_after", "must be positive and at most probe_max (%s)", f.ProbeMax)
	}
	if f.AuthProbe <= 0 {
		p.add(base+".auth_probe", "must be positive")
	}
	if f.RetryRatio < 0 || f.RetryRatio > 10 {
		p.add(base+".retry_ratio", "must be between 0 and 10")
	}
	if f.RetryBurst < 1 {
		p.add(base+".retry_burst", "must be at least 1")
	}
	if f.Settle < 0 || f.Settle > maxSettle {
		p.add(base+".settle", "must be between 0 and %s", maxSettle)
	}
}
