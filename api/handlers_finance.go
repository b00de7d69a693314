package api

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
)

func (s *server) listDisbursements(c echo.Context) error {
	p := principalOf(c)
	planID, _, err := queryPlan(c)
	if err != nil {
		return err
	}
	if err := service.CheckDisbursementAccess(p, planID); err != nil {
		return err
	}
	status := c.QueryParam("status")
	switch status {
	case "", store.DisbursementPending, store.DisbursementPaid, store.DisbursementWithdrawn:
	default:
		return badRequest("status", "unknown", fmt.Sprintf("Ukendt status %q. Brug %s, %s eller %s.",
			status, store.DisbursementPending, store.DisbursementPaid, store.DisbursementWithdrawn))
	}
	limit, cursor, err := queryPage(c)
	if err != nil {
		return err
	}
	items, next, err := s.svc.Disbursements(c.Request().Context(), p, store.DisbursementFilter{
		PlanID: planID, Status: status, After: cursor, Limit: limit,
	})
	if err != nil {
		return err
	}
	out := make([]disbursementOut, len(items))
	for i, d := range items {
		out[i] = disbursementToOut(d)
	}
	return c.JSON(http.StatusOK, page(out, next))
}

func (s *server) confirmPayment(c echo.Context) error {
	t, err := s.svc.BeginPayment(c.Request().Context(), principalOf(c), c.Param("id"))
	if t != nil {
		c.Set(ctxInitiativeID, t.Initiative.ID)
	}
	if err != nil {
		return err
	}
	var b confirmBody
	if err := decodeJSON(c, &b, false); err != nil {
		return err
	}
	d, err := s.svc.ConfirmPayment(c.Request().Context(), t, b.Reference)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, disbursementToOut(d))
}
