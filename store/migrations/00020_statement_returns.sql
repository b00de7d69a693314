-- A bank statement's incoming payments (credits) can settle returns (issue 8): a credit whose end-to-end
-- reference is a return's payment reference (domain.ReturnReference) and whose amount is the return's, to the øre,
-- registers the return received through the same store call as finance's manual registration. The entry then names
-- the return instead of a disbursement: a matched entry names exactly one of them.

-- +goose Up
ALTER TABLE bank_statement_entries ADD COLUMN return_id text NULL REFERENCES initiative_returns (id);
ALTER TABLE bank_statement_entries DROP CONSTRAINT bank_statement_entries_check;
ALTER TABLE bank_statement_entries ADD CONSTRAINT bank_statement_entries_matched_check
    CHECK (outcome <> 'matched' OR ((disbursement_id IS NOT NULL) <> (return_id IS NOT NULL) AND reference <> ''));
CREATE INDEX bank_statement_entries_return ON bank_statement_entries (return_id) WHERE return_id IS NOT NULL;

-- +goose Down
-- Going back refuses (the old CHECK fails) while an entry has settled a return.
DROP INDEX bank_statement_entries_return;
ALTER TABLE bank_statement_entries DROP CONSTRAINT bank_statement_entries_matched_check;
ALTER TABLE bank_statement_entries ADD CONSTRAINT bank_statement_entries_check
    CHECK (outcome <> 'matched' OR (disbursement_id IS NOT NULL AND reference <> ''));
ALTER TABLE bank_statement_entries DROP COLUMN return_id;
