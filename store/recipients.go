package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/seed"
)

// Recipients (migration 00013): the organisations a plan pays to, with history, the recipient each initiative
// names, the plan's paying account and the end-to-end references of payment files.

// RecipientVersion is one version of a recipient with who wrote it, when and why.
type RecipientVersion struct {
	domain.Recipient
	Version       int       `db:"version"`
	ChangedBy     *string   `db:"changed_by"` // nil when the system wrote it (the seed)
	ChangedByName string    `db:"changed_by_name"`
	ChangedAt     time.Time `db:"changed_at"`
	Note          string    `db:"note"`
}

// recipientRow is a recipient_versions row as the queries select it.
type recipientRow struct {
	PlanID        string    `db:"plan_id"`
	ID            string    `db:"recipient_id"`
	Version       int       `db:"version"`
	Name          string    `db:"name"`
	Kind          string    `db:"kind"`
	CVR           string    `db:"cvr"`
	IBAN          string    `db:"iban"`
	BIC           string    `db:"bic"`
	RegNo         string    `db:"reg_no"`
	AccountNo     string    `db:"account_no"`
	ChangedBy     *string   `db:"changed_by"`
	ChangedByName string    `db:"changed_by_name"`
	ChangedAt     time.Time `db:"changed_at"`
	Note          string    `db:"note"`
}

func (r recipientRow) version() RecipientVersion {
	return RecipientVersion{
		Recipient: domain.Recipient{ID: r.ID, PlanID: r.PlanID, Name: r.Name, Kind: domain.RecipientKind(r.Kind),
			CVR: r.CVR, IBAN: r.IBAN, BIC: r.BIC, RegNo: r.RegNo, AccountNo: r.AccountNo},
		Version: r.Version, ChangedBy: r.ChangedBy, ChangedByName: r.ChangedByName, ChangedAt: r.ChangedAt, Note: r.Note,
	}
}

const recipientColumns = `
	v.plan_id, v.recipient_id, v.version, v.name, v.kind, v.cvr, v.iban, v.bic, v.reg_no, v.account_no,
	v.changed_by, COALESCE(u.name, '') AS changed_by_name, v.changed_at, v.note`

// ListRecipients returns the current version of each of the plan's recipients, by name.
func (s *Store) ListRecipients(ctx context.Context, planID string) ([]RecipientVersion, error) {
	if err := planExists(ctx, s.db, planID); err != nil {
		return nil, err
	}
	q := `
		SELECT ` + recipientColumns + `
		FROM (SELECT DISTINCT ON (plan_id, recipient_id) *
		      FROM recipient_versions
		      WHERE plan_id = $1
		      ORDER BY plan_id, recipient_id, version DESC) v
		LEFT JOIN users u ON u.id = v.changed_by
		ORDER BY v.name, v.recipient_id`
	var rows []recipientRow
	if err := s.db.SelectContext(ctx, &rows, q, planID); err != nil {
		return nil, translate(err, "list recipients of %s", planID)
	}
	out := make([]RecipientVersion, len(rows))
	for i, r := range rows {
		out[i] = r.version()
	}
	return out, nil
}

// GetRecipient returns the current version of one recipient; ErrNotFound when the plan has none with the ID.
func (s *Store) GetRecipient(ctx context.Context, planID, id string) (RecipientVersion, error) {
	return getRecipient(ctx, s.db, planID, id)
}

func getRecipient(ctx context.Context, q sqlx.QueryerContext, planID, id string) (RecipientVersion, error) {
	qOne := `
		SELECT ` + recipientColumns + `
		FROM recipient_versions v
		LEFT JOIN users u ON u.id = v.changed_by
		WHERE v.plan_id = $1 AND v.recipient_id = $2
		ORDER BY v.version DESC
		LIMIT 1`
	var r recipientRow
	if err := sqlx.GetContext(ctx, q, &r, qOne, planID, id); err != nil {
		return RecipientVersion{}, translate(err, "recipient %s/%s", planID, id)
	}
	return r.version(), nil
}

// RecipientHistory returns every version of a recipient, newest first; ErrNotFound when there is none.
func (s *Store) RecipientHistory(ctx context.Context, planID, id string) ([]RecipientVersion, error) {
	q := `
		SELECT ` + recipientColumns + `
		FROM recipient_versions v
		LEFT JOIN users u ON u.id = v.changed_by
		WHERE v.plan_id = $1 AND v.recipient_id = $2
		ORDER BY v.version DESC`
	var rows []recipientRow
	if err := s.db.SelectContext(ctx, &rows, q, planID, id); err != nil {
		return nil, translate(err, "history of recipient %s/%s", planID, id)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("recipient %s/%s: %w", planID, id, ErrNotFound)
	}
	out := make([]RecipientVersion, len(rows))
	for i, r := range rows {
		out[i] = r.version()
	}
	return out, nil
}

var recipientIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// RecipientIDFromName makes a recipient ID from its name: lower case, æ ø å written ae oe aa, other characters
// hyphens ("Viborg Kommune – Børn og Unge" → "viborg-kommune-boern-og-unge").
func RecipientIDFromName(name string) string {
	r := strings.NewReplacer("æ", "ae", "ø", "oe", "å", "aa", "é", "e", "ü", "u", "ö", "oe", "ä", "ae")
	s := r.Replace(strings.ToLower(name))
	var b strings.Builder
	dash := false
	for _, c := range s {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	id := strings.TrimRight(b.String(), "-")
	if len(id) > 63 {
		id = strings.TrimRight(id[:63], "-")
	}
	return id
}

// CreateRecipient records a new recipient of the plan as its version 1. r is normalized and checked
// (domain.CheckRecipient); an empty ID is made from the name. A recipient with the ID exists already: ErrConflict.
func (s *Store) CreateRecipient(ctx context.Context, planID string, r domain.Recipient, actor domain.Actor, note string) (RecipientVersion, error) {
	r = r.Normalize()
	if r.ID == "" {
		r.ID = RecipientIDFromName(r.Name)
	}
	if err := domain.CheckRecipient(r); err != nil {
		return RecipientVersion{}, err
	}
	if !recipientIDPattern.MatchString(r.ID) {
		return RecipientVersion{}, &domain.RuleError{Code: domain.CodeValidation, Message: "Modtageren kan ikke gemmes.",
			Problems: []domain.FieldProblem{{Field: "id", Code: "invalid",
				Message: "Et id består af små bogstaver, cifre og bindestreger (højst 63 tegn)."}}}
	}
	var out RecipientVersion
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := planExists(ctx, tx, planID); err != nil {
			return err
		}
		const qNew = `INSERT INTO recipients (plan_id, id) VALUES ($1, $2) ON CONFLICT DO NOTHING`
		res, err := tx.ExecContext(ctx, qNew, planID, r.ID)
		if err != nil {
			return translate(err, "create recipient %s", r.ID)
		}
		if n, err := rowsAffected(res, "create recipient"); err != nil {
			return err
		} else if n == 0 {
			return &domain.RuleError{Code: domain.CodeConflict,
				Message: fmt.Sprintf("Der er allerede en modtager med id %q.", r.ID),
				Problems: []domain.FieldProblem{{Field: "id", Code: "exists",
					Message: fmt.Sprintf("Id %q er i brug; vælg et andet.", r.ID)}}}
		}
		if err := insertRecipientVersion(ctx, tx, planID, r, 1, actorID(actor), note); err != nil {
			return err
		}
		out, err = getRecipient(ctx, tx, planID, r.ID)
		return err
	})
	return out, err
}

// UpdateRecipient records r as the next version of its recipient. basedOn, when > 0, is the version the edit was
// made from: a newer one on record is a conflict (a stale form never overwrites a newer edit). An edit equal to the
// current version writes nothing and returns it with changed false, whatever basedOn says.
func (s *Store) UpdateRecipient(ctx context.Context, planID string, r domain.Recipient, basedOn int, actor domain.Actor, note string) (RecipientVersion, bool, error) {
	r = r.Normalize()
	if err := domain.CheckRecipient(r); err != nil {
		return RecipientVersion{}, false, err
	}
	var out RecipientVersion
	changed := false
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		const qLock = `SELECT id FROM recipients WHERE plan_id = $1 AND id = $2 FOR UPDATE`
		var id string
		if err := tx.GetContext(ctx, &id, qLock, planID, r.ID); err != nil {
			return translate(err, "lock recipient %s/%s", planID, r.ID)
		}
		cur, err := getRecipient(ctx, tx, planID, r.ID)
		if err != nil {
			return err
		}
		r.PlanID = planID
		if sameRecipient(cur.Recipient, r) {
			// Checked before the version, so a PUT retried after a lost answer gets the version it wrote.
			out = cur
			return nil
		}
		if basedOn > 0 && basedOn != cur.Version {
			return domain.Refuse(domain.CodeConflict,
				"Modtageren er ændret af en anden (version %d), mens du redigerede version %d. Se den nye version, og ret igen.",
				cur.Version, basedOn)
		}
		if err := insertRecipientVersion(ctx, tx, planID, r, cur.Version+1, actorID(actor), note); err != nil {
			return err
		}
		changed = true
		out, err = getRecipient(ctx, tx, planID, r.ID)
		return err
	})
	return out, changed, err
}

