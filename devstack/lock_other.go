//go:build !unix

package devstack

// lockFile is a no-op where flock is unavailable: a second server on the same data directory is then caught only
// by the frontend port check.
func lockFile(string) (func() error, error) {
	return func() error { return nil }, nil
}
