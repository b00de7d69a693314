//go:build !nodev

package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"golang.org/x/sync/errgroup"

	"github.com/helhedsplan/helhedsplan/config"
	"github.com/helhedsplan/helhedsplan/devstack"
	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/seed"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/web"
)

// runDev runs everything in one process: PostgreSQL (found or started), an embedded Temporal server persisted
// under cfg.DataDir with its Web UI, the worker and the API. State survives a restart; Ctrl-C stops it cleanly.
func runDev(ctx context.Context, cfg config.Config, log *slog.Logger, stdout io.Writer) (err error) {
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}

	pg, err := devstack.EnsurePostgres(ctx, devstack.PostgresConfig{DatabaseURL: cfg.DatabaseURL, DataDir: dataDir, Logger: log})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, pg.Stop()) }()
	log.Info("postgresql ready", "source", pg.Source())

	st, err := store.Open(ctx, pg.DSN())
	if err != nil {
		return err
	}
	defer st.Close()
	if err := prepareDatabase(ctx, log, st, true); err != nil {
		return err
	}

	tcfg := devstack.DefaultTemporalConfig(dataDir)
	tcfg.FrontendPort, tcfg.UIPort, tcfg.Namespace, tcfg.Logger = cfg.TemporalPort, cfg.UIPort, cfg.Temporal.Namespace, log
	temporal, err := devstack.StartTemporal(ctx, tcfg)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, temporal.Stop()) }()

	tc := cfg.Temporal
	tc.Address = temporal.FrontendAddr()
	c, err := dialTemporal(ctx, tc, log)
	if err != nil {
		return err
	}
	defer c.Close()

	tokens, err := devTokens(ctx, st, dataDir)
	if err != nil {
		return err
	}
	printBanner(stdout, cfg, temporal, pg, tokens, dataDir)

	g, gctx := errgroup.WithContext(ctx)
	reg := newRegistry()
	g.Go(func() error { return runWorker(gctx, cfg, log, st, c, reg) })
	wcfg := web.Config{DevSignIn: true, TemporalNamespace: temporal.Namespace()}
	if addr := temporal.UIAddr(); addr != "" {
		wcfg.TemporalUIURL = "http://" + addr
	}
	g.Go(func() error { return serveAPI(gctx, cfg, log, st, c, reg, wcfg) })
	return g.Wait()
}

type devToken struct {
	user  domain.User
	token string
	env   string
}

// devTokens gives every seeded user a token that stays the same across restarts of this .data directory: each
// is an HMAC of the user ID under a random secret kept in .data/dev-secret, and only its hash is stored. The tokens
// are also written to .data/dev-tokens.env for the README's walk-through.
func devTokens(ctx context.Context, st *store.Store, dataDir string) ([]devToken, error) {
	secretPath := filepath.Join(dataDir, "dev-secret")
	secret, err := os.ReadFile(secretPath)
	if errors.Is(err, fs.ErrNotExist) {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, err
		}
		if err := os.WriteFile(secretPath, secret, 0o600); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	s, err := seed.Viborg()
	if err != nil {
		return nil, err
	}
	var out []devToken
	counts := map[domain.Role]int{}
	var env strings.Builder
	env.WriteString("# Dev API tokens for the seeded users; `source .data/dev-tokens.env` before the README's curl commands.\n")
	for _, u := range s.Users {
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(u.ID))
		token := "hp_dev_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(mac.Sum(nil)[:15]))
		if err := st.UpsertToken(ctx, u.ID, HashToken(token), "dev"); err != nil {
			return nil, fmt.Errorf("dev token for %s: %w", u.ID, err)
		}
		counts[u.Role]++
		name := map[domain.Role]string{domain.RoleOperationalGroup: "OG", domain.RoleBoard: "BOARD",
			domain.RoleFinance: "FINANCE", domain.RoleAdmin: "ADMIN"}[u.Role]
		if counts[u.Role] > 1 {
			name = fmt.Sprintf("%s%d", name, counts[u.Role])
		}
		name = "TOKEN_" + name
		fmt.Fprintf(&env, "export %s=%s  # %s, %s\n", name, token, u.Name, u.Role.DanishName())
		out = append(out, devToken{user: u, token: token, env: name})
	}
	if err := os.WriteFile(filepath.Join(dataDir, "dev-tokens.env"), []byte(env.String()), 0o600); err != nil {
		return nil, err
	}
	return out, nil
}

func printBanner(w io.Writer, cfg config.Config, t *devstack.Temporal, pg *devstack.Postgres, tokens []devToken, dataDir string) {
	host := cfg.Listen
	if strings.HasPrefix(host, ":") {
		host = "localhost" + host
	}
	fmt.Fprintf(w, `
helhedsplan kører (dev)
  Web:               http://%s/   (log ind som en af planens brugere med et klik)
  API:               http://%s/api/v1   (OpenAPI: http://%s/api/v1/openapi.yaml)
  Temporal Web UI:   http://%s
  Temporal frontend: %s (namespace %s)
  PostgreSQL:        %s
  Data:              %s (slet mappen for at starte forfra)

Dev-tokens (også i %s):
`, host, host, host, t.UIAddr(), t.FrontendAddr(), t.Namespace(), pg.Source(), dataDir, filepath.Join(dataDir, "dev-tokens.env"))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, tk := range tokens {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", tk.env, tk.user.Name, tk.user.Role.DanishName(), tk.token)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nStop med Ctrl-C.\n\n")
}
