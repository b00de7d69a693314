package chaos

import (
	"context"
	"fmt"

	"github.com/helhedsplan/helhedsplan/doctor"
)

// DefaultChecks are the checks issue 5 asks for after every chaos run: the ledger verifier and the doctor, both
// in-process against the run's database (and, for the doctor, its Temporal server). Neither repairs anything: the
// suite proves that no operator is needed.
func DefaultChecks() []Check {
	return []Check{
		{Name: "ledger verify", Run: ledgerVerify},
		{Name: "doctor", Run: runDoctor},
	}
}

func ledgerVerify(ctx context.Context, env CheckEnv) (CheckResult, error) {
	vs, err := env.Store.VerifyLedger(ctx)
	if err != nil {
		return CheckResult{}, err
	}
	res := CheckResult{Ran: true, Clean: len(vs) == 0, Summary: "clean"}
	if len(vs) > 0 {
		res.Summary = fmt.Sprintf("%d violations, first: %s", len(vs), vs[0])
	}
	for _, v := range vs {
		res.Details = append(res.Details, v.String())
	}
	return res, nil
}

func runDoctor(ctx context.Context, env CheckEnv) (CheckResult, error) {
	rep, err := doctor.Check(ctx, doctor.Deps{Client: env.Temporal, Store: env.Store, Log: env.Log}, doctor.Options{})
	if err != nil {
		return CheckResult{}, err
	}
	res := CheckResult{Ran: true, Clean: len(rep.Findings) == 0,
		Summary: fmt.Sprintf("clean (%d open initiatives checked)", rep.Checked)}
	if len(rep.Findings) > 0 {
		f := rep.Findings[0]
		res.Summary = fmt.Sprintf("%d findings (%d open initiatives checked), first: %s %s: %s",
			len(rep.Findings), rep.Checked, f.Kind, f.InitiativeID, f.Detail)
	}
	for _, f := range rep.Findings {
		res.Details = append(res.Details, fmt.Sprintf("%s %s: %s", f.Kind, f.InitiativeID, f.Detail))
	}
	return res, nil
}
