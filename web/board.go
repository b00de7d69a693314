package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/service"
)

// "Bestyrelsen" (/planen/bestyrelse): the board as plan data — its members, its chair, its rules in Danish and the
// matters the chair decides alone — with every earlier version, and the plan's deadlines (frister); the
// secretariat changes both there. "Møder" (/moeder): the board's meetings, scheduled by the chair or the
// secretariat, each with its agenda (/moeder/{id}) of the matters waiting for the board, printable. Every read and
// change goes through the service, with the API's rules and Danish refusals.

// routeBoard registers the board, deadline and meeting pages.
func (w *Web) routeBoard(pages *http.ServeMux) {
	pages.HandleFunc("GET /planen/bestyrelse", w.authed(w.boardPage))
	pages.HandleFunc("POST /planen/bestyrelse", w.authed(w.setBoardForm))
	pages.HandleFunc("POST /planen/bestyrelse/frister", w.authed(w.setDeadlinesForm))
	pages.HandleFunc("GET /moeder", w.authed(w.meetingsPage))
	pages.HandleFunc("POST /moeder", w.authed(w.scheduleMeetingForm))
	pages.HandleFunc("GET /moeder/{id}", w.authed(w.meetingPage))
	pages.HandleFunc("POST /moeder/{id}/aflys", w.authed(w.cancelMeetingForm))
}

// sessionBoardFlash holds the message of a change that succeeded until the page after the redirect shows it.
const sessionBoardFlash = "board_flash"

// boardView is /planen/bestyrelse.
type boardView struct {
	Version      int // 0: no board on record
	Members      []boardMemberView
	Chair        string // the chair's name, "" for none
	QuorumText   string
	DecisionText string
	ChairAlone   []string // Danish names of the matters the chair decides alone
	QuorumLegacy int      // the legacy quorum, for a plan without a board
	History      []boardVersionView
	Deadlines    deadlinesView
	SettingsLog  []settingsVersionView
	BoardForm    *boardForm     // nil unless the viewer may change the board
	Deadline     *deadlinesForm // nil unless the viewer may change the deadlines
	Errors       []fieldError
	Flash        string
}

type boardMemberView struct {
	Name, Title string
	Chair       bool
}

type boardVersionView struct {
	Version    int
	When, Who  string
	Note       string
	Members    string
	Chair      string
	ChairAlone string
}

type deadlinesView struct {
	BoardDecisionDays, PaymentDays, EvaluationDays int
	Reminders                                      string // "5 og 1 arbejdsdag før fristen" or "ingen"
	FinanceLead                                    string // name, or "" for every finance member
}

type settingsVersionView struct {
	Version         int
	When, Who, Note string
	Summary         string
}

// boardForm is the form that changes the board: the plan's board users as checkboxes, the chair as radio buttons,
// the chair-alone matters as checkboxes, a note; Version is the version it was made from.
type boardForm struct {
	Version    int
	Candidates []boardCandidate
	NoChair    bool
	Matters    []matterOption
	Note       string
	Errors     map[string]string // HTML id -> message
}

// Err is the message at the field with HTML id.
func (f *boardForm) Err(id string) string { return f.Errors[id] }

type boardCandidate struct {
	ID, Name, Title string
	Member, Chair   bool
	NotBoard        bool // a member of the current board who no longer has the board role
}

type matterOption struct {
	Kind    domain.MatterKind
	Name    string
	Checked bool
}

// deadlinesForm is the form that changes the plan's deadlines, with its values as shown or typed.
type deadlinesForm struct {
	BoardDecisionDays, PaymentDays, EvaluationDays, Reminders string
	FinanceLead                                               string
	FinanceUsers                                              []domain.User
	Note                                                      string
	Errors                                                    map[string]string
}

// Err is the message at the field with HTML id.
func (f *deadlinesForm) Err(id string) string { return f.Errors[id] }

// HTML ids of the board form's fields, by the problem field of service.SetBoard.
func boardFieldID(field string) string {
	switch {
	case field == "members" || strings.HasPrefix(field, "members["):
		return "bestyrelse-medlemmer"
	case field == "chair":
		return "bestyrelse-formand"
	case field == "chair_alone" || strings.HasPrefix(field, "chair_alone["):
		return "bestyrelse-formand-alene"
	case field == "note":
		return "bestyrelse-note"
	}
	return "bestyrelse-aendr"
}

