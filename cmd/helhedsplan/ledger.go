package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/helhedsplan/helhedsplan/config"
	"github.com/helhedsplan/helhedsplan/store"
)

const ledgerUsage = `Brug / usage: helhedsplan ledger <underkommando>

  verify   genberegn alle saldi fra posteringerne og tjek alle penge- og revisionsregler; afslutter med en fejl,
           der nævner det første brud, hvis der er nogen
           (recompute every balance from the rows and check every rule; exits non-zero naming the first violation)

Databasen læses fra DATABASE_URL.
`

// runLedger is `helhedsplan ledger`: tools for the ledger. Today only verify, which operators run after an
// incident, a restore or a chaos run, and which the end-to-end tests run after every scenario.
func runLedger(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stdout, ledgerUsage)
		return fmt.Errorf("angiv en underkommando til ledger (no subcommand given)")
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, ledgerUsage)
		return nil
	case "verify":
		if len(args) > 1 {
			return fmt.Errorf("ledger verify tager ingen argumenter, fik %q (unexpected arguments)", strings.Join(args[1:], " "))
		}
		return runLedgerVerify(ctx, cfg, log, stdout)
	}
	fmt.Fprint(stdout, ledgerUsage)
	return fmt.Errorf("ukendt underkommando til ledger: %q (unknown subcommand)", args[0])
}

// runLedgerVerify prints what was checked and every violation, and fails naming the first one, so a script (or
// CI) stops on a broken ledger and its log says where to start looking.
func runLedgerVerify(ctx context.Context, cfg config.Config, log *slog.Logger, stdout io.Writer) error {
	if err := cfg.RequireDatabase(); err != nil {
		return err
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	r, err := st.VerifyLedgerReport(ctx)
	if err != nil {
		return fmt.Errorf("regnskabet kunne ikke kontrolleres (ledger verify): %w", err)
	}
	fmt.Fprintf(stdout, "Regnskabskontrol / ledger verify\n")
	fmt.Fprintf(stdout, "Kontrolleret / checked: %d planer, %d indsatser, %d hændelser, %d posteringer, %d udbetalinger med %d linjer\n",
		r.Plans, r.Initiatives, r.Events, r.Entries, r.Disbursements, r.DisbursementLines)
	fmt.Fprintf(stdout, "Annulleringer / cancellations: %d annullerede indsatser, %d tilbageførte posteringer (withdraw), "+
		"%d udbetalinger trukket tilbage fra økonomi (withdrawn)\n", r.Cancelled, r.Withdrawals, r.Withdrawn)
	fmt.Fprintf(stdout, "Afslutninger / close-outs: %d indsatser gjort op, %d tilbagebetalinger til opkrævning, "+
		"%d modtaget (refund)\n", r.ClosedOut, r.ReturnsOpen, r.Refunds)
	fmt.Fprintf(stdout, "Regler / rules: %s\n", strings.Join(store.LedgerRules(), ", "))
	log.Info("ledger verified", "initiatives", r.Initiatives, "cancelled", r.Cancelled, "entries", r.Entries,
		"withdrawals", r.Withdrawals, "disbursements", r.Disbursements, "withdrawn", r.Withdrawn,
		"violations", len(r.Violations))
	if len(r.Violations) == 0 {
		fmt.Fprintln(stdout, "Resultat / result: ingen brud på reglerne (clean)")
		return nil
	}
	fmt.Fprintf(stdout, "Resultat / result: %d brud på reglerne (%d violations)\n", len(r.Violations), len(r.Violations))
	for i, v := range r.Violations {
		fmt.Fprintf(stdout, "%4d. [%s] %s: %s\n", i+1, v.Rule, v.Subject, v.Detail)
	}
	first := r.Violations[0]
	return fmt.Errorf("regnskabet har %d brud på reglerne; det første: [%s] %s: %s (ledger verify failed)",
		len(r.Violations), first.Rule, first.Subject, first.Detail)
}
