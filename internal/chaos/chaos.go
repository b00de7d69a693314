//go:build unix

package chaos

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/helhedsplan/helhedsplan/devstack"
	"github.com/helhedsplan/helhedsplan/internal/lifecycle"
	"github.com/helhedsplan/helhedsplan/seed"
	"github.com/helhedsplan/helhedsplan/store"
)

const (
	namespace    = "default"
	databaseName = "helhedsplan"
	// readyLimit bounds how long a restarted component may take to answer again.
	readyLimit = 2 * time.Minute
)

// suite is one run of the chaos suite.
type suite struct {
	opts  Options
	out   io.Writer
	log   *slog.Logger
	dir   string
	runID string
	exe   string
	began time.Time

	pg                    *cluster
	temporal, worker, api *proc
	recv                  *Receiver
	temporalAddr          string
	apiURL, opsURL        string
	st                    *store.Store
	tokens                lifecycle.Tokens

	procMu  sync.Mutex // one start or stop of a child at a time
	closing atomic.Bool

	mu         sync.Mutex
	faults     []FaultEvent
	unexpected []string
}

// Run runs the chaos suite, prints its report to w and returns an error if anything is wrong: an initiative not
// in its expected final phase, money or a message lost or doubled, a component that could not be faulted or did
// not come back, a 500 answer, or a check that is not clean.
func Run(ctx context.Context, opts Options, w io.Writer) (err error) {
	opts = opts.withDefaults()
	s := &suite{opts: opts, out: w, began: time.Now(), runID: randomHex(3)}
	if s.exe = opts.Executable; s.exe == "" {
		if s.exe, err = os.Executable(); err != nil {
			return fmt.Errorf("chaos: own executable: %w", err)
		}
	}
	seedValue := opts.Seed
	if seedValue == 0 {
		seedValue = mrand.Uint64()
	}
	rng := mrand.New(mrand.NewPCG(seedValue, seedValue^0x9e3779b97f4a7c15))

	if s.dir, err = os.MkdirTemp(opts.Dir, "helhedsplan-chaos-"); err != nil {
		return fmt.Errorf("chaos: run dir: %w", err)
	}
	// The PostgreSQL user must be able to enter the run directory.
	if err := os.Chmod(s.dir, 0o755); err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(s.dir, "chaos.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	s.log = slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelInfo}))

	res := &result{Began: s.began, RunID: s.runID, Seed: seedValue, Dir: s.dir, Initiatives: opts.Initiatives, Clients: opts.Clients,
		Small: opts.Small, Settle: opts.Settle, Plan: *opts.Plan}
	fmt.Fprintf(w, "helhedsplan chaos: run %s, %d initiatives, %d clients, seed %d\n  run dir %s (logs: chaos.log, temporal.log, worker.log, api.log, postgres.log)\n\n",
		s.runID, opts.Initiatives, opts.Clients, seedValue, s.dir)

	defer func() {
		s.teardown()
		if err == nil && !opts.Keep {
			_ = os.RemoveAll(s.dir)
			return
		}
		fmt.Fprintf(w, "\nrun dir kept: %s\n", s.dir)
	}()

	if err := s.setUp(ctx); err != nil {
		return fmt.Errorf("chaos: set-up: %w", err)
	}
	if err := s.runAndVerify(ctx, res, rng); err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	res.Faults, res.Unexpected = s.faultEvents(), s.unexpectedExits()
	var full strings.Builder
	res.write(&full, 0)
	_ = os.WriteFile(filepath.Join(s.dir, "report.txt"), []byte(full.String()), 0o644)
	res.write(w, 25)
	if failures := res.failures(); len(failures) > 0 {
		return fmt.Errorf("chaos: FAIL: %s", strings.Join(failures, "; "))
	}
	return nil
}

// say prints a progress line and logs it.
func (s *suite) say(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintf(s.out, "[%6.1fs] %s\n", time.Since(s.began).Seconds(), msg)
	s.log.Info(msg)
}

// setUp starts PostgreSQL, prepares the database and tokens, and starts the receiver, Temporal, the worker and
// the API.
func (s *suite) setUp(ctx context.Context) error {
	ports, err := freePorts(5)
	if err != nil {
		return err
	}
	pgPort, temporalPort, apiPort, opsPort, recvPort := ports[0], ports[1], ports[2], ports[3], ports[4]

	if s.pg, err = newCluster(ctx, s.dir, pgPort, filepath.Join(s.dir, "postgres.log"), s.onUnexpectedExit); err != nil {
		return err
	}
	if err := s.pg.start(ctx); err != nil {
		return err
	}
	runAs := s.pg.runAs
	if runAs == "" {
		runAs = "this user"
	}
	s.say("PostgreSQL (%s) private cluster on 127.0.0.1:%d, run as %s", s.pg.binDir, pgPort, runAs)
	if err := createDatabase(ctx, s.pg.dsn("postgres"), databaseName); err != nil {
		return err
	}
	dsn := s.pg.dsn(databaseName)
	if s.st, err = store.Open(ctx, dsn); err != nil {
		return err
	}
	if err := store.Migrate(ctx, s.st.DB().DB); err != nil {
		return err
	}
	sd, err := seed.Viborg()
	if err != nil {
		return err
	}
	if _, err := s.st.SeedPlan(ctx, sd); err != nil {
		return err
	}
	tokens := map[string]string{}
	var env strings.Builder
	for _, u := range sd.Users {
		token := "hp_chaos_" + randomHex(16)
		h := sha256.Sum256([]byte(token))
		if err := s.st.UpsertToken(ctx, u.ID, h[:], "chaos"); err != nil {
			return fmt.Errorf("token for %s: %w", u.ID, err)
		}
		tokens[u.ID] = token
		fmt.Fprintf(&env, "TOKEN_%s=%s\n", strings.ToUpper(strings.ReplaceAll(u.ID, "-", "_")), token)
	}
	_ = os.WriteFile(filepath.Join(s.dir, "tokens.env"), []byte(env.String()), 0o600)
	s.say("database migrated and seeded (plan %s), %d API tokens", sd.Plan.ID, len(tokens))
	s.tokens = lifecycle.Tokens{OperationalGroup: tokens["og-mette"], Board: tokens["bs-hanne"], OtherBoard: []string{tokens["bs-lars"], tokens["bs-sofie"]}, Finance: tokens["fin-peter"]}
	if slices.Contains([]string{s.tokens.OperationalGroup, s.tokens.Board, s.tokens.Finance}, "") {
		return errors.New("the seed has no og-mette, bs-hanne or fin-peter")
	}

	secret := randomHex(32)
	s.recv = NewReceiver([]byte(secret))
	if err := s.recv.Listen(fmt.Sprintf("127.0.0.1:%d", recvPort)); err != nil {
		return fmt.Errorf("webhook receiver: %w", err)
	}

	s.temporalAddr = fmt.Sprintf("127.0.0.1:%d", temporalPort)
	s.apiURL = fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	s.opsURL = fmt.Sprintf("http://127.0.0.1:%d", opsPort)
	base := childEnv()
	common := append(slices.Clone(base), "DATABASE_URL="+dsn, "TEMPORAL_ADDRESS="+s.temporalAddr,
		"TEMPORAL_NAMESPACE="+namespace)
	s.temporal = &proc{name: "temporal", path: s.exe, env: base, dir: s.dir,
		args:    []string{"temporal", "--data-dir", filepath.Join(s.dir, "temporal"), "--port", strconv.Itoa(temporalPort), "--namespace", namespace},
		logPath: filepath.Join(s.dir, "temporal.log"), onUnexpectedExit: s.onUnexpectedExit}
	s.worker = &proc{name: "worker", path: s.exe, args: []string{"worker"}, dir: s.dir,
		env: append(slices.Clone(common), "HELHEDSPLAN_OPS_LISTEN="+strings.TrimPrefix(s.opsURL, "http://"),
			"HELHEDSPLAN_FINANCE_WEBHOOK_URL="+fmt.Sprintf("http://127.0.0.1:%d/finance", recvPort),
			"HELHEDSPLAN_FINANCE_WEBHOOK_SECRET="+secret),
		logPath: filepath.Join(s.dir, "worker.log"), onUnexpectedExit: s.onUnexpectedExit}
	s.api = &proc{name: "api", path: s.exe, args: []string{"api"}, dir: s.dir,
		env:     append(slices.Clone(common), "HELHEDSPLAN_LISTEN="+strings.TrimPrefix(s.apiURL, "http://")),
		logPath: filepath.Join(s.dir, "api.log"), onUnexpectedExit: s.onUnexpectedExit}

	for _, start := range []func(context.Context) error{s.startTemporal, s.startWorker, s.startAPI} {
		if err := start(ctx); err != nil {
			return err
		}
	}
	s.say("Temporal %s (process %d), worker (process %d), API %s (process %d) ready",
		s.temporalAddr, s.temporal.pid(), s.worker.pid(), s.apiURL, s.api.pid())
	return nil
}

func (s *suite) startTemporal(ctx context.Context) error {
	if err := s.temporal.start(); err != nil {
		return err
	}
	return s.waitReady(ctx, s.temporal, func(ctx context.Context) error { return devstack.ProbeTemporal(ctx, s.temporalAddr, namespace) })
}

func (s *suite) startWorker(ctx context.Context) error {
	if err := s.worker.start(); err != nil {
		return err
	}
	return s.waitReady(ctx, s.worker, func(ctx context.Context) error { return probeHTTP(ctx, s.opsURL+"/readyz") })
}

func (s *suite) startAPI(ctx context.Context) error {
	if err := s.api.start(); err != nil {
		return err
	}
	return s.waitReady(ctx, s.api, func(ctx context.Context) error { return probeHTTP(ctx, s.apiURL+"/readyz") })
}

// waitReady probes until the child answers, it exits, or readyLimit passes.
func (s *suite) waitReady(ctx context.Context, p *proc, probe func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, readyLimit)
	defer cancel()
	var last error
	for {
		select {
		case <-p.wait():
			return fmt.Errorf("%s exited while starting (see %s)", p.name, p.logPath)
		default:
		}
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		last = probe(pctx)
		pcancel()
		if last == nil {
			return nil
		}
		if sleepCtx(ctx, 200*time.Millisecond) != nil {
			return fmt.Errorf("%s not ready after %s: %v (see %s)", p.name, readyLimit, last, p.logPath)
		}
	}
}

