//go:build nodev

package main

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/helhedsplan/helhedsplan/config"
)

// runBench needs the embedded Temporal server, which production builds (-tags nodev) leave out.
func runBench(context.Context, config.Config, *slog.Logger, []string, io.Writer) error {
	return errors.New("this binary is built without the bench role (-tags nodev)")
}
