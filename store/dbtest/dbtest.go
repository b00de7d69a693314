// Package dbtest gives each test its own PostgreSQL database: created fresh with a random name, migrated, seeded
// with the Viborg plan, and dropped when the test ends. Tests on a real database catch what mocks cannot (locks,
// constraints, triggers, SQL that does not parse), and a database per test lets them run in parallel.
//
// The server is TEST_DATABASE_URL (default DefaultURL); its user must be allowed to CREATE DATABASE. When the
// server cannot be reached the test fails, never skips: a skipped store test looks green and proves nothing.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/helhedsplan/helhedsplan/seed"
	"github.com/helhedsplan/helhedsplan/store"
)

// EnvURL names the environment variable with the server to create test databases on.
const EnvURL = "TEST_DATABASE_URL"

// DefaultURL is the server used when EnvURL is not set: the local development PostgreSQL.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// setupTimeout bounds creating, migrating and seeding one database, so an unreachable server fails the test
// quickly instead of hanging it.
const setupTimeout = 60 * time.Second

// New returns a store on a fresh database with the schema and the Viborg plan. The store is closed and the
// database dropped when the test ends.
func New(t testing.TB) *store.Store {
	t.Helper()
	dsn := NewDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	s, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("dbtest: open test database: %v", err)
	}
	// Registered after the drop in NewDSN, so it runs before it: cleanups run last in, first out.
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// NewDSN creates a fresh, migrated database seeded with the Viborg plan and returns its DSN, for tests that
// open their own connections (the API or the worker under test).
func NewDSN(t testing.TB) string {
	t.Helper()
	dsn := NewEmpty(t)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	s, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("dbtest: open test database: %v", err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("dbtest: migrate test database: %v", err)
	}
	sd, err := seed.Viborg()
	if err != nil {
		t.Fatalf("dbtest: read Viborg seed: %v", err)
	}
	if _, err := s.SeedPlan(ctx, sd); err != nil {
		t.Fatalf("dbtest: seed test database: %v", err)
	}
	return dsn
}

// NewEmpty creates a fresh database without any tables and returns its DSN, for tests of the migrations
// themselves. It is dropped, with any connections still open to it, when the test ends.
func NewEmpty(t testing.TB) string {
	t.Helper()
	admin, base := adminDB(t)
	name := "helhedsplan_test_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name)); err != nil {
		t.Fatalf("dbtest: create database %s on %s (%s): %v", name, redact(base), EnvURL, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(name)+" WITH (FORCE)"); err != nil {
			t.Errorf("dbtest: drop database %s: %v", name, err)
		}
	})
	return withDatabase(base, name)
}

var (
	adminOnce sync.Once
	admin     *sql.DB
	adminErr  error
	adminURL  string
)

// adminDB returns one pool to the server's maintenance database, shared by all tests of the binary, and the URL
// it was opened with. It fails the test with a message naming EnvURL when the server does not answer.
func adminDB(t testing.TB) (*sql.DB, string) {
	t.Helper()
	adminOnce.Do(func() {
		adminURL = os.Getenv(EnvURL)
		if adminURL == "" {
			adminURL = DefaultURL
		}
		admin, adminErr = sql.Open("postgres", adminURL)
		if adminErr != nil {
			return
		}
		admin.SetMaxOpenConns(4)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		adminErr = admin.PingContext(ctx)
	})
	if adminErr != nil {
		t.Fatalf("dbtest: cannot reach PostgreSQL at %s=%q: %v\n"+
			"Start PostgreSQL, or set %s to a server whose user may CREATE DATABASE "+
			"(e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable).",
			EnvURL, redact(adminURL), adminErr, EnvURL)
	}
	return admin, adminURL
}

// withDatabase returns the DSN with the database name replaced; both URL and key=value forms are accepted.
func withDatabase(dsn, name string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + name
		return u.String()
	}
	return dsn + " dbname=" + name
}

// redact hides a password in a URL DSN, so test logs never show one.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	if strings.Contains(dsn, "password") {
		return "(key=value DSN with password)"
	}
	return dsn
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails since Go 1.24
	return hex.EncodeToString(b)
}