// onUnexpectedExit records a child that died without being asked to, and starts it again so the run goes on.
func (s *suite) onUnexpectedExit(p *proc, err error) {
	if s.closing.Load() {
		return
	}
	msg := fmt.Sprintf("%s exited by itself at %.1fs: %v", p.name, time.Since(s.began).Seconds(), err)
	s.mu.Lock()
	s.unexpected = append(s.unexpected, msg)
	s.mu.Unlock()
	s.say("UNEXPECTED: %s; starting it again", msg)
	go func() {
		time.Sleep(time.Second)
		s.procMu.Lock()
		defer s.procMu.Unlock()
		if s.closing.Load() || p.running() {
			return
		}
		if err := p.start(); err != nil {
			s.say("could not restart %s: %v", p.name, err)
		}
	}()
}

func (s *suite) faultEvents() []FaultEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.faults)
}

func (s *suite) unexpectedExits() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.unexpected)
}

// runAndVerify drives the initiatives while injecting the faults, waits for everything to settle and verifies.
func (s *suite) runAndVerify(ctx context.Context, res *result, rng *mrand.Rand) error {
	schedule := s.opts.Plan.Schedule(rng)
	spread := Estimate(*s.opts.Plan, schedule)
	rec := &recorder{}
	api := newAPIClient(s.apiURL, rec, s.log, s.opts.Clients)
	d := &driver{api: api, tokens: s.tokens, runID: s.runID, log: s.log, think: s.opts.Think, poll: time.Second}
	runs := make([]*initiativeRun, s.opts.Initiatives)
	for i := range runs {
		runs[i] = &initiativeRun{Index: i, Scenario: scenarioFor(i), Title: fmt.Sprintf("Kaos %s nr. %d", s.runID, i)}
	}
	res.Runs = runs

	var names []string
	for _, f := range schedule {
		names = append(names, f.String())
	}
	s.say("driving %d initiatives from %d clients, started over %s; faults: %s", len(runs), s.opts.Clients,
		spread.Round(time.Second), strings.Join(names, ", "))

	driveCtx, cancelDrive := context.WithCancel(ctx)
	defer cancelDrive()
	start := time.Now()
	res.Start = start
	startAt := func(i int) time.Time {
		return start.Add(time.Duration(float64(spread) * 0.95 * float64(i) / float64(max(len(runs), 1))))
	}

	faultsDone := make(chan time.Time, 1)
	go func() {
		last := s.inject(ctx, start, schedule)
		faultsDone <- last
	}()
	var deadline atomic.Pointer[time.Time]
	go func() {
		last := <-faultsDone
		if ctx.Err() != nil {
			s.say("interrupted: stopping")
			cancelDrive()
			return
		}
		dl := last.Add(s.opts.Settle)
		res.LastFaultEnd = last // before the Store: the main goroutine reads it once the deadline is published
		deadline.Store(&dl)
		s.say("last fault over; waiting up to %s (until %s) for every initiative and webhook", s.opts.Settle, dl.Format("15:04:05"))
		if sleepCtx(driveCtx, time.Until(dl)) == nil {
			s.say("deadline reached")
		}
		cancelDrive()
	}()
	driveDone := make(chan struct{})
	go func() {
		defer close(driveDone)
		d.driveAll(driveCtx, runs, s.opts.Clients, startAt)
	}()
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
progress:
	for {
		select {
		case <-driveDone:
			break progress
		case <-tick.C:
			s.say("progress: %d started, %d at their final phase, %d given up", d.started.Load(), d.finished.Load(), d.failed.Load())
		}
	}
	for _, r := range runs {
		if r.DoneAt.After(res.LastInitiativeDone) {
			res.LastInitiativeDone = r.DoneAt
		}
	}
	s.say("drive over: %d of %d initiatives at their final phase", d.finished.Load(), len(runs))
	if ctx.Err() != nil {
		return ctx.Err()
	}

	// The faults may still be running if the drive ended early; every component must be back before checking.
	for deadline.Load() == nil {
		if sleepCtx(ctx, 200*time.Millisecond) != nil {
			return ctx.Err()
		}
	}
	dl := *deadline.Load()
	drained, err := s.awaitOutbox(ctx, dl)
	if err != nil {
		return err
	}
	res.OutboxDrained = drained

	// The API's view of every initiative, with the same retrying client.
	reads := map[string]lifecycle.Initiative{}
	readCtx, cancelRead := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelRead()
	for _, r := range runs {
		if r.ID == "" {
			continue
		}
		var in lifecycle.Initiative
		if err := api.do(readCtx, "GET", "/api/v1/initiatives/"+r.ID, s.tokens.Board, "", nil, &in); err != nil {
			res.Problems = append(res.Problems, fmt.Sprintf("GET initiative %s afterwards: %v", r.ID, err))
			continue
		}
		reads[r.ID] = in
	}
	res.Answers = rec.snapshot()
	res.Receiver = s.recv.Stats()
	if res.Verify, err = verify(ctx, s.st.DB(), runs, reads, res.Receiver); err != nil {
		return err
	}

	tc, err := client.DialContext(ctx, client.Options{HostPort: s.temporalAddr, Namespace: namespace,
		Logger: sdklog.NewStructuredLogger(s.log.With("component", "temporal-client"))})
	if err != nil {
		return fmt.Errorf("dial Temporal for the checks: %w", err)
	}
	defer tc.Close()
	for _, c := range s.opts.Checks {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		r, err := c.Run(cctx, CheckEnv{Store: s.st, Temporal: tc, Log: s.log.With("check", c.Name)})
		cancel()
		out := checkOutcome{Name: c.Name, Result: r}
		if err != nil {
			out.Err = err.Error()
		}
		res.Checks = append(res.Checks, out)
		for _, d := range r.Details {
			s.log.Warn("check finding", "check", c.Name, "finding", d)
		}
	}
	for _, r := range runs {
		for _, a := range r.Anomalies {
			s.log.Warn("anomaly", "index", r.Index, "id", r.ID, "anomaly", a)
		}
	}
	for _, line := range res.Verify.Details {
		s.log.Warn("verification", "finding", line)
	}
	return nil
}

