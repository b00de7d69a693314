//go:build unix

package chaos

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/lib/pq" // database/sql driver for the readiness probe

	"github.com/helhedsplan/helhedsplan/devstack"
)

// cluster is the suite's private PostgreSQL cluster. The postmaster runs in the foreground as a child of the suite
// (so it dies with the suite), and is stopped for the outages with `pg_ctl stop -m immediate` — the same crash-like
// stop an operator or an OOM killer would cause — then started again on the same port and data directory.
//
// PostgreSQL refuses to run as root. As root, every PostgreSQL program runs as the postgres system user (or
// nobody) through the child's process credentials, as devstack does for `helhedsplan dev`.
type cluster struct {
	binDir string
	pgdata string
	port   int
	cred   *syscall.Credential
	runAs  string
	post   *proc
}

// newCluster finds the PostgreSQL binaries, initialises a cluster in dir/postgres listening only on 127.0.0.1:port
// and prepares (but does not start) its postmaster. dir must be searchable by the cluster's user.
func newCluster(ctx context.Context, dir string, port int, logPath string, onExit func(*proc, error)) (*cluster, error) {
	binDir, err := findPostgresBin()
	if err != nil {
		return nil, err
	}
	c := &cluster{binDir: binDir, pgdata: filepath.Join(dir, "postgres"), port: port}
	if os.Geteuid() == 0 {
		if err := c.pickUser(); err != nil {
			return nil, err
		}
		if err := c.checkSearchable(dir); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(c.pgdata, 0o700); err != nil {
		return nil, err
	}
	if c.cred != nil {
		if err := os.Chown(c.pgdata, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return nil, fmt.Errorf("hand %s to %s: %w", c.pgdata, c.runAs, err)
		}
	}
	if out, err := c.run(ctx, "initdb", "-D", c.pgdata, "-U", "postgres", "--auth=trust", "-E", "UTF8",
		"--locale=C", "--no-instructions"); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	// Loopback only, TCP only (a socket path under a temp dir can exceed the 107-byte limit), and enough
	// connections for three pools of 20 plus the suite's own.
	conf := fmt.Sprintf(`
# helhedsplan chaos suite
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = ''
max_connections = 200
log_min_messages = warning
log_line_prefix = '%%m [%%p] '
`, port)
	f, err := os.OpenFile(filepath.Join(c.pgdata, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	if _, err := f.WriteString(conf); err != nil {
		_ = f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	c.post = &proc{
		name: "postgres", path: filepath.Join(binDir, "postgres"), args: []string{"-D", c.pgdata},
		env: pgEnv(), dir: dir, logPath: logPath, cred: c.cred, onUnexpectedExit: onExit,
	}
	return c, nil
}

// dsn is the connection URL of database db.
func (c *cluster) dsn(db string) string {
	u := url.URL{Scheme: "postgres", User: url.User("postgres"), Host: fmt.Sprintf("127.0.0.1:%d", c.port),
		Path: "/" + db, RawQuery: "sslmode=disable&connect_timeout=5"}
	return u.String()
}

// start starts the postmaster and waits until it accepts connections (crash recovery included).
func (c *cluster) start(ctx context.Context) error {
	if err := c.post.start(); err != nil {
		return err
	}
	return c.waitReady(ctx, 2*time.Minute)
}

func (c *cluster) waitReady(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	db, err := sql.Open("postgres", c.dsn("postgres"))
	if err != nil {
		return err
	}
	defer db.Close()
	var lastErr error
	for {
		if !c.post.running() {
			return fmt.Errorf("postgres exited during start-up (see %s)", c.post.logPath)
		}
		pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
		lastErr = db.PingContext(pctx)
		pcancel()
		if lastErr == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("postgres not ready: %w (last error: %v)", ctx.Err(), lastErr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stopImmediate is `pg_ctl stop -m immediate`: every server process quits at once without a checkpoint, as in a
// crash; the next start runs crash recovery.
func (c *cluster) stopImmediate(ctx context.Context) error {
	_, done := c.post.expectExit()
	out, err := c.run(ctx, "pg_ctl", "stop", "-D", c.pgdata, "-m", "immediate", "-w", "-t", "60")
	if err != nil {
		return fmt.Errorf("pg_ctl stop -m immediate: %w\n%s", err, out)
	}
	if done != nil {
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			return errors.New("postgres did not exit 30 s after pg_ctl stop -m immediate")
		}
	}
	return nil
}

// stop shuts the cluster down at the end of the run: fast (clean) if possible, killed otherwise.
func (c *cluster) stop() error {
	if c == nil || c.post == nil || !c.post.running() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = c.post.expectExit()
	if _, err := c.run(ctx, "pg_ctl", "stop", "-D", c.pgdata, "-m", "fast", "-w", "-t", "20"); err == nil {
		select {
		case <-c.post.wait():
			return nil
		case <-time.After(10 * time.Second):
		}
	}
	return c.post.kill()
}

// run runs a PostgreSQL program as the cluster's user and returns its combined output.
func (c *cluster) run(ctx context.Context, prog string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, prog), args...)
	cmd.Env = pgEnv()
	cmd.Dir = filepath.Dir(c.pgdata)
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd.CombinedOutput()
}

// pickUser chooses the unprivileged user the cluster runs as when the suite runs as root (as `helhedsplan dev`
// does for its private cluster).
func (c *cluster) pickUser() error {
	u, err := devstack.PostgresUser()
	if err != nil {
		return err
	}
	c.runAs, c.cred = u.Name, u.Cred
	return nil
}

// checkSearchable fails with an actionable message if the cluster's user cannot reach dir (a 0700 parent such as
// /root would make initdb fail with a bare "permission denied").
func (c *cluster) checkSearchable(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			st, ok := fi.Sys().(*syscall.Stat_t)
			if !ok || st.Uid != c.cred.Uid {
				return fmt.Errorf("the private cluster runs as user %s, who cannot enter %s (mode %04o); use -dir somewhere else (e.g. /tmp)",
					c.runAs, d, fi.Mode().Perm())
			}
		}
		if filepath.Dir(d) == d {
			return nil
		}
	}
}

var pgMajorRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)`)

// findPostgresBin returns the directory of the newest PostgreSQL 15+ that has initdb, pg_ctl and postgres.
func findPostgresBin() (string, error) {
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, pattern := range []string{"/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/opt/homebrew/opt/postgresql@*/bin", "/usr/local/opt/postgresql@*/bin"} {
		m, _ := filepath.Glob(pattern)
		dirs = append(dirs, m...)
	}
	type install struct {
		dir   string
		major int
	}
	var found []install
	for _, d := range dirs {
		ok := true
		for _, prog := range []string{"initdb", "pg_ctl", "postgres"} {
			if fi, err := os.Stat(filepath.Join(d, prog)); err != nil || fi.Mode().Perm()&0o111 == 0 {
				ok = false
			}
		}
		if !ok {
			continue
		}
		out, err := exec.Command(filepath.Join(d, "pg_ctl"), "--version").Output()
		if err != nil {
			continue
		}
		m := pgMajorRE.FindSubmatch(out)
		if m == nil {
			continue
		}
		major, _ := strconv.Atoi(string(m[1]))
		found = append(found, install{d, major})
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].major > found[j].major })
	if len(found) == 0 || found[0].major < 15 {
		return "", errors.New("no PostgreSQL 15+ binaries (initdb, pg_ctl, postgres) found on PATH or under /usr/lib/postgresql; install them (apt-get install postgresql)")
	}
	return found[0].dir, nil
}

// pgEnv is the environment without PG* variables, so a developer's PGDATA or PGPORT cannot redirect the private
// cluster's programs to another cluster.
func pgEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "PG") })
}
