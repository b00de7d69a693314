//go:build !nodev

package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"

	"github.com/helhedsplan/helhedsplan/config"
	"github.com/helhedsplan/helhedsplan/internal/bench"
)

// runBench runs the lifecycle benchmark against an embedded stack (see package bench).
func runBench(ctx context.Context, cfg config.Config, _ *slog.Logger, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	// Per-request info logs would be part of what is measured; the benchmark reports warnings and errors only.
	cfg.LogLevel = max(cfg.LogLevel, slog.LevelWarn)
	o := bench.Options{DatabaseURL: cfg.DatabaseURL, Log: newLogger(cfg, os.Stderr)}
	fs.IntVar(&o.Lifecycles, "n", 200, "initiatives to take from proposal to completed")
	fs.IntVar(&o.Clients, "c", 10, "concurrent HTTP clients")
	fs.IntVar(&o.Open, "open", 1000, "initiatives left open for the memory measurement")
	fs.IntVar(&o.Rows, "rows", 100_000, "initiatives in the read model for the list/get measurement")
	fs.IntVar(&o.Requests, "requests", 4000, "list and get requests")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	return bench.Run(ctx, o, stdout)
}
