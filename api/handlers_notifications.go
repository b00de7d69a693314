package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// The caller's own notifications (reminders, escalations and news from the workflows). There is no user in the
// paths: every route reads and marks the authenticated user's, so nobody can reach another's.

type notificationOut struct {
	ID           int64      `json:"id"`
	PlanID       string     `json:"plan_id"`
	InitiativeID string     `json:"initiative_id"`
	Seq          int64      `json:"seq"` // the initiative event it belongs to
	Kind         string     `json:"kind"`
	KindName     string     `json:"kind_name"`
	Title        string     `json:"title"`
	Body         string     `json:"body"`
	CreatedAt    time.Time  `json:"created_at"`
	ReadAt       *time.Time `json:"read_at"`
}

type notificationListOut struct {
	Items       []notificationOut `json:"items"`
	NextCursor  *string           `json:"next_cursor"`
	UnreadCount int               `json:"unread_count"`
}

type unreadOut struct {
	UnreadCount int `json:"unread_count"`
}

type notificationsReadOut struct {
	Marked      int `json:"marked"` // notifications this request marked read
	UnreadCount int `json:"unread_count"`
}

func notificationToOut(n store.Notification) notificationOut {
	return notificationOut{ID: n.ID, PlanID: n.PlanID, InitiativeID: n.InitiativeID, Seq: n.Seq, Kind: n.Kind,
		KindName: store.NotificationKindName(n.Kind), Title: n.Title, Body: n.Body, CreatedAt: n.CreatedAt,
		ReadAt: n.ReadAt}
}

func (s *server) listNotifications(c echo.Context) error {
	p := principalOf(c)
	var unread bool
	switch v := c.QueryParam("unread"); v {
	case "", "false":
	case "true":
		unread = true
	default:
		return badRequest("unread", "invalid", "unread skal være true eller false.")
	}
	limit, cursor, err := queryPage(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	items, next, err := s.svc.Notifications(ctx, p, store.NotificationFilter{Unread: unread, After: cursor, Limit: limit})
	if err != nil {
		return err
	}
	count, err := s.svc.UnreadNotifications(ctx, p)
	if err != nil {
		return err
	}
	lp := page(make([]notificationOut, len(items)), next)
	for i, n := range items {
		lp.Items[i] = notificationToOut(n)
	}
	return c.JSON(http.StatusOK, notificationListOut{Items: lp.Items, NextCursor: lp.NextCursor, UnreadCount: count})
}

func (s *server) markNotificationRead(c echo.Context) error {
	p := principalOf(c)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		// Not a notification ID, so not one of the caller's notifications either.
		return domain.Refuse(domain.CodeNotFound, "Notifikationen findes ikke, eller den er ikke din.")
	}
	ctx := c.Request().Context()
	if err := s.svc.MarkNotificationRead(ctx, p, id); err != nil {
		return err
	}
	count, err := s.svc.UnreadNotifications(ctx, p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, unreadOut{UnreadCount: count})
}

func (s *server) markAllNotificationsRead(c echo.Context) error {
	p := principalOf(c)
	ctx := c.Request().Context()
	n, err := s.svc.MarkAllNotificationsRead(ctx, p)
	if err != nil {
		return err
	}
	// A notification may arrive between the two statements; the count says so rather than assume zero.
	after, err := s.svc.UnreadNotifications(ctx, p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, notificationsReadOut{Marked: n, UnreadCount: after})
}
