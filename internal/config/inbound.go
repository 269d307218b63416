package config

import "github.com/accord-iam/accord/internal/yamlx"

// validateInbound checks inbound SCIM's mapping against the sources.
func (c *Config) validateInbound(p *problems) {
	sc := c.Inbound.SCIM
	if sc == nil {
		for i := range c.Sources {
			if c.Sources[i].Format == "scim" {
				p.add(yamlx.Index("sources", i)+".format", "source %q has format: scim but no inbound.scim block maps SCIM attributes to its columns", c.Sources[i].Name)
			}
		}
		return
	}
	_, probs := sc.Compile(c.Sources)
	for _, q := range probs {
		q.Path = yamlx.Join("inbound.scim", q.Path)
		p.list = append(p.list, q)
	}
}
