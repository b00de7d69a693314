package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
)

// The board (bestyrelse) and the deadline settings as plan data with history, and the board's meetings. Every plan
// member reads them; the service decides who changes them (the board and settings: admin; meetings: the board's
// chair or admin). PUT writes the next version; a PUT equal to the current value writes nothing, so it is
// idempotent as HTTP says.

// Request bodies.

type planBoardBody struct {
	Members  []string `json:"members" required:"true"`
	Chair    string   `json:"chair"`
	Quorum   string   `json:"quorum"`
	Decision string   `json:"decision"`
	// ChairAlone absent or null means the default list (domain.DefaultChairAlone); [] means none.
	ChairAlone []string `json:"chair_alone"`
	Note       string   `json:"note"`
	// BasedOnVersion, when set, is the version the change was made from; a newer one on record is a conflict.
	BasedOnVersion int `json:"based_on_version"`
}

type planSettingsBody struct {
	MinLocalCofinancingPermille int64  `json:"min_local_cofinancing_permille" required:"true"`
	BoardQuorum                 int    `json:"board_quorum" required:"true"`
	ReallocationThresholdOre    int64  `json:"reallocation_threshold_ore" required:"true"`
	BoardDecisionDays           int    `json:"board_decision_days" required:"true"`
	PaymentDays                 int    `json:"payment_days" required:"true"`
	EvaluationDays              int    `json:"evaluation_days" required:"true"`
	ReminderOffsets             []int  `json:"reminder_offsets"` // absent or null: the defaults; []: no reminders
	FinanceLead                 string `json:"finance_lead"`
	Note                        string `json:"note"`
}

type boardMeetingBody struct {
	HeldOn   string `json:"held_on" required:"true"`
	StartsAt string `json:"starts_at"`
	Location string `json:"location"`
	Title    string `json:"title"`
}

// Response bodies.

type planBoardMemberOut struct {
	UserID string `json:"user_id"`
	Name   string `json:"name"`
	Title  string `json:"title,omitempty"`
}

type planBoardOut struct {
	PlanID string `json:"plan_id"`
	// Version is 0 when the plan has no board on record: it decides by settings.board_quorum.
	Version         int                  `json:"version"`
	Members         []planBoardMemberOut `json:"members"`
	Chair           *planBoardMemberOut  `json:"chair"`
	Quorum          string               `json:"quorum"`
	QuorumText      string               `json:"quorum_text"`
	Decision        string               `json:"decision"`
	DecisionText    string               `json:"decision_text"`
	ChairAlone      []string             `json:"chair_alone"`
	ChairAloneNames []string             `json:"chair_alone_names"`
}

type planBoardVersionOut struct {
	planBoardOut
	ChangedBy     *string   `json:"changed_by"` // null when the system wrote it (seed, upgrade)
	ChangedByName string    `json:"changed_by_name"`
	ChangedAt     time.Time `json:"changed_at"`
	Note          string    `json:"note"`
}

type planDeadlinesOut struct {
	BoardDecisionDays int   `json:"board_decision_days"`
	PaymentDays       int   `json:"payment_days"`
	EvaluationDays    int   `json:"evaluation_days"`
	ReminderOffsets   []int `json:"reminder_offsets"`
}

type planSettingsFullOut struct {
	PlanID                      string           `json:"plan_id"`
	MinLocalCofinancingPermille int64            `json:"min_local_cofinancing_permille"`
	BoardQuorum                 int              `json:"board_quorum"`
	ReallocationThresholdOre    int64            `json:"reallocation_threshold_ore"`
	BoardDecisionDays           int              `json:"board_decision_days"`
	PaymentDays                 int              `json:"payment_days"`
	EvaluationDays              int              `json:"evaluation_days"`
	ReminderOffsets             []int            `json:"reminder_offsets"` // null: the defaults
	FinanceLead                 string           `json:"finance_lead"`
	FinanceLeadName             string           `json:"finance_lead_name,omitempty"`
	Effective                   planDeadlinesOut `json:"effective"` // the deadlines in force, defaults filled in
}

