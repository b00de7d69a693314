//go:build !nodev

package main

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/helhedsplan/helhedsplan/config"
)

// runChaos is being written (issue 5).
func runChaos(context.Context, config.Config, *slog.Logger, []string, io.Writer) error {
	return errors.New("chaos: not built yet")
}

// runTemporal is being written (issue 5).
func runTemporal(context.Context, config.Config, *slog.Logger, []string, io.Writer) error {
	return errors.New("temporal: not built yet")
}
