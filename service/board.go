package service

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// The board (bestyrelse) and the plan's deadline settings as plan data, and the board's meetings: what the API's
// /plans/{planID}/board, /settings and /meetings and the pages /planen/bestyrelse and /moeder read and do. Every
// plan member reads them; only the secretariat (admin) changes the board and the settings; the chair of the
// current board or the secretariat schedules and cancels meetings.

// BoardStore is what the board, settings and meeting functions need of the store (implemented by *store.Store).
// It is not part of Store, so the many test stores of the initiative actions need not implement it; a Service
// over a store without it answers these functions with an error.
type BoardStore interface {
	GetBoard(ctx context.Context, planID string) (*domain.Board, error)
	BoardHistory(ctx context.Context, planID string) ([]store.BoardVersion, error)
	SetBoard(ctx context.Context, planID string, b domain.Board, actor domain.Actor, note string) (domain.Board, error)
	SetPlanSettings(ctx context.Context, planID string, s domain.PlanSettings, actor domain.Actor, note string) (domain.PlanSettings, error)
	PlanSettingsHistory(ctx context.Context, planID string) ([]store.SettingsVersion, error)
	ListUsers(ctx context.Context, planID string) ([]domain.User, error)
	CreateMeeting(ctx context.Context, in store.MeetingInput) (store.Meeting, bool, error)
	GetMeeting(ctx context.Context, planID, id string) (store.Meeting, error)
	ListMeetings(ctx context.Context, planID string) ([]store.Meeting, error)
	CancelMeeting(ctx context.Context, planID, id string, actor domain.Actor) (store.Meeting, error)
	MeetingAgenda(ctx context.Context, planID, meetingID string) ([]store.AgendaItem, error)
}

var errNoBoardStore = errors.New("service: the store keeps no board, settings history or meetings")

func (s *Service) boardStore() (BoardStore, error) {
	bs, ok := s.st.(BoardStore)
	if !ok {
		return nil, errNoBoardStore
	}
	return bs, nil
}

func meetingNotFound(id string) error {
	return domain.Refuse(domain.CodeNotFound, "Mødet %q findes ikke, eller du har ikke adgang til det.", shortText(id))
}

// planErr turns the store's ErrNotFound for the plan itself into the refusal the user sees.
func planErr(err error, planID, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return planNotFound(planID)
	}
	return fmt.Errorf("%s of plan %s: %w", what, planID, err)
}

// BoardOverview is a plan's current board and the people who could sit on it.
type BoardOverview struct {
	Board *domain.Board // nil when the plan has no board on record (it decides by the legacy quorum)
	// Users are the plan's members, by name: the names of the board's members, and (those with the board role)
	// who may be chosen for it.
	Users []domain.User
	Role  domain.Role // the caller's role in the plan
}

// UserName is the name of the plan member with the ID, or the ID itself when there is none.
func (o BoardOverview) UserName(id string) string {
	for _, u := range o.Users {
		if u.ID == id {
			return u.Name
		}
	}
	return id
}

// Board returns the plan's current board with its members' names; any member of the plan may read it.
func (s *Service) Board(ctx context.Context, p store.Principal, planID string) (BoardOverview, error) {
	role, err := PlanRole(p, planID)
	if err != nil {
		return BoardOverview{}, err
	}
	bs, err := s.boardStore()
	if err != nil {
		return BoardOverview{}, err
	}
	b, err := bs.GetBoard(ctx, planID)
	if err != nil {
		return BoardOverview{}, planErr(err, planID, "board")
	}
	users, err := bs.ListUsers(ctx, planID)
	if err != nil {
		return BoardOverview{}, planErr(err, planID, "users")
	}
	return BoardOverview{Board: b, Users: users, Role: role}, nil
}

