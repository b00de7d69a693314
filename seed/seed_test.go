package seed

import (
	"strings"
	"testing"

	"github.com/helhedsplan/helhedsplan/domain"
)

func TestViborgFiguresMatchThePlanDocument(t *testing.T) {
	s, err := Viborg()
	if err != nil {
		t.Fatal(err)
	}
	p := s.Plan
	if got, want := p.TotalCommitted(), domain.Kroner(25_689_000); got != want {
		t.Errorf("total = %s, want %s", got, want)
	}
	if got := p.LocalCofinancingPermille(); got != 466 {
		t.Errorf("local co-financing = %d ‰, want 466 ‰ (11.980.000 / 25.689.000)", got)
	}
	want := map[string]domain.Money{
		"lbf": domain.Kroner(13_709_000), "viborg-kommune": domain.Kroner(7_200_000), "boligselskaberne": domain.Kroner(4_780_000),
	}
	for id, amount := range want {
		src, ok := p.Source(id)
		if !ok || src.CommittedØre != amount {
			t.Errorf("source %s = %v (found %v), want %s", id, src.CommittedØre, ok, amount)
		}
	}
	if len(p.Delaftaler) != 3 || len(p.HousingAreas) != 5 {
		t.Errorf("delaftaler=%d housing areas=%d, want 3 and 5", len(p.Delaftaler), len(p.HousingAreas))
	}
	roles := map[domain.Role]int{}
	for _, u := range s.Users {
		roles[u.Role]++
		if u.PlanID != p.ID {
			t.Errorf("user %s has plan %q", u.ID, u.PlanID)
		}
	}
	if roles[domain.RoleOperationalGroup] != 2 || roles[domain.RoleBoard] != 3 || roles[domain.RoleFinance] != 1 || roles[domain.RoleAdmin] != 1 {
		t.Errorf("roles = %v", roles)
	}
	if !strings.Contains(p.Vision, "tryg opvækst") {
		t.Errorf("vision %q should use the corrected spelling", p.Vision)
	}
}

func TestParseRejectsBadSeeds(t *testing.T) {
	tests := map[string]string{
		"unknown_key":      "plan: {id: x, name: y, bogus: 1}",
		"period_reversed":  "plan: {id: x, name: y, period_start: 2025-01-01, period_end: 2021-01-01}",
		"unknown_role":     "plan: {id: x, name: y, period_start: 2021-01-01, period_end: 2025-01-01}\nusers: [{id: u, role: king}]",
		"too_little_local": "plan: {id: x, name: y, period_start: 2021-01-01, period_end: 2025-01-01, settings: {min_local_cofinancing_permille: 250}, funding_sources: [{id: lbf, committed_ore: 100}]}",
		"area_bad_assoc":   "plan: {id: x, name: y, period_start: 2021-01-01, period_end: 2025-01-01, housing_areas: [{id: a, association_id: nope}]}",
		"duplicate_ids":    "plan: {id: x, name: y, period_start: 2021-01-01, period_end: 2025-01-01, delaftaler: [{id: d}, {id: d}]}",
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(in)); err == nil {
				t.Fatalf("Parse(%q) succeeded, want an error", in)
			}
		})
	}
}
