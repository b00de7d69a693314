package devstack

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// minPostgresMajor is the oldest PostgreSQL the migrations are written for.
const minPostgresMajor = 15

// Files of the private cluster that this package owns (the rest belongs to PostgreSQL).
const (
	// settingsFile is rewritten on every start with the port and addresses, and included from postgresql.conf.
	// Keeping them out of the pg_ctl command line avoids quoting paths through pg_ctl's shell.
	settingsFile = "helhedsplan.conf"
	serverLog    = "server.log"
)

// pgBinDirs are searched, besides PATH, for initdb and pg_ctl. Distribution packages do not put them on PATH
// (Debian keeps them per major version under /usr/lib/postgresql).
var pgBinDirs = []string{
	"/usr/lib/postgresql/*/bin",
	"/usr/pgsql-*/bin",
	"/opt/homebrew/opt/postgresql@*/bin",
	"/usr/local/opt/postgresql@*/bin",
}

// pgInstall is one PostgreSQL installation: a directory with initdb and pg_ctl.
type pgInstall struct {
	dir   string
	major int
	minor int
}

func (i pgInstall) bin(name string) string { return filepath.Join(i.dir, name) }

// startCluster initialises the private cluster on first use, starts it (or adopts it if a previous run left it
// running) and creates the database.
func startCluster(ctx context.Context, cfg PostgresConfig) (*Postgres, error) {
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("private PostgreSQL: data dir: %w", err)
	}
	pgdata := clusterDir(dataDir)
	shown := displayPath(pgdata)

	clusterMajor, err := clusterVersion(pgdata)
	if err != nil {
		return nil, err
	}
	install, err := findPostgres(clusterMajor)
	if err != nil {
		return nil, err
	}
	runner, err := newPGRunner(pgdata)
	if err != nil {
		return nil, err
	}

	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("private PostgreSQL: create data dir: %w", err)
	}
	if changed, err := runner.allowSearch(dataDir); err != nil {
		return nil, err
	} else if changed {
		cfg.Logger.Info("made the data dir searchable for the PostgreSQL user (search only, no listing)", "dir", cfg.DataDir, "run_as", runner.userName())
	}
	if clusterMajor == 0 {
		cfg.Logger.Info("initialising private PostgreSQL cluster", "dir", shown, "postgres", install.dir, "run_as", runner.userName())
		if err := initCluster(ctx, install, runner, pgdata); err != nil {
			return nil, err
		}
	}
	if err := runner.checkAccess(pgdata); err != nil {
		return nil, err
	}

	port, running := runningPort(ctx, install, runner, pgdata)
	if !running {
		if port, err = choosePort(pgdata); err != nil {
			return nil, err
		}
		if err := writeSettings(runner, pgdata, port); err != nil {
			return nil, err
		}
		start := time.Now()
		out, err := runner.run(ctx, install.bin("pg_ctl"), "start", "--wait", "--timeout=60", "--silent",
			"-D", pgdata, "-l", filepath.Join(pgdata, serverLog))
		if err != nil {
			return nil, fmt.Errorf("private PostgreSQL: pg_ctl start in %s: %w\n%s%s", shown, err, out, logTail(pgdata))
		}
		cfg.Logger.Info("started private PostgreSQL cluster", "dir", shown, "port", port, "startup", time.Since(start).Round(time.Millisecond))
	} else {
		// A previous `helhedsplan dev` that was killed leaves the cluster running (pg_ctl detaches it); using it
		// is faster than restarting and loses nothing.
		cfg.Logger.Info("using already running private PostgreSQL cluster", "dir", shown, "port", port)
	}

	stop := func() error {
		if _, err := os.Stat(filepath.Join(pgdata, "postmaster.pid")); errors.Is(err, os.ErrNotExist) {
			return nil // already stopped, e.g. through another handle on the same cluster
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := runner.run(ctx, install.bin("pg_ctl"), "stop", "--wait", "--silent", "-m", "fast", "-D", pgdata)
		if err != nil {
			return fmt.Errorf("private PostgreSQL: pg_ctl stop in %s: %w\n%s", shown, err, out)
		}
		return nil
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	dsn, err := ensureDatabase(ctx, addr, cfg.DatabaseName)
	if err != nil {
		_ = stop()
		return nil, fmt.Errorf("private PostgreSQL in %s: %w", shown, err)
	}
	return &Postgres{
		dsn:    dsn,
		source: fmt.Sprintf("private cluster in %s on port %d", shown, port),
		stop:   stop,
	}, nil
}

// displayPath shortens path to one relative to the working directory when it lies below it: the start-up banner's
// ".data/postgres" says more at a glance than an absolute path.
func displayPath(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	rel, err := filepath.Rel(wd, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return path
	}
	return rel
}

// clusterVersion returns the major version of the cluster in pgdata, or 0 if there is none yet.
func clusterVersion(pgdata string) (int, error) {
	b, err := os.ReadFile(filepath.Join(pgdata, "PG_VERSION"))
	if errors.Is(err, os.ErrNotExist) {
		entries, dirErr := os.ReadDir(pgdata)
		if dirErr == nil && len(entries) > 0 {
			// initdb cleans up after itself when it fails, so this is not ours; refuse to guess what it is.
			return 0, fmt.Errorf("private PostgreSQL: %s is not empty but holds no cluster (no PG_VERSION); move it away or remove it", pgdata)
		}
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("private PostgreSQL: %w", err)
	}
	major, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("private PostgreSQL: %s/PG_VERSION: %w", pgdata, err)
	}
	return major, nil
}

