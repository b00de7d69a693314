package devstack

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"
)

// TestEnsurePostgresPrivateCluster covers a machine with PostgreSQL installed but no server running: the cluster
// is created on first use, the database exists, Stop stops the server, and data is still there on the next start.
func TestEnsurePostgresPrivateCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := PostgresConfig{
		DataDir:      privateTempDir(t),
		DatabaseName: "helhedsplan_dev",
		// Nothing listens here, so the local-server path is skipped even on machines that have one.
		LocalAddr: "127.0.0.1:" + strconv.Itoa(unusedPort(t)),
		Logger:    testLogger(t),
	}

	pg := ensurePostgres(ctx, t, cfg)
	// The directory may be shown relative to the working directory; its own name is there either way.
	want := filepath.Join(filepath.Base(cfg.DataDir), "postgres") + " on port "
	if src := pg.Source(); !strings.HasPrefix(src, "private cluster in ") || !strings.Contains(src, want) {
		t.Fatalf("Source() = %q, want the private cluster in %s/postgres", src, cfg.DataDir)
	}
	db := open(t, pg.DSN())
	var name string
	if err := db.QueryRowContext(ctx, `SELECT current_database()`).Scan(&name); err != nil {
		t.Fatalf("query private cluster: %v", err)
	}
	if name != cfg.DatabaseName {
		t.Fatalf("current_database() = %q, want %q", name, cfg.DatabaseName)
	}
	var listen string
	if err := db.QueryRowContext(ctx, `SHOW listen_addresses`).Scan(&listen); err != nil {
		t.Fatal(err)
	}
	if listen != "127.0.0.1" {
		t.Errorf("listen_addresses = %q, want 127.0.0.1 only", listen)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE kept (note text); INSERT INTO kept VALUES ('survives a restart')`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// A dev process that was killed leaves the cluster running; the next one must use it, not fail on it.
	adopted := ensurePostgres(ctx, t, cfg)
	if adopted.Source() != pg.Source() {
		t.Errorf("with the cluster still running: Source() = %q, want %q", adopted.Source(), pg.Source())
	}
	if err := adopted.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := ping(ctx, pg.DSN()); err == nil {
		t.Fatal("the cluster still answers after Stop")
	}
	if err := pg.Stop(); err != nil {
		t.Fatalf("Stop of a cluster already stopped: %v", err)
	}

	again := ensurePostgres(ctx, t, cfg)
	if again.Source() != pg.Source() {
		t.Errorf("second start: Source() = %q, want the same port as before: %q", again.Source(), pg.Source())
	}
	db = open(t, again.DSN())
	var note string
	if err := db.QueryRowContext(ctx, `SELECT note FROM kept`).Scan(&note); err != nil {
		t.Fatalf("data written before the restart: %v", err)
	}
	if err := again.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

// TestEnsurePostgresLocalServer covers the common developer machine: a PostgreSQL server on 127.0.0.1:5432 that
// trusts user postgres. The database is created there.
func TestEnsurePostgresLocalServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	requireLocalPostgres(ctx, t)
	name := fmt.Sprintf("helhedsplan_devstack_test_%d", time.Now().UnixNano())
	t.Cleanup(func() { dropDatabase(t, name) })

	cfg := PostgresConfig{DatabaseName: name, Logger: testLogger(t)}
	pg := ensurePostgres(ctx, t, cfg)
	if got, want := pg.Source(), "local server "+DefaultLocalAddr; got != want {
		t.Fatalf("Source() = %q, want %q", got, want)
	}
	var got string
	if err := open(t, pg.DSN()).QueryRowContext(ctx, `SELECT current_database()`).Scan(&got); err != nil {
		t.Fatalf("query local server: %v", err)
	}
	if got != name {
		t.Fatalf("current_database() = %q, want %q", got, name)
	}
	// The second dev run finds the database and must not fail on it.
	if again := ensurePostgres(ctx, t, cfg); again.DSN() != pg.DSN() {
		t.Fatalf("second EnsurePostgres DSN = %q, want %q", again.DSN(), pg.DSN())
	}
}

func TestEnsurePostgresDatabaseURL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("unreachable_is_an_error", func(t *testing.T) {
		url := postgresURL("127.0.0.1:"+strconv.Itoa(unusedPort(t)), "helhedsplan")
		pg, err := EnsurePostgres(ctx, PostgresConfig{DatabaseURL: url, DataDir: t.TempDir(), Logger: testLogger(t)})
		if err == nil {
			_ = pg.Stop()
			t.Fatal("EnsurePostgres accepted an unreachable DATABASE_URL instead of failing")
		}
		if !strings.Contains(err.Error(), "DATABASE_URL") {
			t.Fatalf("err = %q, want it to name DATABASE_URL", err)
		}
	})
	t.Run("used_as_is", func(t *testing.T) {
		requireLocalPostgres(ctx, t)
		url := postgresURL(DefaultLocalAddr, "postgres")
		pg := ensurePostgres(ctx, t, PostgresConfig{DatabaseURL: url, Logger: testLogger(t)})
		if pg.DSN() != url || pg.Source() != "DATABASE_URL" {
			t.Fatalf("DSN, Source = %q, %q; want %q, DATABASE_URL", pg.DSN(), pg.Source(), url)
		}
	})
}

func TestEnsurePostgresNothingAvailable(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no initdb on PATH
	saved := pgBinDirs
	pgBinDirs = nil
	t.Cleanup(func() { pgBinDirs = saved })

	_, err := EnsurePostgres(context.Background(), PostgresConfig{
		DataDir:   t.TempDir(),
		LocalAddr: "127.0.0.1:" + strconv.Itoa(unusedPort(t)),
		Logger:    testLogger(t),
	})
	if !errors.Is(err, ErrNoPostgres) {
		t.Fatalf("err = %v, want ErrNoPostgres", err)
	}
	if !strings.Contains(err.Error(), "apt-get install postgresql") || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Fatalf("err = %q, want it to say what to install or set", err)
	}
}

func ensurePostgres(ctx context.Context, t *testing.T, cfg PostgresConfig) *Postgres {
	t.Helper()
	pg, err := EnsurePostgres(ctx, cfg)
	if err != nil {
		t.Fatalf("EnsurePostgres: %v", err)
	}
	t.Cleanup(func() {
		if err := pg.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return pg
}

func open(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// privateTempDir returns a new directory of mode 0700, like the one the dev role creates, outside Go's test temp
// dir. When tests run as root, PostgreSQL runs as an unprivileged user, and the parent of t.TempDir() (0700, owned
// by root) would keep it out; the data dir itself it must be let through, which is part of what is tested.
func privateTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "devstack-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// requireLocalPostgres fails the test, saying what is missing, when no server trusts user postgres on 5432.
func requireLocalPostgres(ctx context.Context, t *testing.T) {
	t.Helper()
	if err := tryLocal(ctx, DefaultLocalAddr); err != nil {
		t.Fatalf("this test needs a PostgreSQL server on %s that accepts user postgres without a password "+
			"(Debian: apt-get install postgresql, then set `host all postgres 127.0.0.1/32 trust` in pg_hba.conf): %v", DefaultLocalAddr, err)
	}
}

func dropDatabase(t *testing.T, name string) {
	db, err := sql.Open("postgres", postgresURL(DefaultLocalAddr, "postgres"))
	if err != nil {
		t.Errorf("drop test database %s: %v", name, err)
		return
	}
	defer db.Close()
	if _, err := db.Exec(`DROP DATABASE IF EXISTS ` + pq.QuoteIdentifier(name) + ` WITH (FORCE)`); err != nil {
		t.Errorf("drop test database %s: %v", name, err)
	}
}