// HTML ids of the deadline form's fields, by the problem field of service.SetSettings.
func deadlineFieldID(field string) string {
	switch {
	case field == "board_decision_days":
		return "frist-beslutning"
	case field == "payment_days":
		return "frist-betaling"
	case field == "evaluation_days":
		return "frist-evaluering"
	case field == "reminder_offsets" || strings.HasPrefix(field, "reminder_offsets["):
		return "frist-paamindelser"
	case field == "finance_lead":
		return "frist-oekonomiansvarlig"
	case field == "note":
		return "frist-note"
	}
	return "frister-aendr"
}

func (w *Web) boardPage(rw http.ResponseWriter, r *http.Request, v *viewer) {
	w.showBoard(rw, r, v, http.StatusOK, nil, nil, nil)
}

// showBoard renders /planen/bestyrelse; after a refused change with that form as typed (bf or df) and the
// problems in the summary.
func (w *Web) showBoard(rw http.ResponseWriter, r *http.Request, v *viewer, status int, bf *boardForm, df *deadlinesForm, summary []fieldError) {
	if w.svc == nil {
		w.boardFailed(rw, r, v, service.ErrUnavailable)
		return
	}
	ctx, p, planID := r.Context(), v.Principal, v.Plan.ID
	o, err := w.svc.Board(ctx, p, planID)
	if err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	hist, err := w.svc.BoardHistory(ctx, p, planID)
	if err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	settings, err := w.svc.Settings(ctx, p, planID)
	if err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	settingsLog, err := w.svc.SettingsHistory(ctx, p, planID)
	if err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	view := boardView{QuorumLegacy: settings.BoardQuorum, Errors: summary,
		Deadlines: deadlinesOf(settings, o)}
	if b := o.Board; b != nil {
		view.Version = b.Version
		for _, id := range b.Members {
			u := userOf(o, id)
			view.Members = append(view.Members, boardMemberView{Name: u.Name, Title: u.Title, Chair: id == b.Chair})
		}
		if b.Chair != "" {
			view.Chair = o.UserName(b.Chair)
		}
		view.QuorumText, view.DecisionText = service.QuorumText(b.Quorum), service.DecisionText(b.Decision)
		view.ChairAlone = chairAloneNames(b)
	}
	for _, h := range hist {
		hv := boardVersionView{Version: h.Version, When: formatDateTime(h.ChangedAt), Who: whoChanged(h.ChangedByName),
			Note: h.Note, Chair: "ingen", ChairAlone: "ingen – bestyrelsen stemmer om alt"}
		var names []string
		for _, id := range h.Members {
			names = append(names, o.UserName(id))
		}
		hv.Members = strings.Join(names, ", ")
		if h.Chair != "" {
			hv.Chair = o.UserName(h.Chair)
		}
		if n := chairAloneNames(&h.Board); len(n) > 0 {
			hv.ChairAlone = strings.Join(n, ", ")
		}
		view.History = append(view.History, hv)
	}
	for _, h := range settingsLog {
		view.SettingsLog = append(view.SettingsLog, settingsVersionView{Version: h.Version,
			When: formatDateTime(h.ChangedAt), Who: whoChanged(h.ChangedByName), Note: h.Note,
			Summary: deadlinesSummary(deadlinesOf(h.Settings, o))})
	}
	if service.MayChangeBoard(p, planID) == nil {
		view.BoardForm, view.Deadline = bf, df
		if view.BoardForm == nil {
			view.BoardForm = freshBoardForm(o)
		}
		if view.Deadline == nil {
			view.Deadline = freshDeadlinesForm(settings)
		}
		view.BoardForm.Candidates = candidates(o, view.BoardForm)
		view.Deadline.FinanceUsers = financeUsers(o)
	}
	if status == http.StatusOK && summary == nil {
		view.Flash = w.sessions.PopString(ctx, sessionBoardFlash)
	}
	title := "Bestyrelsen og frister"
	if len(summary) > 0 {
		title = "Fejl: " + title
	}
	w.render(rw, r, status, "bestyrelse", v, title, view)
}

func userOf(o service.BoardOverview, id string) domain.User {
	for _, u := range o.Users {
		if u.ID == id {
			return u
		}
	}
	return domain.User{ID: id, Name: id}
}

func whoChanged(name string) string {
	if name == "" {
		return "Systemet (oprettet ud fra planens brugere)"
	}
	return name
}

