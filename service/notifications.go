package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// NotificationStore is what the notification reads and marks need (implemented by *store.Store). It is not part
// of Store: a store without notifications (a test fake) still serves everything else, and the notification
// methods answer ErrNoNotifications.
type NotificationStore interface {
	// ListNotifications returns one page of the user's notifications, newest first, and the next cursor.
	ListNotifications(ctx context.Context, userID string, f store.NotificationFilter) ([]store.Notification, string, error)
	// CountUnread counts the user's unread notifications.
	CountUnread(ctx context.Context, userID string) (int, error)
	// MarkNotificationRead marks one of the user's notifications read; store.ErrNotFound when it is not theirs.
	MarkNotificationRead(ctx context.Context, userID string, id int64) error
	// MarkAllNotificationsRead marks every unread notification of the user read and says how many.
	MarkAllNotificationsRead(ctx context.Context, userID string) (int, error)
}

// ErrNoNotifications means the service's store keeps no notifications (it does not implement NotificationStore).
var ErrNoNotifications = errors.New("the store keeps no notifications")

// Notifications are always the signed-in user's own: every method takes the user from the principal and never
// from the request, so nobody reads or marks another user's. They are not filtered by plan: a notification was
// addressed to the user, and stays theirs if they later leave the plan (its initiative then answers "not found").

func (s *Service) notifications() (NotificationStore, error) {
	ns, ok := s.st.(NotificationStore)
	if !ok {
		return nil, ErrNoNotifications
	}
	return ns, nil
}

// Notifications returns one page of p's notifications, newest first, and the cursor of the next ("" on the last
// page).
func (s *Service) Notifications(ctx context.Context, p store.Principal, f store.NotificationFilter) ([]store.Notification, string, error) {
	ns, err := s.notifications()
	if err != nil {
		return nil, "", err
	}
	items, next, err := ns.ListNotifications(ctx, p.UserID, f)
	if err != nil {
		return nil, "", fmt.Errorf("list notifications: %w", err)
	}
	return items, next, nil
}

// UnreadNotifications counts p's unread notifications.
func (s *Service) UnreadNotifications(ctx context.Context, p store.Principal) (int, error) {
	ns, err := s.notifications()
	if err != nil {
		return 0, err
	}
	n, err := ns.CountUnread(ctx, p.UserID)
	if err != nil {
		return 0, fmt.Errorf("count unread notifications: %w", err)
	}
	return n, nil
}

// MarkNotificationRead marks one of p's notifications read; marking it again changes nothing. Another user's
// notification does not exist for p (CodeNotFound).
func (s *Service) MarkNotificationRead(ctx context.Context, p store.Principal, id int64) error {
	ns, err := s.notifications()
	if err != nil {
		return err
	}
	err = ns.MarkNotificationRead(ctx, p.UserID, id)
	if errors.Is(err, store.ErrNotFound) {
		return domain.Refuse(domain.CodeNotFound, "Notifikationen findes ikke, eller den er ikke din.")
	}
	if err != nil {
		return fmt.Errorf("mark notification %d read: %w", id, err)
	}
	return nil
}

// MarkAllNotificationsRead marks all of p's unread notifications read and returns how many it marked.
func (s *Service) MarkAllNotificationsRead(ctx context.Context, p store.Principal) (int, error) {
	ns, err := s.notifications()
	if err != nil {
		return 0, err
	}
	n, err := ns.MarkAllNotificationsRead(ctx, p.UserID)
	if err != nil {
		return 0, fmt.Errorf("mark all notifications read: %w", err)
	}
	return n, nil
}
