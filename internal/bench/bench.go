// Package bench measures the whole stack — API, worker, embedded Temporal server and PostgreSQL in one process —
// from concurrent HTTP clients: lifecycles per second, latency per endpoint, memory per open initiative, and list
// and get latency with a large read model. It is a benchmark that reports numbers, not a test that passes or
// fails on them.
package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	_ "github.com/lib/pq" // database/sql driver for creating the benchmark database
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/helhedsplan/helhedsplan/devstack"
	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/internal/apiclient"
	"github.com/helhedsplan/helhedsplan/internal/lifecycle"
	"github.com/helhedsplan/helhedsplan/internal/stack"
	"github.com/helhedsplan/helhedsplan/seed"
	"github.com/helhedsplan/helhedsplan/store"
)

// Options size the benchmark.
type Options struct {
	Lifecycles  int    // initiatives taken from proposal to completed
	Clients     int    // concurrent HTTP clients
	Open        int    // initiatives left open (in board review) for the memory measurement
	Rows        int    // initiatives in the read model for the list/get measurement
	Requests    int    // list and get requests in the read measurement
	DatabaseURL string // empty: 127.0.0.1:5432 or a private cluster, as dev mode does
	Log         *slog.Logger
}

// recorder collects latencies per route.
type recorder struct {
	mu     sync.Mutex
	byName map[string][]time.Duration
	errors atomic.Int64
}

func (r *recorder) observe(route string, d time.Duration, status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byName[route] = append(r.byName[route], d)
	if status >= 500 {
		r.errors.Add(1)
	}
}

