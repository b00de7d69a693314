package e2e

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/helhedsplan/helhedsplan/internal/apiclient"
	"github.com/helhedsplan/helhedsplan/internal/lifecycle"
	"github.com/helhedsplan/helhedsplan/internal/stack"
)

// decisionView is the part of an initiative these tests read about the board's decisions.
type decisionView struct {
	ID        string `json:"id"`
	Phase     string `json:"phase"`
	Decisions []struct {
		Outcome string `json:"outcome"`
		Ballots []struct {
			Actor struct {
				UserID string `json:"user_id"`
			} `json:"actor"`
		} `json:"ballots"`
		Tally struct {
			Counts      map[string]int `json:"counts"`
			Early       bool           `json:"early"`
			Explanation string         `json:"explanation"`
		} `json:"tally"`
	} `json:"decisions"`
}

// All three board members vote at the same instant through the API, each with their own request. Whatever order
// the workflow takes them in, there is one decision, and it is the one the votes give: two against one rejects.
func TestAllBoardMembersVotingAtOnceGiveOneDecision(t *testing.T) {
	e := newEnv(t, stack.Options{})
	e.boardVotes()
	ctx := context.Background()
	votes := map[string]map[string]string{
		"bs-hanne": {"outcome": "approve"},
		"bs-lars":  {"outcome": "reject", "comment": "Dobbeltfinansieret med kommunens egen lektiecafé"},
		"bs-sofie": {"outcome": "reject", "comment": "Enig med Lars"},
	}
	for round := 0; round < 5; round++ {
		in, err := e.driver.Propose(ctx, lifecycle.Sample(fmt.Sprintf("Samtidige stemmer %d", round), 1, 1_000_000, 0))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		results := make(map[string]error, len(votes))
		var mu sync.Mutex
		start := make(chan struct{})
		for member, body := range votes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := e.driver.Act(ctx, in.ID, "/decision", "/decision", e.s.Tokens[member], body)
				mu.Lock()
				results[member] = err
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		// A vote after the round was settled is refused with why; every other vote is counted.
		refused := 0
		for member, err := range results {
			var p *apiclient.Problem
			switch {
			case err == nil:
			case errors.As(err, &p) && (p.Status == 409):
				refused++
			default:
				t.Fatalf("round %d: %s's vote: %v", round, member, err)
			}
		}
		var got decisionView
		if _, err := e.api.Do(ctx, apiclient.Call{Method: "GET", Path: "/api/v1/initiatives/" + in.ID,
			Token: e.s.Tokens["bs-hanne"]}, &got); err != nil {
			t.Fatal(err)
		}
		if got.Phase != "rejected" || len(got.Decisions) != 1 || got.Decisions[0].Outcome != "reject" {
			t.Fatalf("round %d: phase %s, decisions %+v; want one decision, rejected", round, got.Phase, got.Decisions)
		}
		d := got.Decisions[0]
		if d.Tally.Counts["reject"] != 2 || len(d.Ballots)+refused != 3 || d.Tally.Explanation == "" {
			t.Fatalf("round %d: decision %+v with %d votes refused", round, d, refused)
		}
		if n := e.count(`SELECT count(*) FROM initiative_events WHERE initiative_id = $1 AND type IN ('approved', 'rejected', 'changes_requested')`, in.ID); n != 1 {
			t.Fatalf("round %d: %d decision events, want 1", round, n)
		}
	}
}

