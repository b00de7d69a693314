//go:build !unix

package devstack

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// pgRunner runs the PostgreSQL programs as this process's user; the run-as-another-user handling for root exists
// only on Unix.
type pgRunner struct{ dir string }

func newPGRunner(pgdata string) (pgRunner, error) { return pgRunner{dir: filepath.Dir(pgdata)}, nil }

func (pgRunner) userName() string                 { return "current user" }
func (pgRunner) own(string) error                 { return nil }
func (pgRunner) checkAccess(string) error         { return nil }
func (pgRunner) allowSearch(string) (bool, error) { return false, nil }

func (r pgRunner) run(ctx context.Context, bin string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = r.dir
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(strings.ToUpper(kv), "PG") })
	return cmd.CombinedOutput()
}
