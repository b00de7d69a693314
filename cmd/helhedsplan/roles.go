package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base32"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"golang.org/x/sync/errgroup"

	"github.com/helhedsplan/helhedsplan/activities"
	"github.com/helhedsplan/helhedsplan/api"
	"github.com/helhedsplan/helhedsplan/config"
	"github.com/helhedsplan/helhedsplan/doctor"
	"github.com/helhedsplan/helhedsplan/outbox"
	"github.com/helhedsplan/helhedsplan/seed"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/web"
	"github.com/helhedsplan/helhedsplan/worker"
)

func runAPIRole(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	return withBackends(ctx, cfg, log, "api", func(st *store.Store, c client.Client) error {
		return serveAPI(ctx, cfg, log, st, c, newRegistry(), web.Config{})
	})
}

func runWorkerRole(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	return withBackends(ctx, cfg, log, "worker", func(st *store.Store, c client.Client) error {
		g, gctx := errgroup.WithContext(ctx)
		reg := newRegistry()
		if cfg.OpsListen != "" {
			g.Go(func() error { return serveOps(gctx, cfg, log, st, c, reg) })
		}
		g.Go(func() error { return runWorker(gctx, cfg, log, st, c, reg) })
		return g.Wait()
	})
}

// withBackends connects a production role to PostgreSQL and Temporal, runs it and closes both afterwards.
func withBackends(ctx context.Context, cfg config.Config, log *slog.Logger, role string, run func(*store.Store, client.Client) error) error {
	if err := cfg.RequireDatabase(); err != nil {
		return err
	}
	log.Info("starting "+role, "config", cfg)
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := dialTemporal(ctx, cfg.Temporal, log)
	if err != nil {
		return err
	}
	defer c.Close()
	return run(st, c)
}

// planDoctor is the doctor behind the API's admin endpoint.
func planDoctor(c client.Client, st *store.Store, log *slog.Logger) api.Doctor {
	return api.DoctorFunc(func(ctx context.Context, planID string, repair bool) (doctor.Report, error) {
		return doctor.Check(ctx, doctor.Deps{Client: c, Store: st, Log: log}, doctor.Options{PlanID: planID, Repair: repair})
	})
}

// newRegistry is the process's Prometheus registry with Go runtime and process metrics.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// serveAPI serves HTTP until ctx ends, then drains in-flight requests: the API under /api/v1 and the web
// application (configured by wcfg; the dev role turns on dev sign-in) for every other page. Alongside, it purges
// expired Idempotency-Key records every api.IdempotencyPurgeInterval, and stops that before returning (the store
// closes after).
func serveAPI(ctx context.Context, cfg config.Config, log *slog.Logger, st *store.Store, c client.Client, reg *prometheus.Registry, wcfg web.Config) error {
	if wcfg.TemporalNamespace == "" {
		wcfg.TemporalNamespace = cfg.Temporal.Namespace
	}
	if wcfg.Log == nil {
		wcfg.Log = log.With("component", "web")
	}
	if wcfg.WebhookBacklogAlert == 0 {
		wcfg.WebhookBacklogAlert = cfg.WebhookBacklogAlert
	}
	wf := api.NewTemporalWorkflowsIn(c, cfg.Temporal.Namespace)
	w, err := web.New(wcfg, st, service.New(st, wf, log), st.DB().DB)
	if err != nil {
		return err
	}
	defer w.Close()
	acfg := api.Config{RequestTimeout: cfg.UpdateTimeout, Doctor: planDoctor(c, st, log), Web: w,
		WebhookBacklogAlert: cfg.WebhookBacklogAlert}
	e := api.New(acfg, st, wf, log, reg, reg)
	purgeCtx, stopPurge := context.WithCancel(ctx)
	purged := make(chan struct{})
	go func() {
		defer close(purged)
		api.RunIdempotencyPurger(purgeCtx, st, api.IdempotencyPurgeInterval, log.With("component", "idempotency"))
	}()
	defer func() {
		stopPurge()
		<-purged
	}()
	errc := make(chan error, 1)
	go func() {
		log.Info("api listening", "addr", cfg.Listen)
		if err := e.Start(cfg.Listen); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("api: %w", err)
		}
		close(errc)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	log.Info("api shutting down")
	return e.Shutdown(shutdownCtx)
}

