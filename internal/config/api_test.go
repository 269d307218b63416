package config_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/yamlx"
)

func TestAPIDefaults(t *testing.T) {
	cfg, err := config.Parse([]byte("store: {path: a.db}\n"), "accord.yaml")
	require.NoError(t, err)
	require.Equal(t, config.API{
		Listen: "127.0.0.1:8080", MaxBodyBytes: 1 << 20, ReadTimeout: 10 * time.Second, RequestTimeout: 30 * time.Second,
		ShutdownGrace: 10 * time.Second, RateLimit: config.APIRateLimit{PerSecond: 20, Burst: 40},
		Health:  config.Health{Healthy: 99, Incident: 95, MinAttempts: 10, Interval: time.Minute},
		Console: config.Console{IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour},
	}, cfg.API)
	require.Equal(t, "", cfg.Notify.Webhook.URL)
}

func TestAPIProblemsNameTheirKeys(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       map[string]string // key path -> part of the message
	}{
		{"listen", "api: {listen: localhost}", map[string]string{"api.listen": "host:port"}},
		{"limits", "api: {max_body_bytes: 10, rate_limit: {per_second: -1, burst: -2}}", map[string]string{
			"api.max_body_bytes": "at least 1024", "api.rate_limit.per_second": "positive", "api.rate_limit.burst": "at least 1"}},
		{"health", "api: {health: {healthy: 90, incident: 95, min_attempts: -1}}", map[string]string{
			"api.health.incident": "at most api.health.healthy (90)", "api.health.min_attempts": "at least 1"}},
		{"webhook without secret", "notify: {webhook: {url: 'https://hooks.example/x'}}", map[string]string{
			"notify.webhook.secret": "needs a signing secret"}},
		{"webhook with a literal secret", "notify: {webhook: {url: 'https://hooks.example/x', secret: hunter2}}", map[string]string{
			"notify.webhook.secret": "secret reference"}},
		{"webhook url", "notify: {webhook: {url: 'ftp://x', secret: '${env:S}'}}", map[string]string{
			"notify.webhook.url": "http or https"}},
		{"webhook credentials in url", "notify: {webhook: {url: 'https://u:p@x.example/', secret: '${env:S}'}}", map[string]string{
			"notify.webhook.url": "must not carry credentials"}},
		{"secret without url", "notify: {webhook: {secret: '${env:S}'}}", map[string]string{"notify.webhook.url": "no url"}},
		{"bad duration", "api: {request_timeout: soon}", map[string]string{"api.request_timeout": "duration"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := config.Parse([]byte("store: {path: a.db}\n"+c.yaml+"\n"), "accord.yaml")
			var probs yamlx.Problems
			require.True(t, errors.As(err, &probs), "%v", err)
			got := map[string]string{}
			for _, p := range probs {
				got[p.Path] = p.Msg
				require.NotZero(t, p.Line, p.Path)
			}
			require.Len(t, got, len(c.want), "%v", probs)
			for path, msg := range c.want {
				require.Contains(t, got[path], msg, path)
			}
		})
	}
}
