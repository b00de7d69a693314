package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/helhedsplan/helhedsplan/config"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

func TestLedgerVerify(t *testing.T) {
	ctx := context.Background()
	dsn := dbtest.NewDSN(t)
	cfg := config.Config{DatabaseURL: dsn}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	var out bytes.Buffer
	if err := runLedger(ctx, cfg, log, []string{"verify"}, &out); err != nil {
		t.Fatalf("verify on a clean database: %v\n%s", err, out.String())
	}
	for _, want := range []string{"1 planer", "0 indsatser", "0 annullerede indsatser", "0 tilbageførte posteringer",
		"0 udbetalinger trukket tilbage", "ingen brud"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("clean output lacks %q:\n%s", want, out.String())
		}
	}

	// A reservation for an initiative that does not exist, written with the triggers switched off.
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tx, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`SET LOCAL session_replication_role = replica`,
		`INSERT INTO ledger_entries (plan_id, source_id, initiative_id, delaftale_id, kind, amount_ore, idempotency_key)
		 VALUES ('viborg-2021-2025', 'lbf', 'ghost', 'beskaeftigelse', 'reserve', 100, 'reserve/ghost/lbf')`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	out.Reset()
	err = runLedger(ctx, cfg, log, []string{"verify"}, &out)
	if err == nil || !strings.Contains(err.Error(), "[plan_reference] postering reserve/ghost/lbf") {
		t.Fatalf("verify on a broken ledger = %v, want an error naming the first violation", err)
	}
	for _, want := range []string{"2 brud", "[plan_reference]", "[reservation_budget] indsats ghost, kilde lbf"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestLedgerUsage(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{"no_subcommand_usage_and_error", nil, true},
		{"help_usage", []string{"help"}, false},
		{"unknown_subcommand_usage_and_error", []string{"balance"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := runLedger(context.Background(), config.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)), tc.args, &out)
			if (err != nil) != tc.wantErr {
				t.Errorf("error = %v, want error %v", err, tc.wantErr)
			}
			if !strings.Contains(out.String(), "helhedsplan ledger <underkommando>") {
				t.Errorf("no usage printed:\n%s", out.String())
			}
		})
	}
	if err := runLedger(context.Background(), config.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)),
		[]string{"verify"}, io.Discard); err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Errorf("verify without DATABASE_URL = %v, want the DATABASE_URL error", err)
	}
}