// Run sets up the stack in a temporary directory and database, measures, prints a report to w and cleans up.
func Run(ctx context.Context, o Options, w io.Writer) (err error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir, err := os.MkdirTemp("", "helhedsplan-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	dbName := fmt.Sprintf("helhedsplan_bench_%d", time.Now().UnixNano())
	pg, err := devstack.EnsurePostgres(ctx, devstack.PostgresConfig{DatabaseURL: o.DatabaseURL, DataDir: dir, DatabaseName: dbName, Logger: log})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, pg.Stop()) }()
	if o.DatabaseURL == "" {
		defer dropDatabase(pg.DSN(), dbName)
	}
	st, err := store.Open(ctx, pg.DSN())
	if err != nil {
		return err
	}
	defer st.Close()
	if err := store.Migrate(ctx, st.DB().DB); err != nil {
		return err
	}
	sd, err := seed.Viborg()
	if err != nil {
		return err
	}
	if _, err := st.SeedPlan(ctx, sd); err != nil {
		return err
	}

	port, err := freePort()
	if err != nil {
		return err
	}
	tcfg := devstack.DefaultTemporalConfig(dir)
	tcfg.FrontendPort, tcfg.UIPort, tcfg.Logger = port, 0, log
	temporal, err := devstack.StartTemporal(ctx, tcfg)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, temporal.Stop()) }()
	c, err := client.DialContext(ctx, client.Options{HostPort: temporal.FrontendAddr(), Namespace: temporal.Namespace(),
		Logger: tlog.NewStructuredLogger(log)})
	if err != nil {
		return err
	}
	defer c.Close()
	s, err := stack.Start(ctx, c, st, stack.Options{Log: log})
	if err != nil {
		return err
	}
	defer s.Close()

	rec := &recorder{byName: map[string][]time.Duration{}}
	api := &apiclient.Client{BaseURL: s.URL, Observe: rec.observe}
	api.HTTP = httpClient(o.Clients)
	d := &lifecycle.Driver{API: api, Tokens: lifecycle.Tokens{OperationalGroup: s.Tokens["og-mette"], Board: s.Tokens["bs-hanne"], OtherBoard: []string{s.Tokens["bs-lars"], s.Tokens["bs-sofie"]}, Finance: s.Tokens["fin-peter"]}}

	fmt.Fprintf(w, "helhedsplan bench: %d lifecycles from %d clients, %d open initiatives, %d read-model rows (GOMAXPROCS=%d)\n\n",
		o.Lifecycles, o.Clients, o.Open, o.Rows, runtime.GOMAXPROCS(0))

	// 1. Whole lifecycles from concurrent clients.
	start := time.Now()
	var done atomic.Int64
	var firstErr error
	var errOnce sync.Once
	parallel(o.Clients, o.Lifecycles, func(i int) {
		in, err := d.Propose(ctx, lifecycle.Sample(fmt.Sprintf("Bench %d", i), 2, 100_000, 50_000))
		if err == nil {
			_, err = d.Complete(ctx, in, 120_000)
		}
		if err != nil {
			errOnce.Do(func() { firstErr = err })
			return
		}
		done.Add(1)
	})
	elapsed := time.Since(start)
	if firstErr != nil {
		return fmt.Errorf("lifecycle: %w", firstErr)
	}
	fmt.Fprintf(w, "Lifecycles: %d completed in %s = %.1f lifecycles/s (each: 1 proposal + 13 actions)\n\n",
		done.Load(), elapsed.Round(time.Millisecond), float64(done.Load())/elapsed.Seconds())
	report(w, rec)

	// 2. Memory with many initiatives open at once (their workflows in the worker's cache).
	before := memNow()
	rec2 := &recorder{byName: map[string][]time.Duration{}}
	api.Observe = rec2.observe
	parallel(o.Clients, o.Open, func(i int) {
		if _, err := d.Propose(ctx, lifecycle.Sample(fmt.Sprintf("Åben %d", i), 2, 100_000, 50_000)); err != nil {
			errOnce.Do(func() { firstErr = err })
		}
	})
	if firstErr != nil {
		return fmt.Errorf("open initiatives: %w", firstErr)
	}
	after := memNow()
	fmt.Fprintf(w, "\nMemory with %d more initiatives open (whole process: API, worker, Temporal server, clients):\n", o.Open)
	fmt.Fprintf(w, "  Go heap in use: %s -> %s (%+.1f KB per open initiative)\n", mb(before.heap), mb(after.heap),
		float64(int64(after.heap)-int64(before.heap))/1024/float64(max(o.Open, 1)))
	fmt.Fprintf(w, "  RSS:            %s -> %s (%+.1f KB per open initiative); peak RSS %s\n", mb(before.rss), mb(after.rss),
		float64(int64(after.rss)-int64(before.rss))/1024/float64(max(o.Open, 1)), mb(after.peak))

	// 3. Reads with a large read model.
	n, err := st.CountInitiatives(ctx, sd.Plan.ID)
	if err != nil {
		return err
	}
	if extra := o.Rows - n; extra > 0 {
		t0 := time.Now()
		tmpl, err := st.GetInitiative(ctx, firstID(ctx, st, sd.Plan.ID))
		if err != nil {
			return err
		}
		if err := st.InsertSyntheticInitiatives(ctx, sd.Plan.ID, extra, tmpl); err != nil {
			return err
		}
		fmt.Fprintf(w, "\nRead model filled to %d initiatives in %s\n", o.Rows, time.Since(t0).Round(time.Millisecond))
	}
	if _, err := st.DB().ExecContext(ctx, "ANALYZE"); err != nil {
		return err
	}
	rec3 := &recorder{byName: map[string][]time.Duration{}}
	api.Observe = rec3.observe
	ids := sampleIDs(ctx, st, sd.Plan.ID)
	listCalls := []apiclient.Call{
		{Path: "/api/v1/initiatives?limit=50", Route: "/api/v1/initiatives (first page)"},
		{Path: "/api/v1/initiatives?phase=completed&limit=50", Route: "/api/v1/initiatives?phase"},
		{Path: "/api/v1/initiatives?housing_area=vestervang&limit=50", Route: "/api/v1/initiatives?housing_area"},
		{Path: "/api/v1/initiatives?delaftale=beskaeftigelse&phase=board_review&limit=50", Route: "/api/v1/initiatives?delaftale&phase"},
	}
	parallel(o.Clients, o.Requests, func(i int) {
		var call apiclient.Call
		if i%2 == 0 {
			call = listCalls[(i/2)%len(listCalls)]
		} else {
			call = apiclient.Call{Path: "/api/v1/initiatives/" + ids[i%len(ids)], Route: "/api/v1/initiatives/{id}"}
		}
		call.Method, call.Token = "GET", d.Tokens.Board
		if _, err := api.Do(ctx, call, nil); err != nil {
			errOnce.Do(func() { firstErr = err })
		}
	})
	if firstErr != nil {
		return fmt.Errorf("reads: %w", firstErr)
	}
	fmt.Fprintf(w, "\nReads with %d initiatives in the read model, %d clients:\n", o.Rows, o.Clients)
	report(w, rec3)

	// 4. The web application's pages with the same read model, as the users who work with them.
	board, err := signIn(ctx, s.URL, d.Tokens.Board)
	if err != nil {
		return fmt.Errorf("web sign-in: %w", err)
	}
	member, err := signIn(ctx, s.URL, d.Tokens.OperationalGroup)
	if err != nil {
		return fmt.Errorf("web sign-in: %w", err)
	}
	finance, err := signIn(ctx, s.URL, d.Tokens.Finance)
	if err != nil {
		return fmt.Errorf("web sign-in: %w", err)
	}
	pages := []pageCall{
		{"/ (Mit arbejde, bestyrelsen)", "/", board},
		{"/ (Mit arbejde, operationel gruppe)", "/", member},
		{"/indsatser", "/indsatser", board},
		{"/indsatser?fase", "/indsatser?fase=completed", board},
		{"/indsatser/{id}", "/indsatser/" + ids[0], board},
		{"/planen", "/planen", board},
		{"/oekonomi", "/oekonomi", finance},
	}
	for i, id := range ids[1:] {
		if i >= 20 {
			break
		}
		pages = append(pages, pageCall{"/indsatser/{id}", "/indsatser/" + id, member})
	}
	rec4 := &recorder{byName: map[string][]time.Duration{}}
	if err := benchPages(ctx, rec4, o.Clients, o.Requests, pages); err != nil {
		return fmt.Errorf("pages: %w", err)
	}
	fmt.Fprintf(w, "\nWeb pages with %d initiatives in the read model, %d clients (round trip over loopback):\n", o.Rows, o.Clients)
	report(w, rec4)
	return nil
}

