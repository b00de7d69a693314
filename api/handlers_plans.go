package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/helhedsplan/helhedsplan/service"
)

// me tells the caller who the token belongs to and their role in each plan, so a client can choose what to show.
func (s *server) me(c echo.Context) error {
	p := principalOf(c)
	plans, err := s.svc.Plans(c.Request().Context(), p)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, pl := range plans {
		names[pl.ID] = pl.Name
	}
	ids := service.PlanIDs(p)
	out := meOut{UserID: p.UserID, Name: p.Name, Email: p.Email, Plans: make([]memberPlan, len(ids))}
	for i, id := range ids {
		role := p.Roles[id]
		out.Plans[i] = memberPlan{PlanID: id, PlanName: names[id], Role: string(role), RoleName: role.DanishName()}
	}
	return c.JSON(http.StatusOK, out)
}

type plansOut struct {
	Items []planSummaryOut `json:"items"`
}

func (s *server) listPlans(c echo.Context) error {
	p := principalOf(c)
	plans, err := s.svc.Plans(c.Request().Context(), p)
	if err != nil {
		return err
	}
	out := plansOut{Items: []planSummaryOut{}}
	for _, pl := range plans {
		role := p.Roles[pl.ID]
		out.Items = append(out.Items, planSummaryOut{
			ID: pl.ID, Name: pl.Name, Municipality: pl.Municipality,
			PeriodStart: pl.PeriodStart.String(), PeriodEnd: pl.PeriodEnd.String(),
			Role: string(role), RoleName: role.DanishName(),
		})
	}
	return c.JSON(http.StatusOK, out)
}

func (s *server) getPlan(c echo.Context) error {
	plan, role, err := s.svc.Plan(c.Request().Context(), principalOf(c), c.Param("planID"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, planToOut(plan, role))
}

func (s *server) getBudget(c echo.Context) error {
	b, err := s.svc.Budget(c.Request().Context(), principalOf(c), c.Param("planID"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, budgetToOut(b))
}
