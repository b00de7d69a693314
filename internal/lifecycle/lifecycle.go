// Package lifecycle drives initiatives through the whole API lifecycle — proposal, approval, tranche payments,
// milestone reports and acceptances, evaluation — the way the operational group, the board and finance would.
// The end-to-end tests and the benchmark share it.
package lifecycle

import (
	"context"
	"fmt"

	"github.com/helhedsplan/helhedsplan/internal/apiclient"
)

// Tokens are the bearer tokens of the people who act.
type Tokens struct {
	OperationalGroup string
	Board            string // the chair: votes first, and decides alone where the board's rules say so
	// OtherBoard are the other board members, who vote after the chair until the board has decided (a board
	// that decides by majority needs more than one vote).
	OtherBoard []string
	Finance    string
}

// Amount is an amount from one funding source.
type Amount struct {
	SourceID  string `json:"source_id"`
	AmountOre int64  `json:"amount_ore"`
}

// Goal is a proposal goal.
type Goal struct {
	ID               string `json:"id,omitempty"`
	Description      string `json:"description"`
	SuccessCriterion string `json:"success_criterion"`
}

// Milestone is a proposed milestone.
type Milestone struct {
	Title   string   `json:"title"`
	DueDate string   `json:"due_date"`
	Tranche []Amount `json:"tranche"`
}

// Proposal is the body of POST /initiatives.
type Proposal struct {
	PlanID         string      `json:"plan_id,omitempty"`
	Title          string      `json:"title"`
	Description    string      `json:"description"`
	DelaftaleID    string      `json:"delaftale_id"`
	HousingAreaIDs []string    `json:"housing_area_ids"`
	TargetGroup    string      `json:"target_group"`
	Goals          []Goal      `json:"goals"`
	Budget         []Amount    `json:"budget"`
	Milestones     []Milestone `json:"milestones"`
}

// Initiative is the part of GET /initiatives/{id} the driver reads.
type Initiative struct {
	ID         string `json:"id"`
	Phase      string `json:"phase"`
	Version    int64  `json:"version"`
	Milestones []struct {
		No               int    `json:"no"`
		TrancheStatus    string `json:"tranche_status"`
		DisbursementID   string `json:"disbursement_id"`
		PaymentReference string `json:"payment_reference"`
	} `json:"milestones"`
	// Closeout is the settlement of a completed initiative's money.
	Closeout *struct {
		Lines []struct {
			SourceID      string `json:"source_id"`
			PaidOre       int64  `json:"paid_ore"`
			SpentOre      int64  `json:"spent_ore"`
			ReturnOre     int64  `json:"return_ore"`
			UnreservedOre int64  `json:"unreserved_ore"`
		} `json:"lines"`
		ReturnOre int64 `json:"return_ore"`
	} `json:"closeout"`
}

// Sample is a proposal with n milestones whose tranches split lbf and municipality money evenly. title makes
// it recognisable in lists.
func Sample(title string, n int, lbfPerMilestone, kommunePerMilestone int64) Proposal {
	p := Proposal{
		Title:          title,
		Description:    "Lektiecafé og forældrekurser i boligområdet.",
		DelaftaleID:    "uddannelse-og-livschancer",
		HousingAreaIDs: []string{"houlkaervaenget", "ellekonebakken"},
		TargetGroup:    "Børn i 4.-9. klasse og deres forældre",
		Goals: []Goal{
			{Description: "Bedre karakterer", SuccessCriterion: "Karaktergennemsnit i dansk og matematik +0,5"},
			{Description: "Flere forældre deltager", SuccessCriterion: "60 forældre gennemfører kurset"},
		},
	}
	tranche := []Amount{{"lbf", lbfPerMilestone}}
	if kommunePerMilestone > 0 { // a source with no money is left out: a budget line must be positive
		tranche = append(tranche, Amount{"viborg-kommune", kommunePerMilestone})
	}
	for _, a := range tranche {
		p.Budget = append(p.Budget, Amount{a.SourceID, a.AmountOre * int64(n)})
	}
	for i := 0; i < n; i++ {
		p.Milestones = append(p.Milestones, Milestone{
			Title:   fmt.Sprintf("Milepæl %d", i+1),
			DueDate: fmt.Sprintf("%d-06-30", 2022+i*3/max(n, 1)),
			Tranche: tranche,
		})
	}
	return p
}

// Driver acts through the API.
type Driver struct {
	API    *apiclient.Client
	Tokens Tokens
}

// Propose submits a proposal and returns the new initiative.
func (d *Driver) Propose(ctx context.Context, p Proposal) (Initiative, error) {
	var in Initiative
	_, err := d.API.Do(ctx, apiclient.Call{Method: "POST", Path: "/api/v1/initiatives", Token: d.Tokens.OperationalGroup, Body: p}, &in)
	return in, err
}

// Act posts an action on an initiative (path below /initiatives/{id}) and returns the initiative afterwards.
func (d *Driver) Act(ctx context.Context, id, action, route, token string, body any) (Initiative, error) {
	var in Initiative
	_, err := d.API.Do(ctx, apiclient.Call{Method: "POST", Path: "/api/v1/initiatives/" + id + action,
		Route: "/api/v1/initiatives/{id}" + route, Token: token, Body: body}, &in)
	return in, err
}

