package web

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
)

// The board's part of the initiative page: each open round with who may vote, who voted what, who is recused and
// why, and the viewer's own standing; the decisions with the tally's explanation and every member's vote; conflicts
// of interest; the cancellation; reports sent back; the open steps with their deadlines and the alerts sent.

// roundView is an open round of the board as the page shows it.
type roundView struct {
	service.Round
	Title   string
	Step    stepView
	Members []memberView
	// You is the viewer's standing in the round, for a board member (Show); their vote, or why they do not vote.
	You memberView
	// Form is the id of the viewer's vote form on the page ("" when they have none).
	Form string
}

// memberView is a board member in a round.
type memberView struct {
	service.RoundMember
	Name   string // the member's name (their user ID when unknown)
	Show   bool   // the viewer is on the board: their standing is shown
	Status string // Danish
	Vote   string // Danish: what they voted ("" when they have not)
}

// meetingOption is one of the plan's meetings, as the meeting form's list offers it.
type meetingOption struct {
	ID    string
	Label string // "Bestyrelsesmøde, tirsdag den 15. marts 2022, kl. 16.30, Beboerhuset"
}

func meetingLabel(m store.Meeting) string {
	parts := []string{m.Title, longDate(m.HeldOn)}
	if c := clock(m.StartsAt); c != "" {
		parts = append(parts, c)
	}
	if m.Location != "" {
		parts = append(parts, m.Location)
	}
	return strings.Join(parts, ", ")
}

// decisionView is a decided matter.
type decisionView struct {
	domain.Decision
	Meeting string // the meeting the votes were taken at, as its label (or the ID a decision recorded)
	Title   string // "Forslaget (revision 1)", "Rapporten om milepæl 2", ...
	Outcome string // Danish, for the matter: godkendt, sendt tilbage, annulleret, ...
	Votes   []voteView
	Recused []string // names
	Present []string // names, for a meeting
}

type voteView struct {
	Name    string
	Vote    string
	Comment string
	At      time.Time
}

// cancelView is the (latest) proposal to cancel the initiative and, once decided, its outcome.
type cancelView struct {
	domain.Cancellation
	Open      bool // the board has not decided yet
	Cancelled bool // the board voted to cancel
	Returned  []sourceAmountView
	Total     domain.Money
	Withdrawn []withdrawnView
}

type sourceAmountView struct {
	Source string
	Amount domain.Money
}

type withdrawnView struct {
	ID        string
	Milestone string // "2. Første skoleår", when the disbursement is a milestone's tranche
	Amount    domain.Money
}

// returnedView is a report the board sent back.
type returnedView struct {
	domain.ReturnedReport
	What string // "Rapporten om milepæl 1 (Opstart)", "Evalueringen"
}

type alertView struct {
	domain.Alert
	Kind string // Danish
	Step string // the step's title when it is still open, else its key
}

