// Command helhedsplan is the whole service in one binary. Its first argument picks the role:
//
//	helhedsplan dev       everything in one process for a laptop: embedded Temporal + Web UI, PostgreSQL, worker, API
//	helhedsplan api       the HTTP API (production)
//	helhedsplan worker    the Temporal worker and the finance webhook dispatcher (production)
//	helhedsplan migrate   apply database migrations; --seed also loads the Viborg plan if absent
//	helhedsplan token     issue an API token for a user
//	helhedsplan bench     run the lifecycle benchmark against an embedded stack
//	helhedsplan healthcheck  GET a readiness URL; for container health checks in images without curl
//
// Configuration comes from the environment (see package config and the README).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/helhedsplan/helhedsplan/config"
)

const usage = `helhedsplan — boligsocial helhedsplan som durable workflows

Brug / usage: helhedsplan <rolle> [flag]

  dev       alt i én proces: indlejret Temporal + Web UI, PostgreSQL, worker og API (til udvikling)
  api       HTTP-API'et (produktion)
  worker    Temporal-worker og afsendelse af økonomi-webhooks (produktion)
  migrate   anvend databasemigreringer; --seed indlæser også Viborg-planen, hvis den mangler
  token     udsted et API-token: helhedsplan token <bruger-id> [etiket]
  bench     kør benchmark af hele livsforløbet mod en indlejret stak (se README)
  healthcheck  tjek /readyz (til container-healthchecks): helhedsplan healthcheck [--url URL]
  ledger    regnskabet: helhedsplan ledger verify genberegner alle saldi og tjekker alle pengeregler
  doctor    sammenlign åbne workflows med læsemodel, hændelser, regnskab og udbetalinger; --repair retter det sikre
  chaos     kaos-testen: mange indsatser gennem API'et, mens worker, Temporal, PostgreSQL og webhook fejler
  temporal  kun den indlejrede Temporal-server (til kaos-testen, hvor den kører som egen proces)

Konfiguration læses fra miljøvariabler; se README.md.
`

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "helhedsplan:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return errors.New("angiv en rolle (no role given)")
		}
		return nil
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	role, rest := args[0], args[1:]
	switch role {
	case "dev":
		return runDev(ctx, cfg, log, stdout)
	case "api":
		return runAPIRole(ctx, cfg, log)
	case "worker":
		return runWorkerRole(ctx, cfg, log)
	case "migrate":
		return runMigrate(ctx, cfg, log, rest)
	case "token":
		return runToken(ctx, cfg, rest, stdout)
	case "bench":
		return runBench(ctx, cfg, log, rest, stdout)
	case "healthcheck":
		return runHealthcheck(ctx, cfg, rest, stdout)
	case "ledger":
		return runLedger(ctx, cfg, log, rest, stdout)
	case "doctor":
		return runDoctor(ctx, cfg, log, rest, stdout)
	case "chaos":
		return runChaos(ctx, cfg, log, rest, stdout)
	case "temporal":
		return runTemporal(ctx, cfg, log, rest, stdout)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("ukendt rolle %q (unknown role)", role)
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