// awaitOutbox waits until no outbox message is undelivered, or until the deadline. It returns when that was.
func (s *suite) awaitOutbox(ctx context.Context, deadline time.Time) (time.Time, error) {
	for {
		var n int
		err := s.st.DB().GetContext(ctx, &n, `SELECT count(*) FROM outbox WHERE delivered_at IS NULL`)
		if err == nil && n == 0 {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return time.Time{}, fmt.Errorf("count undelivered outbox messages: %w", err)
			}
			s.say("deadline reached with %d outbox messages undelivered", n)
			return time.Time{}, nil
		}
		if sleepCtx(ctx, 2*time.Second) != nil {
			return time.Time{}, ctx.Err()
		}
	}
}

// inject runs the schedule and returns when the last fault was over (its component back and ready).
func (s *suite) inject(ctx context.Context, start time.Time, schedule []PlannedFault) time.Time {
	last := time.Now()
	if sleepCtx(ctx, time.Until(start.Add(s.opts.Plan.Lead))) != nil {
		return last
	}
	for i, f := range schedule {
		if i > 0 && sleepCtx(ctx, s.opts.Plan.Gap) != nil {
			break
		}
		ev := s.fault(ctx, f)
		s.mu.Lock()
		s.faults = append(s.faults, ev)
		s.mu.Unlock()
		status := "back after " + ev.End.Sub(ev.Start).Round(100*time.Millisecond).String()
		if ev.Err != "" {
			status = "FAILED: " + ev.Err
		}
		s.say("fault %d/%d %s: %s; %s", i+1, len(schedule), f, ev.Detail, status)
		last = ev.End
	}
	return last
}