// runWorker runs the Temporal worker and the outbox dispatcher until ctx ends. The dispatcher always runs: it
// sends the finance webhooks when a webhook is configured (otherwise those messages wait for one) and the
// notification e-mails when SMTP is (otherwise it marks them delivered without sending; see package outbox).
func runWorker(ctx context.Context, cfg config.Config, log *slog.Logger, st *store.Store, c client.Client, reg prometheus.Registerer) error {
	divergences := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "helhedsplan_write_divergences_total",
		Help: "Workflow writes that found something else stored under their keys (see helhedsplan doctor).",
	})
	if err := reg.Register(divergences); err != nil {
		return fmt.Errorf("worker metrics: %w", err)
	}
	acts := &activities.Activities{Store: st, Log: log.With("component", "activities"), Divergences: divergences}
	w := worker.New(c, acts, worker.Options{})
	if err := w.Start(); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	log.Info("worker polling", "task_queue", "helhedsplan-initiatives")
	g, gctx := errgroup.WithContext(ctx)
	d := &outbox.Dispatcher{Store: st, URL: cfg.FinanceWebhookURL, Secret: []byte(cfg.FinanceWebhookSecret),
		Client: &http.Client{Timeout: 30 * time.Second}, Log: log.With("component", "outbox")}
	if cfg.FinanceWebhookURL != "" {
		log.Info("finance webhook enabled", "url", config.MaskURL(cfg.FinanceWebhookURL))
	}
	if cfg.SMTPAddr != "" {
		d.Mail = &outbox.Mailer{Addr: cfg.SMTPAddr, From: cfg.SMTPFrom, Username: cfg.SMTPUsername,
			Password: cfg.SMTPPassword, StartTLS: cfg.SMTPStartTLS}
		log.Info("notification e-mail enabled", "smtp_addr", cfg.SMTPAddr, "starttls", cfg.SMTPStartTLS)
	} else {
		log.Info("no SMTP configured: notification e-mails are marked delivered without sending")
	}
	g.Go(func() error { return d.Run(gctx) })
	<-gctx.Done()
	log.Info("worker stopping")
	w.Stop() // waits for running activities up to the worker's stop timeout
	return g.Wait()
}

// dialTemporal connects to the Temporal frontend with optional mTLS or API key.
func dialTemporal(ctx context.Context, t config.Temporal, log *slog.Logger) (client.Client, error) {
	opts := client.Options{
		HostPort:  t.Address,
		Namespace: t.Namespace,
		Logger:    tlog.NewStructuredLogger(log.With("component", "temporal")),
	}
	if t.TLSCert != "" || t.TLSCA != "" || t.APIKey != "" {
		tc := &tls.Config{ServerName: t.TLSServerName, MinVersion: tls.VersionTLS12}
		if t.TLSCert != "" {
			cert, err := tls.LoadX509KeyPair(t.TLSCert, t.TLSKey)
			if err != nil {
				return nil, fmt.Errorf("temporal tls: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		if t.TLSCA != "" {
			pem, err := os.ReadFile(t.TLSCA)
			if err != nil {
				return nil, fmt.Errorf("temporal tls ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("temporal tls ca: no certificates in %s", t.TLSCA)
			}
			tc.RootCAs = pool
		}
		opts.ConnectionOptions.TLS = tc
	}
	if t.APIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(t.APIKey)
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s (namespace %s): %w", t.Address, t.Namespace, err)
	}
	return c, nil
}

func runMigrate(ctx context.Context, cfg config.Config, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	withSeed := fs.Bool("seed", false, "load the Viborg plan 2021-2025 and its users if the plan is absent")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cfg.RequireDatabase(); err != nil {
		return err
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	return prepareDatabase(ctx, log, st, *withSeed)
}

// prepareDatabase applies migrations and optionally loads the seed plan.
func prepareDatabase(ctx context.Context, log *slog.Logger, st *store.Store, withSeed bool) error {
	if err := store.Migrate(ctx, st.DB().DB); err != nil {
		return err
	}
	log.Info("migrations applied")
	if !withSeed {
		return nil
	}
	s, err := seed.Viborg()
	if err != nil {
		return err
	}
	created, err := st.SeedPlan(ctx, s)
	if err != nil {
		return err
	}
	log.Info("seed plan", "plan_id", s.Plan.ID, "loaded_now", created)
	return nil
}

func runToken(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	if len(args) < 1 {
		return errors.New("brug: helhedsplan token <bruger-id> [etiket]")
	}
	if err := cfg.RequireDatabase(); err != nil {
		return err
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	label := "cli"
	if len(args) > 1 {
		label = strings.Join(args[1:], " ")
	}
	token, err := newToken()
	if err != nil {
		return err
	}
	if err := st.UpsertToken(ctx, args[0], HashToken(token), label); errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("der findes ingen bruger med id %q (no such user)", args[0])
	} else if err != nil {
		return fmt.Errorf("token for %q: %w", args[0], err)
	}
	fmt.Fprintln(stdout, token)
	return nil
}

// newToken returns a random API token. Only its SHA-256 is stored.
func newToken() (string, error) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "hp_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)), nil
}

// HashToken is how tokens are stored and looked up.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}
