//go:build unix && !linux

package chaos

import "syscall"

// childAttr puts a child in its own process group, so one signal reaches everything it started. Only Linux has a
// parent-death signal; elsewhere the suite's deferred clean-up is what stops the children.
func childAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Credential: cred}
}