// fault injects one fault and waits until the component is back.
func (s *suite) fault(ctx context.Context, f PlannedFault) FaultEvent {
	s.procMu.Lock()
	defer s.procMu.Unlock()
	ev := FaultEvent{PlannedFault: f, Start: time.Now()}
	fail := func(err error) FaultEvent {
		ev.End, ev.Err = time.Now(), err.Error()
		return ev
	}
	switch f.Kind {
	case FaultWorkerKill:
		pid := s.worker.pid()
		if err := s.worker.kill(); err != nil {
			return fail(err)
		}
		ev.Detail = fmt.Sprintf("pid %d killed, restarted after %s", pid, f.Down.Round(100*time.Millisecond))
		if sleepCtx(ctx, f.Down) != nil {
			return fail(ctx.Err())
		}
		if err := s.startWorker(ctx); err != nil {
			return fail(err)
		}
	case FaultTemporalRestart:
		pid := s.temporal.pid()
		var err error
		if f.Hard {
			err = s.temporal.kill()
		} else {
			err = s.temporal.stop(syscall.SIGTERM, 30*time.Second)
		}
		if err != nil {
			return fail(err)
		}
		ev.Detail = fmt.Sprintf("pid %d stopped after %s, started on the same data dir and port",
			pid, time.Since(ev.Start).Round(100*time.Millisecond))
		if err := s.startTemporal(ctx); err != nil {
			return fail(err)
		}
	case FaultPostgresDown:
		if err := s.pg.stopImmediate(ctx); err != nil {
			return fail(err)
		}
		ev.Detail = fmt.Sprintf("pg_ctl stop -m immediate, down %s, started on port %d", f.Down, s.pg.port)
		if sleepCtx(ctx, f.Down) != nil {
			return fail(ctx.Err())
		}
		if err := s.pg.start(ctx); err != nil {
			return fail(err)
		}
	case FaultWebhookDown:
		half := f.Down / 2
		ev.Detail = fmt.Sprintf("answering 503 for %s, then refusing connections for %s", half, f.Down-half)
		if err := s.recv.SetMode(receiver503); err != nil {
			return fail(err)
		}
		if sleepCtx(ctx, half) == nil {
			if err := s.recv.SetMode(receiverRefused); err != nil {
				return fail(err)
			}
			_ = sleepCtx(ctx, f.Down-half)
		}
		if err := s.recv.SetMode(receiverUp); err != nil {
			return fail(err)
		}
	}
	ev.End = time.Now()
	return ev
}