// A member with a conflict of interest cannot vote, and the board of the other two decides without them.
func TestAMemberWithAConflictIsExcluded(t *testing.T) {
	e := newEnv(t, stack.Options{})
	e.boardVotes()
	ctx := context.Background()
	in, err := e.driver.Propose(ctx, lifecycle.Sample("Inhabilitet", 1, 1_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.driver.Act(ctx, in.ID, "/conflict", "/conflict", e.s.Tokens["bs-sofie"],
		map[string]string{"reason": "Jeg er formand for boligafdelingen, der modtager tilskuddet"}); err != nil {
		t.Fatalf("declare conflict: %v", err)
	}
	var p *apiclient.Problem
	if _, err := e.driver.Act(ctx, in.ID, "/decision", "/decision", e.s.Tokens["bs-sofie"], map[string]string{"outcome": "approve"}); !errors.As(err, &p) || p.Status != 403 {
		t.Fatalf("sofie's vote after her conflict: %v, want 403", err)
	}
	after, err := e.driver.Act(ctx, in.ID, "/decision", "/decision", e.s.Tokens["bs-lars"], map[string]string{"outcome": "approve"})
	if err != nil || after.Phase != "board_review" {
		t.Fatalf("lars: %v %+v, want still in review (one of two)", err, after)
	}
	after, err = e.driver.Act(ctx, in.ID, "/decision", "/decision", e.s.Tokens["bs-hanne"], map[string]string{"outcome": "approve"})
	if err != nil || after.Phase != "funding" {
		t.Fatalf("hanne: %v %+v, want approved by two of two entitled", err, after)
	}
}

// Cancelling an approved initiative gives what was never paid back to the sources at once: the next proposal
// can reserve it.
func TestACancelledInitiativesUnpaidMoneyIsAvailableAtOnce(t *testing.T) {
	e := newEnv(t, stack.Options{})
	e.boardVotes()
	ctx := context.Background()
	before := e.budget(ctx)
	in, err := e.driver.Propose(ctx, lifecycle.Sample("Annulleres", 3, 100_000_000, 20_000_000))
	if err != nil {
		t.Fatal(err)
	}
	in, err = e.driver.Act(ctx, in.ID, "/decision", "/decision", e.driver.Tokens.Board, map[string]string{"outcome": "approve"})
	if err == nil {
		in, err = e.driver.Act(ctx, in.ID, "/decision", "/decision", e.s.Tokens["bs-lars"], map[string]string{"outcome": "approve"})
	}
	if err != nil || in.Phase != "funding" {
		t.Fatalf("approve: %v %+v", err, in)
	}
	if err := e.driver.Confirm(ctx, in.Milestones[0].DisbursementID, "BANK-ANN-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.driver.Act(ctx, in.ID, "/milestones/1/report", "/milestones/{n}/report", e.driver.Tokens.OperationalGroup,
		map[string]any{"summary": "Første fase gennemført", "spent_ore": 120_000_000}); err != nil {
		t.Fatal(err)
	}
	if in, err = e.driver.Act(ctx, in.ID, "/milestones/1/accept", "/milestones/{n}/accept", e.driver.Tokens.Board, map[string]string{}); err != nil || in.Phase != "funding" {
		t.Fatalf("accept 1 (releases tranche 2): %v %+v", err, in)
	}
	if _, err := e.driver.Act(ctx, in.ID, "/cancel", "/cancel", e.s.Tokens["adm-karen"], map[string]string{"reason": "Lokalerne er solgt"}); err != nil {
		t.Fatalf("propose cancellation: %v", err)
	}
	cancel := map[string]string{"outcome": "approve", "matter": "cancellation"}
	if _, err := e.driver.Act(ctx, in.ID, "/decision", "/decision", e.s.Tokens["bs-lars"], cancel); err != nil {
		t.Fatal(err)
	}
	if in, err = e.driver.Act(ctx, in.ID, "/decision", "/decision", e.s.Tokens["bs-sofie"], cancel); err != nil || in.Phase != "cancelled" {
		t.Fatalf("cancel: %v %+v", err, in)
	}
	after := e.budget(ctx)
	for i, s := range after.Sources {
		paid := map[string]int64{"lbf": 100_000_000, "viborg-kommune": 20_000_000}[s.SourceID]
		want := *before.Sources[i].AvailableOre - paid
		if s.AvailableOre == nil || *s.AvailableOre != want || s.ReservedOre != 0 || s.ReleasedOre != 0 || s.PaidOre != paid {
			t.Errorf("%s after the cancellation: %+v (available %v), want available %d, paid %d, nothing reserved or released",
				s.SourceID, s.budgetLine, deref(s.AvailableOre), want, paid)
		}
	}
	// The withdrawn tranche is no longer in finance's list of payments to make.
	var pending struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if _, err := e.api.Do(ctx, apiclient.Call{Method: "GET", Path: "/api/v1/finance/disbursements?status=pending",
		Token: e.s.Tokens["fin-peter"]}, &pending); err != nil {
		t.Fatal(err)
	}
	for _, d := range pending.Items {
		if d.ID == in.Milestones[1].DisbursementID {
			t.Fatalf("withdrawn disbursement %s still pending for finance", d.ID)
		}
	}
	// The money is there for the next proposal at once.
	big := lifecycle.Sample("Overtager midlerne", 1, *after.Sources[0].AvailableOre, 0)
	if _, err := e.driver.Propose(ctx, big); err != nil {
		t.Fatalf("a proposal for all of LBF's available money: %v", err)
	}
}
