package main

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/helhedsplan/helhedsplan/config"
)

// runLedger is being written (issue 5): helhedsplan ledger verify.
func runLedger(context.Context, config.Config, *slog.Logger, []string, io.Writer) error {
	return errors.New("ledger: not built yet")
}
