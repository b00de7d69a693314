//go:build !nodev

package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"

	"github.com/helhedsplan/helhedsplan/config"
	"github.com/helhedsplan/helhedsplan/internal/bench"
)

// runBench runs the lifecycle benchmark against an embedded stack (see package bench).
func runBench(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	// Per-request info logs would be part of what is measured; the benchmark reports warnings and errors only.
	cfg.LogLevel = max(cfg.LogLevel, slog.LevelWarn)
	o := bench.Options{DatabaseURL: cfg.DatabaseURL, Log: newLogger(cfg, os.Stderr)}
	fs.IntVar(&o.Lifecycles, "n", 200, "initiatives to take from proposal to completed")
	fs.IntVar(&o.Clients, "c", 10, "concurrent HTTP clients")
	fs.IntVar(&o.Open, "open", 1000, "initiatives left open for the memory measurement")
	fs.IntVar(&o.Rows, "rows", 100_000, "initiatives in the read model for the list/get measurement")
	fs.IntVar(&o.Requests, "requests", 4000, "list and get requests")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return bench.Run(ctx, o, stdout)
}
