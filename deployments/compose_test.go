package deployments

import (
	"bytes"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/helhedsplan/helhedsplan/config"
)

// composeFile is the part of the Compose format compose.yaml uses. Decoding is strict, so a misspelt key
// (depends_on, healthcheck) fails here instead of being silently ignored by Docker; a new key needs a field.
type composeFile struct {
	Name         string             `yaml:"name"`
	XHelhedsplan service            `yaml:"x-helhedsplan"`
	Services     map[string]service `yaml:"services"`
	Volumes      map[string]any     `yaml:"volumes"`
}

type service struct {
	Image       string               `yaml:"image"`
	Build       *build               `yaml:"build"`
	Command     []string             `yaml:"command"`
	Environment map[string]string    `yaml:"environment"`
	Ports       []string             `yaml:"ports"`
	Volumes     []string             `yaml:"volumes"`
	DependsOn   map[string]dependsOn `yaml:"depends_on"`
	Healthcheck *healthcheck         `yaml:"healthcheck"`
	Restart     string               `yaml:"restart"`
}

type build struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

type dependsOn struct {
	Condition string `yaml:"condition"`
}

type healthcheck struct {
	Test        []string `yaml:"test"`
	Interval    string   `yaml:"interval"`
	Timeout     string   `yaml:"timeout"`
	Retries     int      `yaml:"retries"`
	StartPeriod string   `yaml:"start_period"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f composeFile
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return f
}

func TestComposeServices(t *testing.T) {
	f := loadCompose(t)

	var names []string
	for name := range f.Services {
		names = append(names, name)
	}
	slices.Sort(names)
	if diff := cmp.Diff([]string{"api", "migrate", "postgresql", "temporal", "temporal-ui", "worker"}, names); diff != "" {
		t.Fatalf("services (-want +got):\n%s", diff)
	}

	roles := map[string][]string{
		"migrate": {"migrate", "--seed"},
		"api":     {"api"},
		"worker":  {"worker"},
	}
	for name, want := range roles {
		s := f.Services[name]
		if diff := cmp.Diff(want, s.Command); diff != "" {
			t.Errorf("%s command (-want +got):\n%s", name, diff)
		}
		if s.Image != "helhedsplan:local" || s.Build == nil {
			t.Errorf("%s: image %q, build %v; want the helhedsplan image built from this repository", name, s.Image, s.Build)
		}
	}

	if img := f.Services["postgresql"].Image; !strings.HasPrefix(img, "postgres:16") {
		t.Errorf("postgresql image = %q, want postgres:16", img)
	}
	temporal := f.Services["temporal"]
	if !strings.HasPrefix(temporal.Image, "temporalio/auto-setup:") {
		t.Errorf("temporal image = %q, want temporalio/auto-setup", temporal.Image)
	}
	if temporal.Environment["DB"] != "postgres12" || temporal.Environment["POSTGRES_SEEDS"] != "postgresql" {
		t.Errorf("temporal must use the postgresql service through the postgres12 plugin; env = %v", temporal.Environment)
	}
	appDB := f.Services["postgresql"].Environment["POSTGRES_DB"]
	for _, k := range []string{"DBNAME", "VISIBILITY_DBNAME"} {
		if db := temporal.Environment[k]; db == "" || db == appDB {
			t.Errorf("temporal %s = %q; Temporal needs its own database, not the application's %q", k, db, appDB)
		}
	}
	if ui := f.Services["temporal-ui"]; !strings.HasPrefix(ui.Image, "temporalio/ui:") || !slices.ContainsFunc(ui.Ports, hasSuffixFn("8233:8080")) {
		t.Errorf("temporal-ui: image %q ports %v; want temporalio/ui published on 8233", ui.Image, ui.Ports)
	}
	if ports := f.Services["api"].Ports; !slices.Contains(ports, "8080:8080") {
		t.Errorf("api ports = %v, want 8080:8080", ports)
	}
}

// TestComposeStartOrder: api and worker must not start before the schema is migrated and the namespace exists,
// and every wait on health must have a health check to wait for.
func TestComposeStartOrder(t *testing.T) {
	f := loadCompose(t)
	want := map[string]map[string]string{
		"temporal":    {"postgresql": "service_healthy"},
		"temporal-ui": {"temporal": "service_healthy"},
		"migrate":     {"postgresql": "service_healthy"},
		"api":         {"migrate": "service_completed_successfully", "temporal": "service_healthy"},
		"worker":      {"migrate": "service_completed_successfully", "temporal": "service_healthy"},
	}
	for name, deps := range want {
		got := map[string]string{}
		for dep, d := range f.Services[name].DependsOn {
			got[dep] = d.Condition
		}
		if diff := cmp.Diff(deps, got); diff != "" {
			t.Errorf("%s depends_on (-want +got):\n%s", name, diff)
		}
	}
	for name, s := range f.Services {
		for dep, d := range s.DependsOn {
			if d.Condition == "service_healthy" && f.Services[dep].Healthcheck == nil {
				t.Errorf("%s waits for %s to be healthy, but %s has no healthcheck", name, dep, dep)
			}
		}
	}
	if r := f.Services["migrate"].Restart; r != "no" {
		t.Errorf("migrate restart = %q, want \"no\": it runs once", r)
	}
}

// TestComposeEnvironment checks the roles' environment against the config package: a variable the binary does not
// read is a typo that would silently leave a default in place.
func TestComposeEnvironment(t *testing.T) {
	f := loadCompose(t)
	known := envNames(reflect.TypeOf(config.Config{}))
	required := []string{
		"DATABASE_URL", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE",
		"TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY", "TEMPORAL_TLS_CA", "TEMPORAL_API_KEY",
		"HELHEDSPLAN_LISTEN", "HELHEDSPLAN_FINANCE_WEBHOOK_URL", "HELHEDSPLAN_FINANCE_WEBHOOK_SECRET",
		"HELHEDSPLAN_LOG_LEVEL",
	}
	for _, name := range []string{"migrate", "api", "worker"} {
		env := f.Services[name].Environment
		for k := range env {
			if !known[k] {
				t.Errorf("%s sets %s, which package config does not read", name, k)
			}
		}
		for _, k := range required {
			if _, ok := env[k]; !ok {
				t.Errorf("%s does not set %s", name, k)
			}
		}
		u, err := url.Parse(env["DATABASE_URL"])
		if err != nil || u.Hostname() != "postgresql" {
			t.Errorf("%s DATABASE_URL = %q, want the postgresql service", name, env["DATABASE_URL"])
		}
		if db := strings.TrimPrefix(u.Path, "/"); db != f.Services["postgresql"].Environment["POSTGRES_DB"] {
			t.Errorf("%s DATABASE_URL names database %q, postgresql creates %q", name, db, f.Services["postgresql"].Environment["POSTGRES_DB"])
		}
		if addr := env["TEMPORAL_ADDRESS"]; addr != "temporal:7233" {
			t.Errorf("%s TEMPORAL_ADDRESS = %q, want temporal:7233", name, addr)
		}
	}
}

// TestComposeBuild checks that the image is built from the repository root with the production tags, so the
// binary has the api, worker and migrate roles and no embedded Temporal server.
func TestComposeBuild(t *testing.T) {
	f := loadCompose(t)
	b := f.Services["api"].Build
	root := filepath.Clean(b.Context)
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("build context %q is not the repository root: %v", b.Context, err)
	}
	dockerfile, err := os.ReadFile(filepath.Join(root, b.Dockerfile))
	if err != nil {
		t.Fatalf("dockerfile: %v", err)
	}
	for _, want := range []string{"-tags nodev", "./cmd/helhedsplan", `ENTRYPOINT ["/helhedsplan"]`, "USER nonroot", "EXPOSE 8080"} {
		if !strings.Contains(string(dockerfile), want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "helhedsplan")); err != nil {
		t.Errorf("the Dockerfile builds ./cmd/helhedsplan: %v", err)
	}
}

// envNames collects the `env` tags of t and its nested structs.
func envNames(t reflect.Type) map[string]bool {
	names := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Tag.Get("env") == "" {
			for k := range envNames(f.Type) {
				names[k] = true
			}
			continue
		}
		if name, _, _ := strings.Cut(f.Tag.Get("env"), ","); name != "" {
			names[name] = true
		}
	}
	return names
}

func hasSuffixFn(suffix string) func(string) bool {
	return func(s string) bool { return strings.HasSuffix(s, suffix) }
}
