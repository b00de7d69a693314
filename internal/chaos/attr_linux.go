package chaos

import "syscall"

// childAttr puts a child in its own process group, so one signal reaches everything it started, and has the
// kernel kill it if the suite dies, so a crashed or killed suite leaves no servers behind. The death signal is
// set after the credential switch (the kernel clears it on setuid), which Go's fork does in that order.
func childAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
}
