// Package config is the one place that reads the environment. Every role parses Config once at start-up and
// passes what each part needs; nothing else calls os.Getenv.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// Config is the whole configuration of every role. Defaults suit `helhedsplan dev` on a laptop.
type Config struct {
	// DatabaseURL is the PostgreSQL connection string. Empty in dev means: use 127.0.0.1:5432 or a private
	// cluster under DataDir. Required by api, worker and migrate.
	DatabaseURL string `env:"DATABASE_URL"`

	Temporal Temporal

	// Listen is the API's listen address.
	Listen string `env:"HELHEDSPLAN_LISTEN" envDefault:":8080"`
	// OpsListen is where the worker role serves /healthz, /readyz and /metrics (it has no API). Empty disables it.
	OpsListen string `env:"HELHEDSPLAN_OPS_LISTEN" envDefault:":9090"`
	// FinanceWebhookURL, when set, receives a signed JSON POST for every released and paid tranche.
	FinanceWebhookURL string `env:"HELHEDSPLAN_FINANCE_WEBHOOK_URL"`
	// FinanceWebhookSecret signs webhook bodies (HMAC-SHA256); required when FinanceWebhookURL is set.
	FinanceWebhookSecret string `env:"HELHEDSPLAN_FINANCE_WEBHOOK_SECRET"`

	// SMTPAddr (host:port) is the mail server the worker sends notification e-mails through. Empty sends none:
	// the notifications are in the app all the same, and their e-mails are marked delivered without sending.
	SMTPAddr string `env:"HELHEDSPLAN_SMTP_ADDR"`
	// SMTPFrom is the sender of notification e-mails, e.g. "helhedsplan <noreply@viborg.dk>"; required with
	// SMTPAddr. Its domain names the e-mails' Message-IDs.
	SMTPFrom string `env:"HELHEDSPLAN_SMTP_FROM"`
	// SMTPUsername and SMTPPassword authenticate with AUTH PLAIN; both or neither.
	SMTPUsername string `env:"HELHEDSPLAN_SMTP_USERNAME"`
	SMTPPassword string `env:"HELHEDSPLAN_SMTP_PASSWORD"`
	// SMTPStartTLS requires STARTTLS before anything is sent, so the password and the mails never travel in
	// clear text and a man in the middle cannot strip the encryption; false is for a relay on the same host.
	SMTPStartTLS bool `env:"HELHEDSPLAN_SMTP_STARTTLS" envDefault:"true"`

	LogLevel  slog.Level `env:"HELHEDSPLAN_LOG_LEVEL" envDefault:"info"`
	LogFormat string     `env:"HELHEDSPLAN_LOG_FORMAT" envDefault:"text"` // text or json

	// DataDir holds dev mode's state: the Temporal SQLite file, a private PostgreSQL cluster, dev tokens.
	DataDir string `env:"HELHEDSPLAN_DATA_DIR" envDefault:".data"`
	// TemporalPort and UIPort are where dev mode's embedded Temporal frontend and Web UI listen.
	TemporalPort int `env:"HELHEDSPLAN_TEMPORAL_PORT" envDefault:"7233"`
	UIPort       int `env:"HELHEDSPLAN_UI_PORT" envDefault:"8233"`

	// ShutdownTimeout bounds how long a role waits for in-flight requests and activities on SIGINT/SIGTERM.
	ShutdownTimeout time.Duration `env:"HELHEDSPLAN_SHUTDOWN_TIMEOUT" envDefault:"20s"`
	// UpdateTimeout bounds how long the API waits for a workflow update before answering 503; the update
	// still completes, and a retry with the same Idempotency-Key returns its result.
	UpdateTimeout time.Duration `env:"HELHEDSPLAN_UPDATE_TIMEOUT" envDefault:"30s"`
	// WebhookBacklogAlert is how long the oldest undelivered finance webhook message may wait before the API and
	// the Økonomi page flag the backlog.
	WebhookBacklogAlert time.Duration `env:"HELHEDSPLAN_WEBHOOK_BACKLOG_ALERT" envDefault:"15m"`
}

// Temporal is how api and worker reach the Temporal cluster.
type Temporal struct {
	Address   string `env:"TEMPORAL_ADDRESS" envDefault:"127.0.0.1:7233"`
	Namespace string `env:"TEMPORAL_NAMESPACE" envDefault:"default"`
	// TLS client certificate, key and CA bundle (file paths). Cert and key go together; CA alone enables
	// server-verified TLS.
	TLSCert string `env:"TEMPORAL_TLS_CERT"`
	TLSKey  string `env:"TEMPORAL_TLS_KEY"`
	TLSCA   string `env:"TEMPORAL_TLS_CA"`
	// TLSServerName overrides the name checked in the server's certificate.
	TLSServerName string `env:"TEMPORAL_TLS_SERVER_NAME"`
	// APIKey authenticates to Temporal Cloud (implies TLS).
	APIKey string `env:"TEMPORAL_API_KEY"`
}

