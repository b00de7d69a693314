package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// Returns (tilbagebetalinger): after close-out, money paid and not spent is a receivable from the initiative's
// holder; finance (or admin) marks it received with the bank's reference, and the money is available again.

const (
	pathPlanReturns          = "/api/v1/plans/:planID/returns"
	pathReturnReceive        = "/api/v1/finance/returns/:id/receive"
	pathInitiativeSettlement = "/api/v1/initiatives/:id/settlement"
)

// registerReturns adds the routes of this file.
func (s *server) registerReturns(add func(method, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc),
	read, write []echo.MiddlewareFunc) {
	add(http.MethodGet, pathPlanReturns, s.listReturns, read...)
	add(http.MethodPost, pathReturnReceive, s.receiveReturn, write...)
	add(http.MethodGet, pathInitiativeSettlement, s.getSettlement, read...)
	add(http.MethodPost, pathInitiativeSettlement, s.settleCancelled, write...)
}

type settlementBody struct {
	Spend []amountBody `json:"spend" required:"true"`
}

// settlementOut is an initiative's settlement: a completed one's close-out, or a cancelled one's afregning.
type settlementOut struct {
	InitiativeID string       `json:"initiative_id"`
	Settled      bool         `json:"settled"`
	Closeout     *closeoutOut `json:"closeout"`
	SettledBy    *string      `json:"settled_by"`
}

func (s *server) getSettlement(c echo.Context) error {
	c.Set(ctxInitiativeID, c.Param("id"))
	co, by, err := s.svc.Settlement(c.Request().Context(), principalOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, settlementToOut(c.Param("id"), co, by))
}

func (s *server) settleCancelled(c echo.Context) error {
	c.Set(ctxInitiativeID, c.Param("id"))
	var b settlementBody
	if err := decodeJSON(c, &b, false); err != nil {
		return err
	}
	co, err := s.svc.SettleCancelled(c.Request().Context(), principalOf(c), c.Param("id"), amountsToDomain(b.Spend))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, settlementToOut(c.Param("id"), co, principalOf(c).UserID))
}

func settlementToOut(id string, co *domain.Closeout, by string) settlementOut {
	out := settlementOut{InitiativeID: id, Settled: co != nil, Closeout: closeoutToOut(co)}
	if by != "" {
		out.SettledBy = &by
	}
	return out
}

type receiveReturnBody struct {
	Reference string `json:"reference" required:"true"`
}

type returnOut struct {
	ID              string     `json:"id"`
	PlanID          string     `json:"plan_id"`
	InitiativeID    string     `json:"initiative_id"`
	InitiativeTitle string     `json:"initiative_title"`
	DelaftaleID     string     `json:"delaftale_id"`
	SourceID        string     `json:"source_id"`
	SourceName      string     `json:"source_name"`
	AmountOre       int64      `json:"amount_ore"`
	Amount          string     `json:"amount"`
	Status          string     `json:"status"`
	CreatedAt       time.Time  `json:"created_at"`
	ReceivedAt      *time.Time `json:"received_at"`
	ReceivedBy      *string    `json:"received_by"`
	ReceivedByName  string     `json:"received_by_name"`
	Reference       *string    `json:"reference"`
	// PaymentReference is what the holder pays back with; a bank statement's incoming payment with it and the
	// amount registers the return received.
	PaymentReference string `json:"payment_reference"`
}

func returnToOut(r store.Return) returnOut {
	out := returnOut{ID: r.ID, PlanID: r.PlanID, InitiativeID: r.InitiativeID, InitiativeTitle: r.InitiativeTitle,
		DelaftaleID: r.DelaftaleID, SourceID: r.SourceID, SourceName: r.SourceName, AmountOre: r.AmountØre,
		Amount: domain.Money(r.AmountØre).String(), Status: r.Status, CreatedAt: r.CreatedAt,
		ReceivedAt: r.ReceivedAt, ReceivedBy: r.ReceivedBy, Reference: r.Reference,
		PaymentReference: domain.ReturnReference(r.ID)}
	if r.ReceivedByName != nil {
		out.ReceivedByName = *r.ReceivedByName
	}
	return out
}

func (s *server) listReturns(c echo.Context) error {
	items, err := s.svc.Returns(c.Request().Context(), principalOf(c), c.Param("planID"), c.QueryParam("status"))
	if err != nil {
		return err
	}
	out := make([]returnOut, len(items))
	var open, received domain.Money
	for i, it := range items {
		out[i] = returnToOut(it)
		if it.Status == store.ReturnOpen {
			open += domain.Money(it.AmountØre) // each at most 10^15, at most 10^4 rows: no overflow
		} else {
			received += domain.Money(it.AmountØre)
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"items": out, "open_ore": int64(open), "open": open.String(),
		"received_ore": int64(received), "received": received.String()})
}

func (s *server) receiveReturn(c echo.Context) error {
	var b receiveReturnBody
	if err := decodeJSON(c, &b, false); err != nil {
		return err
	}
	out, err := s.svc.ReceiveReturn(c.Request().Context(), principalOf(c), c.Param("id"), b.Reference)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, returnToOut(out))
}
