package domain_test

import (
	"testing"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
)

func day(y int, m time.Month, d int) domain.Date { return domain.NewDate(y, m, d) }

func TestIsBusinessDay(t *testing.T) {
	cal := domain.DanishBusinessCalendar()
	tests := []struct {
		name string
		d    domain.Date
		want bool
	}{
		{"ordinary_wednesday_open", day(2025, time.March, 5), true},
		{"saturday_closed", day(2025, time.March, 8), false},
		{"sunday_closed", day(2025, time.March, 9), false},
		{"nytaarsdag_2025_closed", day(2025, time.January, 1), false},
		{"skaertorsdag_2024_closed", day(2024, time.March, 28), false},
		{"langfredag_2024_closed", day(2024, time.March, 29), false},
		{"anden_paaskedag_2024_closed", day(2024, time.April, 1), false},
		{"tuesday_after_easter_2024_open", day(2024, time.April, 2), true},
		{"skaertorsdag_2025_closed", day(2025, time.April, 17), false},
		{"langfredag_2025_closed", day(2025, time.April, 18), false},
		{"anden_paaskedag_2025_closed", day(2025, time.April, 21), false},
		{"store_bededag_2022_closed", day(2022, time.May, 13), false},
		{"store_bededag_2023_closed", day(2023, time.May, 5), false},
		{"former_store_bededag_2024_open", day(2024, time.April, 26), true},
		{"former_store_bededag_2025_open", day(2025, time.May, 16), true},
		{"kristi_himmelfart_2024_closed", day(2024, time.May, 9), false},
		{"friday_after_kristi_himmelfart_2024_open", day(2024, time.May, 10), true},
		{"kristi_himmelfart_2025_closed", day(2025, time.May, 29), false},
		{"anden_pinsedag_2024_closed", day(2024, time.May, 20), false},
		{"anden_pinsedag_2025_closed", day(2025, time.June, 9), false},
		{"first_may_2025_open", day(2025, time.May, 1), true},
		{"grundlovsdag_2024_closed", day(2024, time.June, 5), false},
		{"juleaftensdag_2024_closed", day(2024, time.December, 24), false},
		{"juledag_2024_closed", day(2024, time.December, 25), false},
		{"anden_juledag_2024_closed", day(2024, time.December, 26), false},
		{"between_christmas_and_new_year_2024_open", day(2024, time.December, 27), true},
		{"nytaarsaftensdag_2024_closed", day(2024, time.December, 31), false},
		{"second_january_2025_open", day(2025, time.January, 2), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cal.IsBusinessDay(tt.d); got != tt.want {
				t.Errorf("IsBusinessDay(%s) = %v, want %v", tt.d, got, tt.want)
			}
		})
	}
}