func chairAloneNames(b *domain.Board) []string {
	list := b.ChairAlone
	if list == nil {
		list = domain.DefaultChairAlone
	}
	var out []string
	for _, k := range list {
		out = append(out, k.DanishName())
	}
	return out
}

func deadlinesOf(st domain.PlanSettings, o service.BoardOverview) deadlinesView {
	d := st.Deadlines()
	view := deadlinesView{BoardDecisionDays: d.BoardDecisionDays, PaymentDays: d.PaymentDays,
		EvaluationDays: d.EvaluationDays, Reminders: "ingen påmindelser"}
	if n := len(d.ReminderOffsets); n > 0 {
		parts := make([]string, n)
		for i, off := range d.ReminderOffsets {
			parts[i] = strconv.Itoa(off)
		}
		list := strings.Join(parts[:n-1], ", ")
		if n > 1 {
			list += " og "
		}
		list += parts[n-1]
		day := "arbejdsdage"
		if n == 1 && d.ReminderOffsets[0] == 1 {
			day = "arbejdsdag"
		}
		view.Reminders = list + " " + day + " før fristen"
	}
	if st.FinanceLead != "" {
		view.FinanceLead = o.UserName(st.FinanceLead)
	}
	return view
}

func deadlinesSummary(d deadlinesView) string {
	lead := "alle i økonomi"
	if d.FinanceLead != "" {
		lead = d.FinanceLead
	}
	return fmt.Sprintf("Beslutning %d, udbetaling %d og evaluering %d arbejdsdage; påmindelser: %s; "+
		"overskredne betalinger eskaleres til %s.", d.BoardDecisionDays, d.PaymentDays, d.EvaluationDays, d.Reminders, lead)
}

func freshBoardForm(o service.BoardOverview) *boardForm {
	f := &boardForm{Errors: map[string]string{}}
	b := o.Board
	if b != nil {
		f.Version = b.Version
	}
	chosen := map[domain.MatterKind]bool{}
	if b != nil {
		for _, k := range b.ChairAlone {
			chosen[k] = true
		}
		if b.ChairAlone == nil {
			for _, k := range domain.DefaultChairAlone {
				chosen[k] = true
			}
		}
	} else {
		for _, k := range domain.DefaultChairAlone {
			chosen[k] = true
		}
	}
	for _, k := range domain.MatterKinds {
		f.Matters = append(f.Matters, matterOption{Kind: k, Name: k.DanishName(), Checked: chosen[k]})
	}
	f.NoChair = b == nil || b.Chair == ""
	if b != nil {
		for _, id := range b.Members {
			f.Candidates = append(f.Candidates, boardCandidate{ID: id, Member: true, Chair: id == b.Chair})
		}
	}
	return f
}

// candidates lists who may be chosen for the board: the plan's users with the board role, and any member of the
// current board who lost that role, each marked as the form has them (Candidates holds the chosen IDs).
func candidates(o service.BoardOverview, f *boardForm) []boardCandidate {
	chosen := map[string]boardCandidate{}
	for _, c := range f.Candidates {
		chosen[c.ID] = c
	}
	var out []boardCandidate
	seen := map[string]bool{}
	for _, u := range o.Users {
		if u.Role != domain.RoleBoard {
			continue
		}
		c := chosen[u.ID]
		out = append(out, boardCandidate{ID: u.ID, Name: u.Name, Title: u.Title, Member: c.Member, Chair: c.Chair})
		seen[u.ID] = true
	}
	if o.Board != nil {
		for _, id := range o.Board.Members {
			if !seen[id] {
				u := userOf(o, id)
				c := chosen[id]
				out = append(out, boardCandidate{ID: id, Name: u.Name, Title: u.Title, Member: c.Member, Chair: c.Chair,
					NotBoard: true})
				seen[id] = true
			}
		}
	}
	return out
}

func financeUsers(o service.BoardOverview) []domain.User {
	var out []domain.User
	for _, u := range o.Users {
		if u.Role == domain.RoleFinance {
			out = append(out, u)
		}
	}
	return out
}

