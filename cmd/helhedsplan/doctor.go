package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"

	"go.temporal.io/sdk/client"

	"github.com/helhedsplan/helhedsplan/config"
	"github.com/helhedsplan/helhedsplan/doctor"
	"github.com/helhedsplan/helhedsplan/store"
)

// runDoctor is `helhedsplan doctor [--repair] [--json]`: it compares every open initiative workflow with
// PostgreSQL, prints the differences and a summary, and fails when a difference was not repaired.
func runDoctor(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	repair := fs.Bool("repair", false, "ret det, der kan rettes sikkert (repair what is safe to repair)")
	asJSON := fs.Bool("json", false, "skriv rapporten som JSON (print the report as JSON)")
	concurrency := fs.Int("concurrency", doctor.DefaultConcurrency, "indsatser, der tjekkes samtidig (initiatives checked at once)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var rep doctor.Report
	err := withBackends(ctx, cfg, log, "doctor", func(st *store.Store, c client.Client) error {
		opts := doctor.Options{Repair: *repair, Concurrency: *concurrency}
		if cfg.FinanceWebhookURL == "" {
			// Nothing delivers the outbox without a webhook: its backlog is expected, not a finding.
			opts.OutboxGrace = -1
			log.Info("no finance webhook configured: the outbox is not checked")
		}
		var err error
		rep, err = doctor.Check(ctx, doctor.Deps{Client: c, Store: st, Log: log}, opts)
		return err
	})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printDoctorReport(stdout, rep)
	}
	if n := rep.Unrepaired(); n > 0 {
		return fmt.Errorf("doctor: %d afvigelse(r) er ikke rettet (%d finding(s) not repaired)", n, n)
	}
	return nil
}

// printDoctorReport writes the findings as a table and a summary line.
func printDoctorReport(w io.Writer, rep doctor.Report) {
	if len(rep.Findings) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "INDSATS / INITIATIVE\tART / KIND\tRETTET / REPAIRED\tDETALJER / DETAIL")
		for _, f := range rep.Findings {
			id := f.InitiativeID
			if id == "" {
				id = "-"
			}
			repaired := "nej / no"
			if f.Repaired {
				repaired = "ja / yes"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", id, f.Kind, repaired, strings.ReplaceAll(f.Detail, "\n", " "))
		}
		_ = tw.Flush()
	}
	repaired := len(rep.Findings) - rep.Unrepaired()
	fmt.Fprintf(w, "%d indsatser tjekket, %d afvigelser, %d rettet, %d ikke rettet "+
		"(%d initiatives checked, %d findings, %d repaired, %d not repaired)\n",
		rep.Checked, len(rep.Findings), repaired, rep.Unrepaired(),
		rep.Checked, len(rep.Findings), repaired, rep.Unrepaired())
}