func sameRecipient(a, b domain.Recipient) bool {
	return a.Name == b.Name && a.Kind == b.Kind && a.CVR == b.CVR && a.IBAN == b.IBAN && a.BIC == b.BIC &&
		a.RegNo == b.RegNo && a.AccountNo == b.AccountNo
}

func insertRecipientVersion(ctx context.Context, tx *sqlx.Tx, planID string, r domain.Recipient, version int, by *string, note string) error {
	const q = `
		INSERT INTO recipient_versions (plan_id, recipient_id, version, name, kind, cvr, iban, bic, reg_no, account_no,
		                                changed_by, note)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`
	if _, err := tx.ExecContext(ctx, q, planID, r.ID, version, r.Name, string(r.Kind), r.CVR, r.IBAN, r.BIC, r.RegNo,
		r.AccountNo, by, strings.TrimSpace(note)); err != nil {
		return translate(err, "recipient %s version %d", r.ID, version)
	}
	return nil
}

func actorID(a domain.Actor) *string {
	if a.UserID == "" {
		return nil
	}
	id := a.UserID
	return &id
}

// InitiativeRecipient is the recipient an initiative's tranches are paid to, who named it and when.
type InitiativeRecipient struct {
	InitiativeID string    `db:"initiative_id"`
	PlanID       string    `db:"plan_id"`
	RecipientID  string    `db:"recipient_id"`
	SetBy        string    `db:"set_by"`
	SetByName    string    `db:"set_by_name"`
	SetAt        time.Time `db:"set_at"`
}

// GetInitiativeRecipient returns the recipient the initiative names; ErrNotFound when it names none.
func (s *Store) GetInitiativeRecipient(ctx context.Context, initiativeID string) (InitiativeRecipient, error) {
	const q = `
		SELECT r.initiative_id, r.plan_id, r.recipient_id, r.set_by, COALESCE(u.name, '') AS set_by_name, r.set_at
		FROM initiative_recipients r
		LEFT JOIN users u ON u.id = r.set_by
		WHERE r.initiative_id = $1`
	var out InitiativeRecipient
	if err := s.db.GetContext(ctx, &out, q, initiativeID); err != nil {
		return InitiativeRecipient{}, translate(err, "recipient of initiative %s", initiativeID)
	}
	return out, nil
}

// SetInitiativeRecipient names recipientID (a recipient of the initiative's plan) as the initiative's recipient,
// and keeps the change in its history. Naming the recipient it names already writes nothing.
func (s *Store) SetInitiativeRecipient(ctx context.Context, initiativeID, recipientID string, actor domain.Actor) (InitiativeRecipient, error) {
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var planID string
		if err := tx.GetContext(ctx, &planID, `SELECT plan_id FROM initiatives WHERE id = $1 FOR UPDATE`, initiativeID); err != nil {
			return translate(err, "initiative %s", initiativeID)
		}
		if _, err := getRecipient(ctx, tx, planID, recipientID); err != nil {
			if errors.Is(err, ErrNotFound) {
				return &domain.RuleError{Code: domain.CodeValidation, Message: "Modtageren kan ikke vælges.",
					Problems: []domain.FieldProblem{{Field: "recipient_id", Code: "unknown",
						Message: fmt.Sprintf("Planen har ingen modtager med id %q.", recipientID)}}}
			}
			return err
		}
		const qSet = `
			INSERT INTO initiative_recipients (initiative_id, plan_id, recipient_id, set_by, set_at)
			VALUES ($1, $2, $3, $4, now())
			ON CONFLICT (initiative_id) DO UPDATE
			SET recipient_id = EXCLUDED.recipient_id, set_by = EXCLUDED.set_by, set_at = EXCLUDED.set_at
			WHERE initiative_recipients.recipient_id <> EXCLUDED.recipient_id`
		res, err := tx.ExecContext(ctx, qSet, initiativeID, planID, recipientID, actor.UserID)
		if err != nil {
			return translate(err, "set recipient of %s", initiativeID)
		}
		n, err := rowsAffected(res, "set recipient")
		if err != nil || n == 0 {
			return err
		}
		const qHist = `
			INSERT INTO initiative_recipient_history (initiative_id, plan_id, recipient_id, set_by)
			VALUES ($1, $2, $3, $4)`
		if _, err := tx.ExecContext(ctx, qHist, initiativeID, planID, recipientID, actor.UserID); err != nil {
			return translate(err, "recipient history of %s", initiativeID)
		}
		return nil
	})
	if err != nil {
		return InitiativeRecipient{}, err
	}
	return s.GetInitiativeRecipient(ctx, initiativeID)
}

