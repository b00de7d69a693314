//go:build nodev

package main

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/helhedsplan/helhedsplan/config"
)

// runDev is absent from production builds (-tags nodev), which carry no Temporal server code.
func runDev(context.Context, config.Config, *slog.Logger, io.Writer) error {
	return errors.New("this binary is built without the dev role (-tags nodev); use api, worker and migrate")
}
