package domain

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTrancheYearIsCopenhagenYearOfApprovalThenPreviousDueDate(t *testing.T) {
	newYearsEve := time.Date(2022, 12, 31, 23, 30, 0, 0, time.UTC) // 00:30 on 1 January 2023 in Copenhagen
	cases := map[string]struct {
		no   int
		prev Date
		at   time.Time
		want int
	}{
		"tranche_1_at_approval":                 {1, Date{}, time.Date(2022, 3, 1, 9, 0, 0, 0, time.UTC), 2022},
		"tranche_1_copenhagen_new_year":         {1, Date{}, newYearsEve, 2023},
		"tranche_2_previous_due_date":           {2, NewDate(2024, 6, 1), newYearsEve, 2024},
		"tranche_3_previous_due_date_not_first": {3, NewDate(2021, 12, 31), newYearsEve, 2021},
		"tranche_2_without_due_date_at_step":    {2, Date{}, newYearsEve, 2023},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := TrancheYear(c.no, c.prev, c.at); got != c.want {
				t.Fatalf("TrancheYear(%d, %s, %s) = %d, want %d", c.no, c.prev, c.at, got, c.want)
			}
		})
	}
}

func TestPlannedTranchesSkipsReleasedAndPlansByPreviousDueDate(t *testing.T) {
	ini := &Initiative{Milestones: []Milestone{
		{No: 1, DueDate: NewDate(2022, 6, 1), TrancheStatus: TranchePaid,
			Tranche: []SourceAmount{{SourceID: "lbf", AmountØre: 100}}},
		{No: 2, DueDate: NewDate(2023, 6, 1), TrancheStatus: TrancheScheduled,
			Tranche: []SourceAmount{{SourceID: "lbf", AmountØre: 200}, {SourceID: "kommune", AmountØre: 0}}},
		{No: 3, DueDate: NewDate(2026, 6, 1), TrancheStatus: TrancheScheduled,
			Tranche: []SourceAmount{{SourceID: "kommune", AmountØre: 300}}},
	}}
	got := PlannedTranches(ini, time.Date(2022, 3, 1, 9, 0, 0, 0, time.UTC))
	want := []YearAmount{{SourceID: "lbf", Year: 2022, AmountØre: 200}, {SourceID: "kommune", Year: 2023, AmountØre: 300}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("PlannedTranches (-want +got):\n%s", diff)
	}
	// An approval: every tranche is scheduled; tranche 1 goes in the approval's year.
	ini.Milestones[0].TrancheStatus = TrancheScheduled
	got = PlannedTranches(ini, time.Date(2021, 11, 1, 9, 0, 0, 0, time.UTC))
	if got[0] != (YearAmount{SourceID: "lbf", Year: 2021, AmountØre: 100}) {
		t.Fatalf("tranche 1 = %+v, want lbf 2021 100", got[0])
	}
}

// lbfYears is Landsbyggefonden's commitment in the seed's even split: 2.741.800 kr. a year for 2021-2025.
var lbfYears = map[int]Money{2021: Kroner(2_741_800), 2022: Kroner(2_741_800), 2023: Kroner(2_741_800),
	2024: Kroner(2_741_800), 2025: Kroner(2_741_800)}

func yearBudget() YearBudget {
	return YearBudget{
		Years: []int{2021, 2022, 2023, 2024, 2025},
		Sources: []YearSource{{ID: "lbf", Name: "Landsbyggefonden", Committed: lbfYears},
			{ID: "kommune", Name: "Viborg Kommune", Committed: nil}},
	}
}

func ya(source string, year int, m Money) YearAmount {
	return YearAmount{SourceID: source, Year: year, AmountØre: m}
}

