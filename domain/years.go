package domain

// Years of a plan and the even split of a funding source's commitment over them (store/years.go keeps the split
// as plan data with history; this is the rule the seed uses for version 1).

// PlanYears returns the calendar years the plan period touches, in order: 2021..2025 for 2021-01-01..2025-12-31.
func PlanYears(start, end Date) []int {
	if start.IsZero() || end.IsZero() || end.Before(start) {
		return nil
	}
	var out []int
	for y := start.Time().Year(); y <= end.Time().Year(); y++ {
		out = append(out, y)
	}
	return out
}

// EvenSplit divides total over n years in whole øre: each year gets total/n, the remainder goes to the last year,
// so the parts add up to total exactly. n <= 0 gives nil; a negative total is split as 0.
func EvenSplit(total Money, n int) []Money {
	if n <= 0 {
		return nil
	}
	if total < 0 {
		total = 0
	}
	out := make([]Money, n)
	each := total / Money(n)
	for i := range out {
		out[i] = each
	}
	out[n-1] = total - each*Money(n-1)
	return out
}