func TestHolidayName(t *testing.T) {
	cal := domain.DanishBusinessCalendar()
	tests := []struct {
		name   string
		d      domain.Date
		want   string
		wantOK bool
	}{
		{"langfredag_named", day(2025, time.April, 18), "Langfredag", true},
		{"juleaftensdag_named", day(2025, time.December, 24), "Juleaftensdag", true},
		{"grundlovsdag_named", day(2025, time.June, 5), "Grundlovsdag", true},
		{"weekend_not_a_holiday", day(2025, time.April, 19), "", false},
		{"abolished_store_bededag_not_a_holiday", day(2024, time.April, 26), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := cal.Holiday(tt.d)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Holiday(%s) = %q, %v; want %q, %v", tt.d, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestAddBusinessDays(t *testing.T) {
	cal := domain.DanishBusinessCalendar()
	tests := []struct {
		name string
		from domain.Date
		n    int
		want domain.Date
	}{
		{"easter_2024_wednesday_plus_1_lands_tuesday", day(2024, time.March, 27), 1, day(2024, time.April, 2)},
		{"easter_2025_wednesday_plus_1_lands_tuesday", day(2025, time.April, 16), 1, day(2025, time.April, 22)},
		{"friday_plus_1_lands_monday", day(2025, time.March, 7), 1, day(2025, time.March, 10)},
		{"saturday_plus_1_lands_monday", day(2025, time.March, 8), 1, day(2025, time.March, 10)},
		{"saturday_plus_0_rolls_to_monday", day(2025, time.March, 8), 0, day(2025, time.March, 10)},
		{"business_day_plus_0_stays", day(2025, time.March, 5), 0, day(2025, time.March, 5)},
		{"juleaftensdag_plus_0_rolls_past_christmas", day(2024, time.December, 24), 0, day(2024, time.December, 27)},
		{"kristi_himmelfart_2025_wednesday_plus_1_lands_friday", day(2025, time.May, 28), 1, day(2025, time.May, 30)},
		{"christmas_2024_monday_plus_1_lands_27th", day(2024, time.December, 23), 1, day(2024, time.December, 27)},
		{"christmas_2024_monday_plus_3_crosses_new_year", day(2024, time.December, 23), 3, day(2025, time.January, 2)},
		{"year_boundary_2025_friday_plus_5", day(2025, time.December, 19), 5, day(2026, time.January, 2)},
		{"fifteen_days_across_easter_2025", day(2025, time.April, 9), 15, day(2025, time.May, 5)},
		{"fifteen_days_across_store_bededag_2023", day(2023, time.April, 20), 15, day(2023, time.May, 12)},
		{"fifteen_days_store_bededag_2024_counts", day(2024, time.April, 11), 15, day(2024, time.May, 2)},
		{"ten_days_across_pinse_2024", day(2024, time.May, 13), 10, day(2024, time.May, 28)},
		{"minus_1_from_tuesday_after_easter_2024", day(2024, time.April, 2), -1, day(2024, time.March, 27)},
		{"minus_2_from_january_2_2025", day(2025, time.January, 2), -2, day(2024, time.December, 27)},
		{"zero_date_stays_zero", domain.Date{}, 15, domain.Date{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cal.AddBusinessDays(tt.from, tt.n); got != tt.want {
				t.Errorf("AddBusinessDays(%s, %d) = %s, want %s", tt.from, tt.n, got, tt.want)
			}
		})
	}
}

func TestBusinessDaysBetween(t *testing.T) {
	cal := domain.DanishBusinessCalendar()
	tests := []struct {
		name string
		a, b domain.Date
		want int
	}{
		{"same_day_zero", day(2025, time.March, 5), day(2025, time.March, 5), 0},
		{"over_easter_2024_one", day(2024, time.March, 27), day(2024, time.April, 2), 1},
		{"backwards_over_easter_2024_minus_one", day(2024, time.April, 2), day(2024, time.March, 27), -1},
		{"weekend_only_zero", day(2025, time.March, 7), day(2025, time.March, 9), 0},
		{"fifteen_across_easter_2025", day(2025, time.April, 9), day(2025, time.May, 5), 15},
		{"christmas_week_2024_two", day(2024, time.December, 23), day(2025, time.January, 1), 2},
		{"whole_year_2025", day(2024, time.December, 31), day(2025, time.December, 31), 250},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cal.BusinessDaysBetween(tt.a, tt.b); got != tt.want {
				t.Errorf("BusinessDaysBetween(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

// TestAddAndBetweenAgree checks, for every start day over three years and every offset a deadline might use, that
// the deadline is a business day and that counting back gives the offset — the two functions cannot drift apart.
func TestAddAndBetweenAgree(t *testing.T) {
	cal := domain.DanishBusinessCalendar()
	end := time.Date(2026, time.February, 1, 0, 0, 0, 0, time.UTC)
	for t0 := time.Date(2023, time.December, 1, 0, 0, 0, 0, time.UTC); t0.Before(end); t0 = t0.AddDate(0, 0, 1) {
		d := day(t0.Year(), t0.Month(), t0.Day())
		for _, n := range []int{0, 1, 2, 5, 10, 15, 40} {
			got := cal.AddBusinessDays(d, n)
			if !cal.IsBusinessDay(got) {
				t.Fatalf("AddBusinessDays(%s, %d) = %s, not a business day", d, n, got)
			}
			if n == 0 && !cal.IsBusinessDay(d) {
				continue
			}
			if back := cal.BusinessDaysBetween(d, got); back != n {
				t.Fatalf("BusinessDaysBetween(%s, %s) = %d, want %d", d, got, back, n)
			}
			if n > 0 && cal.IsBusinessDay(d) {
				if back := cal.AddBusinessDays(got, -n); back != d {
					t.Fatalf("AddBusinessDays(%s, %d) = %s, want %s", got, -n, back, d)
				}
			}
		}
	}
}
