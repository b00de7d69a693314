//go:build !nodev

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

func TestDevTokensAreStablePerDataDirAndAuthenticate(t *testing.T) {
	st := dbtest.New(t)
	ctx := context.Background()
	dir := t.TempDir()
	first, err := devTokens(ctx, st, dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := devTokens(ctx, st, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 7 {
		t.Fatalf("%d tokens, want one per seeded user (7)", len(first))
	}
	seen := map[string]bool{}
	for i := range first {
		if first[i].token != again[i].token {
			t.Errorf("%s: token changed across restarts", first[i].user.ID)
		}
		if seen[first[i].token] {
			t.Errorf("token shared by two users")
		}
		seen[first[i].token] = true
		h := sha256.Sum256([]byte(first[i].token))
		p, err := st.PrincipalByTokenHash(ctx, h[:])
		if err != nil || p.UserID != first[i].user.ID {
			t.Errorf("%s: token resolves to %+v, %v", first[i].user.ID, p, err)
		}
	}
	other, err := devTokens(ctx, st, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if other[0].token == first[0].token {
		t.Error("another data dir gave the same token: the secret is not per data dir")
	}
	env, err := os.ReadFile(filepath.Join(dir, "dev-tokens.env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"TOKEN_OG=", "TOKEN_OG2=", "TOKEN_BOARD=", "TOKEN_BOARD3=", "TOKEN_FINANCE=", "TOKEN_ADMIN="} {
		if !strings.Contains(string(env), "export "+name) {
			t.Errorf("dev-tokens.env lacks %s:\n%s", name, env)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "dev-secret")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("dev-secret mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
}

func TestRoleIsRequiredAndUnknownRolesAreRefused(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), nil, &out, &errOut); err == nil || !strings.Contains(out.String(), "dev") {
		t.Fatalf("no role: err %v, usage %q", err, out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"help"}, &out, &errOut); err != nil || !strings.Contains(out.String(), "worker") {
		t.Fatalf("help: err %v, usage %q", err, out.String())
	}
	if err := run(context.Background(), []string{"frobnicate"}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "frobnicate") {
		t.Fatalf("unknown role: %v", err)
	}
	t.Setenv("DATABASE_URL", "")
	if err := run(context.Background(), []string{"api"}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Fatalf("api without DATABASE_URL: %v", err)
	}
}
