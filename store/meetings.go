package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"github.com/helhedsplan/helhedsplan/domain"
)

// Board meetings (migration 00009): when and where the board meets, and what waits for it there. A meeting is
// scheduled by the chair or the secretariat (the service checks who) and may be cancelled; it is never deleted.

// Meeting is one board meeting of a plan.
type Meeting struct {
	PlanID        string      `db:"plan_id"`
	ID            string      `db:"id"`
	HeldOn        domain.Date `db:"-"`
	StartsAt      string      `db:"starts_at"` // "HH:MM", or "" when no time is set
	Location      string      `db:"location"`
	Title         string      `db:"title"`
	CreatedBy     string      `db:"created_by"`
	CreatedByName string      `db:"created_by_name"`
	CreatedAt     time.Time   `db:"created_at"`
	CancelledAt   *time.Time  `db:"cancelled_at"`
	CancelledBy   string      `db:"-"`
}

// Cancelled reports whether the meeting was cancelled.
func (m Meeting) Cancelled() bool { return m.CancelledAt != nil }

// MeetingInput is a meeting to schedule. ID names it: the same ID twice schedules it once (see CreateMeeting).
type MeetingInput struct {
	PlanID   string
	ID       string
	HeldOn   domain.Date
	StartsAt string // "HH:MM" or ""
	Location string
	Title    string
	By       domain.Actor
}

// DefaultMeetingTitle is the title of a meeting scheduled without one.
const DefaultMeetingTitle = "Bestyrelsesmøde"

// MaxMeetings bounds ListMeetings: a board meets a few times a year, so this is decades of meetings.
const MaxMeetings = 500

// MaxAgendaItems bounds a meeting's agenda. A plan has tens of open matters; the bound only keeps one answer
// small whatever the data.
const MaxAgendaItems = 500

const meetingRefused = "Mødet kan ikke oprettes, fordi nogle felter ikke overholder reglerne."

var clockRe = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)

// ValidateMeeting checks a meeting to schedule and fills in the default title; the refusal is a *domain.RuleError
// with a Danish problem per field (held_on, starts_at, location, title).
func ValidateMeeting(in *MeetingInput) error {
	var ps fieldProblems
	in.StartsAt = strings.TrimSpace(in.StartsAt)
	in.Location = strings.TrimSpace(in.Location)
	in.Title = strings.TrimSpace(in.Title)
	if in.Title == "" {
		in.Title = DefaultMeetingTitle
	}
	switch y := in.HeldOn.Time().Year(); {
	case in.HeldOn.IsZero():
		ps.add("held_on", "required", "Angiv mødets dato.")
	case y < 2000 || y > 2100:
		ps.add("held_on", "out_of_range", "Datoen skal ligge mellem år 2000 og 2100.")
	}
	if in.StartsAt != "" && !clockRe.MatchString(in.StartsAt) {
		ps.add("starts_at", "invalid", "Skriv tidspunktet som TT:MM, fx 16:30.")
	}
	for _, f := range []struct{ name, v string }{{"location", in.Location}, {"title", in.Title}} {
		switch {
		case !domain.ValidText(f.v) || strings.ContainsAny(f.v, "\r\n"):
			ps.add(f.name, "invalid_characters", "Teksten indeholder tegn, der ikke er tilladt: linjeskift, nul-tegn, kontroltegn eller ugyldig UTF-8.")
		case utf8.RuneCountInString(f.v) > domain.MaxTitleLen:
			ps.add(f.name, "too_long", "Højst %d tegn.", domain.MaxTitleLen)
		}
	}
	return ps.err(meetingRefused)
}

