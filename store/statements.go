package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Bank statements finance uploaded for reconciliation (migration 00014): one row per plan and file content, and
// the result per transaction.

// Outcomes of a statement entry.
const (
	EntryMatched   = "matched"   // the payment of a disbursement, confirmed (now or earlier) with Reference
	EntryUnmatched = "unmatched" // left for finance to handle by hand; Reason says why
)

// BankStatement is an uploaded statement file.
type BankStatement struct {
	ID          string     `db:"id"`
	PlanID      string     `db:"plan_id"`
	FileSHA256  string     `db:"file_sha256"`
	Kind        string     `db:"kind"` // camt.053 or camt.054
	MessageID   string     `db:"message_id"`
	StatementNo string     `db:"statement_no"` // the bank's Stmt/Id
	Account     string     `db:"account"`
	FileName    string     `db:"file_name"`
	UploadedBy  *string    `db:"uploaded_by"`
	UploadedAt  time.Time  `db:"uploaded_at"`
	CompletedAt *time.Time `db:"completed_at"` // nil while the first upload is still reconciling (or stopped half-way)
	// Counts over the entries (ListBankStatements and GetBankStatement fill them).
	Matched   int `db:"matched"`
	Unmatched int `db:"unmatched"`
}

// BankStatementEntry is the reconciliation result of one transaction of a statement.
type BankStatementEntry struct {
	StatementID    string    `db:"statement_id"`
	No             int       `db:"entry_no"`
	EndToEndID     string    `db:"end_to_end_id"`
	BankRef        string    `db:"bank_ref"`
	AmountØre      int64     `db:"amount_ore"`
	Currency       string    `db:"currency"`
	CreditDebit    string    `db:"credit_debit"`
	BookingDate    time.Time `db:"booking_date"`
	Outcome        string    `db:"outcome"`
	ReasonCode     string    `db:"reason_code"`
	Reason         string    `db:"reason"` // Danish, for finance
	DisbursementID *string   `db:"disbursement_id"`
	// ReturnID is the return an incoming payment settled (matched credits); a matched entry names a disbursement
	// or a return, never both.
	ReturnID  *string `db:"return_id"`
	Reference string  `db:"reference"` // the reference the payment was confirmed (or the return received) with
}

// ClaimBankStatement records st as uploaded unless the plan already has a statement with the same file hash, and
// returns the statement on record and whether this call created it. Concurrent claims of the same file agree on
// one row (the UNIQUE constraint decides).
func (s *Store) ClaimBankStatement(ctx context.Context, st BankStatement) (BankStatement, bool, error) {
	const qIns = `
		INSERT INTO bank_statements (id, plan_id, file_sha256, kind, message_id, statement_no, account, file_name,
			uploaded_by)
		VALUES (:id, :plan_id, :file_sha256, :kind, :message_id, :statement_no, :account, :file_name, :uploaded_by)
		ON CONFLICT DO NOTHING` // no target: the id (derived from plan and hash) and (plan_id, file_sha256) are
	// both unique, and a concurrent claim can hit either first; naming one let the other raise 23505.
	res, err := s.db.NamedExecContext(ctx, qIns, st)
	if err != nil {
		return BankStatement{}, false, translate(err, "claim bank statement %s", st.ID)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return BankStatement{}, false, translate(err, "claim bank statement %s", st.ID)
	}
	got, err := s.bankStatementByHash(ctx, st.PlanID, st.FileSHA256)
	return got, n == 1, err
}

const bankStatementCols = `
	b.id, b.plan_id, b.file_sha256, b.kind, b.message_id, b.statement_no, b.account, b.file_name, b.uploaded_by,
	b.uploaded_at, b.completed_at,
	(SELECT count(*) FROM bank_statement_entries e WHERE e.statement_id = b.id AND e.outcome = 'matched') AS matched,
	(SELECT count(*) FROM bank_statement_entries e WHERE e.statement_id = b.id AND e.outcome = 'unmatched') AS unmatched`

