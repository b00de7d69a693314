package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/helhedsplan/helhedsplan/domain"
)

type doctorBody struct {
	Repair bool `json:"repair"`
}

type doctorFindingOut struct {
	InitiativeID string `json:"initiative_id"`
	Kind         string `json:"kind"`
	Detail       string `json:"detail"`
	Repaired     bool   `json:"repaired"`
}

type doctorOut struct {
	PlanID     string             `json:"plan_id"`
	Checked    int                `json:"checked"`
	Unrepaired int                `json:"unrepaired"`
	Findings   []doctorFindingOut `json:"findings"`
}

// runDoctor lets a plan's admin see (GET) and repair what is safe (POST {"repair": true}) where a workflow and the
// database disagree — the same check as `helhedsplan doctor`, limited to the plan.
func (s *server) runDoctor(c echo.Context) error {
	id := c.Param("planID")
	role, err := planRole(c, id)
	if err != nil {
		return err
	}
	if err := requireRole(role, "køre driftstjekket", domain.RoleAdmin); err != nil {
		return err
	}
	var b doctorBody
	if c.Request().Method == http.MethodPost {
		if err := decodeJSON(c, &b, true); err != nil {
			return err
		}
	}
	if s.cfg.Doctor == nil {
		return fmt.Errorf("%w: no doctor configured", ErrUnavailable)
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.DoctorTimeout)
	defer cancel()
	rep, err := s.cfg.Doctor.Check(ctx, id, b.Repair)
	if err != nil {
		return fmt.Errorf("doctor for plan %s: %w", id, err)
	}
	out := doctorOut{PlanID: id, Checked: rep.Checked, Unrepaired: rep.Unrepaired(),
		Findings: make([]doctorFindingOut, len(rep.Findings))}
	for i, f := range rep.Findings {
		out.Findings[i] = doctorFindingOut(f)
	}
	return c.JSON(http.StatusOK, out)
}
