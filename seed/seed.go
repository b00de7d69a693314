// Package seed holds the Viborg plan 2021-2025 as a data file and parses it. The file is the source of truth for
// the plan's figures; the code only checks that they add up.
package seed

import (
	"bytes"
	_ "embed"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/helhedsplan/helhedsplan/domain"
)

//go:embed viborg-2021-2025.yaml
var viborg []byte

// Seed is a plan and the users who work with it.
type Seed struct {
	Plan  domain.Plan   `yaml:"plan"`
	Users []domain.User `yaml:"users"`
	// Recipients are the organisations the plan pays to, with their accounts (made-up, valid accounts for dev).
	Recipients []domain.Recipient `yaml:"recipients"`
	// PaymentAccount is the plan's own account, the debtor of its payment files.
	PaymentAccount *PaymentAccount `yaml:"payment_account"`
}

// PaymentAccount is the account a plan pays from.
type PaymentAccount struct {
	Name string `yaml:"name"`
	IBAN string `yaml:"iban"`
	BIC  string `yaml:"bic"`
}

// Viborg returns the Viborg plan 2021-2025 and its development users.
func Viborg() (Seed, error) { return Parse(viborg) }

// Parse reads a seed file and checks it: unknown keys are errors, and the plan must be internally consistent.
func Parse(b []byte) (Seed, error) {
	var s Seed
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return Seed{}, fmt.Errorf("seed: %w", err)
	}
	for i := range s.Users {
		s.Users[i].PlanID = s.Plan.ID
	}
	if err := Check(s); err != nil {
		return Seed{}, err
	}
	return s, nil
}

// Check verifies a seed: IDs present and unique, areas point at known associations, users have known roles,
// the period is ordered, the deadline settings are sensible and the plan meets its own minimum local
// co-financing.
func Check(s Seed) error {
	p := s.Plan
	if p.ID == "" || p.Name == "" {
		return fmt.Errorf("seed: plan needs id and name")
	}
	if p.PeriodStart.IsZero() || p.PeriodEnd.IsZero() || !p.PeriodStart.Before(p.PeriodEnd) {
		return fmt.Errorf("seed: plan period %s to %s is not a period", p.PeriodStart, p.PeriodEnd)
	}
	ids := map[string]string{}
	unique := func(kind, id string) error {
		if id == "" {
			return fmt.Errorf("seed: a %s has no id", kind)
		}
		if prev, ok := ids[id]; ok {
			return fmt.Errorf("seed: id %q is used by a %s and a %s", id, prev, kind)
		}
		ids[id] = kind
		return nil
	}
	for _, f := range p.FundingSources {
		if err := unique("funding source", f.ID); err != nil {
			return err
		}
		if f.CommittedØre < 0 {
			return fmt.Errorf("seed: funding source %q has a negative amount", f.ID)
		}
	}
	for _, d := range p.Delaftaler {
		if err := unique("delaftale", d.ID); err != nil {
			return err
		}
	}
	assoc := map[string]bool{}
	for _, a := range p.HousingAssociations {
		if err := unique("housing association", a.ID); err != nil {
			return err
		}
		assoc[a.ID] = true
	}
	for _, a := range p.HousingAreas {
		if err := unique("housing area", a.ID); err != nil {
			return err
		}
		if !assoc[a.AssociationID] {
			return fmt.Errorf("seed: housing area %q names unknown association %q", a.ID, a.AssociationID)
		}
	}
	users := map[string]bool{}
	for _, u := range s.Users {
		if u.ID == "" || users[u.ID] {
			return fmt.Errorf("seed: user id %q is empty or used twice", u.ID)
		}
		users[u.ID] = true
		if !u.Role.Valid() {
			return fmt.Errorf("seed: user %q has unknown role %q", u.ID, u.Role)
		}
	}
	if err := checkSettings(p.Settings, s.Users); err != nil {
		return err
	}
	if min := p.Settings.MinLocalCofinancingPermille; p.LocalCofinancingPermille() < min {
		return fmt.Errorf("seed: local co-financing is %d ‰, below the plan's minimum %d ‰", p.LocalCofinancingPermille(), min)
	}
	recipients := map[string]bool{}
	for _, r := range s.Recipients {
		r = r.Normalize()
		if r.ID == "" || recipients[r.ID] {
			return fmt.Errorf("seed: recipient id %q is empty or used twice", r.ID)
		}
		recipients[r.ID] = true
		if err := domain.CheckRecipient(r); err != nil {
			return fmt.Errorf("seed: recipient %q: %w", r.ID, err)
		}
	}
	if a := s.PaymentAccount; a != nil {
		r := domain.Recipient{Name: a.Name, Kind: domain.RecipientOther, IBAN: a.IBAN, BIC: a.BIC}.Normalize()
		if r.IBAN == "" {
			return fmt.Errorf("seed: the payment account has no IBAN")
		}
		if err := domain.CheckRecipient(r); err != nil {
			return fmt.Errorf("seed: payment account: %w", err)
		}
	}
	return nil
}

// Bounds of the deadline settings; the store refuses the same when an admin changes them (store.SetPlanSettings).
const (
	maxDeadlineDays   = 260 // business days, about a year
	maxReminderOffset = 60  // exclusive: a reminder goes out 1..59 business days before its deadline
)

// checkSettings verifies the deadline settings: days within 0..maxDeadlineDays (0 means the default), reminder
// offsets within 1..maxReminderOffset-1 and unique, and a finance lead who is a seed user with the finance role.
func checkSettings(st domain.PlanSettings, users []domain.User) error {
	for name, d := range map[string]int{"board_decision_days": st.BoardDecisionDays, "payment_days": st.PaymentDays,
		"evaluation_days": st.EvaluationDays} {
		if d < 0 || d > maxDeadlineDays {
			return fmt.Errorf("seed: settings.%s is %d, want 0..%d business days", name, d, maxDeadlineDays)
		}
	}
	seen := map[int]bool{}
	for _, o := range st.ReminderOffsets {
		if o < 1 || o >= maxReminderOffset || seen[o] {
			return fmt.Errorf("seed: settings.reminder_offsets %v: each must be unique and within 1..%d",
				st.ReminderOffsets, maxReminderOffset-1)
		}
		seen[o] = true
	}
	if st.FinanceLead != "" {
		for _, u := range users {
			if u.ID == st.FinanceLead {
				if u.Role != domain.RoleFinance {
					return fmt.Errorf("seed: settings.finance_lead %q has role %s, want finance", u.ID, u.Role)
				}
				return nil
			}
		}
		return fmt.Errorf("seed: settings.finance_lead %q is not a user of the seed", st.FinanceLead)
	}
	return nil
}
