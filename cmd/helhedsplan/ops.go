package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"

	"github.com/helhedsplan/helhedsplan/api"
	"github.com/helhedsplan/helhedsplan/config"
	"github.com/helhedsplan/helhedsplan/store"
)

// serveOps serves the worker's operational endpoints: /healthz (the process runs), /readyz and /metrics. The
// worker has no API, and orchestrators need something to probe. /readyz checks what the worker needs, the same as
// the API's (api.Readiness): PostgreSQL answers and has every migration this binary embeds, Temporal answers and
// the configured namespace exists; a 503 names the failing check, never its error.
func serveOps(ctx context.Context, cfg config.Config, log *slog.Logger, st *store.Store, c client.Client, reg *prometheus.Registry) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	ready := api.NewReadiness(st, api.NewTemporalWorkflowsIn(c, cfg.Temporal.Namespace), 3*time.Second,
		log.With("component", "ops"))
	mux.Handle("GET /readyz", ready)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Addr: cfg.OpsListen, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() {
		log.Info("worker ops endpoints listening", "addr", cfg.OpsListen)
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("ops endpoints: %w", err)
		}
		close(errc)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// runHealthcheck GETs a readiness URL and fails unless it answers 200: a container health check for images
// without a shell or curl.
func runHealthcheck(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	url := fs.String("url", "", "URL to check (default: the API's /readyz on HELHEDSPLAN_LISTEN)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" {
		*url = "http://" + loopback(cfg.Listen) + "/readyz"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck %s: %w", *url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck %s: %s: %s", *url, resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(stdout, "%s: %s\n", *url, resp.Status)
	return nil
}

// loopback turns a listen address like ":8080" into "127.0.0.1:8080".
func loopback(listen string) string {
	if strings.HasPrefix(listen, ":") {
		return "127.0.0.1" + listen
	}
	return listen
}
