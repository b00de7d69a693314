package devstack

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"sync"
	"time"

	"github.com/lib/pq"
)

// Defaults of PostgresConfig.
const (
	DefaultDatabaseName = "helhedsplan"
	DefaultLocalAddr    = "127.0.0.1:5432"
)

// ErrNoPostgres is returned when no database is configured, none answers on the local address and no PostgreSQL
// binaries are installed to run a private cluster.
var ErrNoPostgres = errors.New("no PostgreSQL available: install PostgreSQL 15+ (Debian: apt-get install postgresql) or set DATABASE_URL")

// PostgresConfig configures EnsurePostgres.
type PostgresConfig struct {
	// DatabaseURL, when set, is used as it is: the developer chose a database and nothing is created in it.
	DatabaseURL string
	// DataDir holds the private cluster (in DataDir/postgres) when one is needed.
	DataDir string
	// DatabaseName is created on the local server or the private cluster if missing. Default "helhedsplan".
	DatabaseName string
	// LocalAddr is where a local PostgreSQL server is looked for, as user postgres without a password (the
	// Debian/Homebrew default for local connections). Default 127.0.0.1:5432. Tests point it at a closed port to
	// force the private cluster.
	LocalAddr string
	// Logger receives progress messages (initdb, cluster start). Default slog.Default().
	Logger *slog.Logger
}

// Postgres is a database ready for the dev role.
type Postgres struct {
	dsn    string
	source string
	stop   func() error

	stopOnce sync.Once
	stopErr  error
}

// DSN is the connection URL for the database.
func (p *Postgres) DSN() string { return p.dsn }

// Source says where the database lives, for the dev role's start-up banner: "DATABASE_URL",
// "local server 127.0.0.1:5432" or "private cluster in .data/postgres on port N".
func (p *Postgres) Source() string { return p.source }

// Stop stops the private cluster if EnsurePostgres started one; for the other sources there is nothing to stop.
// It is safe to call more than once.
func (p *Postgres) Stop() error {
	p.stopOnce.Do(func() {
		if p.stop != nil {
			p.stopErr = p.stop()
		}
	})
	return p.stopErr
}

// EnsurePostgres finds or starts a PostgreSQL database for development, in this order: cfg.DatabaseURL; the local
// server on cfg.LocalAddr (creating the database); a private cluster under cfg.DataDir, initialised on first use
// and started on a free port (creating the database). The point is that `helhedsplan dev` works on a fresh
// machine with nothing more than the PostgreSQL packages installed, and never touches a developer's own clusters.
func EnsurePostgres(ctx context.Context, cfg PostgresConfig) (*Postgres, error) {
	if cfg.DatabaseName == "" {
		cfg.DatabaseName = DefaultDatabaseName
	}
	if cfg.LocalAddr == "" {
		cfg.LocalAddr = DefaultLocalAddr
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}

	if cfg.DatabaseURL != "" {
		if err := ping(ctx, cfg.DatabaseURL); err != nil {
			return nil, fmt.Errorf("DATABASE_URL: %w", err)
		}
		return &Postgres{dsn: cfg.DatabaseURL, source: "DATABASE_URL"}, nil
	}

	localErr := tryLocal(ctx, cfg.LocalAddr)
	if localErr == nil {
		dsn, err := ensureDatabase(ctx, cfg.LocalAddr, cfg.DatabaseName)
		if err != nil {
			return nil, fmt.Errorf("local PostgreSQL on %s: %w", cfg.LocalAddr, err)
		}
		return &Postgres{dsn: dsn, source: "local server " + cfg.LocalAddr}, nil
	}
	if !errors.Is(localErr, errNotListening) {
		// Something listens but will not let user postgres in without a password. Using it anyway is not
		// possible; falling back to a private cluster keeps dev working, and the warning says how to choose.
		cfg.Logger.Warn("local PostgreSQL is not usable; using a private cluster instead (set DATABASE_URL to use it)",
			"addr", cfg.LocalAddr, "err", localErr)
	}

	if cfg.DataDir == "" {
		return nil, fmt.Errorf("%w (nothing usable on %s, and no DataDir for a private cluster)", ErrNoPostgres, cfg.LocalAddr)
	}
	return startCluster(ctx, cfg)
}

// errNotListening means nothing accepts TCP connections on the local address.
var errNotListening = errors.New("nothing listening")

// tryLocal reports whether a server on addr accepts user postgres without a password.
func tryLocal(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("%w on %s: %v", errNotListening, addr, err)
	}
	_ = conn.Close()
	return ping(ctx, postgresURL(addr, "postgres"))
}

// postgresURL is the DSN of database on addr for user postgres, without TLS: the server is on loopback.
func postgresURL(addr, database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     addr,
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

func ping(ctx context.Context, dsn string) error {
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// ensureDatabase creates database on the server at addr if it does not exist and returns its DSN.
func ensureDatabase(ctx context.Context, addr, database string) (string, error) {
	db, err := sql.Open("postgres", postgresURL(addr, "postgres"))
	if err != nil {
		return "", err
	}
	defer db.Close()

	const exists = `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`
	var found bool
	if err := db.QueryRowContext(ctx, exists, database).Scan(&found); err != nil {
		return "", fmt.Errorf("look up database %q: %w", database, err)
	}
	if !found {
		// CREATE DATABASE takes no parameters; the name is quoted instead.
		_, err := db.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(database))
		var pqErr *pq.Error
		if err != nil && !(errors.As(err, &pqErr) && pqErr.Code == "42P04") { // 42P04: created concurrently
			return "", fmt.Errorf("create database %q: %w", database, err)
		}
	}
	return postgresURL(addr, database), nil
}

// clusterDir is where the private cluster lives.
func clusterDir(dataDir string) string { return filepath.Join(dataDir, "postgres") }