// BoardHistory returns every version of the plan's board, newest first; any member of the plan may read it.
func (s *Service) BoardHistory(ctx context.Context, p store.Principal, planID string) ([]store.BoardVersion, error) {
	if _, err := PlanRole(p, planID); err != nil {
		return nil, err
	}
	bs, err := s.boardStore()
	if err != nil {
		return nil, err
	}
	h, err := bs.BoardHistory(ctx, planID)
	if err != nil {
		return nil, planErr(err, planID, "board history")
	}
	return h, nil
}

// MayChangeBoard says whether p may change planID's board and settings: the secretariat (admin) only.
func MayChangeBoard(p store.Principal, planID string) error {
	role, err := PlanRole(p, planID)
	if err != nil {
		return err
	}
	return RequireRole(role, "ændre bestyrelsen og planens frister", domain.RoleAdmin)
}

// SetBoard records b as the plan's board, as the next version, with note (store.SetBoard: the rules it checks,
// b.Version as the version the change is based on, and no new version for a board equal to the current one).
func (s *Service) SetBoard(ctx context.Context, p store.Principal, planID string, b domain.Board, note string) (domain.Board, error) {
	if err := MayChangeBoard(p, planID); err != nil {
		return domain.Board{}, err
	}
	bs, err := s.boardStore()
	if err != nil {
		return domain.Board{}, err
	}
	out, err := bs.SetBoard(ctx, planID, b, actor(p, p.Roles[planID]), strings.TrimSpace(note))
	if err != nil {
		return domain.Board{}, planErr(err, planID, "set board")
	}
	s.log.InfoContext(ctx, "board changed", "plan_id", planID, "version", out.Version, "user_id", p.UserID)
	return out, nil
}

// Settings returns the plan's current settings; any member of the plan may read them.
func (s *Service) Settings(ctx context.Context, p store.Principal, planID string) (domain.PlanSettings, error) {
	plan, _, err := s.Plan(ctx, p, planID)
	if err != nil {
		return domain.PlanSettings{}, err
	}
	return plan.Settings, nil
}

// SettingsHistory returns every version of the plan's settings, newest first; any member of the plan may read it.
func (s *Service) SettingsHistory(ctx context.Context, p store.Principal, planID string) ([]store.SettingsVersion, error) {
	if _, err := PlanRole(p, planID); err != nil {
		return nil, err
	}
	bs, err := s.boardStore()
	if err != nil {
		return nil, err
	}
	h, err := bs.PlanSettingsHistory(ctx, planID)
	if err != nil {
		return nil, planErr(err, planID, "settings history")
	}
	return h, nil
}

// SetSettings records st as the plan's settings with note (store.SetPlanSettings: the rules it checks, and no
// new version for settings equal to the current ones). Workflows started afterwards get them; running ones keep
// the settings they started with.
func (s *Service) SetSettings(ctx context.Context, p store.Principal, planID string, st domain.PlanSettings, note string) (domain.PlanSettings, error) {
	if err := MayChangeBoard(p, planID); err != nil {
		return domain.PlanSettings{}, err
	}
	bs, err := s.boardStore()
	if err != nil {
		return domain.PlanSettings{}, err
	}
	out, err := bs.SetPlanSettings(ctx, planID, st, actor(p, p.Roles[planID]), strings.TrimSpace(note))
	if err != nil {
		return domain.PlanSettings{}, planErr(err, planID, "set settings")
	}
	s.log.InfoContext(ctx, "plan settings changed", "plan_id", planID, "user_id", p.UserID)
	return out, nil
}

// MayScheduleMeeting says whether p may schedule and cancel planID's board meetings: the chair of the current
// board, or the secretariat. board is the plan's current board (nil when none is on record: then only the
// secretariat may).
func MayScheduleMeeting(p store.Principal, planID string, board *domain.Board) error {
	role, err := PlanRole(p, planID)
	if err != nil {
		return err
	}
	if role == domain.RoleAdmin || (role == domain.RoleBoard && board != nil && board.Chair != "" && board.Chair == p.UserID) {
		return nil
	}
	return domain.Refuse(domain.CodeForbidden, "Kun bestyrelsens formand og sekretariatet kan planlægge og aflyse "+
		"bestyrelsesmøder; du er %s i denne plan.", role.DanishName())
}

