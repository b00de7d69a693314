package web

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// The finance webhook's delivery state on Økonomi (service.WebhookDelivery): finance and admin see whether the
// messages about released and paid tranches reach the finance system, and a warning when the oldest waiting one
// is older than Config.WebhookBacklogAlert. Others who see Økonomi (the board) get the page without it.

// deliveryPanel is the delivery state as the page shows it.
type deliveryPanel struct {
	Late        bool
	OldestSince string // when the oldest waiting message was written
	OldestAge   string // and how long ago, in words
	AlertAfter  string
	// Unseen: no finance message was ever delivered or tried, so no worker with a webhook has handled any.
	Unseen  bool
	Empty   bool // no finance messages at all
	Overall deliveryRow
	Topics  []deliveryRow
}

type deliveryRow struct {
	Name                          string
	Delivered, Waiting, Retrying  int
	OldestSince, OldestAge        string
	FailingSince, LastError, Last string
}

// topicNames are the finance topics in Danish.
var topicNames = map[string]string{
	"disbursement.released":  "Frigivne rater",
	"disbursement.paid":      "Betalte rater",
	"disbursement.withdrawn": "Tilbagetrukne rater",
}

// financeDeliveryPanel reads the delivery state for the page; nil when the user may not see it or it cannot be
// read (the rest of the page is still worth showing; the failure is logged).
func (w *Web) financeDeliveryPanel(r *http.Request, v *viewer) *deliveryPanel {
	if w.svc == nil {
		return nil
	}
	st, err := w.svc.WebhookDelivery(r.Context(), v.Principal, v.Plan.ID, w.cfg.Now(), w.cfg.WebhookBacklogAlert)
	if err != nil {
		var refusal *domain.RuleError
		if !errors.As(err, &refusal) {
			w.log.Error("web: reading the webhook delivery state", "error", err)
		}
		return nil
	}
	p := &deliveryPanel{Late: st.Late, AlertAfter: formatAge(st.AlertAfter), Unseen: !st.Seen,
		Empty: st.Overall.Delivered+st.Overall.Waiting == 0, Overall: deliveryRowOf(st.Overall, st.Now)}
	p.OldestSince, p.OldestAge = p.Overall.OldestSince, p.Overall.OldestAge
	for _, t := range st.Topics {
		p.Topics = append(p.Topics, deliveryRowOf(t, st.Now))
	}
	return p
}

func deliveryRowOf(d store.DeliveryStats, now time.Time) deliveryRow {
	name := topicNames[d.Topic]
	if name == "" {
		name = d.Topic
	}
	row := deliveryRow{Name: name, Delivered: d.Delivered, Waiting: d.Waiting, Retrying: d.Retrying,
		LastError: d.LastError}
	if d.OldestWaitingAt != nil {
		row.OldestSince, row.OldestAge = formatDateTime(*d.OldestWaitingAt), formatAge(d.BacklogAge(now))
	}
	if d.FailingSince != nil {
		row.FailingSince = formatDateTime(*d.FailingSince)
	}
	if d.LastDeliveredAt != nil {
		row.Last = formatDateTime(*d.LastDeliveredAt)
	}
	return row
}

// formatAge says a duration in Danish words, to the minute: "under 1 minut", "25 min.", "2 t. 5 min.", "3 dage".
func formatAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "under 1 minut"
	case d < time.Hour:
		return fmt.Sprintf("%d min.", int(d/time.Minute))
	case d < 48*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%d t.", h)
		}
		return fmt.Sprintf("%d t. %d min.", h, m)
	default:
		return fmt.Sprintf("%d dage", int(d/(24*time.Hour)))
	}
}
