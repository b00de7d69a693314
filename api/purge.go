package api

import (
	"context"
	"log/slog"
	"time"

	"github.com/helhedsplan/helhedsplan/store"
)

// IdempotencyPurgeInterval is how often the API role purges expired Idempotency-Key records.
const IdempotencyPurgeInterval = 10 * time.Minute

// IdempotencyPurger is what RunIdempotencyPurger needs of the store (implemented by *store.Store).
type IdempotencyPurger interface {
	// PurgeIdempotency deletes records created before olderThan and says how many went.
	PurgeIdempotency(ctx context.Context, olderThan time.Time) (int64, error)
}

// purgeTimeout bounds one purge, so a hung database delays the next round instead of stopping the loop.
const purgeTimeout = time.Minute

// RunIdempotencyPurger deletes Idempotency-Key records older than store.IdempotencyTTL at once and then every
// `every` (IdempotencyPurgeInterval when not positive), until ctx ends; it returns when ctx ends. Expired records are
// already ignored when their key is used again (store.BeginIdempotent); purging keeps the table from growing for
// ever. A failed round is logged and the next one tries again. Several API processes may run it at once: deleting
// twice is harmless.
func RunIdempotencyPurger(ctx context.Context, st IdempotencyPurger, every time.Duration, log *slog.Logger) {
	if every <= 0 {
		every = IdempotencyPurgeInterval
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		purgeIdempotency(ctx, st, log)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func purgeIdempotency(parent context.Context, st IdempotencyPurger, log *slog.Logger) {
	if parent.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(parent, purgeTimeout)
	defer cancel()
	before := time.Now().Add(-store.IdempotencyTTL)
	n, err := st.PurgeIdempotency(ctx, before)
	if err != nil {
		if parent.Err() == nil { // not a shutdown
			log.LogAttrs(ctx, slog.LevelWarn, "purging expired idempotency keys failed",
				slog.Time("created_before", before), slog.String("error", err.Error()))
		}
		return
	}
	log.LogAttrs(ctx, slog.LevelInfo, "purged expired idempotency keys",
		slog.Int64("deleted", n), slog.Time("created_before", before))
}
