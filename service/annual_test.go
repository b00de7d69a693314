package service

import (
	"errors"
	"testing"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

func ruleCodeOf(err error) domain.Code {
	var re *domain.RuleError
	if errors.As(err, &re) {
		return re.Code
	}
	return ""
}

// TestAnnualServiceRolesAndClock runs on the real store: members read, only admin acts, and the service's clock
// decides whether a year is over. Not parallel: it moves annualNow.
func TestAnnualServiceRolesAndClock(t *testing.T) {
	svc := New(dbtest.New(t), nil, nil)
	ctx := t.Context()
	clock := time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)
	prev := annualNow
	annualNow = func() time.Time { return clock }
	t.Cleanup(func() { annualNow = prev })

	decl := store.AnnualDeclarationInput{DeclaredOn: domain.NewDate(2025, 3, 15), Auditor: "Revisor Hansen", Reference: "RE-17"}
	if _, err := svc.DeclareAnnualStatement(ctx, mette, planViborg, 2024, decl); ruleCodeOf(err) != domain.CodeForbidden {
		t.Errorf("declared by the operational group: %v", err)
	}
	if _, err := svc.AnnualStatement(ctx, aarhus, planViborg, 2024); ruleCodeOf(err) != domain.CodeNotFound {
		t.Errorf("read by another plan's member: %v", err)
	}
	if _, err := svc.DeclareAnnualStatement(ctx, karen, planViborg, 2025, decl); ruleCodeOf(err) != domain.CodeConflict {
		t.Errorf("2025 declared on 1.5.2025: %v", err)
	}
	st, err := svc.DeclareAnnualStatement(ctx, karen, planViborg, 2024, decl)
	if err != nil || st.Status != domain.AnnualDeclared || st.Declaration.RecordedBy != "adm-karen" {
		t.Fatalf("declared = %+v, %v", st, err)
	}
	list, err := svc.AnnualStatements(ctx, mette, planViborg)
	if err != nil || len(list) != 5 || list[3].Status != domain.AnnualDeclared || list[4].YearOver {
		t.Errorf("list = %+v, %v", list, err)
	}
	// No money has moved in the plan, so no year owes a statement yet: nothing is held (store tests cover the hold).
	h, err := svc.ReleaseHold(ctx, planViborg, clock)
	if err != nil || h != nil {
		t.Errorf("hold = %+v, %v", h, err)
	}
	f, err := svc.AnnualStatementFile(ctx, hanne, planViborg, 2024, "pdf")
	if err != nil || f.FileName != "aarsregnskab-viborg-2021-2025-2024.pdf" || f.ContentType != ContentTypePDF || len(f.Body) == 0 {
		t.Errorf("pdf = %q %q, %v", f.FileName, f.ContentType, err)
	}
	if _, err := svc.SetAnnualSettings(ctx, peter, planViborg, store.AnnualSettingsInput{Due: domain.DefaultAnnualDue}); ruleCodeOf(err) != domain.CodeForbidden {
		t.Errorf("settings by finance: %v", err)
	}

	// A store without annual statements answers with an error, not a panic.
	fake := New(&fakeStore{}, nil, nil)
	if _, err := fake.AnnualStatements(ctx, karen, planViborg); !errors.Is(err, errNoAnnualStore) {
		t.Errorf("fake store: %v", err)
	}
}