// CreateMeeting schedules a meeting and returns it as stored, with created false when a meeting with the same ID
// was there already (a repeated request): then nothing is written and the stored meeting is returned if it is the
// same meeting, ErrConflict if the ID names another one. A refused input is a *domain.RuleError (ValidateMeeting);
// an unknown plan ErrNotFound.
func (s *Store) CreateMeeting(ctx context.Context, in MeetingInput) (m Meeting, created bool, err error) {
	if err := ValidateMeeting(&in); err != nil {
		return Meeting{}, false, err
	}
	if in.ID == "" || in.PlanID == "" || in.By.UserID == "" {
		return Meeting{}, false, fmt.Errorf("create meeting: plan, ID and creator are required")
	}
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		var planExists bool
		if err := tx.GetContext(ctx, &planExists, `SELECT EXISTS (SELECT 1 FROM plans WHERE id = $1)`, in.PlanID); err != nil {
			return translate(err, "create meeting: plan %s", in.PlanID)
		}
		if !planExists {
			return fmt.Errorf("create meeting: plan %s: %w", in.PlanID, ErrNotFound)
		}
		const q = `
			INSERT INTO meetings (plan_id, id, held_on, starts_at, location, title, created_by)
			VALUES ($1, $2, $3::date, $4, $5, $6, $7)
			ON CONFLICT (plan_id, id) DO NOTHING`
		res, err := tx.ExecContext(ctx, q, in.PlanID, in.ID, in.HeldOn.String(), in.StartsAt, in.Location, in.Title,
			in.By.UserID)
		if err != nil {
			return translate(err, "create meeting %s/%s", in.PlanID, in.ID)
		}
		n, err := rowsAffected(res, "create meeting")
		if err != nil {
			return err
		}
		created = n == 1
		if m, err = getMeeting(ctx, tx, in.PlanID, in.ID); err != nil {
			return err
		}
		if !created && (m.HeldOn.String() != in.HeldOn.String() || m.StartsAt != in.StartsAt || m.Location != in.Location ||
			m.Title != in.Title || m.CreatedBy != in.By.UserID) {
			return fmt.Errorf("create meeting %s/%s: the ID names another meeting: %w", in.PlanID, in.ID, ErrConflict)
		}
		return nil
	})
	if err != nil {
		return Meeting{}, false, err
	}
	return m, created, nil
}

// meetingColumns are the columns of a Meeting, with the creator's name.
const meetingColumns = `
	m.plan_id, m.id, m.held_on, m.starts_at, m.location, m.title, m.created_by, u.name AS created_by_name,
	m.created_at, m.cancelled_at, m.cancelled_by`

type meetingRow struct {
	Meeting
	HeldOnRaw   time.Time      `db:"held_on"`
	CancelledBy sql.NullString `db:"cancelled_by"`
}

func (r meetingRow) meeting() Meeting {
	m := r.Meeting
	m.HeldOn = dateOf(r.HeldOnRaw)
	m.CancelledBy = r.CancelledBy.String
	return m
}

func getMeeting(ctx context.Context, q sqlx.QueryerContext, planID, id string) (Meeting, error) {
	const qMeeting = `
		SELECT ` + meetingColumns + `
		FROM meetings m JOIN users u ON u.id = m.created_by
		WHERE m.plan_id = $1 AND m.id = $2`
	var r meetingRow
	if err := sqlx.GetContext(ctx, q, &r, qMeeting, planID, id); err != nil {
		return Meeting{}, translate(err, "meeting %s/%s", planID, id)
	}
	return r.meeting(), nil
}

// GetMeeting returns one meeting of the plan; ErrNotFound when the plan has no such meeting.
func (s *Store) GetMeeting(ctx context.Context, planID, id string) (Meeting, error) {
	return getMeeting(ctx, s.db, planID, id)
}

// ListMeetings returns the plan's meetings, the latest first (cancelled ones too), at most MaxMeetings.
func (s *Store) ListMeetings(ctx context.Context, planID string) ([]Meeting, error) {
	const q = `
		SELECT ` + meetingColumns + `
		FROM meetings m JOIN users u ON u.id = m.created_by
		WHERE m.plan_id = $1
		ORDER BY m.held_on DESC, m.starts_at DESC, m.created_at DESC
		LIMIT $2`
	var rows []meetingRow
	if err := s.db.SelectContext(ctx, &rows, q, planID, MaxMeetings); err != nil {
		return nil, translate(err, "list meetings of %s", planID)
	}
	out := make([]Meeting, len(rows))
	for i, r := range rows {
		out[i] = r.meeting()
	}
	return out, nil
}

// CancelMeeting marks the meeting cancelled by actor and returns it. Cancelling a cancelled meeting changes
// nothing (the first cancellation stands). ErrNotFound when the plan has no such meeting.
func (s *Store) CancelMeeting(ctx context.Context, planID, id string, actor domain.Actor) (Meeting, error) {
	const q = `
		UPDATE meetings SET cancelled_at = now(), cancelled_by = $3
		WHERE plan_id = $1 AND id = $2 AND cancelled_at IS NULL`
	if _, err := s.db.ExecContext(ctx, q, planID, id, actor.UserID); err != nil {
		return Meeting{}, translate(err, "cancel meeting %s/%s", planID, id)
	}
	return getMeeting(ctx, s.db, planID, id)
}