func freshDeadlinesForm(st domain.PlanSettings) *deadlinesForm {
	d := st.Deadlines()
	parts := make([]string, len(d.ReminderOffsets))
	for i, off := range d.ReminderOffsets {
		parts[i] = strconv.Itoa(off)
	}
	return &deadlinesForm{BoardDecisionDays: strconv.Itoa(d.BoardDecisionDays), PaymentDays: strconv.Itoa(d.PaymentDays),
		EvaluationDays: strconv.Itoa(d.EvaluationDays), Reminders: strings.Join(parts, ", "), FinanceLead: st.FinanceLead,
		Errors: map[string]string{}}
}

// setBoardForm records the board as the form says: service.SetBoard, the API's PUT. A board equal to the current one
// writes nothing (a double click changes the board once); a form made from an older version is refused (409) with
// the page showing the board as it is now.
func (w *Web) setBoardForm(rw http.ResponseWriter, r *http.Request, v *viewer) {
	if w.svc == nil {
		w.boardFailed(rw, r, v, service.ErrUnavailable)
		return
	}
	if err := service.MayChangeBoard(v.Principal, v.Plan.ID); err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	if err := r.ParseForm(); err != nil {
		w.badRequest(rw, r, "Formularen kunne ikke læses.")
		return
	}
	version, _ := strconv.Atoi(r.PostFormValue("version"))
	members := r.PostForm["medlem"]
	chair := r.PostFormValue("formand")
	alone := []domain.MatterKind{} // the form always says: no box ticked means the board votes on everything
	for _, k := range r.PostForm["formand_alene"] {
		alone = append(alone, domain.MatterKind(k))
	}
	note := r.PostFormValue("note")
	// The version before, to tell "saved as version n" from "nothing to change" (a form sent twice).
	before := 0
	if o, err := w.svc.Board(r.Context(), v.Principal, v.Plan.ID); err == nil && o.Board != nil {
		before = o.Board.Version
	}
	saved, err := w.svc.SetBoard(r.Context(), v.Principal, v.Plan.ID, domain.Board{Version: version, Members: members,
		Chair: chair, ChairAlone: alone}, note)
	var re *domain.RuleError
	switch {
	case err == nil:
		msg := fmt.Sprintf("Bestyrelsen er gemt som version %d.", saved.Version)
		if saved.Version == before {
			msg = fmt.Sprintf("Der var ingen ændringer; bestyrelsen er fortsat version %d.", saved.Version)
		}
		w.sessions.Put(r.Context(), sessionBoardFlash, msg)
		http.Redirect(rw, r, "/planen/bestyrelse", http.StatusSeeOther)
	case errors.As(err, &re) && re.Code != domain.CodeForbidden && re.Code != domain.CodeNotFound:
		f := &boardForm{Version: version, NoChair: chair == "", Note: note, Errors: map[string]string{}}
		isChosen := map[string]bool{}
		for _, m := range members {
			isChosen[m] = true
		}
		for id := range isChosen {
			f.Candidates = append(f.Candidates, boardCandidate{ID: id, Member: true, Chair: id == chair})
		}
		if chair != "" && !isChosen[chair] {
			f.Candidates = append(f.Candidates, boardCandidate{ID: chair, Chair: true})
		}
		ticked := map[domain.MatterKind]bool{}
		for _, k := range alone {
			ticked[k] = true
		}
		for _, k := range domain.MatterKinds {
			f.Matters = append(f.Matters, matterOption{Kind: k, Name: k.DanishName(), Checked: ticked[k]})
		}
		summary := problemsAt(re, f.Errors, boardFieldID)
		if re.Code == domain.CodeConflict {
			// Made from an older version: show the board as it is now, with the form as it is now.
			f = nil
		}
		w.showBoard(rw, r, v, ruleStatus(re.Code), f, nil, summary)
	default:
		w.boardFailed(rw, r, v, err)
	}
}

// problemsAt puts a refusal's problems at their fields (errs, by HTML id) and returns the error summary; a refusal
// about no field is shown at the form's section.
func problemsAt(re *domain.RuleError, errs map[string]string, id func(string) string) []fieldError {
	var summary []fieldError
	for _, p := range re.Problems {
		at := id(p.Field)
		if prev, dup := errs[at]; dup {
			errs[at] = prev + " " + p.Message
		} else {
			errs[at] = p.Message
		}
		summary = append(summary, fieldError{ID: at, Message: p.Message})
	}
	if len(re.Problems) == 0 {
		summary = []fieldError{{ID: id(""), Message: re.Message}}
	}
	return summary
}

