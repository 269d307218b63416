package config

import "time"

// Console configures the web console that `accord serve` serves at / on
// the API's listener (internal/console).
type Console struct {
	// IdleTimeout ends a session after this long without a request
	// (default 30m).
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// AbsoluteTimeout ends a session this long after sign-in, however
	// busy (default 12h).
	AbsoluteTimeout time.Duration `yaml:"absolute_timeout"`
	// SecureCookie marks the session cookie Secure even when the request
	// reached accord over plain HTTP: for a TLS-terminating proxy in front.
	// (Over TLS to accord the cookie is Secure anyway.)
	SecureCookie bool `yaml:"secure_cookie"`
}

// WithDefaults returns the console settings with unset values at their
// defaults.
func (c Console) WithDefaults() Console {
	setDefault(&c.IdleTimeout, 30*time.Minute)
	setDefault(&c.AbsoluteTimeout, 12*time.Hour)
	return c
}
