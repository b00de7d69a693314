//go:build nodev

package main

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/helhedsplan/helhedsplan/config"
)

// runChaos needs the embedded Temporal server and the private PostgreSQL cluster, which production builds
// (-tags nodev) leave out.
func runChaos(context.Context, config.Config, *slog.Logger, []string, io.Writer) error {
	return errors.New("this binary is built without the chaos role (-tags nodev)")
}

// runTemporal runs the embedded Temporal server, which production builds (-tags nodev) leave out.
func runTemporal(context.Context, config.Config, *slog.Logger, []string, io.Writer) error {
	return errors.New("this binary is built without the temporal role (-tags nodev)")
}
