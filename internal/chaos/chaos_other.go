//go:build !unix

package chaos

import (
	"context"
	"errors"
	"io"
)

// Run needs process groups, signals and PostgreSQL's credential switch, which only Unix systems have.
func Run(context.Context, Options, io.Writer) error {
	return errors.New("chaos: the suite runs on Linux and other Unix systems only")
}
