package config

// API configures the HTTP listener of `accord serve`.
type API struct {
	Listen string `yaml:"listen"`
}

// Notify configures where alerts go besides the log.
type Notify struct{}

func (c *Config) validateAPI(p *problems) {}
