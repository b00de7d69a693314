package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/common/primitives/timestamp"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

// Defaults of TemporalConfig. They match `temporal server start-dev`, so tools and habits built around it (the
// temporal CLI, bookmarks of the UI) work unchanged.
const (
	DefaultHost         = "127.0.0.1"
	DefaultFrontendPort = 7233
	DefaultUIPort       = 8233
	DefaultNamespace    = "default"
)

// Environment variables named in port errors. The dev role reads them; they are named here so the error tells a
// developer exactly what to change.
const (
	FrontendPortEnv = "HELHEDSPLAN_TEMPORAL_PORT"
	UIPortEnv       = "HELHEDSPLAN_UI_PORT"
)

// ErrDataDirInUse is returned when another process runs a Temporal server on the same data directory.
var ErrDataDirInUse = errors.New("data directory is in use by another Temporal dev server")

const (
	// clusterName is stored in every namespace record, so it must never change between runs on one database.
	clusterName = "active"
	// dataStoreName names the one SQLite store used for both executions and visibility.
	dataStoreName = "sqlite-default"
	// dbFileName is the SQLite file under TemporalConfig.DataDir.
	dbFileName = "temporal.db"
	// namespaceRetention is how long closed workflows stay visible in a namespace this package creates. The
	// server's 24 h default hides yesterday's completed initiative before anyone looked at it in the UI.
	namespaceRetention = 7 * 24 * time.Hour
	// startTimeout bounds start-up when the caller's context has no deadline: a server that is not answering
	// after this long is broken, and hanging would hide that.
	startTimeout = 2 * time.Minute
)

// TemporalConfig configures StartTemporal. The zero value of each field except UIPort means its default;
// DefaultTemporalConfig returns a config with every default filled in, including the UI port.
type TemporalConfig struct {
	// DataDir holds the SQLite database (temporal.db) that keeps workflows across restarts. Required; created if
	// missing.
	DataDir string
	// Host is the address every Temporal service and the UI bind to. Default 127.0.0.1: a dev server has no
	// authentication and must not be reachable from the network.
	Host string
	// FrontendPort is the gRPC port clients and workers dial. Default 7233.
	FrontendPort int
	// UIPort is the Web UI's HTTP port. 0 disables the UI (DefaultUIPort is 8233): headless runs such as tests
	// have no use for it.
	UIPort int
	// Namespace is created on start if it does not exist. Default "default".
	Namespace string
	// Logger receives the server's logs and this package's own. Default slog.Default().
	Logger *slog.Logger
	// LogLevel is the lowest level of the server's own logs that reaches Logger. Default warn: the server's info
	// logs are a constant stream of membership and shard chatter.
	LogLevel slog.Leveler
}

// DefaultTemporalConfig returns the configuration `helhedsplan dev` uses unless told otherwise.
func DefaultTemporalConfig(dataDir string) TemporalConfig {
	return TemporalConfig{
		DataDir:      dataDir,
		Host:         DefaultHost,
		FrontendPort: DefaultFrontendPort,
		UIPort:       DefaultUIPort,
		Namespace:    DefaultNamespace,
	}
}

func (c *TemporalConfig) applyDefaults() {
	if c.Host == "" {
		c.Host = DefaultHost
	}
	if c.FrontendPort == 0 {
		c.FrontendPort = DefaultFrontendPort
	}
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.LogLevel == nil {
		c.LogLevel = slog.LevelWarn
	}
}