func (s *Store) bankStatementByHash(ctx context.Context, planID, hash string) (BankStatement, error) {
	q := `SELECT ` + bankStatementCols + ` FROM bank_statements b WHERE b.plan_id = $1 AND b.file_sha256 = $2`
	var out BankStatement
	if err := s.db.GetContext(ctx, &out, q, planID, hash); err != nil {
		return BankStatement{}, translate(err, "bank statement %s", hash)
	}
	return out, nil
}

// CompleteBankStatement records the entries' results and marks the statement complete, in one transaction. An
// entry already on record (a concurrent or earlier run of the same file) is kept as it is; completing a complete
// statement changes nothing.
func (s *Store) CompleteBankStatement(ctx context.Context, id string, entries []BankStatementEntry) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		const qIns = `
			INSERT INTO bank_statement_entries (statement_id, entry_no, end_to_end_id, bank_ref, amount_ore, currency,
				credit_debit, booking_date, outcome, reason_code, reason, disbursement_id, return_id, reference)
			VALUES (:statement_id, :entry_no, :end_to_end_id, :bank_ref, :amount_ore, :currency, :credit_debit,
				:booking_date, :outcome, :reason_code, :reason, :disbursement_id, :return_id, :reference)
			ON CONFLICT (statement_id, entry_no) DO NOTHING`
		for _, e := range entries {
			if e.StatementID != id {
				return fmt.Errorf("complete bank statement %s: entry %d belongs to %s", id, e.No, e.StatementID)
			}
			if _, err := tx.NamedExecContext(ctx, qIns, e); err != nil {
				return translate(err, "bank statement %s entry %d", id, e.No)
			}
		}
		res, err := tx.ExecContext(ctx, `UPDATE bank_statements SET completed_at = now() WHERE id = $1 AND completed_at IS NULL`, id)
		if err != nil {
			return translate(err, "complete bank statement %s", id)
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			var exists bool
			if err := tx.GetContext(ctx, &exists, `SELECT true FROM bank_statements WHERE id = $1`, id); err != nil {
				return translate(err, "bank statement %s", id)
			}
		}
		return nil
	})
}

// GetBankStatement returns the plan's statement id and its entries in file order; ErrNotFound for another plan's.
func (s *Store) GetBankStatement(ctx context.Context, planID, id string) (BankStatement, []BankStatementEntry, error) {
	q := `SELECT ` + bankStatementCols + ` FROM bank_statements b WHERE b.plan_id = $1 AND b.id = $2`
	var st BankStatement
	if err := s.db.GetContext(ctx, &st, q, planID, id); err != nil {
		return BankStatement{}, nil, translate(err, "bank statement %s", id)
	}
	const qe = `
		SELECT statement_id, entry_no, end_to_end_id, bank_ref, amount_ore, currency, credit_debit, booking_date,
			outcome, reason_code, reason, disbursement_id, return_id, reference
		FROM bank_statement_entries WHERE statement_id = $1 ORDER BY entry_no`
	entries := []BankStatementEntry{}
	if err := s.db.SelectContext(ctx, &entries, qe, id); err != nil {
		return BankStatement{}, nil, translate(err, "bank statement %s entries", id)
	}
	return st, entries, nil
}

// ListBankStatements returns the plan's latest statements, newest first (at most limit, 1..200).
func (s *Store) ListBankStatements(ctx context.Context, planID string, limit int) ([]BankStatement, error) {
	if limit < 1 || limit > MaxPageSize {
		return nil, errors.New("list bank statements: limit out of range")
	}
	q := `SELECT ` + bankStatementCols + ` FROM bank_statements b WHERE b.plan_id = $1
		ORDER BY b.uploaded_at DESC, b.id LIMIT $2`
	out := []BankStatement{}
	if err := s.db.SelectContext(ctx, &out, q, planID, limit); err != nil {
		return nil, translate(err, "bank statements of %s", planID)
	}
	return out, nil
}
