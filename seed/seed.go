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
// the period is ordered and the plan meets its own minimum local co-financing.
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
	if min := p.Settings.MinLocalCofinancingPermille; p.LocalCofinancingPermille() < min {
		return fmt.Errorf("seed: local co-financing is %d ‰, below the plan's minimum %d ‰", p.LocalCofinancingPermille(), min)
	}
	return nil
}