func TestCheckYearCommitments(t *testing.T) {
	limit := Kroner(2_741_800)
	cases := map[string]struct {
		change bool
		edit   func(b *YearBudget)
		want   string // the refusal's message; "" passes
	}{
		"approval_exactly_at_commitment_passes": {edit: func(b *YearBudget) {
			b.Released = []YearAmount{ya("lbf", 2023, Kroner(1_000_000))}
			b.Planned = []YearAmount{ya("lbf", 2023, Kroner(1_000_000))}
			b.After = []YearAmount{ya("lbf", 2023, Kroner(741_800))}
		}},
		"approval_one_øre_over_refused": {edit: func(b *YearBudget) {
			b.Released = []YearAmount{ya("lbf", 2023, Kroner(1_000_000))}
			b.Planned = []YearAmount{ya("lbf", 2023, Kroner(1_000_000))}
			b.After = []YearAmount{ya("lbf", 2023, Kroner(741_800)+1)}
		}, want: "Landsbyggefonden har givet tilsagn om 2.741.800,00 kr. for 2023; der er frigivet 1.000.000,00 kr. " +
			"og planlagt 1.000.000,00 kr., og forslaget beder om 741.800,01 kr. i 2023 — 0,01 kr. for meget."},
		"approval_over_in_one_year_only_that_year_named": {edit: func(b *YearBudget) {
			b.Planned = []YearAmount{ya("lbf", 2023, Kroner(2_500_000)), ya("lbf", 2024, Kroner(100))}
			b.After = []YearAmount{ya("lbf", 2023, Kroner(200_000)), ya("lbf", 2023, Kroner(200_000)),
				ya("lbf", 2024, Kroner(400_000))}
		}, want: "Landsbyggefonden har givet tilsagn om 2.741.800,00 kr. for 2023; der er frigivet 0,00 kr. " +
			"og planlagt 2.500.000,00 kr., og forslaget beder om 400.000,00 kr. i 2023 — 158.200,00 kr. for meget."},
		"two_years_over_both_named_in_order": {edit: func(b *YearBudget) {
			b.After = []YearAmount{ya("lbf", 2025, limit+2), ya("lbf", 2022, limit+1)}
		}, want: "Landsbyggefonden har givet tilsagn om 2.741.800,00 kr. for 2022; der er frigivet 0,00 kr. og " +
			"planlagt 0,00 kr., og forslaget beder om 2.741.800,01 kr. i 2022 — 0,01 kr. for meget. " +
			"Landsbyggefonden har givet tilsagn om 2.741.800,00 kr. for 2025; der er frigivet 0,00 kr. og " +
			"planlagt 0,00 kr., og forslaget beder om 2.741.800,02 kr. i 2025 — 0,02 kr. for meget."},
		"released_counts_in_its_year": {edit: func(b *YearBudget) {
			b.Released = []YearAmount{ya("lbf", 2022, limit)}
			b.After = []YearAmount{ya("lbf", 2022, 1)}
		}, want: "Landsbyggefonden har givet tilsagn om 2.741.800,00 kr. for 2022; der er frigivet 2.741.800,00 kr. " +
			"og planlagt 0,00 kr., og forslaget beder om 0,01 kr. i 2022 — 0,01 kr. for meget."},
		"released_in_another_year_does_not_count": {edit: func(b *YearBudget) {
			b.Released = []YearAmount{ya("lbf", 2021, limit)}
			b.After = []YearAmount{ya("lbf", 2022, limit)}
		}},
		"source_without_split_not_checked": {edit: func(b *YearBudget) {
			b.After = []YearAmount{ya("kommune", 2022, MaxMoney)}
		}},
		"year_after_plan_charged_to_last_year": {edit: func(b *YearBudget) {
			b.Planned = []YearAmount{ya("lbf", 2025, limit)}
			b.After = []YearAmount{ya("lbf", 2027, Kroner(300))}
		}, want: "Landsbyggefonden har givet tilsagn om 2.741.800,00 kr. for 2025; der er frigivet 0,00 kr. og " +
			"planlagt 2.741.800,00 kr., og forslaget beder om 300,00 kr. i 2025 (heraf 300,00 kr. planlagt efter " +
			"planens periode, som regnes med i 2025) — 300,00 kr. for meget."},
		"year_before_plan_charged_to_first_year": {edit: func(b *YearBudget) {
			b.Released = []YearAmount{ya("lbf", 2020, limit)} // released before the period: the first year
			b.After = []YearAmount{ya("lbf", 2019, Kroner(5)), ya("lbf", 2021, Kroner(5))}
		}, want: "Landsbyggefonden har givet tilsagn om 2.741.800,00 kr. for 2021; der er frigivet 2.741.800,00 kr. " +
			"og planlagt 0,00 kr., og forslaget beder om 10,00 kr. i 2021 (heraf 5,00 kr. planlagt før planens " +
			"periode, som regnes med i 2021) — 10,00 kr. for meget."},
		"year_already_over_not_made_worse_passes": {change: true, edit: func(b *YearBudget) {
			// An admin lowered 2023 below what was planned; the change moves money out of 2023, not into it.
			b.Sources[0].Committed = map[int]Money{2023: Kroner(100), 2024: Kroner(1_000_000)}
			b.Planned = []YearAmount{ya("lbf", 2023, Kroner(500))}
			b.Before = []YearAmount{ya("lbf", 2023, Kroner(400))}
			b.After = []YearAmount{ya("lbf", 2023, Kroner(300)), ya("lbf", 2024, Kroner(100))}
		}},
		"year_already_over_made_worse_refused": {change: true, edit: func(b *YearBudget) {
			b.Sources[0].Committed = map[int]Money{2023: Kroner(100)}
			b.Planned = []YearAmount{ya("lbf", 2023, Kroner(500))}
			b.Before = []YearAmount{ya("lbf", 2023, Kroner(400))}
			b.After = []YearAmount{ya("lbf", 2023, Kroner(400)+1)}
		}, want: "Landsbyggefonden har givet tilsagn om 100,00 kr. for 2023; der er frigivet 0,00 kr. og " +
			"planlagt 500,00 kr., og ændringen planlægger 400,01 kr. i 2023 (før 400,00 kr.) — 800,01 kr. for meget."},
		"change_moving_tranche_checked_against_new_year": {change: true, edit: func(b *YearBudget) {
			b.Planned = []YearAmount{ya("lbf", 2024, limit-Kroner(100))}
			b.Before = []YearAmount{ya("lbf", 2023, Kroner(200))}
			b.After = []YearAmount{ya("lbf", 2024, Kroner(200))}
		}, want: "Landsbyggefonden har givet tilsagn om 2.741.800,00 kr. for 2024; der er frigivet 0,00 kr. og " +
			"planlagt 2.741.700,00 kr., og ændringen planlægger 200,00 kr. i 2024 (før 0,00 kr.) — 100,00 kr. for meget."},
		"change_replaces_own_old_plan": {change: true, edit: func(b *YearBudget) {
			// The old plan fills 2023; the new plan keeps it and adds nothing there: it is not counted twice.
			b.Before = []YearAmount{ya("lbf", 2023, limit)}
			b.After = []YearAmount{ya("lbf", 2023, limit)}
		}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			b := yearBudget()
			c.edit(&b)
			err := CheckYearCommitments(b, c.change)
			if c.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var re *RuleError
			if !errors.As(err, &re) || re.Code != CodeYearCommitmentExceeded {
				t.Fatalf("err = %v, want %s", err, CodeYearCommitmentExceeded)
			}
			if diff := cmp.Diff(c.want, re.Message); diff != "" {
				t.Fatalf("message (-want +got):\n%s", diff)
			}
		})
	}
}