func (c *TemporalConfig) validate() error {
	if c.DataDir == "" {
		return errors.New("temporal dev server: DataDir is required")
	}
	if net.ParseIP(c.Host) == nil {
		return fmt.Errorf("temporal dev server: Host %q is not an IP address", c.Host)
	}
	if c.FrontendPort < 0 || c.FrontendPort > 65535 {
		return fmt.Errorf("temporal dev server: frontend port %d out of range (%s)", c.FrontendPort, FrontendPortEnv)
	}
	if c.UIPort < 0 || c.UIPort > 65535 {
		return fmt.Errorf("temporal dev server: UI port %d out of range (%s)", c.UIPort, UIPortEnv)
	}
	if c.UIPort != 0 && c.UIPort == c.FrontendPort {
		return fmt.Errorf("temporal dev server: frontend and UI both on port %d (%s, %s)", c.UIPort, FrontendPortEnv, UIPortEnv)
	}
	return nil
}

// Temporal is a running in-process Temporal server, and its Web UI unless disabled.
type Temporal struct {
	server       temporal.Server
	ui           *uiserver.Server
	uiDone       chan struct{}
	frontendAddr string
	uiAddr       string
	namespace    string
	unlock       func() error
	logger       *slog.Logger
	logLevel     *serverLogLevel

	stopOnce sync.Once
	stopErr  error
}

// StartTemporal starts a Temporal server (frontend, history, matching and worker services) in this process,
// persisted to <DataDir>/temporal.db, and returns once the frontend answers for cfg.Namespace. The schema is
// created when the file is new and the namespace when it is missing, so the first run needs no setup and later
// runs find their workflows where they left them. ctx bounds start-up only; call Stop to shut down.
func StartTemporal(ctx context.Context, cfg TemporalConfig) (_ *Temporal, err error) {
	started := time.Now()
	cfg.applyDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, startTimeout)
		defer cancel()
	}

	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("temporal dev server: data dir: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("temporal dev server: create data dir: %w", err)
	}
	unlock, err := lockFile(filepath.Join(dataDir, "temporal.lock"))
	if err != nil {
		if errors.Is(err, ErrDataDirInUse) {
			return nil, fmt.Errorf("temporal dev server: %s: %w (is another `helhedsplan dev` running?)", dataDir, err)
		}
		return nil, fmt.Errorf("temporal dev server: %w", err)
	}
	defer func() {
		if err != nil {
			_ = unlock()
		}
	}()

	// Check both public ports before building anything: the server reports a taken port as a fatal log line, and
	// the UI server exits the process, neither of which a developer can act on.
	frontendHold, err := reservePort(cfg.Host, cfg.FrontendPort, "Temporal frontend", FrontendPortEnv)
	if err != nil {
		return nil, err
	}
	defer frontendHold.Close() // closing twice is harmless
	var uiHold net.Listener
	if cfg.UIPort != 0 {
		if uiHold, err = reservePort(cfg.Host, cfg.UIPort, "Temporal UI", UIPortEnv); err != nil {
			return nil, err
		}
		defer uiHold.Close()
	}

	sqlCfg, err := prepareDatabase(filepath.Join(dataDir, dbFileName), cfg.Namespace)
	if err != nil {
		return nil, err
	}
	serverCfg, hosts, err := buildServerConfig(cfg, sqlCfg)
	if err != nil {
		return nil, err
	}
	logLevel := &serverLogLevel{base: cfg.LogLevel}
	opts, err := serverOptions(serverCfg, hosts, newServerLogger(cfg.Logger, logLevel))
	if err != nil {
		return nil, err
	}
	// The server binds its gRPC ports while it is constructed, so the frontend port is released just before; the
	// UI port stays held until the UI starts.
	_ = frontendHold.Close()
	srv, err := newServer(opts)
	if err != nil {
		return nil, err
	}
	t := &Temporal{
		server:       srv,
		frontendAddr: serverCfg.PublicClient.HostPort,
		namespace:    cfg.Namespace,
		unlock:       unlock,
		logger:       cfg.Logger,
		logLevel:     logLevel,
	}
	defer func() {
		if err != nil {
			_ = t.Stop()
		}
	}()
	if err := waitForFrontend(ctx, t.frontendAddr, cfg.Namespace); err != nil {
		return nil, err
	}
	if cfg.UIPort != 0 {
		if err := t.startUI(ctx, cfg, uiHold); err != nil {
			return nil, err
		}
	}
	cfg.Logger.Info("temporal dev server ready",
		"frontend", t.frontendAddr, "ui", t.uiAddr, "namespace", t.namespace,
		"db", sqlCfg.DatabaseName, "startup", time.Since(started).Round(time.Millisecond))
	return t, nil
}

