package service

import (
	"context"
	"errors"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// DefaultWebhookBacklogAlert is how old the oldest undelivered finance message may grow before the backlog is
// flagged, when the caller names no threshold (config HELHEDSPLAN_WEBHOOK_BACKLOG_ALERT).
const DefaultWebhookBacklogAlert = 15 * time.Minute

// DeliveryStore reads the finance webhook's delivery state (implemented by *store.Store).
type DeliveryStore interface {
	WebhookDelivery(ctx context.Context) (store.WebhookDelivery, error)
}

var errNoDeliveryStore = errors.New("service: the store keeps no outbox")

// WebhookDeliveryState is the finance webhook's delivery state as finance and admin see it, judged at Now.
type WebhookDeliveryState struct {
	store.WebhookDelivery
	Now        time.Time
	AlertAfter time.Duration // the threshold the backlog was judged by
	// BacklogAge is how long the oldest undelivered message has waited; Late when that is AlertAfter or more.
	BacklogAge time.Duration
	Late       bool
	// Seen says a dispatcher with a webhook has handled finance messages: one was delivered or attempted. The
	// outbox leaves finance messages untried while no webhook is configured, so a false Seen with messages
	// waiting means the worker has none (or does not run).
	Seen bool
}

// Roles that may see the webhook's delivery state: those who act on a message that did not arrive.
var deliveryReaders = []domain.Role{domain.RoleFinance, domain.RoleAdmin}

// WebhookDelivery returns the finance webhook's delivery state for p, a member of planID with the role finance
// or admin, judged at now with the backlog threshold alertAfter (DefaultWebhookBacklogAlert when <= 0). The
// outbox serves every plan through one webhook, so the state is not the plan's alone.
func (s *Service) WebhookDelivery(ctx context.Context, p store.Principal, planID string, now time.Time,
	alertAfter time.Duration) (WebhookDeliveryState, error) {
	role, err := PlanRole(p, planID)
	if err != nil {
		return WebhookDeliveryState{}, err
	}
	if err := RequireRole(role, "se leveringen af betalingsbeskeder til økonomisystemet", deliveryReaders...); err != nil {
		return WebhookDeliveryState{}, err
	}
	ds, ok := s.st.(DeliveryStore)
	if !ok {
		return WebhookDeliveryState{}, errNoDeliveryStore
	}
	d, err := ds.WebhookDelivery(ctx)
	if err != nil {
		return WebhookDeliveryState{}, err
	}
	return JudgeDelivery(d, now, alertAfter), nil
}

// JudgeDelivery judges a delivery state at now against the threshold alertAfter (DefaultWebhookBacklogAlert
// when <= 0).
func JudgeDelivery(d store.WebhookDelivery, now time.Time, alertAfter time.Duration) WebhookDeliveryState {
	if alertAfter <= 0 {
		alertAfter = DefaultWebhookBacklogAlert
	}
	age := d.Overall.BacklogAge(now)
	return WebhookDeliveryState{WebhookDelivery: d, Now: now, AlertAfter: alertAfter, BacklogAge: age,
		Late: d.Overall.Waiting > 0 && age >= alertAfter, Seen: d.Overall.Delivered > 0 || d.Overall.Retrying > 0}
}
