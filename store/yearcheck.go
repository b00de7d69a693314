package store

import (
	"context"

	"github.com/jmoiron/sqlx"

	"github.com/helhedsplan/helhedsplan/domain"
)

// checkYearCommitments checks a reservation against each funding source's commitment per year.
func checkYearCommitments(ctx context.Context, tx *sqlx.Tx, in ReserveInput, todo, giveBack []domain.SourceAmount) error {
	return nil
}