// FrontendAddr is the host:port clients and workers dial.
func (t *Temporal) FrontendAddr() string { return t.frontendAddr }

// UIAddr is the host:port of the Web UI (open http://<UIAddr>), or "" when the UI is disabled.
func (t *Temporal) UIAddr() string { return t.uiAddr }

// Namespace is the namespace StartTemporal ensured exists.
func (t *Temporal) Namespace() string { return t.namespace }

// Stop shuts down the UI and then the server, letting in-flight requests and shard writes finish, and releases
// the data directory. It is safe to call more than once.
func (t *Temporal) Stop() error {
	t.stopOnce.Do(func() {
		t.logLevel.stopping.Store(true)
		var errs []error
		if t.ui != nil {
			t.ui.Stop()
			select {
			case <-t.uiDone:
			case <-time.After(5 * time.Second):
				errs = append(errs, errors.New("temporal UI did not stop within 5s"))
			}
		}
		if err := t.server.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop temporal server: %w", err))
		}
		if err := t.unlock(); err != nil {
			errs = append(errs, fmt.Errorf("release data dir lock: %w", err))
		}
		t.stopErr = errors.Join(errs...)
	})
	return t.stopErr
}

// prepareDatabase returns the SQLite persistence config for path, creating the schema if the file is new and the
// namespace if it is missing. Both happen before the server starts: the server neither creates a schema nor, in
// single-cluster mode, serves namespace registration until its own system namespace exists.
func prepareDatabase(path, namespace string) (*config.SQL, error) {
	sqlCfg := &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: path,
		ConnectAttributes: map[string]string{
			"mode": "rwc",
			// WAL: a commit appends to one log file instead of rewriting pages through a rollback journal, which
			// makes the server's many small writes (shard updates, timers) several times cheaper. It stays
			// crash-safe; synchronous=normal only risks the last commits on power loss, not corruption.
			"journal_mode": "wal",
			"synchronous":  "normal",
		},
	}
	info, statErr := os.Stat(path)
	switch {
	case errors.Is(statErr, os.ErrNotExist) || (statErr == nil && info.Size() == 0):
		if err := sqliteschema.SetupSchema(sqlCfg); err != nil {
			// A half-created schema would be taken for a complete one on the next start; remove it so the
			// next start tries again from scratch.
			for _, suffix := range []string{"", "-wal", "-shm"} {
				_ = os.Remove(path + suffix)
			}
			return nil, fmt.Errorf("temporal dev server: create schema in %s: %w", path, err)
		}
	case statErr != nil:
		return nil, fmt.Errorf("temporal dev server: %w", statErr)
	}

	ns, err := sqliteschema.NewNamespaceConfig(clusterName, namespace, false, nil)
	if err != nil {
		return nil, fmt.Errorf("temporal dev server: namespace %q: %w", namespace, err)
	}
	ns.Detail.Config.Retention = timestamp.DurationPtr(namespaceRetention)
	if err := sqliteschema.CreateNamespaces(sqlCfg, ns); err != nil {
		return nil, fmt.Errorf("temporal dev server: create namespace %q in %s: %w", namespace, path, err)
	}
	return sqlCfg, nil
}