// setDeadlinesForm records the plan's deadlines as the form says (the rest of the settings as they are):
// service.SetSettings, the API's PUT.
func (w *Web) setDeadlinesForm(rw http.ResponseWriter, r *http.Request, v *viewer) {
	if w.svc == nil {
		w.boardFailed(rw, r, v, service.ErrUnavailable)
		return
	}
	ctx := r.Context()
	if err := service.MayChangeBoard(v.Principal, v.Plan.ID); err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	f := &deadlinesForm{BoardDecisionDays: r.PostFormValue("beslutning_dage"), PaymentDays: r.PostFormValue("betaling_dage"),
		EvaluationDays: r.PostFormValue("evaluering_dage"), Reminders: r.PostFormValue("paamindelser"),
		FinanceLead: r.PostFormValue("oekonomiansvarlig"), Note: r.PostFormValue("note"), Errors: map[string]string{}}
	st, err := w.svc.Settings(ctx, v.Principal, v.Plan.ID)
	if err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	var problems []domain.FieldProblem
	days := func(field, typed string, dst *int) {
		typed = strings.TrimSpace(typed)
		if typed == "" {
			*dst = 0 // the default
			return
		}
		n, err := strconv.Atoi(typed)
		if err != nil {
			problems = append(problems, domain.FieldProblem{Field: field, Code: "not_a_number",
				Message: "Skriv et helt antal arbejdsdage, fx 15."})
			return
		}
		*dst = n
	}
	days("board_decision_days", f.BoardDecisionDays, &st.BoardDecisionDays)
	days("payment_days", f.PaymentDays, &st.PaymentDays)
	days("evaluation_days", f.EvaluationDays, &st.EvaluationDays)
	offsets, ok := parseOffsets(f.Reminders)
	if !ok {
		problems = append(problems, domain.FieldProblem{Field: "reminder_offsets", Code: "not_a_list",
			Message: "Skriv antal arbejdsdage før fristen som hele tal adskilt af komma, fx 5, 1."})
	}
	st.ReminderOffsets, st.FinanceLead = offsets, f.FinanceLead
	if len(problems) == 0 {
		_, err = w.svc.SetSettings(ctx, v.Principal, v.Plan.ID, st, f.Note)
	} else {
		err = &domain.RuleError{Code: domain.CodeValidation, Message: "Fristerne kan ikke gemmes.", Problems: problems}
	}
	var re *domain.RuleError
	switch {
	case err == nil:
		w.sessions.Put(ctx, sessionBoardFlash, "Fristerne er gemt. De gælder for indsatser, der oprettes fra nu af.")
		http.Redirect(rw, r, "/planen/bestyrelse#frister", http.StatusSeeOther)
	case errors.As(err, &re) && re.Code != domain.CodeForbidden && re.Code != domain.CodeNotFound:
		w.showBoard(rw, r, v, ruleStatus(re.Code), nil, f, problemsAt(re, f.Errors, deadlineFieldID))
	default:
		w.boardFailed(rw, r, v, err)
	}
}

// parseOffsets reads "5, 1" (commas, semicolons or spaces between whole numbers) as reminder offsets; nothing
// typed is no reminders (an empty, non-nil list).
func parseOffsets(s string) ([]int, bool) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\t' })
	out := make([]int, 0, len(fields))
	for _, f := range fields {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, false
		}
		out = append(out, n)
	}
	return out, true
}

// boardFailed answers an error of the board and meeting pages: not found is the 404 page, a refusal a Danish page
// with the API's status, an unavailable dependency 503, anything else 500.
func (w *Web) boardFailed(rw http.ResponseWriter, r *http.Request, v *viewer, err error) {
	var re *domain.RuleError
	switch {
	case errors.As(err, &re) && re.Code == domain.CodeNotFound:
		w.notFound(rw, r)
	case re != nil:
		heading := "Handlingen blev afvist"
		if re.Code == domain.CodeForbidden {
			heading = "Du har ikke adgang"
		}
		w.render(rw, r, ruleStatus(re.Code), "error", v, heading, errorView{Heading: heading, Text: re.Message})
	case passing(err):
		w.serviceUnavailable(rw, r, v, err, errorView{Heading: "Prøv igen om lidt",
			Text: "Systemet kan ikke nå alle sine dele lige nu. Prøv igen om lidt."})
	default:
		w.serverError(rw, r, err)
	}
}

