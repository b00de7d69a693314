//go:build unix

package chaos

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// proc is one child process the suite runs, kills and restarts: the Temporal server, the worker, the API or the
// PostgreSQL postmaster. Each start runs in its own process group, so a kill reaches everything the child started,
// and (on Linux) is killed by the kernel if the suite itself dies, so no run leaves orphans behind. Output of
// every start is appended to one log file.
type proc struct {
	name    string
	path    string
	args    []string
	env     []string
	dir     string
	logPath string
	cred    *syscall.Credential // nil: run as the suite's user

	// onUnexpectedExit is told when the process exits without having been asked to; the suite counts it.
	onUnexpectedExit func(p *proc, err error)

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	expected bool // the current run is meant to end (kill or stop was called)
	starts   int
}

// start runs the process. It fails if it is already running.
func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done != nil {
		select {
		case <-p.done:
		default:
			return fmt.Errorf("%s is already running", p.name)
		}
	}
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("%s log: %w", p.name, err)
	}
	p.starts++
	fmt.Fprintf(f, "\n==== chaos: start #%d of %s at %s ====\n", p.starts, p.name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.path, p.args...)
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = p.env, p.dir, f, f
	cmd.SysProcAttr = childAttr(p.cred)
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.expected = cmd, done, false
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(f, "==== chaos: %s (pid %d) exited at %s: %v ====\n", p.name, cmd.Process.Pid, time.Now().Format(time.RFC3339Nano), err)
		_ = f.Close()
		p.mu.Lock()
		expected := p.expected
		p.mu.Unlock()
		close(done)
		if !expected && p.onUnexpectedExit != nil {
			p.onUnexpectedExit(p, err)
		}
	}()
	return nil
}

// pid is the process ID of the current run, or 0.
func (p *proc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// running reports whether the current run has not exited.
func (p *proc) running() bool {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// expectExit marks the current run as meant to end, and returns its done channel (nil if never started).
func (p *proc) expectExit() (pid int, done chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expected = true
	if p.cmd == nil {
		return 0, nil
	}
	return p.cmd.Process.Pid, p.done
}

// kill sends SIGKILL to the process group and waits for the exit.
func (p *proc) kill() error {
	pid, done := p.expectExit()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	default:
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	select {
	case <-done:
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("%s (pid %d) did not exit 30 s after SIGKILL", p.name, pid)
	}
}

// stop sends sig (SIGTERM for a clean shutdown) to the process group, waits up to grace, then kills it.
func (p *proc) stop(sig syscall.Signal, grace time.Duration) error {
	pid, done := p.expectExit()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	default:
	}
	if err := syscall.Kill(-pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %s: %w", p.name, err)
	}
	select {
	case <-done:
		return nil
	case <-time.After(grace):
	}
	return p.kill()
}

// wait returns a channel closed when the current run exits.
func (p *proc) wait() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return p.done
}