// buildServerConfig returns the server configuration and the address of each service. The three internal services
// get free ports: nothing outside the process dials them, so they need not be stable across runs.
func buildServerConfig(cfg TemporalConfig, sqlCfg *config.SQL) (*config.Config, map[primitives.ServiceName]static.Hosts, error) {
	advertise := dialHost(cfg.Host)
	frontendAddr := net.JoinHostPort(advertise, strconv.Itoa(cfg.FrontendPort))

	// The frontend's HTTP API (and with it Nexus) needs a port too; without one the server warns on every start.
	httpPort, err := freePort(cfg.Host)
	if err != nil {
		return nil, nil, fmt.Errorf("temporal dev server: frontend HTTP API: %w", err)
	}
	ports := map[primitives.ServiceName]int{primitives.FrontendService: cfg.FrontendPort}
	for _, svc := range []primitives.ServiceName{primitives.HistoryService, primitives.MatchingService, primitives.WorkerService} {
		p, err := freePort(cfg.Host)
		if err != nil {
			return nil, nil, fmt.Errorf("temporal dev server: %s service: %w", svc, err)
		}
		ports[svc] = p
	}

	c := &config.Config{}
	// With static hosts there is no ring to join; the join duration still sizes the server's start timeout.
	c.Global.Membership = config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: advertise}
	c.Persistence = config.Persistence{
		DefaultStore:     dataStoreName,
		VisibilityStore:  dataStoreName,
		NumHistoryShards: 1,
		DataStores:       map[string]config.DataStore{dataStoreName: {SQL: sqlCfg}},
	}
	c.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             frontendAddr,
				HTTPAddress:            net.JoinHostPort(advertise, strconv.Itoa(httpPort)),
			},
		},
	}
	c.DCRedirectionPolicy = config.DCRedirectionPolicy{Policy: "noop"}
	c.Services = make(map[string]config.Service, len(ports))
	hosts := make(map[primitives.ServiceName]static.Hosts, len(ports))
	for svc, port := range ports {
		rpc := config.RPC{GRPCPort: port, BindOnIP: cfg.Host}
		if svc == primitives.FrontendService {
			rpc.HTTPPort = httpPort
		}
		c.Services[string(svc)] = config.Service{RPC: rpc}
		hosts[svc] = static.SingleLocalHost(net.JoinHostPort(advertise, strconv.Itoa(port)))
	}
	c.Archival.History.State = "disabled"
	c.Archival.Visibility.State = "disabled"
	c.NamespaceDefaults.Archival.History.State = "disabled"
	c.NamespaceDefaults.Archival.Visibility.State = "disabled"
	// The server's own worker service (scheduler, batcher, system workflows) dials the frontend through this.
	c.PublicClient.HostPort = frontendAddr
	return c, hosts, nil
}

func serverOptions(c *config.Config, hosts map[primitives.ServiceName]static.Hosts, logger serverLogger) ([]temporal.ServerOption, error) {
	authorizer, err := authorization.GetAuthorizerFromConfig(&c.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("temporal dev server: authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&c.Global.Authorization, logger)
	if err != nil {
		return nil, fmt.Errorf("temporal dev server: claim mapper: %w", err)
	}
	dynamic := dynamicconfig.StaticClient{
		// The UI lists workflows on every page view and refresh; the default of 10 visibility requests per second
		// throttles a developer clicking around while the app lists initiatives too.
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
		// The default host-level cache is sized for production hosts with thousands of busy workflows; a
		// developer's laptop has a few.
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key(): 8192,
	}
	return []temporal.ServerOption{
		temporal.WithConfig(c),
		temporal.ForServices(temporal.DefaultServices),
		// Static membership: with one process there is no cluster to discover, and ringpop would need two more
		// ports per service and a join delay on every start.
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(dynamic),
	}, nil
}

// newServer builds and starts the server. Fatal and panic log lines from server code running in this goroutine
// (a port taken since it was checked) panic in serverLogger; they are turned back into an error here.
func newServer(opts []temporal.ServerOption) (srv temporal.Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			if srv != nil {
				_ = srv.Stop()
			}
			srv, err = nil, fmt.Errorf("temporal dev server: %v", r)
		}
	}()
	srv, err = temporal.NewServer(opts...)
	if err != nil {
		return nil, fmt.Errorf("temporal dev server: create server: %w", err)
	}
	if err := srv.Start(); err != nil {
		_ = srv.Stop()
		return nil, fmt.Errorf("temporal dev server: start: %w", err)
	}
	return srv, nil
}

