package store_test

import (
	"database/sql"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

func openDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func appliedVersions(t *testing.T, db *sql.DB) []int64 {
	t.Helper()
	st, err := store.MigrationStatus(ctxT(t), db)
	if err != nil {
		t.Fatalf("MigrationStatus: %v", err)
	}
	var out []int64
	for _, m := range st {
		if m.Applied {
			out = append(out, m.Version)
		}
	}
	return out
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	// Every migration file this package embeds, by the number its name begins with (numbers are reserved per
	// change, so one may be missing while another change that has it is under way).
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil || len(files) < 5 {
		t.Fatalf("migrations: %v, %d files", err, len(files))
	}
	var want []int64
	for _, f := range files {
		n, err := strconv.ParseInt(strings.SplitN(filepath.Base(f), "_", 2)[0], 10, 64)
		if err != nil {
			t.Fatalf("migration %s: no number: %v", f, err)
		}
		want = append(want, n)
	}

	t.Run("apply_twice_changes_nothing", func(t *testing.T) {
		t.Parallel()
		db := openDB(t, dbtest.NewEmpty(t))
		ctx := ctxT(t)
		if got := appliedVersions(t, db); len(got) != 0 {
			t.Fatalf("fresh database has migrations %v", got)
		}
		for i := range 2 {
			if err := store.Migrate(ctx, db); err != nil {
				t.Fatalf("Migrate #%d: %v", i+1, err)
			}
			if diff := cmp.Diff(want, appliedVersions(t, db)); diff != "" {
				t.Fatalf("applied versions after Migrate #%d (-want +got):\n%s", i+1, diff)
			}
		}
	})

	t.Run("concurrent_starts_both_succeed", func(t *testing.T) {
		t.Parallel()
		// The api and the worker roles migrate at start-up; the advisory lock must let both through.
		db := openDB(t, dbtest.NewEmpty(t))
		ctx := ctxT(t)
		for i, err := range parallel(func() error { return store.Migrate(ctx, db) }, func() error { return store.Migrate(ctx, db) }) {
			if err != nil {
				t.Errorf("Migrate #%d: %v", i+1, err)
			}
		}
		if diff := cmp.Diff(want, appliedVersions(t, db)); diff != "" {
			t.Fatalf("applied versions (-want +got):\n%s", diff)
		}
	})

	t.Run("down_to_zero_and_up_again_seeds", func(t *testing.T) {
		t.Parallel()
		dsn := dbtest.NewDSN(t) // migrated and seeded
		db := openDB(t, dsn)
		ctx := ctxT(t)
		if err := store.MigrateDownTo(ctx, db, 0); err != nil {
			t.Fatalf("down: %v", err)
		}
		if got := appliedVersions(t, db); len(got) != 0 {
			t.Fatalf("after down to 0, applied = %v", got)
		}
		if err := store.Migrate(ctx, db); err != nil {
			t.Fatalf("up again: %v", err)
		}
		s, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		created, err := s.SeedPlan(ctx, viborg(t))
		if err != nil || !created {
			t.Fatalf("SeedPlan on the rebuilt schema = %v, %v; want true, nil", created, err)
		}
	})
}
