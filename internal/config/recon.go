package config

// Reconcile configures reconciliation of one target.
type Reconcile struct{}

func (c *Config) validateReconcile(p *problems, i int) {}
