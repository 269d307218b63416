package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/accord-iam/accord/internal/config"
)

// healthcheckTimeout bounds the whole probe: a container runtime kills a
// health check that hangs, and a hang should say why.
const healthcheckTimeout = 5 * time.Second

func (c *cli) healthcheckCmd() *cobra.Command {
	var url string
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "exit 0 if the local accord serve is ready (GET /readyz), else 1 with the reason",
		Long: "healthcheck asks a running `accord serve` whether it is ready: its store accepts a write.\n" +
			"It is the container's HEALTHCHECK (a scratch image has no curl). Without --url it asks\n" +
			"/readyz on the config's api.listen (a wildcard host is asked on loopback), else 127.0.0.1:8080.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if url == "" {
				url = "http://" + c.localAPIAddr() + "/readyz"
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), healthcheckTimeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return fail(exitUsage, fmt.Errorf("--url: %w", err))
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				if errors.Is(err, context.DeadlineExceeded) {
					return fail(exitFailed, fmt.Errorf("not ready: %s did not answer within %s", url, healthcheckTimeout))
				}
				return fail(exitFailed, fmt.Errorf("not ready: %w", err))
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			if resp.StatusCode != http.StatusOK {
				return fail(exitFailed, fmt.Errorf("not ready: %s answered %s: %s", url, resp.Status, strings.TrimSpace(string(body))))
			}
			fmt.Fprintln(c.stdout, "ready")
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "the readiness URL (default: /readyz on the config's api.listen)")
	return cmd
}

// localAPIAddr is where this machine's accord serve listens, by the config
// when it can be read.
func (c *cli) localAPIAddr() string {
	listen := config.DefaultAPIListen
	if cfg, err := config.Load(c.configPath); err == nil && cfg.API.Listen != "" {
		listen = cfg.API.Listen
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return config.DefaultAPIListen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