// planHistoryStamp is who set a version, when and why.
type planHistoryStamp struct {
	Version       int       `json:"version"`
	ChangedBy     *string   `json:"changed_by"`
	ChangedByName string    `json:"changed_by_name"`
	ChangedAt     time.Time `json:"changed_at"`
	Note          string    `json:"note"`
}

type planSettingsVersionOut struct {
	planHistoryStamp
	Settings planSettingsFullOut `json:"settings"`
}

type boardMeetingOut struct {
	ID            string     `json:"id"`
	PlanID        string     `json:"plan_id"`
	HeldOn        string     `json:"held_on"`
	StartsAt      string     `json:"starts_at"`
	Location      string     `json:"location"`
	Title         string     `json:"title"`
	CreatedBy     string     `json:"created_by"`
	CreatedByName string     `json:"created_by_name"`
	CreatedAt     time.Time  `json:"created_at"`
	Cancelled     bool       `json:"cancelled"`
	CancelledAt   *time.Time `json:"cancelled_at"`
	CancelledBy   *string    `json:"cancelled_by"`
}

type boardAgendaItemOut struct {
	InitiativeID string `json:"initiative_id"`
	Title        string `json:"title"`
	Phase        string `json:"phase"`
	PhaseName    string `json:"phase_name"`
	Matter       string `json:"matter"`
	MatterKind   string `json:"matter_kind"`
	StepKey      string `json:"step_key"`
	StepTitle    string `json:"step_title"`
	Since        string `json:"since"`
	Deadline     string `json:"deadline"`
	ChairAlone   bool   `json:"chair_alone"`
}

type boardMeetingDetailOut struct {
	boardMeetingOut
	Agenda []boardAgendaItemOut `json:"agenda"`
}

func planBoardToOut(planID string, b *domain.Board, o service.BoardOverview) planBoardOut {
	out := planBoardOut{PlanID: planID, Members: []planBoardMemberOut{}, ChairAlone: []string{}, ChairAloneNames: []string{},
		Quorum: string(domain.QuorumMajorityOfEntitled), Decision: string(domain.DecisionMajorityChairCasts)}
	if b != nil {
		out.Version = b.Version
		if b.Quorum != "" {
			out.Quorum = string(b.Quorum)
		}
		if b.Decision != "" {
			out.Decision = string(b.Decision)
		}
		member := func(id string) planBoardMemberOut {
			m := planBoardMemberOut{UserID: id, Name: id}
			for _, u := range o.Users {
				if u.ID == id {
					m.Name, m.Title = u.Name, u.Title
				}
			}
			return m
		}
		for _, id := range b.Members {
			out.Members = append(out.Members, member(id))
		}
		if b.Chair != "" {
			c := member(b.Chair)
			out.Chair = &c
		}
		alone := b.ChairAlone
		if alone == nil {
			alone = domain.DefaultChairAlone
		}
		for _, k := range alone {
			out.ChairAlone = append(out.ChairAlone, string(k))
			out.ChairAloneNames = append(out.ChairAloneNames, k.DanishName())
		}
	}
	out.QuorumText = service.QuorumText(domain.QuorumRule(out.Quorum))
	out.DecisionText = service.DecisionText(domain.DecisionRule(out.Decision))
	return out
}

func planSettingsToOut(planID string, st domain.PlanSettings, users []domain.User) planSettingsFullOut {
	d := st.Deadlines()
	out := planSettingsFullOut{PlanID: planID, MinLocalCofinancingPermille: st.MinLocalCofinancingPermille,
		BoardQuorum: st.BoardQuorum, ReallocationThresholdOre: int64(st.ReallocationThresholdØre),
		BoardDecisionDays: st.BoardDecisionDays, PaymentDays: st.PaymentDays, EvaluationDays: st.EvaluationDays,
		ReminderOffsets: st.ReminderOffsets, FinanceLead: st.FinanceLead,
		Effective: planDeadlinesOut{BoardDecisionDays: d.BoardDecisionDays, PaymentDays: d.PaymentDays,
			EvaluationDays: d.EvaluationDays, ReminderOffsets: d.ReminderOffsets}}
	if out.Effective.ReminderOffsets == nil {
		out.Effective.ReminderOffsets = []int{}
	}
	for _, u := range users {
		if u.ID == st.FinanceLead {
			out.FinanceLeadName = u.Name
		}
	}
	return out
}

