package api

import (
	"errors"
	"fmt"
	"net/http"
	"sort"

	"github.com/labstack/echo/v4"

	"github.com/helhedsplan/helhedsplan/store"
)

// me tells the caller who the token belongs to and their role in each plan, so a client can choose what to show.
func (s *server) me(c echo.Context) error {
	p := principalOf(c)
	ids := planIDs(p)
	names := map[string]string{}
	if len(ids) > 0 {
		plans, err := s.st.ListPlans(c.Request().Context(), ids)
		if err != nil {
			return fmt.Errorf("list plans: %w", err)
		}
		for _, pl := range plans {
			names[pl.ID] = pl.Name
		}
	}
	out := meOut{UserID: p.UserID, Name: p.Name, Email: p.Email, Plans: make([]memberPlan, len(ids))}
	for i, id := range ids {
		role := p.Roles[id]
		out.Plans[i] = memberPlan{PlanID: id, PlanName: names[id], Role: string(role), RoleName: role.DanishName()}
	}
	return c.JSON(http.StatusOK, out)
}

func planIDs(p store.Principal) []string {
	ids := make([]string, 0, len(p.Roles))
	for id := range p.Roles {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

type plansOut struct {
	Items []planSummaryOut `json:"items"`
}

func (s *server) listPlans(c echo.Context) error {
	p := principalOf(c)
	out := plansOut{Items: []planSummaryOut{}}
	ids := planIDs(p)
	if len(ids) == 0 {
		return c.JSON(http.StatusOK, out)
	}
	plans, err := s.st.ListPlans(c.Request().Context(), ids)
	if err != nil {
		return fmt.Errorf("list plans: %w", err)
	}
	for _, pl := range plans {
		role, ok := p.Roles[pl.ID]
		if !ok {
			continue // never show a plan the caller has no role in, whatever the store returned
		}
		out.Items = append(out.Items, planSummaryOut{
			ID: pl.ID, Name: pl.Name, Municipality: pl.Municipality,
			PeriodStart: pl.PeriodStart.String(), PeriodEnd: pl.PeriodEnd.String(),
			Role: string(role), RoleName: role.DanishName(),
		})
	}
	return c.JSON(http.StatusOK, out)
}

func (s *server) getPlan(c echo.Context) error {
	id := c.Param("planID")
	role, err := planRole(c, id)
	if err != nil {
		return err
	}
	plan, err := s.st.GetPlan(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return planNotFound(id)
	}
	if err != nil {
		return fmt.Errorf("get plan %s: %w", id, err)
	}
	return c.JSON(http.StatusOK, planToOut(plan, role))
}

func (s *server) getBudget(c echo.Context) error {
	id := c.Param("planID")
	if _, err := planRole(c, id); err != nil {
		return err
	}
	b, err := s.st.Budget(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return planNotFound(id)
	}
	if err != nil {
		return fmt.Errorf("budget of plan %s: %w", id, err)
	}
	return c.JSON(http.StatusOK, budgetToOut(b))
}
