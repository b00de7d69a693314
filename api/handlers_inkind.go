package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// In-kind contributions (naturalydelser): registered on an approved initiative's milestone by the operational
// group or admin, confirmed or rejected by finance or admin (never by the one who registered), listed per plan.

const (
	pathInitiativeInKind = "/api/v1/initiatives/:id/inkind"
	pathInKindConfirm    = "/api/v1/inkind/:id/confirm"
	pathInKindReject     = "/api/v1/inkind/:id/reject"
	pathPlanInKind       = "/api/v1/plans/:planID/inkind"
)

// registerInKind adds the routes of this file.
func (s *server) registerInKind(add func(method, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc),
	read, write []echo.MiddlewareFunc) {
	add(http.MethodPost, pathInitiativeInKind, s.registerInKindContribution, write...)
	add(http.MethodPost, pathInKindConfirm, s.confirmInKind, write...)
	add(http.MethodPost, pathInKindReject, s.rejectInKind, write...)
	add(http.MethodGet, pathPlanInKind, s.listInKind, read...)
}

// inKindBody registers a contribution: hours and rate_ore, or value_ore.
type inKindBody struct {
	SourceID    string        `json:"source_id" required:"true"`
	MilestoneNo int           `json:"milestone_no" required:"true"`
	Description string        `json:"description" required:"true"`
	Hours       *int64        `json:"hours"`
	RateOre     *domain.Money `json:"rate_ore"`
	ValueOre    *domain.Money `json:"value_ore"`
}

type inKindRejectBody struct {
	Reason string `json:"reason" required:"true"`
}

type inKindOut struct {
	ID               int64      `json:"id"`
	PlanID           string     `json:"plan_id"`
	InitiativeID     string     `json:"initiative_id"`
	InitiativeTitle  string     `json:"initiative_title"`
	MilestoneNo      int        `json:"milestone_no"`
	SourceID         string     `json:"source_id"`
	SourceName       string     `json:"source_name"`
	Description      string     `json:"description"`
	Hours            *int64     `json:"hours"`
	RateOre          *int64     `json:"rate_ore"`
	ValueOre         int64      `json:"value_ore"`
	Value            string     `json:"value"`
	Status           string     `json:"status"`
	StatusName       string     `json:"status_name"`
	Reason           string     `json:"reason"`
	RegisteredBy     string     `json:"registered_by"`
	RegisteredByName string     `json:"registered_by_name"`
	RegisteredAt     time.Time  `json:"registered_at"`
	DecidedBy        *string    `json:"decided_by"`
	DecidedByName    string     `json:"decided_by_name"`
	DecidedAt        *time.Time `json:"decided_at"`
}

func inKindToOut(c store.InKindContribution) inKindOut {
	return inKindOut{ID: c.ID, PlanID: c.PlanID, InitiativeID: c.InitiativeID, InitiativeTitle: c.InitiativeTitle,
		MilestoneNo: c.MilestoneNo, SourceID: c.SourceID, SourceName: c.SourceName, Description: c.Description,
		Hours: c.Hours, RateOre: c.RateØre, ValueOre: c.ValueØre, Value: domain.Money(c.ValueØre).String(),
		Status: string(c.Status), StatusName: c.Status.DanishName(), Reason: c.Reason, RegisteredBy: c.RegisteredBy,
		RegisteredByName: c.RegisteredByName, RegisteredAt: c.RegisteredAt, DecidedBy: c.DecidedBy,
		DecidedByName: c.DecidedByName, DecidedAt: c.DecidedAt}
}

func (s *server) registerInKindContribution(c echo.Context) error {
	c.Set(ctxInitiativeID, c.Param("id"))
	var b inKindBody
	if err := decodeJSON(c, &b, false); err != nil {
		return err
	}
	out, err := s.svc.RegisterInKind(c.Request().Context(), principalOf(c), c.Param("id"), domain.InKind{
		SourceID: b.SourceID, MilestoneNo: b.MilestoneNo, Description: b.Description, Hours: b.Hours,
		RateØre: b.RateOre, ValueØre: b.ValueOre, RequestKey: idem(c).Key()})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, inKindToOut(out))
}

// inKindID reads the contribution's ID from the path; anything but a positive integer is not found.
func inKindID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, domain.Refuse(domain.CodeNotFound, "Naturalydelsen findes ikke.")
	}
	return id, nil
}

func (s *server) confirmInKind(c echo.Context) error {
	id, err := inKindID(c)
	if err != nil {
		return err
	}
	// No body is needed; an empty JSON object is accepted, anything else refused.
	var b struct{}
	if err := decodeJSON(c, &b, true); err != nil {
		return err
	}
	out, err := s.svc.DecideInKind(c.Request().Context(), principalOf(c), id, domain.InKindConfirmed, "")
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, inKindToOut(out))
}

func (s *server) rejectInKind(c echo.Context) error {
	id, err := inKindID(c)
	if err != nil {
		return err
	}
	var b inKindRejectBody
	if err := decodeJSON(c, &b, false); err != nil {
		return err
	}
	out, err := s.svc.DecideInKind(c.Request().Context(), principalOf(c), id, domain.InKindRejected, b.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, inKindToOut(out))
}

func (s *server) listInKind(c echo.Context) error {
	items, err := s.svc.InKind(c.Request().Context(), principalOf(c), c.Param("planID"), c.QueryParam("status"))
	if err != nil {
		return err
	}
	out := make([]inKindOut, len(items))
	for i, it := range items {
		out[i] = inKindToOut(it)
	}
	return c.JSON(http.StatusOK, map[string]any{"items": out})
}
