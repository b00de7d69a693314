//go:build unix

package devstack

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
)

// lockFile takes an exclusive advisory lock on path, creating it if needed. Two Temporal servers writing one SQLite
// file corrupt each other's shard ownership; the lock turns that into a clear error. The kernel drops the lock
// when the process dies, so a crash never leaves a stale lock behind.
func lockFile(path string) (release func() error, err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrDataDirInUse
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// Closing the descriptor releases the lock; once, however often release is called.
	return sync.OnceValue(f.Close), nil
}
