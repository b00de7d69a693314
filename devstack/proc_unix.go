//go:build unix

package devstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// pgRunner runs the PostgreSQL programs. initdb, pg_ctl and postgres refuse to run as root (a server bug must not
// become a root compromise), and containers and CI often run as root; so as root they run as an unprivileged user
// instead: the postgres system user the packages create, or nobody. The switch uses the process credentials of
// the child (setuid/setgid in the forked process), which needs neither sudo nor runuser.
type pgRunner struct {
	cred   *syscall.Credential // nil: run as this process's user
	name   string
	groups []uint32 // the user's groups, for the permission check
	dir    string   // working directory, which the user must be able to enter
}

func newPGRunner(pgdata string) (pgRunner, error) {
	r := pgRunner{dir: filepath.Dir(pgdata)}
	if os.Geteuid() != 0 {
		return r, nil
	}
	u, err := PostgresUser()
	if err != nil {
		return r, fmt.Errorf("private PostgreSQL: %w; create one (useradd --system postgres), run as a normal user, or set DATABASE_URL", err)
	}
	r.name, r.cred, r.groups = u.Name, u.Cred, u.Groups
	return r, nil
}

// UnprivilegedUser is the user a PostgreSQL cluster started by a root process runs as.
type UnprivilegedUser struct {
	Name   string
	Cred   *syscall.Credential // for exec.Cmd.SysProcAttr.Credential
	Groups []uint32            // the user's groups, for permission checks
}

// PostgresUser picks the user a private PostgreSQL cluster runs as when this process is root (PostgreSQL refuses
// to run as root): "postgres", else "nobody". The chaos suite's cluster uses it too.
func PostgresUser() (UnprivilegedUser, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil || uid == 0 {
			continue
		}
		out := UnprivilegedUser{Name: name, Cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}},
			Groups: []uint32{uint32(gid)}}
		if ids, err := u.GroupIds(); err == nil {
			for _, id := range ids {
				if g, err := strconv.ParseUint(id, 10, 32); err == nil {
					out.Groups = append(out.Groups, uint32(g))
				}
			}
		}
		return out, nil
	}
	return UnprivilegedUser{}, errors.New("running as root, and PostgreSQL refuses to run as root, but there is no postgres or nobody user to run it as")
}

// userName is who the cluster runs as, for log lines.
func (r pgRunner) userName() string {
	if r.cred == nil {
		return strconv.Itoa(os.Geteuid())
	}
	return r.name
}

// own gives path to the user the cluster runs as.
func (r pgRunner) own(path string) error {
	if r.cred == nil {
		return nil
	}
	if err := os.Lchown(path, int(r.cred.Uid), int(r.cred.Gid)); err != nil {
		return fmt.Errorf("private PostgreSQL: hand %s to user %s: %w", path, r.name, err)
	}
	return nil
}

// allowSearch lets the cluster's user pass through dir (the data directory, which this package owns) by adding
// the search bit for others, when it lacks one. The dev role creates its data directory 0700 to keep its secrets
// private; search without read still lets nobody list it, and the secrets are 0600 files.
func (r pgRunner) allowSearch(dir string) (changed bool, err error) {
	if r.cred == nil {
		return false, nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return false, fmt.Errorf("private PostgreSQL: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || r.canSearch(fi.Mode().Perm(), st.Uid, st.Gid) {
		return false, nil
	}
	if err := os.Chmod(dir, fi.Mode().Perm()|0o001); err != nil {
		return false, fmt.Errorf("private PostgreSQL: let user %s through %s: %w", r.name, dir, err)
	}
	return true, nil
}

// checkAccess fails with an actionable message when the user the cluster runs as cannot reach pgdata, which
// happens as root when a parent directory is private (mode 0700, as /root and Go test temp dirs are). initdb would
// fail with a bare "permission denied" instead.
func (r pgRunner) checkAccess(pgdata string) error {
	if r.cred == nil {
		return nil
	}
	for dir := filepath.Dir(pgdata); ; dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("private PostgreSQL: %w", err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if ok && !r.canSearch(fi.Mode().Perm(), st.Uid, st.Gid) {
			return fmt.Errorf("private PostgreSQL: running as root, the cluster runs as user %s (PostgreSQL refuses root), "+
				"but %s (mode %04o) does not let that user through; chmod o+x it, use a data dir elsewhere, run as a normal user, or set DATABASE_URL",
				r.name, dir, fi.Mode().Perm())
		}
		if parent := filepath.Dir(dir); parent == dir {
			return nil
		}
	}
}

func (r pgRunner) canSearch(perm os.FileMode, uid, gid uint32) bool {
	switch {
	case uid == r.cred.Uid:
		return perm&0o100 != 0
	case slices.Contains(r.groups, gid):
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}

// run runs a PostgreSQL program as the cluster's user and returns its combined output.
func (r pgRunner) run(ctx context.Context, bin string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = r.dir
	cmd.Env = pgEnv()
	if r.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: r.cred}
	}
	return cmd.CombinedOutput()
}

// pgEnv is this process's environment without PG* variables: a developer's PGDATA, PGPORT or PGHOST must not
// redirect the private cluster's programs to another cluster.
func pgEnv() []string {
	env := os.Environ()
	return slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "PG") })
}
