-- The ledger and the disbursements finance pays. Money is bigint øre. Every ledger entry carries an idempotency
-- key derived from what it records, so an activity that is retried after a commit cannot book the money twice.

-- +goose Up
CREATE TABLE ledger_entries (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_id         text        NOT NULL,
    source_id       text        NOT NULL,
    initiative_id   text        NOT NULL REFERENCES initiatives (id),
    delaftale_id    text        NOT NULL,
    milestone_no    int         NULL CHECK (milestone_no >= 1),
    kind            text        NOT NULL CHECK (kind IN ('reserve', 'release', 'pay', 'unreserve')),
    amount_ore      bigint      NOT NULL CHECK (amount_ore > 0),
    idempotency_key text        NOT NULL UNIQUE CHECK (idempotency_key <> ''),
    created_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (plan_id, source_id) REFERENCES funding_sources (plan_id, id),
    FOREIGN KEY (plan_id, delaftale_id) REFERENCES delaftaler (plan_id, id),
    -- A release or a payment is always of one milestone's tranche; a reservation is of the whole budget.
    CHECK ((kind IN ('release', 'pay')) = (milestone_no IS NOT NULL))
);
CREATE INDEX ledger_entries_plan_source_idx ON ledger_entries (plan_id, source_id);
CREATE INDEX ledger_entries_plan_delaftale_idx ON ledger_entries (plan_id, delaftale_id);
CREATE INDEX ledger_entries_initiative_idx ON ledger_entries (initiative_id);

CREATE TRIGGER ledger_entries_append_only
    BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER ledger_entries_no_truncate
    BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

CREATE TABLE disbursements (
    id              text        PRIMARY KEY CHECK (id <> ''),
    -- seq orders the list for finance (oldest first) and is the keyset cursor.
    seq             bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
    plan_id         text        NOT NULL REFERENCES plans (id),
    initiative_id   text        NOT NULL REFERENCES initiatives (id),
    delaftale_id    text        NOT NULL,
    milestone_no    int         NOT NULL CHECK (milestone_no >= 1),
    milestone_title text        NOT NULL,
    total_ore       bigint      NOT NULL CHECK (total_ore > 0),
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'paid')),
    reference       text        NULL,
    released_at     timestamptz NOT NULL,
    paid_at         timestamptz NULL,
    paid_by         text        NULL REFERENCES users (id),
    UNIQUE (initiative_id, milestone_no),
    FOREIGN KEY (plan_id, delaftale_id) REFERENCES delaftaler (plan_id, id),
    CHECK ((status = 'paid') = (reference IS NOT NULL AND paid_at IS NOT NULL))
);
CREATE INDEX disbursements_plan_status_seq_idx ON disbursements (plan_id, status, seq);

-- A payment, once confirmed, is what the bank statement says: it may not be undone or given another reference.
-- +goose StatementBegin
CREATE FUNCTION disbursements_paid_is_final() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'disbursements are never deleted (disbursement %)', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.status = 'paid' THEN
        RAISE EXCEPTION 'disbursement % is paid and can no longer change', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER disbursements_paid_is_final
    BEFORE UPDATE OR DELETE ON disbursements
    FOR EACH ROW EXECUTE FUNCTION disbursements_paid_is_final();

CREATE TABLE disbursement_lines (
    disbursement_id text   NOT NULL REFERENCES disbursements (id),
    plan_id         text   NOT NULL,
    source_id       text   NOT NULL,
    amount_ore      bigint NOT NULL CHECK (amount_ore > 0),
    PRIMARY KEY (disbursement_id, source_id),
    FOREIGN KEY (plan_id, source_id) REFERENCES funding_sources (plan_id, id)
);

-- +goose Down
DROP TABLE disbursement_lines;
DROP TABLE disbursements;
DROP FUNCTION disbursements_paid_is_final();
DROP TABLE ledger_entries;