// Load parses the environment and validates the result.
func Load() (Config, error) {
	return Parse(nil)
}

// Parse reads configuration from environ (KEY=value pairs; nil means the process environment).
func Parse(environ map[string]string) (Config, error) {
	var c Config
	opts := env.Options{}
	if environ != nil {
		opts.Environment = environ
	}
	if err := env.ParseWithOptions(&c, opts); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return c, c.Validate()
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.FinanceWebhookURL != "" {
		u, err := url.Parse(c.FinanceWebhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, errors.New("HELHEDSPLAN_FINANCE_WEBHOOK_URL must be an http(s) URL"))
		}
		if c.FinanceWebhookSecret == "" {
			errs = append(errs, errors.New("HELHEDSPLAN_FINANCE_WEBHOOK_SECRET is required with HELHEDSPLAN_FINANCE_WEBHOOK_URL, so the receiver can verify the sender"))
		}
	}
	errs = append(errs, c.validateSMTP()...)
	if (c.Temporal.TLSCert == "") != (c.Temporal.TLSKey == "") {
		errs = append(errs, errors.New("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together"))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, errors.New("HELHEDSPLAN_LOG_FORMAT must be text or json"))
	}
	for name, p := range map[string]int{"HELHEDSPLAN_TEMPORAL_PORT": c.TemporalPort, "HELHEDSPLAN_UI_PORT": c.UIPort} {
		if p < 0 || p > 65535 {
			errs = append(errs, fmt.Errorf("%s must be a port number", name))
		}
	}
	if c.ShutdownTimeout <= 0 || c.UpdateTimeout <= 0 || c.WebhookBacklogAlert <= 0 {
		errs = append(errs, errors.New("timeouts must be positive"))
	}
	return errors.Join(errs...)
}

// validateSMTP checks the mail settings when e-mail is on.
func (c Config) validateSMTP() []error {
	if c.SMTPAddr == "" {
		return nil
	}
	var errs []error
	host, port, err := net.SplitHostPort(c.SMTPAddr)
	if err != nil || host == "" || port == "" {
		errs = append(errs, errors.New("HELHEDSPLAN_SMTP_ADDR must be host:port, e.g. smtp.viborg.dk:587"))
	}
	if a, err := mail.ParseAddress(c.SMTPFrom); err != nil || !strings.Contains(a.Address, "@") {
		errs = append(errs, errors.New("HELHEDSPLAN_SMTP_FROM must be an e-mail address (optionally with a name) when HELHEDSPLAN_SMTP_ADDR is set"))
	}
	if (c.SMTPUsername == "") != (c.SMTPPassword == "") {
		errs = append(errs, errors.New("HELHEDSPLAN_SMTP_USERNAME and HELHEDSPLAN_SMTP_PASSWORD go together"))
	}
	// The mail client never sends a password unencrypted, except to this host (as net/smtp.PlainAuth).
	if c.SMTPUsername != "" && !c.SMTPStartTLS && host != "localhost" && host != "127.0.0.1" && host != "::1" {
		errs = append(errs, errors.New("HELHEDSPLAN_SMTP_PASSWORD is only sent encrypted: keep HELHEDSPLAN_SMTP_STARTTLS=true"))
	}
	return errs
}

// RequireDatabase reports a missing DATABASE_URL for the production roles.
func (c Config) RequireDatabase() error {
	if c.DatabaseURL == "" {
		return errors.New("DATABASE_URL is required (e.g. postgres://user:pass@host:5432/helhedsplan?sslmode=require)")
	}
	return nil
}

// LogValue masks secrets when the config is logged.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("database_url", MaskURL(c.DatabaseURL)),
		slog.String("temporal_address", c.Temporal.Address),
		slog.String("temporal_namespace", c.Temporal.Namespace),
		slog.Bool("temporal_tls", c.Temporal.TLSCert != "" || c.Temporal.TLSCA != "" || c.Temporal.APIKey != ""),
		slog.Bool("temporal_api_key", c.Temporal.APIKey != ""),
		slog.String("listen", c.Listen),
		slog.String("finance_webhook_url", MaskURL(c.FinanceWebhookURL)),
		slog.Bool("finance_webhook_secret", c.FinanceWebhookSecret != ""),
		slog.String("smtp_addr", c.SMTPAddr),
		slog.String("smtp_from", c.SMTPFrom),
		slog.Bool("smtp_auth", c.SMTPUsername != ""),
		slog.Bool("smtp_starttls", c.SMTPStartTLS),
		slog.String("log_level", c.LogLevel.String()),
		slog.String("data_dir", c.DataDir),
	)
}

// MaskURL hides the password and query of a URL.
func MaskURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	if u.RawQuery != "" {
		keys := []string{}
		for k := range u.Query() {
			keys = append(keys, k)
		}
		u.RawQuery = strings.Join(keys, ",") + "=…"
	}
	return u.String()
}