// Get reads an initiative.
func (d *Driver) Get(ctx context.Context, id string) (Initiative, error) {
	var in Initiative
	_, err := d.API.Do(ctx, apiclient.Call{Method: "GET", Path: "/api/v1/initiatives/" + id,
		Route: "/api/v1/initiatives/{id}", Token: d.Tokens.Board}, &in)
	return in, err
}

// Confirm confirms a disbursement.
func (d *Driver) Confirm(ctx context.Context, disbursementID, reference string) error {
	_, err := d.API.Do(ctx, apiclient.Call{Method: "POST", Path: "/api/v1/finance/disbursements/" + disbursementID + "/confirm",
		Route: "/api/v1/finance/disbursements/{id}/confirm", Token: d.Tokens.Finance, Body: map[string]string{"reference": reference}}, nil)
	return err
}

// vote has the chair and then each other board member cast the same vote until decided says the board has.
func (d *Driver) vote(ctx context.Context, id, action, route string, body any, decided func(Initiative) bool) (Initiative, error) {
	in, err := d.Act(ctx, id, action, route, d.Tokens.Board, body)
	for _, tok := range d.Tokens.OtherBoard {
		if err != nil || decided(in) {
			break
		}
		in, err = d.Act(ctx, id, action, route, tok, body)
	}
	return in, err
}

// Complete takes an initiative from board review to completed: approve, then for each milestone pay its
// tranche, report and accept, then evaluate. Each step checks the phase the API answers with.
func (d *Driver) Complete(ctx context.Context, in Initiative, spentPerMilestone int64) (Initiative, error) {
	id := in.ID
	in, err := d.vote(ctx, id, "/decision", "/decision", map[string]string{"outcome": "approve", "comment": "Godkendt på bestyrelsesmødet"},
		func(in Initiative) bool { return in.Phase != "board_review" })
	if err != nil {
		return in, fmt.Errorf("approve: %w", err)
	}
	return d.Finish(ctx, in, spentPerMilestone)
}

// Finish takes an approved initiative (tranche 1 released) to completed: for each milestone pay its tranche,
// report and accept, then evaluate.
func (d *Driver) Finish(ctx context.Context, in Initiative, spentPerMilestone int64) (Initiative, error) {
	return d.FinishSpending(ctx, in, spentPerMilestone, nil)
}

// FinishSpending is Finish with the evaluation's final spend per funding source (nil: everything paid counts as
// spent, so nothing is to be paid back).
func (d *Driver) FinishSpending(ctx context.Context, in Initiative, spentPerMilestone int64, spend []Amount) (Initiative, error) {
	id := in.ID
	var err error
	for i := range in.Milestones {
		no := i + 1
		if in.Phase != "funding" || in.Milestones[i].TrancheStatus != "released" {
			return in, fmt.Errorf("milestone %d: phase %s tranche %s, want funding/released", no, in.Phase, in.Milestones[i].TrancheStatus)
		}
		if err := d.Confirm(ctx, in.Milestones[i].DisbursementID, fmt.Sprintf("BANK-%s-%d", id[len(id)-6:], no)); err != nil {
			return in, fmt.Errorf("confirm %d: %w", no, err)
		}
		path := fmt.Sprintf("/milestones/%d", no)
		if _, err := d.Act(ctx, id, path+"/report", "/milestones/{n}/report", d.Tokens.OperationalGroup,
			map[string]any{"summary": "Aktiviteterne er gennemført som planlagt.", "spent_ore": spentPerMilestone}); err != nil {
			return in, fmt.Errorf("report %d: %w", no, err)
		}
		if in, err = d.Act(ctx, id, path+"/accept", "/milestones/{n}/accept", d.Tokens.Board, map[string]string{"comment": "Godkendt"}); err != nil {
			return in, fmt.Errorf("accept %d: %w", no, err)
		}
	}
	if in.Phase != "evaluation" {
		return in, fmt.Errorf("after the last milestone: phase %s, want evaluation", in.Phase)
	}
	results := []map[string]any{
		{"goal_id": "g1", "achieved": true, "result": "Gennemsnittet steg 0,7"},
		{"goal_id": "g2", "achieved": false, "result": "48 forældre gennemførte"},
	}
	body := map[string]any{"summary": "Delvist opfyldt", "results": results}
	if spend != nil {
		body["spend"] = spend
	}
	if _, err := d.Act(ctx, id, "/evaluation", "/evaluation", d.Tokens.OperationalGroup, body); err != nil {
		return in, fmt.Errorf("evaluation: %w", err)
	}
	if in, err = d.vote(ctx, id, "/evaluation/accept", "/evaluation/accept", map[string]string{"comment": "Taget til efterretning"},
		func(in Initiative) bool { return in.Phase != "evaluation" }); err != nil {
		return in, fmt.Errorf("accept evaluation: %w", err)
	}
	if in.Phase != "completed" {
		return in, fmt.Errorf("phase %s, want completed", in.Phase)
	}
	return in, nil
}
