-- Bank statements (issue 8, "Paying and reconciling": reconciliation).
--
-- bank_statements holds each camt.053/camt.054 file finance uploaded, once per plan and file content
-- (UNIQUE (plan_id, file_sha256)): uploading the same file again, or twice at the same time, finds the row the
-- first upload claimed instead of reconciling a second time. completed_at is set when every entry's result is
-- recorded; a row without it is an upload that stopped half-way, which the next upload of the file finishes (its
-- confirmations are idempotent: the same workflow update ID for the same disbursement and bank reference).
--
-- bank_statement_entries is the result per transaction of the file, append-only: matched (the disbursement and
-- the reference its payment was confirmed with) or unmatched with the Danish reason finance works from.

-- +goose Up
CREATE TABLE bank_statements (
    id           text        PRIMARY KEY CHECK (id ~ '^ks-[0-9a-f]{16,64}$'),
    plan_id      text        NOT NULL REFERENCES plans (id),
    file_sha256  text        NOT NULL CHECK (file_sha256 ~ '^[0-9a-f]{64}$'),
    kind         text        NOT NULL CHECK (kind IN ('camt.053', 'camt.054')),
    message_id   text        NOT NULL DEFAULT '' CHECK (char_length(message_id) <= 200),
    statement_no text        NOT NULL DEFAULT '' CHECK (char_length(statement_no) <= 200),
    account      text        NOT NULL DEFAULT '' CHECK (char_length(account) <= 64),
    file_name    text        NOT NULL DEFAULT '' CHECK (char_length(file_name) <= 255),
    uploaded_by  text        NULL REFERENCES users (id),
    uploaded_at  timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz NULL,
    UNIQUE (plan_id, file_sha256)
);
CREATE INDEX bank_statements_plan ON bank_statements (plan_id, uploaded_at DESC);

CREATE TABLE bank_statement_entries (
    statement_id    text    NOT NULL REFERENCES bank_statements (id),
    entry_no        int     NOT NULL CHECK (entry_no >= 1),
    end_to_end_id   text    NOT NULL DEFAULT '' CHECK (char_length(end_to_end_id) <= 200),
    bank_ref        text    NOT NULL DEFAULT '' CHECK (char_length(bank_ref) <= 200),
    amount_ore      bigint  NOT NULL CHECK (amount_ore >= 0),
    currency        text    NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    credit_debit    text    NOT NULL CHECK (credit_debit IN ('DBIT', 'CRDT')),
    booking_date    date    NOT NULL,
    outcome         text    NOT NULL CHECK (outcome IN ('matched', 'unmatched')),
    reason_code     text    NOT NULL DEFAULT '',
    reason          text    NOT NULL DEFAULT '',
    disbursement_id text    NULL REFERENCES disbursements (id),
    reference       text    NOT NULL DEFAULT '',
    PRIMARY KEY (statement_id, entry_no),
    CHECK (outcome <> 'matched' OR (disbursement_id IS NOT NULL AND reference <> '')),
    CHECK (outcome <> 'unmatched' OR reason <> '')
);
CREATE INDEX bank_statement_entries_disbursement ON bank_statement_entries (disbursement_id)
    WHERE disbursement_id IS NOT NULL;
CREATE TRIGGER bank_statement_entries_append_only
    BEFORE UPDATE OR DELETE ON bank_statement_entries
    FOR EACH ROW EXECUTE FUNCTION forbid_change();

-- +goose Down
DROP TABLE bank_statement_entries;
DROP TABLE bank_statements;
