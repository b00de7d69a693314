package store

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// cancel books a cancellation's compensation (see CancelInput) inside the step's transaction.
// PLACEHOLDER: implemented by the cancellation work of issue 7.
func cancel(ctx context.Context, tx *sqlx.Tx, in CancelInput) (existed bool, err error) {
	return false, fmt.Errorf("cancel %s: not implemented yet", in.InitiativeID)
}
