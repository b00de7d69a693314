// Package stack runs the worker and the API in-process over a given Temporal client and store, with an API token
// for every seeded user: the system under test for the end-to-end tests and the benchmark.
package stack

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/helhedsplan/helhedsplan/activities"
	"github.com/helhedsplan/helhedsplan/api"
	"github.com/helhedsplan/helhedsplan/doctor"
	"github.com/helhedsplan/helhedsplan/outbox"
	"github.com/helhedsplan/helhedsplan/seed"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/web"
	"github.com/helhedsplan/helhedsplan/worker"
)

// Options change what Start runs.
type Options struct {
	// NoWorker leaves the worker out (a test runs its own, e.g. in a process it can kill).
	NoWorker bool
	// Faults, when set, is called after every committed step (see activities.Faults).
	Faults activities.Faults
	// WorkerStore, when set, is the worker's own connection to the database (the API keeps the store given to
	// Start), so a test can take the database away from the worker alone, mid-step.
	WorkerStore *store.Store
	// APIStore, when set, is the API's own connection to the database (the test's view stays st).
	APIStore *store.Store
	Log      *slog.Logger
	Worker   worker.Options
	// API configures the HTTP API (zero fields take its defaults), e.g. a short RequestTimeout for outage tests.
	API api.Config
	// WebhookURL and WebhookSecret, when set, run the outbox dispatcher as the worker role does.
	WebhookURL    string
	WebhookSecret string
	// Mail, when set, has the dispatcher send notification e-mails through it, as the worker role does with
	// HELHEDSPLAN_SMTP_ADDR.
	Mail *outbox.Mailer
	// Web configures the web application, mounted for every path outside /api/ as in the api role (with dev
	// sign-in when Web.DevSignIn is set). API.Web, when set, replaces it.
	Web web.Config
}

// Stack is a running API (at URL) and worker.
type Stack struct {
	URL    string
	Store  *store.Store
	Client client.Client
	// Tokens maps each seeded user's ID to a bearer token.
	Tokens map[string]string
	server *httptest.Server
	web    *web.Web
	worker sdkworker.Worker
	stop   context.CancelFunc
	done   chan struct{}
}

// Start starts the worker (unless opts.NoWorker) and an API server on a loopback port. The store must be
// migrated and seeded with the Viborg plan.
func Start(ctx context.Context, c client.Client, st *store.Store, opts Options) (*Stack, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Stack{Store: st, Client: c, Tokens: map[string]string{}}
	sd, err := seed.Viborg()
	if err != nil {
		return nil, err
	}
	for _, u := range sd.Users {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		token := "hp_test_" + hex.EncodeToString(b)
		h := sha256.Sum256([]byte(token))
		if err := st.UpsertToken(ctx, u.ID, h[:], "test"); err != nil {
			return nil, fmt.Errorf("token for %s: %w", u.ID, err)
		}
		s.Tokens[u.ID] = token
	}
	if !opts.NoWorker {
		wst := st
		if opts.WorkerStore != nil {
			wst = opts.WorkerStore
		}
		s.worker = worker.New(c, &activities.Activities{Store: wst, Faults: opts.Faults, Log: log}, opts.Worker)
		if err := s.worker.Start(); err != nil {
			return nil, err
		}
	}
	if opts.WebhookURL != "" || opts.Mail != nil {
		d := &outbox.Dispatcher{Store: st, URL: opts.WebhookURL, Secret: []byte(opts.WebhookSecret), Log: log,
			Interval: 50 * time.Millisecond, Mail: opts.Mail}
		var dctx context.Context
		dctx, s.stop = context.WithCancel(context.Background())
		s.done = make(chan struct{})
		go func() {
			defer close(s.done)
			_ = d.Run(dctx)
		}()
	}
	reg := prometheus.NewRegistry()
	ast := st
	if opts.APIStore != nil {
		ast = opts.APIStore
	}
	wf := api.NewTemporalWorkflows(c)
	acfg := opts.API
	if acfg.Doctor == nil {
		acfg.Doctor = api.DoctorFunc(func(ctx context.Context, planID string, repair bool) (doctor.Report, error) {
			return doctor.Check(ctx, doctor.Deps{Client: c, Store: st, Log: log}, doctor.Options{PlanID: planID, Repair: repair})
		})
	}
	if acfg.Web == nil {
		wcfg := opts.Web
		if wcfg.Log == nil {
			wcfg.Log = log
		}
		if s.web, err = web.New(wcfg, ast, service.New(ast, wf, log), ast.DB().DB); err != nil {
			return nil, err
		}
		acfg.Web = s.web
	}
	s.server = httptest.NewServer(api.New(acfg, ast, wf, log, reg, reg))
	s.URL = s.server.URL
	return s, nil
}

// Close stops the dispatcher, the API and the worker.
func (s *Stack) Close() {
	if s.stop != nil {
		s.stop()
		<-s.done
	}
	s.server.Close()
	if s.web != nil {
		s.web.Close()
	}
	if s.worker != nil {
		s.worker.Stop()
	}
}
