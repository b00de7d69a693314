package api

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/workflows"
)

func (s *server) listDisbursements(c echo.Context) error {
	planID, role, err := queryPlan(c)
	if err != nil {
		return err
	}
	if err := requireRole(role, "se udbetalinger", domain.RoleFinance, domain.RoleAdmin, domain.RoleBoard); err != nil {
		return err
	}
	status := c.QueryParam("status")
	if status != "" && status != store.DisbursementPending && status != store.DisbursementPaid {
		return badRequest("status", "unknown", fmt.Sprintf("Ukendt status %q. Brug %s eller %s.",
			status, store.DisbursementPending, store.DisbursementPaid))
	}
	limit, cursor, err := queryPage(c)
	if err != nil {
		return err
	}
	items, next, err := s.st.ListDisbursements(c.Request().Context(), store.DisbursementFilter{
		PlanID: planID, Status: status, After: cursor, Limit: limit,
	})
	if err != nil {
		return fmt.Errorf("list disbursements: %w", err)
	}
	out := make([]disbursementOut, len(items))
	for i, d := range items {
		out[i] = disbursementToOut(d)
	}
	return c.JSON(http.StatusOK, page(out, next))
}

// confirmUpdateID names the confirm update after what is confirmed, not who asks or with which key: two finance
// users (or one double click) confirming the same payment with the same reference are one update to Temporal, and
// both get its result.
func confirmUpdateID(disbursementID, reference string) string {
	sum := sha256.Sum256([]byte(reference))
	return "confirm/" + disbursementID + "/" + hex.EncodeToString(sum[:8])
}

func (s *server) confirmPayment(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	if id == "" || len(id) > maxIDLen {
		return disbursementNotFound(id)
	}
	d, err := s.st.GetDisbursement(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return disbursementNotFound(id)
	}
	if err != nil {
		return fmt.Errorf("get disbursement %s: %w", id, err)
	}
	c.Set(ctxInitiativeID, d.InitiativeID)
	role, ok := principalOf(c).Roles[d.PlanID]
	if !ok {
		return disbursementNotFound(id)
	}
	if err := requireRole(role, "bekræfte en udbetaling", domain.RoleFinance); err != nil {
		return err
	}
	var b confirmBody
	if err := decodeJSON(c, &b, false); err != nil {
		return err
	}
	ref := strings.TrimSpace(b.Reference) // a stray space would otherwise count as another reference
	if _, err := s.wf.Update(ctx, d.InitiativeID, workflows.UpdateConfirmPayment, confirmUpdateID(id, ref),
		workflows.ConfirmPaymentInput{Actor: actor(principalOf(c), role), DisbursementID: id, Reference: ref}); err != nil {
		return err
	}
	d, err = s.st.GetDisbursement(ctx, id)
	if err != nil {
		return fmt.Errorf("get disbursement %s after payment: %w", id, err)
	}
	return c.JSON(http.StatusOK, disbursementToOut(d))
}