// PaymentAccount is a plan's own bank account, the debtor of its payment files.
type PaymentAccount struct {
	PlanID    string    `db:"plan_id"`
	Name      string    `db:"name"`
	IBAN      string    `db:"iban"`
	BIC       string    `db:"bic"`
	UpdatedBy *string   `db:"updated_by"`
	UpdatedAt time.Time `db:"updated_at"`
}

// GetPaymentAccount returns the plan's paying account; ErrNotFound when none is on record.
func (s *Store) GetPaymentAccount(ctx context.Context, planID string) (PaymentAccount, error) {
	const q = `SELECT plan_id, name, iban, bic, updated_by, updated_at FROM plan_payment_accounts WHERE plan_id = $1`
	var out PaymentAccount
	if err := s.db.GetContext(ctx, &out, q, planID); err != nil {
		return PaymentAccount{}, translate(err, "payment account of %s", planID)
	}
	return out, nil
}

// SetPaymentAccount records the plan's paying account (a valid IBAN, an optional BIC, the account holder's name).
func (s *Store) SetPaymentAccount(ctx context.Context, planID, name, iban, bic string, actor domain.Actor) (PaymentAccount, error) {
	r := domain.Recipient{Name: name, Kind: domain.RecipientOther, IBAN: iban, BIC: bic}.Normalize()
	if err := domain.CheckRecipient(r); err != nil {
		return PaymentAccount{}, err
	}
	if r.IBAN == "" {
		return PaymentAccount{}, &domain.RuleError{Code: domain.CodeValidation, Message: "Planens konto kan ikke gemmes.",
			Problems: []domain.FieldProblem{{Field: "iban", Code: "required", Message: "Skriv kontoens IBAN."}}}
	}
	const q = `
		INSERT INTO plan_payment_accounts (plan_id, name, iban, bic, updated_by, updated_at)
		VALUES ($1, $2, $3, $4, $5, now())
		ON CONFLICT (plan_id) DO UPDATE
		SET name = EXCLUDED.name, iban = EXCLUDED.iban, bic = EXCLUDED.bic, updated_by = EXCLUDED.updated_by,
		    updated_at = EXCLUDED.updated_at`
	if _, err := s.db.ExecContext(ctx, q, planID, r.Name, r.IBAN, r.BIC, actorID(actor)); err != nil {
		return PaymentAccount{}, translate(err, "payment account of %s", planID)
	}
	return s.GetPaymentAccount(ctx, planID)
}