// teardown stops every child and the receiver; it is safe after a partial set-up.
func (s *suite) teardown() {
	s.closing.Store(true)
	s.procMu.Lock()
	defer s.procMu.Unlock()
	for _, p := range []*proc{s.api, s.worker, s.temporal} {
		if p != nil {
			if err := p.stop(syscall.SIGTERM, 25*time.Second); err != nil {
				s.log.Error("stop child", "name", p.name, "error", err)
			}
		}
	}
	if s.st != nil {
		_ = s.st.Close()
	}
	if err := s.pg.stop(); err != nil {
		s.log.Error("stop postgres", "error", err)
	}
	if s.recv != nil {
		s.recv.Close()
	}
}

// childEnv is the suite's environment without the variables that configure helhedsplan or PostgreSQL clients,
// so a developer's settings cannot point the children at another database or Temporal.
func childEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		for _, p := range []string{"DATABASE_URL=", "TEMPORAL_", "HELHEDSPLAN_", "PG"} {
			if strings.HasPrefix(kv, p) {
				return true
			}
		}
		return false
	})
}

func createDatabase(ctx context.Context, dsn, name string) error {
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// probeHTTP succeeds when url answers 200.
func probeHTTP(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s %s", url, resp.Status, strings.TrimSpace(string(b)))
	}
	return nil
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
