package devstack

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// ErrPortInUse is returned (wrapped, with the address and the environment variable that moves it) when a port the
// dev stack must listen on is taken, typically by another `helhedsplan dev` or a `temporal server start-dev`.
var ErrPortInUse = errors.New("port already in use")

// reservePort listens on host:port so the port is known to be free, and returns the listener; the caller closes it
// right before the real server binds the port. The Temporal server does not return bind errors: it logs them as
// fatal, so finding out first is the only way to give a developer an error they can act on.
func reservePort(host string, port int, what, envVar string) (net.Listener, error) {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if err == nil {
		return l, nil
	}
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("%s: %s is %w (set %s to use another port)", what, addr, ErrPortInUse, envVar)
	}
	return nil, fmt.Errorf("%s: cannot listen on %s (set %s to use another port): %w", what, addr, envVar, err)
}

// freePort asks the kernel for a free port on host. The port is released before it is used, so another process
// could take it in between; for the internal Temporal services that is an acceptable risk on a developer's machine.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port on %s: %w", host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// dialHost is the address clients use to reach a server bound to host: a wildcard bind is reached on loopback.
func dialHost(host string) string {
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if ip.To4() != nil {
			return "127.0.0.1"
		}
		return "::1"
	}
	return host
}