// mayScheduleMeeting reads the current board and checks MayScheduleMeeting.
func (s *Service) mayScheduleMeeting(ctx context.Context, bs BoardStore, p store.Principal, planID string) error {
	if _, err := PlanRole(p, planID); err != nil {
		return err
	}
	b, err := bs.GetBoard(ctx, planID)
	if err != nil {
		return planErr(err, planID, "board")
	}
	return MayScheduleMeeting(p, planID, b)
}

// Meetings returns the plan's meetings, the latest first; any member of the plan may read them.
func (s *Service) Meetings(ctx context.Context, p store.Principal, planID string) ([]store.Meeting, error) {
	if _, err := PlanRole(p, planID); err != nil {
		return nil, err
	}
	bs, err := s.boardStore()
	if err != nil {
		return nil, err
	}
	ms, err := bs.ListMeetings(ctx, planID)
	if err != nil {
		return nil, planErr(err, planID, "meetings")
	}
	return ms, nil
}

// BoardMeeting returns one meeting of the plan and its agenda (store.MeetingAgenda: the matters waiting for the
// board on its date); any member of the plan may read them. A cancelled meeting has no agenda.
func (s *Service) BoardMeeting(ctx context.Context, p store.Principal, planID, id string) (store.Meeting, []store.AgendaItem, error) {
	if _, err := PlanRole(p, planID); err != nil {
		return store.Meeting{}, nil, err
	}
	if id == "" || len(id) > MaxIDLen {
		return store.Meeting{}, nil, meetingNotFound(id)
	}
	bs, err := s.boardStore()
	if err != nil {
		return store.Meeting{}, nil, err
	}
	m, err := bs.GetMeeting(ctx, planID, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Meeting{}, nil, meetingNotFound(id)
	}
	if err != nil {
		return store.Meeting{}, nil, fmt.Errorf("meeting %s/%s: %w", planID, id, err)
	}
	if m.Cancelled() {
		return m, []store.AgendaItem{}, nil
	}
	agenda, err := bs.MeetingAgenda(ctx, planID, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Meeting{}, nil, meetingNotFound(id)
	}
	if err != nil {
		return store.Meeting{}, nil, fmt.Errorf("agenda of meeting %s/%s: %w", planID, id, err)
	}
	if agenda == nil {
		agenda = []store.AgendaItem{}
	}
	return m, agenda, nil
}

// MeetingRequest is a meeting as a user asks for it: the date as YYYY-MM-DD, the time as HH:MM (or ""), where,
// and a title ("" for store.DefaultMeetingTitle).
type MeetingRequest struct {
	HeldOn   string
	StartsAt string
	Location string
	Title    string
}

const meetingRefused = "Mødet kan ikke oprettes, fordi nogle felter ikke overholder reglerne."

