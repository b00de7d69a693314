package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrations are the numbered schema changes, compiled into the binary so the `migrate` role needs no files.
//
//go:embed migrations/*.sql
var migrations embed.FS

// MigrationState is one known migration and whether the database has it.
type MigrationState struct {
	Version   int64
	Name      string // file name, e.g. "00001_plans.sql"
	Applied   bool
	AppliedAt time.Time // zero when not applied
}

// newProvider returns a goose provider over the embedded migrations. It holds a PostgreSQL advisory lock while
// migrating, so the api and worker roles may both migrate at start-up without racing each other.
func newProvider(db *sql.DB) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, fmt.Errorf("migrations: locker: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}

// Migrate applies every migration the database does not have yet. Running it on an up-to-date database does
// nothing. The provider is not closed: db belongs to the caller.
func Migrate(ctx context.Context, db *sql.DB) error {
	p, err := newProvider(db)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrations: up: %w", err)
	}
	return nil
}

// MigrationStatus reports each known migration and whether and when it was applied, for the `migrate` role to
// print and for health checks to compare with the binary's expectations.
func MigrationStatus(ctx context.Context, db *sql.DB) ([]MigrationState, error) {
	p, err := newProvider(db)
	if err != nil {
		return nil, err
	}
	st, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrations: status: %w", err)
	}
	out := make([]MigrationState, len(st))
	for i, m := range st {
		out[i] = MigrationState{
			Version:   m.Source.Version,
			Name:      path.Base(m.Source.Path),
			Applied:   m.State == goose.StateApplied,
			AppliedAt: m.AppliedAt,
		}
	}
	return out, nil
}

// Migrate applies pending migrations to the store's database.
func (s *Store) Migrate(ctx context.Context) error { return Migrate(ctx, s.db.DB) }
