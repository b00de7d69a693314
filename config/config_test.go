package config

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestDefaultsSuitDevMode(t *testing.T) {
	c, err := Parse(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":8080" || c.Temporal.Address != "127.0.0.1:7233" || c.Temporal.Namespace != "default" ||
		c.UIPort != 8233 || c.DataDir != ".data" || c.LogLevel != slog.LevelInfo ||
		c.WebhookBacklogAlert != 15*time.Minute {
		t.Fatalf("defaults = %+v", c)
	}
	if c.RequireDatabase() == nil {
		t.Fatal("RequireDatabase should fail without DATABASE_URL")
	}
}

func TestInvalidConfigurationsAreRefused(t *testing.T) {
	tests := map[string]map[string]string{
		"webhook_without_secret": {"HELHEDSPLAN_FINANCE_WEBHOOK_URL": "https://finance.example/hook"},
		"webhook_not_http":       {"HELHEDSPLAN_FINANCE_WEBHOOK_URL": "ftp://x", "HELHEDSPLAN_FINANCE_WEBHOOK_SECRET": "s"},
		"tls_cert_without_key":   {"TEMPORAL_TLS_CERT": "/c.pem"},
		"bad_log_format":         {"HELHEDSPLAN_LOG_FORMAT": "xml"},
		"bad_port":               {"HELHEDSPLAN_UI_PORT": "70000"},
		"bad_duration":           {"HELHEDSPLAN_SHUTDOWN_TIMEOUT": "soon"},
		"bad_level":              {"HELHEDSPLAN_LOG_LEVEL": "loud"},
		"backlog_alert_zero":     {"HELHEDSPLAN_WEBHOOK_BACKLOG_ALERT": "0s"},
	}
	for name, environ := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse(environ); err == nil {
				t.Fatalf("Parse(%v) succeeded", environ)
			}
		})
	}
}

func TestSecretsAreMaskedWhenLogged(t *testing.T) {
	c, err := Parse(map[string]string{
		"DATABASE_URL":                       "postgres://app:hemmelig@db:5432/hp?sslmode=require",
		"TEMPORAL_API_KEY":                   "key-123",
		"HELHEDSPLAN_FINANCE_WEBHOOK_URL":    "https://finance.example/hook?token=abc",
		"HELHEDSPLAN_FINANCE_WEBHOOK_SECRET": "whsec",
	})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("config", "config", c)
	out := b.String()
	for _, secret := range []string{"hemmelig", "key-123", "whsec", "abc"} {
		if strings.Contains(out, secret) {
			t.Errorf("logged config contains %q: %s", secret, out)
		}
	}
	if !strings.Contains(out, "db:5432") {
		t.Errorf("logged config lost the database host: %s", out)
	}
}
