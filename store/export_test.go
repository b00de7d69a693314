package store

import (
	"context"
	"database/sql"
	"fmt"
)

// MigrateDownTo rolls the schema back to version, so tests can prove every Down section works. It is not part of
// the package's API: production never migrates down.
func MigrateDownTo(ctx context.Context, db *sql.DB, version int64) error {
	p, err := newProvider(db)
	if err != nil {
		return err
	}
	if _, err := p.DownTo(ctx, version); err != nil {
		return fmt.Errorf("migrations: down to %d: %w", version, err)
	}
	return nil
}