func report(w io.Writer, r *recorder) {
	names := make([]string, 0, len(r.byName))
	for n := range r.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "endpoint\tcalls\tp50 ms\tp99 ms\tmax ms\t")
	for _, n := range names {
		ds := r.byName[n]
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t\n", n, len(ds), ms(pct(ds, 50)), ms(pct(ds, 99)), ms(ds[len(ds)-1]))
	}
	tw.Flush()
	if e := r.errors.Load(); e > 0 {
		fmt.Fprintf(w, "  %d answers were 5xx\n", e)
	}
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[min(max(i-1, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// parallel runs fn(0..n-1) on workers goroutines.
func parallel(workers, n int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

type mem struct{ heap, rss, peak uint64 }

func memNow() mem {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := mem{heap: ms.HeapInuse}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && (f[0] == "VmRSS:" || f[0] == "VmHWM:") {
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				if f[0] == "VmRSS:" {
					m.rss = kb * 1024
				} else {
					m.peak = kb * 1024
				}
			}
		}
	}
	return m
}

func mb(b uint64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func firstID(ctx context.Context, st *store.Store, planID string) string {
	items, _, err := st.ListInitiatives(ctx, store.InitiativeFilter{PlanID: planID, Phase: domain.PhaseCompleted, Limit: 1})
	if err != nil || len(items) == 0 {
		return ""
	}
	return items[0].ID
}

// sampleIDs picks initiative IDs spread over the read model for GET /initiatives/{id}.
func sampleIDs(ctx context.Context, st *store.Store, planID string) []string {
	var ids []string
	_ = st.DB().SelectContext(ctx, &ids, `SELECT id FROM initiatives WHERE plan_id = $1 ORDER BY random() LIMIT 500`, planID)
	return ids
}

func dropDatabase(dsn, name string) {
	db, err := sql.Open("postgres", strings.Replace(dsn, "/"+name, "/postgres", 1))
	if err != nil {
		return
	}
	defer db.Close()
	_, _ = db.Exec(`DROP DATABASE IF EXISTS "` + name + `" WITH (FORCE)`)
}
