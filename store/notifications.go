package store

import (
	"context"

	"github.com/jmoiron/sqlx"
)

// notify stores a step's notifications (see NotifyInput) inside the step's transaction.
// PLACEHOLDER: implemented by the notifications work of issue 7.
func notify(ctx context.Context, tx *sqlx.Tx, in []NotifyInput) error {
	return nil
}
