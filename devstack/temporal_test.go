package devstack

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// TestTemporalKeepsWorkflowsAcrossRestart is what makes `helhedsplan dev` usable for real work: a workflow started
// before the process stops is still there, still running, after it starts again on the same data directory.
func TestTemporalKeepsWorkflowsAcrossRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cfg := TemporalConfig{
		DataDir:      t.TempDir(),
		FrontendPort: unusedPort(t),
		UIPort:       unusedPort(t),
		Namespace:    "helhedsplan-test",
		Logger:       testLogger(t),
	}

	began := time.Now()
	first := startTemporal(ctx, t, cfg)
	cold := time.Since(began)

	if got, want := first.FrontendAddr(), "127.0.0.1:"+strconv.Itoa(cfg.FrontendPort); got != want {
		t.Errorf("FrontendAddr() = %q, want %q", got, want)
	}
	if got := first.Namespace(); got != cfg.Namespace {
		t.Errorf("Namespace() = %q, want %q", got, cfg.Namespace)
	}
	checkUI(ctx, t, first)

	// A second server on the same directory would corrupt the first one's shard; it must be refused.
	other := cfg
	other.FrontendPort, other.UIPort = unusedPort(t), 0
	if s, err := StartTemporal(ctx, other); !errors.Is(err, ErrDataDirInUse) {
		if s != nil {
			_ = s.Stop()
		}
		t.Fatalf("second StartTemporal on the same DataDir: err = %v, want ErrDataDirInUse", err)
	}

	c := dial(t, first)
	if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		t.Fatalf("CheckHealth: %v", err)
	}
	ns, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: cfg.Namespace})
	if err != nil {
		t.Fatalf("DescribeNamespace(%q): %v", cfg.Namespace, err)
	}
	if got := ns.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(); got != namespaceRetention {
		t.Errorf("namespace retention = %v, want %v", got, namespaceRetention)
	}
	// No worker polls this task queue, so the workflow stays running: exactly what must survive the restart.
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "devstack-restart", TaskQueue: "devstack-no-worker"}, "NoWorkerForThis")
	if err != nil {
		t.Fatalf("ExecuteWorkflow: %v", err)
	}
	c.Close()
	began = time.Now()
	if err := first.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	stopped := time.Since(began)

	// Same ports again: Stop must have released them, or `helhedsplan dev` could not be restarted.
	began = time.Now()
	second := startTemporal(ctx, t, cfg)
	warm := time.Since(began)
	checkUI(ctx, t, second)

	c = dial(t, second)
	desc, err := c.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID())
	if err != nil {
		t.Fatalf("DescribeWorkflowExecution after restart: %v", err)
	}
	if got := desc.GetWorkflowExecutionInfo().GetStatus(); got != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("workflow status after restart = %v, want RUNNING", got)
	}
	if got := desc.GetWorkflowExecutionInfo().GetType().GetName(); got != "NoWorkerForThis" {
		t.Fatalf("workflow type after restart = %q, want NoWorkerForThis", got)
	}
	t.Logf("StartTemporal: cold (new database) %v, warm (existing database) %v; Stop %v",
		cold.Round(time.Millisecond), warm.Round(time.Millisecond), stopped.Round(time.Millisecond))
}

func TestStartTemporalPortInUse(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port

	tests := []struct {
		name    string
		cfg     TemporalConfig
		wantEnv string
	}{
		{
			name:    "frontend_port_taken",
			cfg:     TemporalConfig{FrontendPort: takenPort, UIPort: 0},
			wantEnv: FrontendPortEnv,
		},
		{
			name:    "ui_port_taken",
			cfg:     TemporalConfig{FrontendPort: unusedPort(t), UIPort: takenPort},
			wantEnv: UIPortEnv,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.DataDir = t.TempDir()
			tt.cfg.Logger = testLogger(t)
			s, err := StartTemporal(context.Background(), tt.cfg)
			if err == nil {
				_ = s.Stop()
				t.Fatal("StartTemporal succeeded on a taken port")
			}
			if !errors.Is(err, ErrPortInUse) {
				t.Errorf("err = %v, want ErrPortInUse", err)
			}
			want := "127.0.0.1:" + strconv.Itoa(takenPort)
			if msg := err.Error(); !strings.Contains(msg, tt.wantEnv) || !strings.Contains(msg, want) {
				t.Errorf("err = %q, want it to name %s and %s", msg, want, tt.wantEnv)
			}
		})
	}
}

func startTemporal(ctx context.Context, t *testing.T, cfg TemporalConfig) *Temporal {
	t.Helper()
	s, err := StartTemporal(ctx, cfg)
	if err != nil {
		t.Fatalf("StartTemporal: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return s
}

func dial(t *testing.T, s *Temporal) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: s.FrontendAddr(), Namespace: s.Namespace(), Logger: quietSDKLogger()})
	if err != nil {
		t.Fatalf("client.Dial(%s): %v", s.FrontendAddr(), err)
	}
	t.Cleanup(c.Close)
	return c
}

// checkUI asserts that the Web UI serves its page and reaches the frontend through its API.
func checkUI(ctx context.Context, t *testing.T, s *Temporal) {
	t.Helper()
	if s.UIAddr() == "" {
		t.Fatal("UIAddr() is empty with the UI enabled")
	}
	body := httpGet(ctx, t, "http://"+s.UIAddr()+"/")
	if !strings.Contains(strings.ToLower(body), "<html") {
		t.Fatalf("UI / did not serve the app; got %.200q", body)
	}
	body = httpGet(ctx, t, "http://"+s.UIAddr()+"/api/v1/namespaces/"+s.Namespace())
	if !strings.Contains(body, s.Namespace()) {
		t.Fatalf("UI API did not describe namespace %q through the frontend; got %.300q", s.Namespace(), body)
	}
}

func httpGet(ctx context.Context, t *testing.T, url string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %.300q", url, resp.Status, b)
	}
	return string(b)
}