// boardView fills in the board's part of the page.
func (w *Web) boardView(ctx context.Context, v *viewer, in domain.Initiative, view *initiativeView) error {
	plan := v.Plan
	today := w.today()
	view.Steps = stepViews(in, plan, today)
	for _, s := range view.Steps {
		if s.Overdue {
			view.Overdue = append(view.Overdue, s)
		}
	}
	names, err := w.memberNames(ctx, in, plan)
	if err != nil {
		return err
	}
	for _, r := range service.OpenRounds(in, plan) {
		rv := roundView{Round: r, Title: r.Step.Title}
		for _, s := range view.Steps {
			if s.Key == r.Step.Key {
				rv.Step = s
			}
		}
		for _, m := range r.Members {
			rv.Members = append(rv.Members, memberOf(m, r, names))
		}
		if v.Role == domain.RoleBoard {
			rv.You = memberOf(r.Member(v.Principal.UserID, v.Role), r, names)
			rv.You.Show = true
			rv.Form = voteFormID(r.Matter)
		}
		view.Rounds = append(view.Rounds, rv)
	}
	// The plan's meetings: the meeting form offers those not cancelled, and a decision names its meeting.
	fromMeeting := false
	for _, d := range in.Decisions {
		fromMeeting = fromMeeting || (d.Tally != nil && d.Tally.MeetingID != "")
	}
	recorder := v.Role == domain.RoleAdmin || (v.Role == domain.RoleBoard && plan.Board != nil && plan.Board.Chair == v.Principal.UserID)
	labels := map[string]string{}
	if fromMeeting || (recorder && plan.Board.Voting() && len(view.Rounds) > 0) {
		ms, err := w.svc.Meetings(ctx, v.Principal, plan.ID)
		if err != nil {
			return fmt.Errorf("meetings of %s: %w", plan.ID, err)
		}
		for _, m := range ms {
			labels[m.ID] = meetingLabel(m)
			if !m.Cancelled() {
				view.Meetings = append(view.Meetings, meetingOption{ID: m.ID, Label: labels[m.ID]})
			}
		}
	}
	for _, d := range in.Decisions {
		dv := decisionOf(d, names)
		if t := d.Tally; t != nil && t.MeetingID != "" {
			dv.Meeting = t.MeetingID
			if l, ok := labels[t.MeetingID]; ok {
				dv.Meeting = l
			}
		}
		view.Decisions = append(view.Decisions, dv)
	}
	view.Conflicts = in.Conflicts
	if c := in.Cancellation; c != nil {
		cv := &cancelView{Cancellation: *c, Open: !c.Decided, Cancelled: c.Decided && c.Outcome == domain.OutcomeApprove,
			Total: domain.Total(c.Returned)}
		for _, l := range c.Returned {
			cv.Returned = append(cv.Returned, sourceAmountView{Source: nameOr(view.Names.Sources, l.SourceID), Amount: l.AmountØre})
		}
		for _, id := range c.Withdrawn {
			wv := withdrawnView{ID: id}
			for _, m := range in.Milestones {
				if m.DisbursementID == id {
					wv.Milestone, wv.Amount = fmt.Sprintf("%d. %s", m.No, m.Title), domain.Total(m.Tranche)
				}
			}
			cv.Withdrawn = append(cv.Withdrawn, wv)
		}
		view.Cancel = cv
	}
	for _, m := range in.Milestones {
		for _, r := range m.Returned {
			view.Returned = append(view.Returned, returnedView{ReturnedReport: r,
				What: fmt.Sprintf("Rapporten om milepæl %d (%s)", m.No, m.Title)})
		}
	}
	for _, r := range in.EvaluationsReturned {
		view.Returned = append(view.Returned, returnedView{ReturnedReport: r, What: "Evalueringen"})
	}
	for _, a := range in.Alerts {
		av := alertView{Alert: a, Kind: alertKindName(a.Kind), Step: a.Step}
		for _, s := range view.Steps {
			if s.Key == a.Step {
				av.Step = s.Title
			}
		}
		view.Alerts = append(view.Alerts, av)
	}
	changesView(view, plan, names)
	return nil
}

// memberNames maps user IDs to names: the plan's users where the board is on record (members who have not voted
// are named too), and the names the initiative records (ballots, conflicts).
func (w *Web) memberNames(ctx context.Context, in domain.Initiative, plan domain.Plan) (map[string]string, error) {
	names := map[string]string{}
	if plan.Board.Voting() {
		users, err := w.st.ListUsers(ctx, plan.ID)
		if err != nil {
			return nil, fmt.Errorf("users of %s: %w", plan.ID, err)
		}
		for _, u := range users {
			names[u.ID] = u.Name
		}
	}
	add := func(id, name string) {
		if _, ok := names[id]; !ok && name != "" {
			names[id] = name
		}
	}
	for _, b := range in.Ballots {
		add(b.Actor.UserID, b.Actor.Name)
	}
	for _, d := range in.Decisions {
		for _, b := range d.Ballots {
			add(b.Actor.UserID, b.Actor.Name)
		}
	}
	for _, c := range in.Conflicts {
		add(c.UserID, c.Name)
	}
	return names, nil
}

func nameOr(names map[string]string, id string) string {
	if n, ok := names[id]; ok && n != "" {
		return n
	}
	return id
}

// memberOf is a member's standing in Danish.
func memberOf(m service.RoundMember, r service.Round, names map[string]string) memberView {
	mv := memberView{RoundMember: m, Name: nameOr(names, m.UserID)}
	if m.Name != "" {
		mv.Name = m.Name
	}
	if m.Ballot != nil {
		mv.Vote = voteName(r.Matter, m.Ballot.Outcome)
	}
	switch m.Status {
	case service.MemberMayVote:
		mv.Status = "har ikke stemt endnu"
	case service.MemberVoted:
		mv.Status = "har stemt"
	case service.MemberRecused:
		mv.Status = "forslagsstiller – stemmer ikke om forslaget"
		if m.Recused == service.RecusedConflict {
			mv.Status = "inhabil"
			if m.ConflictReason != "" {
				mv.Status = "inhabil: " + m.ConflictReason
			}
		}
	case service.MemberChairDecides:
		mv.Status = "formanden afgør sagen alene"
	}
	return mv
}

