package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
)

// The finance webhook's delivery state (service/delivery.go): finance and admin see whether the messages about
// released and paid tranches reach the finance system, and whether the backlog is older than
// Config.WebhookBacklogAlert. The same state is a Prometheus metric, so an operator is alerted without a page.

const pathFinanceDelivery = "/api/v1/finance/delivery"

func (s *server) registerDelivery(add func(method, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc),
	read []echo.MiddlewareFunc) {
	add(http.MethodGet, pathFinanceDelivery, s.getFinanceDelivery, read...)
}

type deliveryStatsOut struct {
	Topic                   string     `json:"topic,omitempty"`
	Delivered               int        `json:"delivered"`
	Waiting                 int        `json:"waiting"`
	Retrying                int        `json:"retrying"`
	OldestWaitingAt         *time.Time `json:"oldest_waiting_at"`
	OldestWaitingAgeSeconds int64      `json:"oldest_waiting_age_seconds"`
	FailingSince            *time.Time `json:"failing_since"`
	LastError               *string    `json:"last_error"`
	LastDeliveredAt         *time.Time `json:"last_delivered_at"`
}

type deliveryOut struct {
	CheckedAt         time.Time          `json:"checked_at"`
	AlertAfterSeconds int64              `json:"alert_after_seconds"`
	BacklogLate       bool               `json:"backlog_late"`
	WebhookSeen       bool               `json:"webhook_seen"`
	Overall           deliveryStatsOut   `json:"overall"`
	Topics            []deliveryStatsOut `json:"topics"`
}

func deliveryStatsToOut(d store.DeliveryStats, now time.Time) deliveryStatsOut {
	out := deliveryStatsOut{Topic: d.Topic, Delivered: d.Delivered, Waiting: d.Waiting, Retrying: d.Retrying,
		OldestWaitingAt: d.OldestWaitingAt, OldestWaitingAgeSeconds: int64(d.BacklogAge(now) / time.Second),
		FailingSince: d.FailingSince, LastDeliveredAt: d.LastDeliveredAt}
	if d.LastError != "" {
		out.LastError = &d.LastError
	}
	return out
}

func (s *server) getFinanceDelivery(c echo.Context) error {
	planID, _, err := queryPlan(c)
	if err != nil {
		return err
	}
	st, err := s.svc.WebhookDelivery(c.Request().Context(), principalOf(c), planID, time.Now(), s.cfg.WebhookBacklogAlert)
	if err != nil {
		return err
	}
	out := deliveryOut{CheckedAt: st.Now.UTC(), AlertAfterSeconds: int64(st.AlertAfter / time.Second),
		BacklogLate: st.Late, WebhookSeen: st.Seen, Overall: deliveryStatsToOut(st.Overall, st.Now),
		Topics: make([]deliveryStatsOut, len(st.Topics))}
	for i, t := range st.Topics {
		out.Topics[i] = deliveryStatsToOut(t, st.Now)
	}
	return c.JSON(http.StatusOK, out)
}

// deliveryCollector reads the delivery state at each scrape: it is one grouped query over the outbox, and a
// metric read at scrape time is never stale.
type deliveryCollector struct {
	st         service.DeliveryStore
	alertAfter time.Duration
	log        *slog.Logger
	waiting    *prometheus.Desc
	oldest     *prometheus.Desc
	late       *prometheus.Desc
}

// deliveryScrapeTimeout bounds the query behind one scrape.
const deliveryScrapeTimeout = 3 * time.Second

func registerDeliveryMetrics(reg prometheus.Registerer, st Store, alertAfter time.Duration, log *slog.Logger) {
	ds, ok := st.(service.DeliveryStore)
	if reg == nil || !ok {
		return
	}
	c := &deliveryCollector{st: ds, alertAfter: alertAfter, log: log,
		waiting: prometheus.NewDesc("helhedsplan_finance_webhook_waiting",
			"Finance webhook messages not yet accepted by the receiver, by topic.", []string{"topic"}, nil),
		oldest: prometheus.NewDesc("helhedsplan_finance_webhook_oldest_waiting_seconds",
			"Age of the oldest finance webhook message not yet accepted (0 when none waits).", nil, nil),
		late: prometheus.NewDesc("helhedsplan_finance_webhook_backlog_late",
			"1 when the oldest waiting finance webhook message is older than HELHEDSPLAN_WEBHOOK_BACKLOG_ALERT.", nil, nil),
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) { // a second API on the same registry keeps the first one's collector
			log.Error("api: registering webhook delivery metrics", "error", err)
		}
	}
}

func (c *deliveryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.waiting
	ch <- c.oldest
	ch <- c.late
}

func (c *deliveryCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), deliveryScrapeTimeout)
	defer cancel()
	d, err := c.st.WebhookDelivery(ctx)
	if err != nil {
		// No value rather than a wrong one: an absent series is what an alert on it should catch.
		c.log.Warn("api: reading webhook delivery state for metrics", "error", err)
		return
	}
	st := service.JudgeDelivery(d, time.Now(), c.alertAfter)
	for _, t := range d.Topics {
		ch <- prometheus.MustNewConstMetric(c.waiting, prometheus.GaugeValue, float64(t.Waiting), t.Topic)
	}
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, st.BacklogAge.Seconds())
	late := 0.0
	if st.Late {
		late = 1
	}
	ch <- prometheus.MustNewConstMetric(c.late, prometheus.GaugeValue, late)
}
