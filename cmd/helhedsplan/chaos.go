//go:build !nodev

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/helhedsplan/helhedsplan/config"
	"github.com/helhedsplan/helhedsplan/devstack"
	"github.com/helhedsplan/helhedsplan/internal/chaos"
)

// runChaos runs the chaos suite (issue 5): a private PostgreSQL cluster, and Temporal, the worker and the API as
// separate processes of this binary, many initiatives driven through the API while the suite kills and stops
// them, then the checks and a table. It fails if anything is wrong.
func runChaos(ctx context.Context, _ config.Config, _ *slog.Logger, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stdout)
	small := fs.Bool("small", false, "the CI version: 30 initiatives, one fault of each kind, short outages")
	n := fs.Int("n", 0, "initiatives to drive (default 200; -small 30)")
	clients := fs.Int("c", 0, "concurrent clients (default 20; -small 10)")
	keep := fs.Bool("keep", false, "keep the run directory (logs, cluster, Temporal database); it is always kept on failure")
	dir := fs.String("dir", "", "create the run directory here (default the system's temp dir)")
	settle := fs.Duration("settle", 0, "how long to wait after the last fault for everything to complete (default 10m; -small 5m)")
	think := fs.Duration("think", 0, "longest pause between two steps of one initiative (default 1s)")
	seed := fs.Uint64("seed", 0, "random seed (0: pick one; the report prints it)")
	workerKills := fs.Int("worker-kills", 0, "worker SIGKILLs (default 5; -small 1)")
	temporalRestarts := fs.Int("temporal-restarts", 0, "Temporal server restarts, alternately SIGTERM and SIGKILL (default 2; -small 1)")
	pgDown := fs.String("pg-down", "", "PostgreSQL outages, comma-separated durations (default 30s,90s; -small 20s)")
	webhookDown := fs.String("webhook-down", "", "finance webhook outages, comma-separated durations (default 60s; -small 20s)")
	gap := fs.Duration("gap", 0, "pause between two faults (default 20s; -small 10s)")
	lead := fs.Duration("lead", 0, "time from the first initiative to the first fault (default 15s; -small 8s)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("chaos: unexpected arguments %q", fs.Args())
	}

	plan := chaos.FullPlan()
	if *small {
		plan = chaos.SmallPlan()
	}
	var perr error
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "worker-kills":
			plan.WorkerKills = max(*workerKills, 0)
		case "temporal-restarts":
			plan.TemporalRestarts = max(*temporalRestarts, 0)
		case "pg-down":
			plan.PostgresOutages, perr = durations(*pgDown, perr)
		case "webhook-down":
			plan.WebhookOutages, perr = durations(*webhookDown, perr)
		case "gap":
			plan.Gap = *gap
		case "lead":
			plan.Lead = *lead
		}
	})
	if perr != nil {
		return perr
	}
	return chaos.Run(ctx, chaos.Options{
		Initiatives: *n, Clients: *clients, Small: *small, Plan: &plan, Settle: *settle, Think: *think,
		Dir: *dir, Keep: *keep, Seed: *seed,
	}, stdout)
}

// durations parses "30s,90s"; an empty string is no outage.
func durations(s string, prev error) ([]time.Duration, error) {
	if prev != nil {
		return nil, prev
	}
	var out []time.Duration
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		d, err := time.ParseDuration(part)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("chaos: %q is not a positive duration", part)
		}
		out = append(out, d)
	}
	return out, nil
}

// runTemporal runs only the embedded Temporal server (no Web UI unless --ui-port is given), persisted in
// --data-dir, until SIGINT or SIGTERM. Stopped and started again on the same data dir, it keeps every workflow:
// the chaos suite runs it as its own process so it can kill and restart it.
func runTemporal(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("temporal", flag.ContinueOnError)
	fs.SetOutput(stdout)
	dataDir := fs.String("data-dir", cfg.DataDir, "directory of the SQLite file temporal.db (created if missing)")
	port := fs.Int("port", cfg.TemporalPort, "frontend gRPC port on 127.0.0.1")
	uiPort := fs.Int("ui-port", 0, "Web UI port; 0 runs no UI")
	namespace := fs.String("namespace", cfg.Temporal.Namespace, "namespace to create if missing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("temporal: unexpected arguments %q", fs.Args())
	}
	tcfg := devstack.DefaultTemporalConfig(*dataDir)
	tcfg.FrontendPort, tcfg.UIPort, tcfg.Namespace, tcfg.Logger = *port, *uiPort, *namespace, log
	t, err := devstack.StartTemporal(ctx, tcfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "temporal ready: frontend %s, namespace %s, data %s\n", t.FrontendAddr(), t.Namespace(), *dataDir)
	<-ctx.Done()
	log.Info("temporal stopping")
	if err := t.Stop(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