// ScheduleMeeting schedules a board meeting of planID and returns it as stored. problems are those the caller
// found reading the input; they are reported together with the meeting's own rules. The meeting's ID comes from
// k, so the same request twice (a double click, a retry) schedules one meeting.
func (s *Service) ScheduleMeeting(ctx context.Context, p store.Principal, planID string, in MeetingRequest,
	problems []domain.FieldProblem, k Idem) (store.Meeting, error) {
	bs, err := s.boardStore()
	if err != nil {
		return store.Meeting{}, err
	}
	if err := s.mayScheduleMeeting(ctx, bs, p, planID); err != nil {
		return store.Meeting{}, err
	}
	mi := store.MeetingInput{PlanID: planID, StartsAt: in.StartsAt, Location: in.Location, Title: in.Title,
		By: actor(p, p.Roles[planID])}
	held := strings.TrimSpace(in.HeldOn)
	if held != "" {
		d, err := domain.ParseDate(held)
		if err != nil {
			problems = append(problems, domain.FieldProblem{Field: "held_on", Code: "invalid_date",
				Message: "Skriv datoen som ÅÅÅÅ-MM-DD, fx 2024-03-05."})
		} else {
			mi.HeldOn = d
		}
	}
	if err := store.ValidateMeeting(&mi); err != nil || len(problems) > 0 {
		var re *domain.RuleError
		if err != nil && !errors.As(err, &re) {
			return store.Meeting{}, err
		}
		// A field the caller or the date's parse already objected to is reported once.
		all := append([]domain.FieldProblem{}, problems...)
		seen := map[string]bool{}
		for _, q := range problems {
			seen[q.Field] = true
		}
		if re != nil {
			for _, q := range re.Problems {
				if !seen[q.Field] {
					all = append(all, q)
				}
			}
		}
		return store.Meeting{}, &domain.RuleError{Code: domain.CodeValidation, Message: meetingRefused, Problems: all}
	}
	if mi.ID, err = k.InitiativeID(); err != nil { // a UUID derived from the request, or a fresh one
		return store.Meeting{}, err
	}
	m, created, err := bs.CreateMeeting(ctx, mi)
	if err != nil {
		return store.Meeting{}, planErr(err, planID, "schedule meeting")
	}
	if created {
		s.log.InfoContext(ctx, "meeting scheduled", "plan_id", planID, "meeting_id", m.ID, "user_id", p.UserID)
	}
	return m, nil
}

// CancelMeeting cancels a meeting of planID (the chair or the secretariat) and returns it; cancelling a cancelled
// meeting changes nothing.
func (s *Service) CancelMeeting(ctx context.Context, p store.Principal, planID, id string) (store.Meeting, error) {
	bs, err := s.boardStore()
	if err != nil {
		return store.Meeting{}, err
	}
	if _, err := PlanRole(p, planID); err != nil {
		return store.Meeting{}, err
	}
	if id == "" || len(id) > MaxIDLen {
		return store.Meeting{}, meetingNotFound(id)
	}
	if _, err := bs.GetMeeting(ctx, planID, id); errors.Is(err, store.ErrNotFound) {
		return store.Meeting{}, meetingNotFound(id)
	} else if err != nil {
		return store.Meeting{}, fmt.Errorf("meeting %s/%s: %w", planID, id, err)
	}
	if err := s.mayScheduleMeeting(ctx, bs, p, planID); err != nil {
		return store.Meeting{}, err
	}
	m, err := bs.CancelMeeting(ctx, planID, id, actor(p, p.Roles[planID]))
	if errors.Is(err, store.ErrNotFound) {
		return store.Meeting{}, meetingNotFound(id)
	}
	if err != nil {
		return store.Meeting{}, fmt.Errorf("cancel meeting %s/%s: %w", planID, id, err)
	}
	return m, nil
}

// QuorumText says a quorum rule in Danish, for the pages and the API.
func QuorumText(q domain.QuorumRule) string {
	switch q {
	case "", domain.QuorumMajorityOfEntitled:
		return "Bestyrelsen er beslutningsdygtig, når mere end halvdelen af de stemmeberettigede medlemmer har " +
			"stemt. Medlemmer, der er inhabile, eller som selv har stillet forslaget, stemmer ikke og tæller ikke med."
	}
	return string(q)
}

// DecisionText says a decision rule in Danish, for the pages and the API.
func DecisionText(d domain.DecisionRule) string {
	switch d {
	case "", domain.DecisionMajorityChairCasts:
		return "Et udfald vedtages med mere end halvdelen af de afgivne stemmer. Ved stemmelighed er formandens " +
			"stemme afgørende; uden flertal og uden afgørende formandsstemme sendes sagen tilbage med ønske om ændringer."
	}
	return string(d)
}