func planStampOf(version int, by, name string, at time.Time, note string) planHistoryStamp {
	h := planHistoryStamp{Version: version, ChangedByName: name, ChangedAt: at, Note: note}
	if by != "" {
		h.ChangedBy = &by
	}
	return h
}

func boardMeetingToOut(m store.Meeting) boardMeetingOut {
	out := boardMeetingOut{ID: m.ID, PlanID: m.PlanID, HeldOn: m.HeldOn.String(), StartsAt: m.StartsAt, Location: m.Location,
		Title: m.Title, CreatedBy: m.CreatedBy, CreatedByName: m.CreatedByName, CreatedAt: m.CreatedAt,
		Cancelled: m.Cancelled(), CancelledAt: m.CancelledAt}
	if m.CancelledBy != "" {
		by := m.CancelledBy
		out.CancelledBy = &by
	}
	return out
}

func (s *server) getPlanBoard(c echo.Context) error {
	planID := c.Param("planID")
	o, err := s.svc.Board(c.Request().Context(), principalOf(c), planID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, planBoardToOut(planID, o.Board, o))
}

func (s *server) putPlanBoard(c echo.Context) error {
	ctx, p, planID := c.Request().Context(), principalOf(c), c.Param("planID")
	if err := service.MayChangeBoard(p, planID); err != nil {
		return err
	}
	var b planBoardBody
	if err := decodeJSON(c, &b, false); err != nil {
		return err
	}
	board := domain.Board{Version: b.BasedOnVersion, Members: b.Members, Chair: b.Chair,
		Quorum: domain.QuorumRule(b.Quorum), Decision: domain.DecisionRule(b.Decision)}
	if b.ChairAlone != nil {
		board.ChairAlone = make([]domain.MatterKind, len(b.ChairAlone))
		for i, k := range b.ChairAlone {
			board.ChairAlone[i] = domain.MatterKind(k)
		}
	}
	saved, err := s.svc.SetBoard(ctx, p, planID, board, b.Note)
	if err != nil {
		return err
	}
	o, err := s.svc.Board(ctx, p, planID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, planBoardToOut(planID, &saved, o))
}

func (s *server) getPlanBoardHistory(c echo.Context) error {
	ctx, p, planID := c.Request().Context(), principalOf(c), c.Param("planID")
	hist, err := s.svc.BoardHistory(ctx, p, planID)
	if err != nil {
		return err
	}
	o, err := s.svc.Board(ctx, p, planID)
	if err != nil {
		return err
	}
	out := make([]planBoardVersionOut, len(hist))
	for i, h := range hist {
		out[i] = planBoardVersionOut{planBoardOut: planBoardToOut(planID, &h.Board, o), ChangedByName: h.ChangedByName,
			ChangedAt: h.ChangedAt, Note: h.Note}
		if h.ChangedBy != "" {
			by := h.ChangedBy
			out[i].ChangedBy = &by
		}
	}
	return c.JSON(http.StatusOK, page(out, ""))
}

func (s *server) getPlanSettings(c echo.Context) error {
	ctx, p, planID := c.Request().Context(), principalOf(c), c.Param("planID")
	st, err := s.svc.Settings(ctx, p, planID)
	if err != nil {
		return err
	}
	o, err := s.svc.Board(ctx, p, planID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, planSettingsToOut(planID, st, o.Users))
}

func (s *server) putPlanSettings(c echo.Context) error {
	ctx, p, planID := c.Request().Context(), principalOf(c), c.Param("planID")
	if err := service.MayChangeBoard(p, planID); err != nil {
		return err
	}
	var b planSettingsBody
	if err := decodeJSON(c, &b, false); err != nil {
		return err
	}
	saved, err := s.svc.SetSettings(ctx, p, planID, domain.PlanSettings{
		MinLocalCofinancingPermille: b.MinLocalCofinancingPermille, BoardQuorum: b.BoardQuorum,
		ReallocationThresholdØre: domain.Money(b.ReallocationThresholdOre), BoardDecisionDays: b.BoardDecisionDays,
		PaymentDays: b.PaymentDays, EvaluationDays: b.EvaluationDays, ReminderOffsets: b.ReminderOffsets,
		FinanceLead: b.FinanceLead}, b.Note)
	if err != nil {
		return err
	}
	o, err := s.svc.Board(ctx, p, planID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, planSettingsToOut(planID, saved, o.Users))
}

