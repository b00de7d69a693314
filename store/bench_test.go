package store_test

import (
	"testing"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

// BenchmarkListInitiatives measures one page of the initiative list over a read model of 100.000 initiatives.
// Keyset paging and the indexes should make every page cost about the same, deep or filtered.
//
//	go test ./store -run '^$' -bench ListInitiatives
func BenchmarkListInitiatives(b *testing.B) {
	s := dbtest.New(b)
	ctx := ctxT(b)
	const n = 100_000
	tmpl := *initiative("template", proposal("Benchmark", "beskaeftigelse", []string{"vestervang"}, kr(10), 0))
	other := *initiative("template", proposal("Andet", "uddannelse-og-livschancer", []string{"ringparken"}, kr(10), 0))
	other.Phase = domain.PhaseExecuting
	if err := s.InsertSyntheticInitiatives(ctx, planID, n-100, tmpl); err != nil {
		b.Fatal(err)
	}
	if err := s.InsertSyntheticInitiatives(ctx, planID, 100, other); err != nil {
		b.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `ANALYZE initiatives`); err != nil {
		b.Fatal(err)
	}
	_, deep, err := s.ListInitiatives(ctx, store.InitiativeFilter{PlanID: planID, Limit: 200})
	if err != nil {
		b.Fatal(err)
	}
	for range 200 { // about 40.000 rows in
		if _, deep, err = s.ListInitiatives(ctx, store.InitiativeFilter{PlanID: planID, Limit: 200, After: deep}); err != nil {
			b.Fatal(err)
		}
	}

	for _, bc := range []struct {
		name string
		f    store.InitiativeFilter
	}{
		{"first_page", store.InitiativeFilter{PlanID: planID}},
		{"deep_page", store.InitiativeFilter{PlanID: planID, After: deep}},
		{"rare_phase", store.InitiativeFilter{PlanID: planID, Phase: domain.PhaseExecuting}},
		{"rare_area", store.InitiativeFilter{PlanID: planID, HousingAreaID: "ringparken"}},
		{"common_area", store.InitiativeFilter{PlanID: planID, HousingAreaID: "vestervang"}},
		{"common_delaftale", store.InitiativeFilter{PlanID: planID, DelaftaleID: "beskaeftigelse"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := s.ListInitiatives(ctx, bc.f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