// findPostgres returns the newest installation, or the one matching an existing cluster's major version (a
// cluster's files can only be opened by the major version that created them).
func findPostgres(clusterMajor int) (pgInstall, error) {
	installs := pgInstalls()
	if len(installs) == 0 {
		return pgInstall{}, fmt.Errorf("%w (no initdb and pg_ctl on PATH or under %s)", ErrNoPostgres, strings.Join(pgBinDirs, ", "))
	}
	if clusterMajor != 0 {
		for _, in := range installs {
			if in.major == clusterMajor {
				return in, nil
			}
		}
		return pgInstall{}, fmt.Errorf("private PostgreSQL: the cluster was created by PostgreSQL %d, which is no longer installed (found %d); install it again, or remove the cluster directory to start over",
			clusterMajor, installs[0].major)
	}
	if installs[0].major < minPostgresMajor {
		return pgInstall{}, fmt.Errorf("%w (newest found is %d.%d in %s)", ErrNoPostgres, installs[0].major, installs[0].minor, installs[0].dir)
	}
	return installs[0], nil
}

var pgVersionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)(?:\.(\d+))?`)

// pgInstalls lists the installations found, newest first.
func pgInstalls() []pgInstall {
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, pattern := range pgBinDirs {
		m, _ := filepath.Glob(pattern)
		dirs = append(dirs, m...)
	}
	seen := map[string]bool{}
	var installs []pgInstall
	for _, dir := range dirs {
		if real, err := filepath.EvalSymlinks(filepath.Join(dir, "pg_ctl")); err == nil {
			// /usr/local/bin/pg_ctl is often a link into /usr/lib/postgresql/N/bin; count it once.
			if seen[filepath.Dir(real)] {
				continue
			}
			seen[filepath.Dir(real)] = true
		}
		if !isExecutable(filepath.Join(dir, "initdb")) || !isExecutable(filepath.Join(dir, "pg_ctl")) {
			continue
		}
		out, err := exec.Command(filepath.Join(dir, "pg_ctl"), "--version").Output()
		if err != nil {
			continue
		}
		m := pgVersionRE.FindSubmatch(out)
		if m == nil {
			continue
		}
		in := pgInstall{dir: dir}
		in.major, _ = strconv.Atoi(string(m[1]))
		in.minor, _ = strconv.Atoi(string(m[2]))
		installs = append(installs, in)
	}
	sort.SliceStable(installs, func(i, j int) bool {
		if installs[i].major != installs[j].major {
			return installs[i].major > installs[j].major
		}
		return installs[i].minor > installs[j].minor
	})
	return installs
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// initCluster runs initdb. Trust authentication is safe because the cluster listens only on 127.0.0.1 and its
// socket directory is inside the data directory (mode 0700). The C locale makes the cluster independent of the
// locales installed on the machine; the application must not depend on collation order.
func initCluster(ctx context.Context, install pgInstall, runner pgRunner, pgdata string) error {
	if err := os.MkdirAll(pgdata, 0o700); err != nil {
		return fmt.Errorf("private PostgreSQL: create %s: %w", pgdata, err)
	}
	if err := runner.own(pgdata); err != nil {
		return err
	}
	if err := runner.checkAccess(pgdata); err != nil {
		return err
	}
	out, err := runner.run(ctx, install.bin("initdb"), "-D", pgdata, "-U", "postgres", "--auth=trust",
		"-E", "UTF8", "--locale=C", "--no-instructions")
	if err != nil {
		return fmt.Errorf("private PostgreSQL: initdb %s: %w\n%s", pgdata, err, out)
	}
	conf := filepath.Join(pgdata, "postgresql.conf")
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("private PostgreSQL: %w", err)
	}
	_, werr := fmt.Fprintf(f, "\n# Added by helhedsplan dev: port and addresses, rewritten on every start.\ninclude_if_exists = '%s'\n", settingsFile)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("private PostgreSQL: %s: %w", conf, werr)
	}
	return nil
}

// runningPort returns the port of the cluster if it is already running.
func runningPort(ctx context.Context, install pgInstall, runner pgRunner, pgdata string) (int, bool) {
	pid, err := os.ReadFile(filepath.Join(pgdata, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	// A postmaster.pid left by a crash is stale; pg_ctl status checks that the process is alive.
	if _, err := runner.run(ctx, install.bin("pg_ctl"), "status", "-D", pgdata); err != nil {
		return 0, false
	}
	// The fourth line of postmaster.pid is the port.
	lines := strings.Split(string(pid), "\n")
	if len(lines) < 4 {
		return 0, false
	}
	port, err := strconv.Atoi(strings.TrimSpace(lines[3]))
	if err != nil {
		return 0, false
	}
	return port, true
}

// choosePort reuses the port of the previous run when it is free, so a psql session or a database tool configured
// yesterday still connects, and otherwise picks a free one.
func choosePort(pgdata string) (int, error) {
	if prev := previousPort(pgdata); prev != 0 {
		if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(prev))); err == nil {
			_ = l.Close()
			return prev, nil
		}
	}
	return freePort("127.0.0.1")
}

func previousPort(pgdata string) int {
	f, err := os.Open(filepath.Join(pgdata, settingsFile))
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), "=")
		if ok && strings.TrimSpace(k) == "port" {
			p, _ := strconv.Atoi(strings.TrimSpace(v))
			return p
		}
	}
	return 0
}

// maxSocketPath is the usable length of a Unix socket path (sun_path is 108 bytes on Linux, 104 on macOS).
const maxSocketPath = 103

func writeSettings(runner pgRunner, pgdata string, port int) error {
	socketDir := pgdata
	if len(filepath.Join(pgdata, ".s.PGSQL."+strconv.Itoa(port))) > maxSocketPath {
		// The path is too long for a socket; TCP alone is enough, since everything connects through it.
		socketDir = ""
	}
	settings := fmt.Sprintf(`# Written by helhedsplan dev on every start; edits are lost.
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
`, port, strings.ReplaceAll(socketDir, "'", "''"))
	path := filepath.Join(pgdata, settingsFile)
	if err := os.WriteFile(path, []byte(settings), 0o600); err != nil {
		return fmt.Errorf("private PostgreSQL: %w", err)
	}
	return runner.own(path)
}

// logTail returns the end of the server log, which says why a start failed far better than pg_ctl does.
func logTail(pgdata string) string {
	b, err := os.ReadFile(filepath.Join(pgdata, serverLog))
	if err != nil || len(b) == 0 {
		return ""
	}
	const max = 2000
	if len(b) > max {
		b = b[len(b)-max:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return "server log:\n" + string(b)
}