// waitForFrontend returns once the frontend answers health checks and knows namespace, so callers can start
// workers and workflows immediately.
func waitForFrontend(ctx context.Context, addr, namespace string) error {
	quiet := quietSDKLogger()
	var lastErr error
	for {
		lastErr = probeFrontend(ctx, addr, namespace, quiet)
		if lastErr == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("temporal dev server: frontend %s not ready: %w (last error: %v)", addr, ctx.Err(), lastErr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// quietSDKLogger discards the SDK client's logs: it logs every failed dial attempt while the server starts, and
// waitForFrontend reports the last error itself if start-up gives up.
func quietSDKLogger() sdklog.Logger {
	return sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
}

// ProbeTemporal succeeds once the Temporal frontend at addr answers and knows namespace (each try bounded to 5 s).
// The chaos suite uses it to wait for a restarted server process.
func ProbeTemporal(ctx context.Context, addr, namespace string) error {
	return probeFrontend(ctx, addr, namespace, quietSDKLogger())
}

func probeFrontend(ctx context.Context, addr, namespace string, logger sdklog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{HostPort: addr, Namespace: namespace, Logger: logger})
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return err
	}
	_, err = c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	return err
}

// startUI starts the Web UI against the frontend and waits until it serves its health endpoint. hold is the
// listener reserving the UI port; it is closed right before the UI server binds the port itself.
func (t *Temporal) startUI(ctx context.Context, cfg TemporalConfig, hold net.Listener) error {
	host := cfg.Host
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		host = "[" + host + "]" // the UI server joins host and port with a plain colon
	}
	t.uiAddr = net.JoinHostPort(dialHost(cfg.Host), strconv.Itoa(cfg.UIPort))
	origins := []string{"http://" + t.uiAddr}
	if ip := net.ParseIP(dialHost(cfg.Host)); ip != nil && ip.IsLoopback() {
		origins = append(origins, "http://localhost:"+strconv.Itoa(cfg.UIPort))
	}
	uiCfg := &uiconfig.Config{
		TemporalGRPCAddress: t.frontendAddr,
		Host:                host,
		Port:                cfg.UIPort,
		EnableUI:            true,
		DefaultNamespace:    cfg.Namespace,
		// A dev tool must not phone home or nag about upgrades; the version is pinned in go.mod.
		DisableNewsFetch:   true,
		NotifyOnNewVersion: false,
		CORS: uiconfig.CORS{
			AllowOrigins: origins,
			// The UI is served over plain HTTP on loopback; a Secure CSRF cookie would not be sent back by every
			// browser, and each write action (signal, terminate) would then fail its CSRF check.
			CookieInsecure: true,
		},
		// Request logging would print a line for every asset and poll.
		HideLogs: true,
	}
	ui, err := newUIServer(uiCfg)
	if err != nil {
		return err
	}
	t.ui = ui
	t.uiDone = make(chan struct{})
	_ = hold.Close()
	go func() {
		defer close(t.uiDone)
		if err := ui.Start(); err != nil {
			t.logger.Error("temporal UI stopped", "err", err)
		}
	}()
	return waitForHTTP(ctx, "http://"+t.uiAddr+"/healthz")
}

// newUIServer turns the UI server's panics on bad configuration into an error.
func newUIServer(cfg *uiconfig.Config) (s *uiserver.Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("temporal UI: %v", r)
		}
	}()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("temporal UI: %w", err)
	}
	return uiserver.NewServer(uiserveroptions.WithConfigProvider(cfg)), nil
}

func waitForHTTP(ctx context.Context, url string) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	var lastErr error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("temporal UI %s not ready: %w (last error: %v)", url, ctx.Err(), lastErr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