func (s *server) getPlanSettingsHistory(c echo.Context) error {
	ctx, p, planID := c.Request().Context(), principalOf(c), c.Param("planID")
	hist, err := s.svc.SettingsHistory(ctx, p, planID)
	if err != nil {
		return err
	}
	o, err := s.svc.Board(ctx, p, planID)
	if err != nil {
		return err
	}
	out := make([]planSettingsVersionOut, len(hist))
	for i, h := range hist {
		out[i] = planSettingsVersionOut{planHistoryStamp: planStampOf(h.Version, h.ChangedBy, h.ChangedByName, h.ChangedAt, h.Note),
			Settings: planSettingsToOut(planID, h.Settings, o.Users)}
	}
	return c.JSON(http.StatusOK, page(out, ""))
}

func (s *server) listBoardMeetings(c echo.Context) error {
	ms, err := s.svc.Meetings(c.Request().Context(), principalOf(c), c.Param("planID"))
	if err != nil {
		return err
	}
	out := make([]boardMeetingOut, len(ms))
	for i, m := range ms {
		out[i] = boardMeetingToOut(m)
	}
	return c.JSON(http.StatusOK, page(out, ""))
}

func (s *server) createBoardMeeting(c echo.Context) error {
	ctx, p, planID := c.Request().Context(), principalOf(c), c.Param("planID")
	// Who may schedule is refused before anything about the body.
	o, err := s.svc.Board(ctx, p, planID)
	if err != nil {
		return err
	}
	if err := service.MayScheduleMeeting(p, planID, o.Board); err != nil {
		return err
	}
	var b boardMeetingBody
	input, err := decodeInput(c, &b, false)
	if err != nil {
		return err
	}
	m, err := s.svc.ScheduleMeeting(ctx, p, planID, service.MeetingRequest{HeldOn: b.HeldOn, StartsAt: b.StartsAt,
		Location: b.Location, Title: b.Title}, input, idem(c))
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/plans/"+planID+"/meetings/"+m.ID)
	return c.JSON(http.StatusCreated, boardMeetingToOut(m))
}

func (s *server) getBoardMeeting(c echo.Context) error {
	m, agenda, err := s.svc.BoardMeeting(c.Request().Context(), principalOf(c), c.Param("planID"), c.Param("id"))
	if err != nil {
		return err
	}
	out := boardMeetingDetailOut{boardMeetingOut: boardMeetingToOut(m), Agenda: make([]boardAgendaItemOut, len(agenda))}
	for i, a := range agenda {
		out.Agenda[i] = boardAgendaItemOut{InitiativeID: a.InitiativeID, Title: a.Title, Phase: string(a.Phase),
			PhaseName: a.Phase.DanishName(), Matter: a.Matter, MatterKind: string(a.MatterKind), StepKey: a.StepKey,
			StepTitle: a.StepTitle, Since: a.Since.String(), Deadline: a.Deadline.String(), ChairAlone: a.ChairAlone}
	}
	return c.JSON(http.StatusOK, out)
}

func (s *server) cancelBoardMeeting(c echo.Context) error {
	ctx, p, planID := c.Request().Context(), principalOf(c), c.Param("planID")
	o, err := s.svc.Board(ctx, p, planID)
	if err != nil {
		return err
	}
	if err := service.MayScheduleMeeting(p, planID, o.Board); err != nil {
		return err
	}
	var b struct{} // no fields: an empty body or {}
	if err := decodeJSON(c, &b, true); err != nil {
		return err
	}
	m, err := s.svc.CancelMeeting(ctx, p, planID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, boardMeetingToOut(m))
}