// SeedRecipients loads the seed's recipients and paying account into the plan when it has none of them yet
// (the seed step after SeedPlan). Like SeedPlan it never overwrites: a recipient on record keeps admin's edits,
// and a paying account on record stays. It returns how many recipients it added.
func (s *Store) SeedRecipients(ctx context.Context, sd seed.Seed) (int, error) {
	added := 0
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		added = 0
		for _, r := range sd.Recipients {
			r = r.Normalize()
			res, err := tx.ExecContext(ctx, `INSERT INTO recipients (plan_id, id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
				sd.Plan.ID, r.ID)
			if err != nil {
				return translate(err, "seed recipient %s", r.ID)
			}
			n, err := rowsAffected(res, "seed recipient")
			if err != nil {
				return err
			}
			if n == 0 {
				continue
			}
			if err := insertRecipientVersion(ctx, tx, sd.Plan.ID, r, 1, nil, "Fra planens startdata"); err != nil {
				return err
			}
			added++
		}
		if a := sd.PaymentAccount; a != nil {
			const q = `
				INSERT INTO plan_payment_accounts (plan_id, name, iban, bic)
				VALUES ($1, $2, $3, $4)
				ON CONFLICT (plan_id) DO NOTHING`
			r := domain.Recipient{Name: a.Name, IBAN: a.IBAN, BIC: a.BIC}.Normalize()
			if _, err := tx.ExecContext(ctx, q, sd.Plan.ID, r.Name, r.IBAN, r.BIC); err != nil {
				return translate(err, "seed payment account of %s", sd.Plan.ID)
			}
		}
		return nil
	})
	return added, err
}

// PendingPayment is a pending disbursement with what a payment file needs of it: the recipient its initiative
// names (nil when none) and its payment deadline's inputs.
type PendingPayment struct {
	Disbursement
	Recipient *RecipientVersion
}

// PendingPayments returns every pending disbursement of the plan, oldest first, each with the current version of
// its initiative's recipient.
func (s *Store) PendingPayments(ctx context.Context, planID string) ([]PendingPayment, error) {
	if err := planExists(ctx, s.db, planID); err != nil {
		return nil, err
	}
	var out []PendingPayment
	f := DisbursementFilter{PlanID: planID, Status: DisbursementPending, Limit: MaxPageSize}
	for {
		items, next, err := s.ListDisbursements(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, d := range items {
			out = append(out, PendingPayment{Disbursement: d})
		}
		if next == "" {
			break
		}
		f.After = next
	}
	if len(out) == 0 {
		return out, nil
	}
	ids := make([]string, len(out))
	for i, p := range out {
		ids[i] = p.InitiativeID
	}
	const q = `SELECT initiative_id, recipient_id FROM initiative_recipients WHERE initiative_id = ANY($1)`
	var rows []struct {
		InitiativeID string `db:"initiative_id"`
		RecipientID  string `db:"recipient_id"`
	}
	if err := s.db.SelectContext(ctx, &rows, q, pq.Array(ids)); err != nil {
		return nil, translate(err, "recipients of pending disbursements")
	}
	byInitiative := make(map[string]string, len(rows))
	for _, r := range rows {
		byInitiative[r.InitiativeID] = r.RecipientID
	}
	recipients, err := s.ListRecipients(ctx, planID)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*RecipientVersion, len(recipients))
	for i := range recipients {
		byID[recipients[i].ID] = &recipients[i]
	}
	for i := range out {
		if rid, ok := byInitiative[out[i].InitiativeID]; ok {
			out[i].Recipient = byID[rid]
		}
	}
	return out, nil
}

// EndToEndID is the end-to-end reference a payment of disbursement id carries (at most 35 characters, the limit
// of an ISO 20022 EndToEndId): the ID itself when it fits; for "<uuid>-t<n>", the UUID without its hyphens, "t"
// and n (33-35 characters); otherwise "H" and the first 34 hex digits of the ID's SHA-256. It is a pure function of
// the ID, and EnsurePaymentReferences records it, so a bank statement's reference finds the disbursement.
func EndToEndID(id string) string {
	if len(id) <= 35 && e2eSafe(id) {
		return id
	}
	if i := strings.LastIndex(id, "-t"); i == 36 {
		short := strings.ReplaceAll(id[:36], "-", "") + "t" + id[i+2:]
		if len(short) <= 35 && e2eSafe(short) {
			return short
		}
	}
	sum := sha256.Sum256([]byte(id))
	return "H" + hex.EncodeToString(sum[:])[:34]
}

// e2eSafe says whether s uses only characters every bank keeps in a reference (letters, digits, hyphen).
func e2eSafe(s string) bool {
	for _, c := range s {
		if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-') {
			return false
		}
	}
	return s != ""
}

// EnsurePaymentReferences records the end-to-end reference of each disbursement (EndToEndID) the first time a
// payment file carries it, and returns the references by disbursement ID. A reference on record is never changed;
// two disbursements with the same reference are refused by the database (UNIQUE), never silently merged.
func (s *Store) EnsurePaymentReferences(ctx context.Context, ids []string) (map[string]string, error) {
	out := make(map[string]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		const qIns = `
			INSERT INTO payment_references (disbursement_id, end_to_end_id)
			SELECT * FROM unnest($1::text[], $2::text[])
			ON CONFLICT (disbursement_id) DO NOTHING`
		refs := make([]string, len(ids))
		for i, id := range ids {
			refs[i] = EndToEndID(id)
		}
		if _, err := tx.ExecContext(ctx, qIns, pq.Array(ids), pq.Array(refs)); err != nil {
			return translate(err, "payment references")
		}
		const qSel = `SELECT disbursement_id, end_to_end_id FROM payment_references WHERE disbursement_id = ANY($1)`
		var rows []struct {
			DisbursementID string `db:"disbursement_id"`
			EndToEndID     string `db:"end_to_end_id"`
		}
		if err := tx.SelectContext(ctx, &rows, qSel, pq.Array(ids)); err != nil {
			return translate(err, "payment references")
		}
		for _, r := range rows {
			out[r.DisbursementID] = r.EndToEndID
		}
		return nil
	})
	return out, err
}

// DisbursementByEndToEndID returns the ID of the disbursement whose payments carry ref; ErrNotFound for a
// reference no payment file carried.
func (s *Store) DisbursementByEndToEndID(ctx context.Context, ref string) (string, error) {
	var id string
	if err := s.db.GetContext(ctx, &id, `SELECT disbursement_id FROM payment_references WHERE end_to_end_id = $1`, ref); err != nil {
		return "", translate(err, "payment reference %s", ref)
	}
	return id, nil
}