func TestYearOverrunsRefusesToWrap(t *testing.T) {
	cases := map[string]func(b *YearBudget){
		"amount_above_max": func(b *YearBudget) { b.After = []YearAmount{ya("lbf", 2022, MaxMoney+1)} },
		"negative_amount":  func(b *YearBudget) { b.Planned = []YearAmount{ya("lbf", 2022, -1)} },
		"sum_of_one_side_overflows": func(b *YearBudget) {
			b.Planned = make([]YearAmount, 9300) // 9300 * 10^15 > MaxInt64
			for i := range b.Planned {
				b.Planned[i] = ya("lbf", 2022, MaxMoney)
			}
		},
		"released_plus_planned_plus_after_overflows": func(b *YearBudget) {
			for range 4000 {
				b.Released = append(b.Released, ya("lbf", 2022, MaxMoney))
				b.Planned = append(b.Planned, ya("lbf", 2022, MaxMoney))
				b.After = append(b.After, ya("lbf", 2022, MaxMoney))
			}
		},
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			b := yearBudget()
			edit(&b)
			_, err := YearOverruns(b)
			if !errors.Is(err, ErrYearSums) {
				t.Fatalf("err = %v, want ErrYearSums", err)
			}
			var re *RuleError
			if err := CheckYearCommitments(b, false); err == nil || errors.As(err, &re) {
				t.Fatalf("CheckYearCommitments = %v, want a plain error (a bug, not a refusal)", err)
			}
		})
	}
}

func TestYearOverrunsWithoutPlanYearsChecksNothing(t *testing.T) {
	b := yearBudget()
	b.Years = nil
	b.After = []YearAmount{ya("lbf", 2022, MaxMoney)}
	if over, err := YearOverruns(b); err != nil || over != nil {
		t.Fatalf("YearOverruns = %v, %v", over, err)
	}
}
