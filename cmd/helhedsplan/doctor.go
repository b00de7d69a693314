package main

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/helhedsplan/helhedsplan/config"
)

// runDoctor is being written (issue 5).
func runDoctor(context.Context, config.Config, *slog.Logger, []string, io.Writer) error {
	return errors.New("doctor: not built yet")
}
