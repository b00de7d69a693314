package store_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

func TestSeedPlan(t *testing.T) {
	t.Parallel()

	t.Run("second_seed_changes_nothing", func(t *testing.T) {
		t.Parallel()
		s := dbtest.New(t) // seeded once already
		ctx := ctxT(t)
		if err := s.SetDelaftaleBudgetFrame(ctx, planID, "beskaeftigelse", mp(kr(1_000_000))); err != nil {
			t.Fatal(err)
		}
		before, err := s.GetPlan(ctx, planID)
		if err != nil {
			t.Fatal(err)
		}
		created, err := s.SeedPlan(ctx, viborg(t))
		if err != nil || created {
			t.Fatalf("SeedPlan again = %v, %v; want false, nil", created, err)
		}
		after, err := s.GetPlan(ctx, planID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, after, cmpDates); diff != "" {
			t.Errorf("plan changed by a second seed (-before +after):\n%s", diff)
		}
		if n := count(t, s, `SELECT count(*) FROM plan_members WHERE plan_id = $1`, planID); n != 7 {
			t.Errorf("memberships = %d, want 7", n)
		}
	})

	t.Run("concurrent_seeds_create_once", func(t *testing.T) {
		t.Parallel()
		ctx := ctxT(t)
		s, err := store.Open(ctx, dbtest.NewEmpty(t))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		var created [2]bool
		errs := parallel(
			func() (err error) { created[0], err = s.SeedPlan(ctx, viborg(t)); return err },
			func() (err error) { created[1], err = s.SeedPlan(ctx, viborg(t)); return err },
		)
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("SeedPlan errors: %v", errs)
		}
		if created[0] == created[1] {
			t.Fatalf("created = %v; want exactly one true", created)
		}
	})
}

func TestGetPlan(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	want := viborg(t).Plan
	want.Board = &seededBoard // version 1, recorded by the seed (board_test.go)

	tests := []struct {
		name    string
		id      string
		want    domain.Plan
		wantErr error
	}{
		{name: "viborg_as_seeded", id: planID, want: want},
		{name: "unknown_plan_not_found", id: "aarhus-2021-2025", wantErr: store.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.GetPlan(ctx, tc.id)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("GetPlan(%q) error = %v, want %v", tc.id, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got, cmpDates); diff != "" {
				t.Errorf("GetPlan(%q) (-want +got):\n%s", tc.id, diff)
			}
		})
	}

	t.Run("viborg_figures_add_up", func(t *testing.T) {
		p, err := s.GetPlan(ctx, planID)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.TotalCommitted(); got != kr(25_689_000) {
			t.Errorf("total committed = %s, want 25.689.000,00 kr.", got)
		}
		if got := p.LocalCofinancingPermille(); got != 466 {
			t.Errorf("local co-financing = %d ‰, want 466", got)
		}
		lbf, _ := p.Source("lbf")
		if lbf.CommittedØre != kr(13_709_000) || lbf.Local {
			t.Errorf("LBF = %+v, want 13.709.000 kr., not local", lbf)
		}
		if p.PeriodStart.String() != "2021-01-01" || p.PeriodEnd.String() != "2025-12-31" {
			t.Errorf("period = %s..%s", p.PeriodStart, p.PeriodEnd)
		}
		if p.Settings.MinLocalCofinancingPermille != 250 || p.Settings.BoardQuorum != 1 {
			t.Errorf("settings = %+v", p.Settings)
		}
	})
}

func TestListPlans(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	tests := []struct {
		name string
		ids  []string
		want []string
	}{
		{name: "nil_lists_all", ids: nil, want: []string{planID}},
		{name: "known_id_listed", ids: []string{planID}, want: []string{planID}},
		{name: "unknown_ids_left_out", ids: []string{"nope", planID}, want: []string{planID}},
		{name: "empty_list_lists_none", ids: []string{}, want: []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plans, err := s.ListPlans(ctx, tc.ids)
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, p := range plans {
				got = append(got, p.ID)
				if len(p.FundingSources) != 3 || len(p.Delaftaler) != 3 || len(p.HousingAreas) != 5 {
					t.Errorf("plan %s listed without its parts: %+v", p.ID, p)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ListPlans(%v) (-want +got):\n%s", tc.ids, diff)
			}
		})
	}
}

func TestListUsers(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	want := viborg(t).Users
	slices.SortFunc(want, func(a, b domain.User) int { return strings.Compare(a.Name, b.Name) })

	got, err := s.ListUsers(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListUsers (-want +got):\n%s", diff)
	}
	none, err := s.ListUsers(ctx, "nope")
	if err != nil || len(none) != 0 {
		t.Errorf("ListUsers(unknown plan) = %v, %v; want no users", none, err)
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	hash := func(c byte) []byte { return bytes.Repeat([]byte{c}, 32) }

	if err := s.UpsertToken(ctx, "bs-hanne", hash('h'), "dev"); err != nil {
		t.Fatal(err)
	}
	if err := s.UpsertToken(ctx, "bs-hanne", hash('h'), "dev, relabelled"); err != nil {
		t.Fatalf("upsert of the same token again: %v", err)
	}
	if err := s.UpsertToken(ctx, "fin-peter", hash('r'), "revoked"); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx, hash('r')); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		hash    []byte
		want    store.Principal
		wantErr error
	}{
		{name: "known_token_gives_user_and_roles", hash: hash('h'), want: store.Principal{UserID: "bs-hanne",
			Name: "Hanne Mortensen", Email: "hanne.mortensen@example.dk",
			Roles: map[string]domain.Role{planID: domain.RoleBoard}}},
		{name: "unknown_token_not_found", hash: hash('x'), wantErr: store.ErrNotFound},
		{name: "revoked_token_not_found", hash: hash('r'), wantErr: store.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.PrincipalByTokenHash(ctx, tc.hash)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error = %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("principal (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("token_for_unknown_user_not_found", func(t *testing.T) {
		if err := s.UpsertToken(ctx, "nobody", hash('n'), "cli"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("UpsertToken for an unknown user = %v, want ErrNotFound", err)
		}
	})

	t.Run("token_of_another_user_conflict", func(t *testing.T) {
		if err := s.UpsertToken(ctx, "fin-peter", hash('h'), "stolen"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("UpsertToken with Hanne's hash for Peter = %v, want ErrConflict", err)
		}
		p, err := s.PrincipalByTokenHash(ctx, hash('h'))
		if err != nil || p.UserID != "bs-hanne" {
			t.Fatalf("token now belongs to %q (%v), want bs-hanne", p.UserID, err)
		}
	})

	t.Run("upsert_does_not_revive_revoked_token", func(t *testing.T) {
		if err := s.UpsertToken(ctx, "fin-peter", hash('r'), "again"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("UpsertToken of a revoked token = %v, want ErrConflict", err)
		}
		if _, err := s.PrincipalByTokenHash(ctx, hash('r')); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("revoked token authenticates after upsert: %v", err)
		}
	})
}