// AgendaItem is one matter waiting for the board: an open board decision of one initiative.
type AgendaItem struct {
	InitiativeID string       `json:"initiative_id"`
	Title        string       `json:"title"` // the initiative's
	Phase        domain.Phase `json:"phase"`
	// Matter is the MatterKey of the round ("" for the proposal's current revision); MatterKind its kind.
	Matter     string            `json:"matter"`
	MatterKind domain.MatterKind `json:"matter_kind"`
	StepKey    string            `json:"step_key"`
	StepTitle  string            `json:"step_title"` // Danish, e.g. "Bestyrelsens beslutning om forslaget"
	Since      domain.Date       `json:"since"`
	Deadline   domain.Date       `json:"deadline"`
	// ChairAlone is set when the board's rules let the chair decide the matter alone.
	ChairAlone bool `json:"chair_alone"`
}

// MeetingAgenda is what waits for the board on the meeting's date: each open board decision (domain.OpenSteps of
// kind StepBoardDecision — a proposal in board_review, a reported milestone, a submitted evaluation, a proposed
// cancellation) that had opened by then, oldest first. It reads the read model as it is now, so for a meeting
// in the past it lists the matters still open that were open then, not the agenda as it stood. Only initiatives
// whose phase and snapshot say a board decision is open are read (the phase column filters in SQL), at most
// MaxAgendaItems items. ErrNotFound when the plan has no such meeting.
func (s *Store) MeetingAgenda(ctx context.Context, planID, meetingID string) ([]AgendaItem, error) {
	m, err := s.GetMeeting(ctx, planID, meetingID)
	if err != nil {
		return nil, err
	}
	plan, err := s.GetPlan(ctx, planID)
	if err != nil {
		return nil, err
	}
	// A board decision is open in board_review, or in an approved phase when a cancellation is proposed and not
	// decided, a milestone report is in and not accepted (executing) or the evaluation is in and not accepted.
	const q = `
		SELECT snapshot
		FROM initiatives i
		WHERE i.plan_id = $1
		  AND i.phase IN ('board_review', 'funding', 'executing', 'evaluation')
		  AND (i.phase = 'board_review'
		       OR (COALESCE(i.snapshot->'cancellation', 'null'::jsonb) <> 'null'::jsonb
		           AND COALESCE(i.snapshot->'cancellation'->>'decided', 'false') <> 'true')
		       OR (i.phase = 'executing' AND EXISTS (
		              SELECT 1 FROM jsonb_array_elements(i.snapshot->'milestones') e
		              WHERE COALESCE(e->'report', 'null'::jsonb) <> 'null'::jsonb
		                AND COALESCE(e->'accepted_at', 'null'::jsonb) = 'null'::jsonb))
		       OR (i.phase = 'evaluation'
		           AND COALESCE(i.snapshot->'evaluation', 'null'::jsonb) <> 'null'::jsonb
		           AND COALESCE(i.snapshot->'evaluation'->'accepted_at', 'null'::jsonb) = 'null'::jsonb))
		ORDER BY i.seq
		LIMIT $2`
	var snapshots [][]byte
	if err := s.db.SelectContext(ctx, &snapshots, q, planID, MaxAgendaItems); err != nil {
		return nil, translate(err, "agenda of meeting %s/%s", planID, meetingID)
	}
	calendar := domain.DanishBusinessCalendar()
	var items []AgendaItem
	for _, raw := range snapshots {
		var in domain.Initiative
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, fmt.Errorf("agenda of meeting %s/%s: snapshot: %w", planID, meetingID, err)
		}
		for _, st := range domain.OpenSteps(&in, plan, calendar) {
			if st.Kind != domain.StepBoardDecision || st.Since.After(m.HeldOn) {
				continue
			}
			kind := domain.MatterProposal
			if st.Matter != "" {
				kind = domain.MatterKindOf(st.Matter)
			}
			items = append(items, AgendaItem{InitiativeID: in.ID, Title: in.Proposal.Title, Phase: in.Phase,
				Matter: st.Matter, MatterKind: kind, StepKey: st.Key, StepTitle: st.Title, Since: st.Since,
				Deadline: st.Deadline, ChairAlone: plan.Board.ChairDecidesAlone(kind)})
		}
	}
	sortAgenda(items)
	if len(items) > MaxAgendaItems {
		items = items[:MaxAgendaItems]
	}
	return items, nil
}

// sortAgenda orders the agenda by deadline, then by when the matter opened, then by initiative and step, so the
// most urgent comes first and the order is stable. Dates compare as their ISO text.
func sortAgenda(items []AgendaItem) {
	slices.SortFunc(items, func(a, b AgendaItem) int {
		return cmp.Or(cmp.Compare(a.Deadline.String(), b.Deadline.String()),
			cmp.Compare(a.Since.String(), b.Since.String()),
			cmp.Compare(a.InitiativeID, b.InitiativeID), cmp.Compare(a.StepKey, b.StepKey))
	})
}