// voteFormID is the id of the section with the vote form on a matter.
func voteFormID(kind domain.MatterKind) string {
	switch kind {
	case domain.MatterMilestone:
		return "handling-godkend-milepael"
	case domain.MatterEvaluation:
		return "handling-godkend-evaluering"
	case domain.MatterCancellation:
		return "handling-annullering-stemme"
	case domain.MatterChange:
		return "handling-aendring-stemme"
	}
	return "handling-beslutning"
}

// voteName is a vote in Danish, as it reads on the matter.
func voteName(kind domain.MatterKind, o domain.Outcome) string {
	switch {
	case (kind == domain.MatterMilestone || kind == domain.MatterEvaluation) && o == domain.OutcomeApprove:
		return "godkend"
	case (kind == domain.MatterMilestone || kind == domain.MatterEvaluation) && o == domain.OutcomeRequestChanges:
		return "send tilbage"
	case kind == domain.MatterCancellation && o == domain.OutcomeApprove:
		return "for annullering"
	case kind == domain.MatterCancellation && o == domain.OutcomeReject:
		return "imod annullering"
	case kind == domain.MatterChange && o == domain.OutcomeApprove:
		return "for ændringen"
	case kind == domain.MatterChange && o == domain.OutcomeReject:
		return "imod ændringen"
	case o == domain.OutcomeApprove:
		return "godkend"
	case o == domain.OutcomeReject:
		return "afvis"
	case o == domain.OutcomeRequestChanges:
		return "ønsk ændringer"
	}
	return string(o)
}

// decisionOutcome is a decided matter's outcome in Danish.
func decisionOutcome(kind domain.MatterKind, o domain.Outcome) string {
	switch kind {
	case domain.MatterMilestone, domain.MatterEvaluation:
		if o == domain.OutcomeApprove {
			return "godkendt"
		}
		return "sendt tilbage"
	case domain.MatterCancellation:
		if o == domain.OutcomeApprove {
			return "indsatsen annulleres"
		}
		return "indsatsen annulleres ikke"
	case domain.MatterChange:
		if o == domain.OutcomeApprove {
			return "godkendt"
		}
		return "afvist"
	}
	return outcomeName(o)
}

func decisionOf(d domain.Decision, names map[string]string) decisionView {
	kind := domain.MatterKindOf(d.Matter)
	dv := decisionView{Decision: d, Outcome: decisionOutcome(kind, d.Outcome)}
	switch kind {
	case domain.MatterMilestone:
		no := ""
		if parts := strings.Split(d.Matter, "/"); len(parts) > 1 {
			if n, err := strconv.Atoi(parts[1]); err == nil {
				no = strconv.Itoa(n)
			}
		}
		dv.Title = "Rapporten om milepæl " + no
	case domain.MatterEvaluation:
		dv.Title = "Evalueringen"
	case domain.MatterCancellation:
		dv.Title = "Annullering af indsatsen"
	case domain.MatterChange:
		dv.Title = "Ændring " + strings.TrimPrefix(d.Matter, string(domain.MatterChange)+"/")
	default:
		dv.Title = fmt.Sprintf("Forslaget (revision %d)", d.Revision)
	}
	for _, b := range d.Ballots {
		name := b.Actor.Name
		if name == "" {
			name = nameOr(names, b.Actor.UserID)
		}
		dv.Votes = append(dv.Votes, voteView{Name: name, Vote: voteName(kind, b.Outcome), Comment: b.Comment, At: b.At})
	}
	if t := d.Tally; t != nil {
		for _, id := range t.Recused {
			dv.Recused = append(dv.Recused, nameOr(names, id))
		}
		for _, id := range t.Present {
			dv.Present = append(dv.Present, nameOr(names, id))
		}
	}
	return dv
}

// MayVote, Voted, Conflict, Proposer, ChairDecides and NotOnBoard say the member's standing, for the templates.
func (m memberView) MayVote() bool      { return m.RoundMember.Status == service.MemberMayVote }
func (m memberView) Voted() bool        { return m.RoundMember.Status == service.MemberVoted }
func (m memberView) ChairDecides() bool { return m.RoundMember.Status == service.MemberChairDecides }
func (m memberView) NotOnBoard() bool   { return m.RoundMember.Status == service.MemberNotOnBoard }
func (m memberView) Conflict() bool {
	return m.RoundMember.Status == service.MemberRecused && m.Recused == service.RecusedConflict
}
func (m memberView) Proposer() bool {
	return m.RoundMember.Status == service.MemberRecused && m.Recused == service.RecusedProposer
}
