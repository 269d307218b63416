package config

// Failure tunes how the engine meets a failing target.
type Failure struct{}

func (c *Config) validateFailure(p *problems, i int) {}