// meetingsView is /moeder.
type meetingsView struct {
	Upcoming []meetingRow
	Past     []meetingRow
	Form     *meetingForm // nil unless the viewer may schedule meetings
	Errors   []fieldError
	Flash    string
}

type meetingRow struct {
	ID, Title, Date, Time, Location string
	Cancelled                       bool
}

// meetingForm is the form that schedules a meeting, with its values as typed.
type meetingForm struct {
	Key, HeldOn, StartsAt, Location, Title string
	Errors                                 map[string]string
}

// Err is the message at the field with HTML id.
func (f *meetingForm) Err(id string) string { return f.Errors[id] }

func meetingFieldID(field string) string {
	switch field {
	case "held_on":
		return "nyt-moede-dato"
	case "starts_at":
		return "nyt-moede-tidspunkt"
	case "location":
		return "nyt-moede-sted"
	case "title":
		return "nyt-moede-titel"
	}
	return "nyt-moede"
}

func (w *Web) meetingsPage(rw http.ResponseWriter, r *http.Request, v *viewer) {
	w.showMeetings(rw, r, v, http.StatusOK, nil, nil)
}

func (w *Web) showMeetings(rw http.ResponseWriter, r *http.Request, v *viewer, status int, f *meetingForm, summary []fieldError) {
	if w.svc == nil {
		w.boardFailed(rw, r, v, service.ErrUnavailable)
		return
	}
	ctx := r.Context()
	ms, err := w.svc.Meetings(ctx, v.Principal, v.Plan.ID)
	if err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	o, err := w.svc.Board(ctx, v.Principal, v.Plan.ID)
	if err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	view := meetingsView{Errors: summary}
	today := domain.LocalDate(time.Now()).String()
	for _, m := range ms {
		row := meetingRow{ID: m.ID, Title: m.Title, Date: longDate(m.HeldOn), Time: clock(m.StartsAt),
			Location: m.Location, Cancelled: m.Cancelled()}
		if m.HeldOn.String() >= today {
			view.Upcoming = append([]meetingRow{row}, view.Upcoming...) // soonest first
		} else {
			view.Past = append(view.Past, row) // latest first
		}
	}
	if service.MayScheduleMeeting(v.Principal, v.Plan.ID, o.Board) == nil {
		view.Form = f
		if view.Form == nil {
			view.Form = &meetingForm{Key: newFormKey(), Errors: map[string]string{}}
		}
	}
	if status == http.StatusOK && summary == nil {
		view.Flash = w.sessions.PopString(ctx, sessionBoardFlash)
	}
	title := "Bestyrelsesmøder"
	if len(summary) > 0 {
		title = "Fejl: " + title
	}
	w.render(rw, r, status, "moeder", v, title, view)
}

// scheduleMeetingForm schedules a meeting: service.ScheduleMeeting, the API's POST. The form's key names the
// meeting, so the same form sent twice schedules it once.
func (w *Web) scheduleMeetingForm(rw http.ResponseWriter, r *http.Request, v *viewer) {
	if w.svc == nil {
		w.boardFailed(rw, r, v, service.ErrUnavailable)
		return
	}
	f := &meetingForm{Key: r.PostFormValue("form_key"), HeldOn: r.PostFormValue("dato"),
		StartsAt: r.PostFormValue("tidspunkt"), Location: r.PostFormValue("sted"), Title: r.PostFormValue("titel"),
		Errors: map[string]string{}}
	if f.Key == "" || len(f.Key) > 64 {
		f.Key = newFormKey()
	}
	m, err := w.svc.ScheduleMeeting(r.Context(), v.Principal, v.Plan.ID, service.MeetingRequest{HeldOn: f.HeldOn,
		StartsAt: f.StartsAt, Location: f.Location, Title: f.Title}, nil, formIdem(v.Principal, r))
	var re *domain.RuleError
	switch {
	case err == nil:
		w.sessions.Put(r.Context(), sessionBoardFlash, fmt.Sprintf("Mødet %s er oprettet.", longDate(m.HeldOn)))
		http.Redirect(rw, r, "/moeder/"+m.ID, http.StatusSeeOther)
	case errors.As(err, &re) && re.Code == domain.CodeValidation:
		w.showMeetings(rw, r, v, ruleStatus(re.Code), f, problemsAt(re, f.Errors, meetingFieldID))
	default:
		w.boardFailed(rw, r, v, err)
	}
}

