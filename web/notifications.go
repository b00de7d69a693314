package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
)

// "Notifikationer": the signed-in user's reminders, escalations and news from the workflows, newest first, each
// with a link to its initiative and a form that marks it read, and one that marks them all read. The header of
// every page shows how many are unread. Marking read is the same service call as the API's
// POST /api/v1/notifications/{id}/read; it needs no form key, because doing it twice is doing it once.

// routeNotifications registers the notification pages.
func (w *Web) routeNotifications(pages *http.ServeMux) {
	pages.HandleFunc("GET /notifikationer", w.authed(w.notificationsPage))
	pages.HandleFunc("POST /notifikationer/{id}/laest", w.authed(w.markNotificationReadForm))
	pages.HandleFunc("POST /notifikationer/laest", w.authed(w.markAllNotificationsReadForm))
}

// notificationsPageSize is how many notifications the page shows at a time.
const notificationsPageSize = 20

// Query (and hidden form) parameters of the page: the cursor, and "only unread".
const (
	paramNotificationsAfter  = "efter"
	paramNotificationsUnread = "ulaeste"
)

// sessionNotificationsFlash holds the message of "mark all read" until the page after the redirect shows it.
const sessionNotificationsFlash = "notifications_flash"

type notificationsView struct {
	Rows       []notificationRow
	OnlyUnread bool
	After      string // the cursor the page was shown with, posted back so marking keeps the user on this page
	NextURL    string
	FirstURL   string // set when the list is not on its first page
	OtherURL   string // the same list with the other filter ("only unread" or "all")
	Flash      string
}

type notificationRow struct {
	ID            int64
	RowID         string
	KindName      string
	Title         string
	Paragraphs    []string
	Created       string
	Read          bool
	InitiativeURL string
}

func (w *Web) notificationsPage(rw http.ResponseWriter, r *http.Request, v *viewer) {
	q := r.URL.Query()
	f := store.NotificationFilter{Unread: q.Get(paramNotificationsUnread) == "1",
		After: q.Get(paramNotificationsAfter), Limit: notificationsPageSize}
	ctx := r.Context()
	items, next, err := w.svc.Notifications(ctx, v.Principal, f)
	if err != nil {
		w.notificationsFailed(rw, r, v, err)
		return
	}
	// The unread count is the header's (layoutView.Unread): the page does not count twice.
	view := notificationsView{OnlyUnread: f.Unread, After: f.After,
		Flash: w.sessions.PopString(ctx, sessionNotificationsFlash)}
	for _, n := range items {
		view.Rows = append(view.Rows, notificationRow{
			ID: n.ID, RowID: fmt.Sprintf("notifikation-%d", n.ID), KindName: store.NotificationKindName(n.Kind),
			Title: n.Title, Paragraphs: paragraphs(n.Body), Created: formatDateTime(n.CreatedAt), Read: n.ReadAt != nil,
			InitiativeURL: "/indsatser/" + url.PathEscape(n.InitiativeID),
		})
	}
	if next != "" {
		view.NextURL = notificationsURL(f.Unread, next, "")
	}
	if f.After != "" {
		view.FirstURL = notificationsURL(f.Unread, "", "")
	}
	view.OtherURL = notificationsURL(!f.Unread, "", "")
	w.render(rw, r, http.StatusOK, "notifikationer", v, "Notifikationer", view)
}

// markNotificationReadForm marks one notification read and goes back to the page the form was on.
func (w *Web) markNotificationReadForm(rw http.ResponseWriter, r *http.Request, v *viewer) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		w.notFound(rw, r)
		return
	}
	if err := w.svc.MarkNotificationRead(r.Context(), v.Principal, id); err != nil {
		w.notificationsFailed(rw, r, v, err)
		return
	}
	// Back to where the user was, built here from the two values the page posts (never a URL from the form).
	back := notificationsURL(r.PostFormValue(paramNotificationsUnread) == "1",
		r.PostFormValue(paramNotificationsAfter), fmt.Sprintf("notifikation-%d", id))
	http.Redirect(rw, r, back, http.StatusSeeOther)
}

// markAllNotificationsReadForm marks every unread notification read and says how many.
func (w *Web) markAllNotificationsReadForm(rw http.ResponseWriter, r *http.Request, v *viewer) {
	n, err := w.svc.MarkAllNotificationsRead(r.Context(), v.Principal)
	if err != nil {
		w.notificationsFailed(rw, r, v, err)
		return
	}
	msg := "Du havde ingen ulæste notifikationer."
	switch {
	case n == 1:
		msg = "1 notifikation er markeret som læst."
	case n > 1:
		msg = fmt.Sprintf("%d notifikationer er markeret som læst.", n)
	}
	w.sessions.Put(r.Context(), sessionNotificationsFlash, msg)
	http.Redirect(rw, r, "/notifikationer", http.StatusSeeOther)
}

// notificationsURL is the page's address with the filter, the cursor and a fragment, each only when set.
func notificationsURL(onlyUnread bool, after, fragment string) string {
	q := url.Values{}
	if onlyUnread {
		q.Set(paramNotificationsUnread, "1")
	}
	if after != "" {
		q.Set(paramNotificationsAfter, after)
	}
	u := "/notifikationer"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	if fragment != "" {
		u += "#" + fragment
	}
	return u
}

// paragraphs splits a notification's plain text at its line breaks, so the page shows them without inline styles
// (which the Content-Security-Policy forbids).
func paragraphs(body string) []string {
	var out []string
	for line := range strings.SplitSeq(body, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

// notificationsFailed answers an error of the notification pages: another user's (or an unknown) notification is
// 404, a bad page link 400, the database away 503, anything else 500.
func (w *Web) notificationsFailed(rw http.ResponseWriter, r *http.Request, v *viewer, err error) {
	var refusal *domain.RuleError
	switch {
	case errors.As(err, &refusal) && refusal.Code == domain.CodeNotFound:
		w.notFound(rw, r)
	case errors.Is(err, store.ErrBadCursor):
		w.badRequest(rw, r, "Linket til siden er ugyldigt. Gå til første side af listen.")
	case passing(err):
		w.serviceUnavailable(rw, r, v, err, errorView{Heading: "Prøv igen om lidt",
			Text: "Notifikationerne kan ikke vises eller ændres lige nu, fordi systemet ikke kan nå databasen. Prøv igen om lidt."})
	default:
		w.serverError(rw, r, err)
	}
}

// unreadCount is the number in every page's header: one count over the index of unread rows. A page is never
// refused for it: when the count fails, the header shows no number and the failure is logged.
func (w *Web) unreadCount(r *http.Request, v *viewer) int {
	if v == nil || w.svc == nil {
		return 0
	}
	n, err := w.svc.UnreadNotifications(r.Context(), v.Principal)
	if err != nil {
		if !errors.Is(err, service.ErrNoNotifications) {
			w.log.Warn("web: unread notifications not counted", "user_id", v.Principal.UserID, "err", err)
		}
		return 0
	}
	return n
}