// meetingView is /moeder/{id}: the meeting and its agenda, readable on paper.
type meetingView struct {
	ID, Title, Date, Time, Location string
	Cancelled                       bool
	CancelledText                   string
	Board                           []boardMemberView
	Agenda                          []agendaRow
	CanCancel                       bool
	CancelKey                       string
	Flash                           string
	Printed                         string // when the page was made, for the printout
}

type agendaRow struct {
	No           int
	InitiativeID string
	Title        string
	Matter       string
	Phase        string
	Since        string
	Deadline     string
	Overdue      bool
	ChairAlone   bool
}

func (w *Web) meetingPage(rw http.ResponseWriter, r *http.Request, v *viewer) {
	if w.svc == nil {
		w.boardFailed(rw, r, v, service.ErrUnavailable)
		return
	}
	ctx := r.Context()
	m, agenda, err := w.svc.BoardMeeting(ctx, v.Principal, v.Plan.ID, r.PathValue("id"))
	if err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	o, err := w.svc.Board(ctx, v.Principal, v.Plan.ID)
	if err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	view := meetingView{ID: m.ID, Title: m.Title, Date: longDate(m.HeldOn), Time: clock(m.StartsAt), Location: m.Location,
		Cancelled: m.Cancelled(), Printed: formatDateTime(time.Now())}
	if m.CancelledAt != nil {
		view.CancelledText = "Mødet blev aflyst " + formatDateTime(*m.CancelledAt)
		if m.CancelledBy != "" {
			view.CancelledText += " af " + o.UserName(m.CancelledBy)
		}
		view.CancelledText += "."
	}
	if b := o.Board; b != nil {
		for _, id := range b.Members {
			u := userOf(o, id)
			view.Board = append(view.Board, boardMemberView{Name: u.Name, Title: u.Title, Chair: id == b.Chair})
		}
	}
	for i, a := range agenda {
		view.Agenda = append(view.Agenda, agendaRow{No: i + 1, InitiativeID: a.InitiativeID, Title: a.Title,
			Matter: a.StepTitle, Phase: a.Phase.DanishName(), Since: formatDate(a.Since), Deadline: formatDate(a.Deadline),
			Overdue: m.HeldOn.After(a.Deadline), ChairAlone: a.ChairAlone})
	}
	if !m.Cancelled() && service.MayScheduleMeeting(v.Principal, v.Plan.ID, o.Board) == nil {
		view.CanCancel, view.CancelKey = true, newFormKey()
	}
	view.Flash = w.sessions.PopString(ctx, sessionBoardFlash)
	w.render(rw, r, http.StatusOK, "moede", v, m.Title+" "+formatDate(m.HeldOn), view)
}

// cancelMeetingForm cancels the meeting: service.CancelMeeting, the API's POST .../cancel.
func (w *Web) cancelMeetingForm(rw http.ResponseWriter, r *http.Request, v *viewer) {
	if w.svc == nil {
		w.boardFailed(rw, r, v, service.ErrUnavailable)
		return
	}
	m, err := w.svc.CancelMeeting(r.Context(), v.Principal, v.Plan.ID, r.PathValue("id"))
	if err != nil {
		w.boardFailed(rw, r, v, err)
		return
	}
	w.sessions.Put(r.Context(), sessionBoardFlash, "Mødet er aflyst.")
	http.Redirect(rw, r, "/moeder/"+m.ID, http.StatusSeeOther)
}

var (
	danishWeekdays = [...]string{"søndag", "mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag"}
	danishMonths   = [...]string{"januar", "februar", "marts", "april", "maj", "juni", "juli", "august", "september",
		"oktober", "november", "december"}
)

// longDate is a date as a Danish invitation writes it: "tirsdag den 15. marts 2022".
func longDate(d domain.Date) string {
	if d.IsZero() {
		return ""
	}
	t := d.Time()
	return fmt.Sprintf("%s den %d. %s %d", danishWeekdays[t.Weekday()], t.Day(), danishMonths[t.Month()-1], t.Year())
}

// clock is a meeting's time the Danish way: "16:30" -> "kl. 16.30"; "" stays "".
func clock(hhmm string) string {
	if hhmm == "" {
		return ""
	}
	return "kl. " + strings.Replace(hhmm, ":", ".", 1)
}
