-- Recipients and payment files (issue 8, "Paying and reconciling").
--
-- recipients is a recipient's identity within its plan; recipient_versions holds every version of what admin
-- recorded about it (name, kind, CVR, payment details) with who, when and why — append-only, like board_versions:
-- which account a payment file sent money to must be readable years later, so an edit never rewrites the account an
-- earlier file used. The current recipient is its highest version.
--
-- initiative_recipients names the recipient an initiative's tranches are paid to (read-model data: the workflow
-- does not need it); changing it overwrites the row, and every change is kept in initiative_recipient_history.
--
-- plan_payment_accounts is the plan's own (paying, debtor) account, used as the debtor of the pain.001 files.
--
-- payment_references maps a disbursement to the EndToEndId its payments carry. A disbursement ID is
-- "<initiative uuid>-t<n>", 38+ characters, but an ISO 20022 EndToEndId holds at most 35: the reference is the
-- initiative's UUID without hyphens, "t" and n (33-35 characters), or, for an ID that form does not fit, "H" and 34
-- hex digits of its SHA-256. It is written the first time a file carries the disbursement and never changed, so a
-- bank statement's reference finds its disbursement again (UNIQUE: two disbursements can never share one).

-- +goose Up
CREATE TABLE recipients (
    plan_id    text        NOT NULL REFERENCES plans (id),
    id         text        NOT NULL CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plan_id, id)
);

CREATE TABLE recipient_versions (
    plan_id      text        NOT NULL,
    recipient_id text        NOT NULL,
    version      int         NOT NULL CHECK (version >= 1),
    name         text        NOT NULL CHECK (name <> '' AND char_length(name) <= 70),
    kind         text        NOT NULL CHECK (kind IN ('housing_association', 'municipality', 'other')),
    cvr          text        NOT NULL DEFAULT '' CHECK (cvr = '' OR cvr ~ '^[0-9]{8}$'),
    iban         text        NOT NULL DEFAULT '' CHECK (iban = '' OR iban ~ '^[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}$'),
    bic          text        NOT NULL DEFAULT '' CHECK (bic = '' OR bic ~ '^[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$'),
    reg_no       text        NOT NULL DEFAULT '' CHECK (reg_no = '' OR reg_no ~ '^[0-9]{4}$'),
    account_no   text        NOT NULL DEFAULT '' CHECK (account_no = '' OR account_no ~ '^[0-9]{1,10}$'),
    changed_by   text        NULL REFERENCES users (id),
    changed_at   timestamptz NOT NULL DEFAULT now(),
    note         text        NOT NULL DEFAULT '',
    PRIMARY KEY (plan_id, recipient_id, version),
    FOREIGN KEY (plan_id, recipient_id) REFERENCES recipients (plan_id, id),
    -- One way to pay: an IBAN (BIC only with it), or a reg.nr. with a kontonr., or none yet.
    CHECK (bic = '' OR iban <> ''),
    CHECK (iban = '' OR (reg_no = '' AND account_no = '')),
    CHECK ((reg_no = '') = (account_no = ''))
);

CREATE TRIGGER recipient_versions_append_only
    BEFORE UPDATE OR DELETE ON recipient_versions
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER recipient_versions_no_truncate
    BEFORE TRUNCATE ON recipient_versions
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
CREATE TRIGGER recipients_no_delete
    BEFORE DELETE ON recipients
    FOR EACH ROW EXECUTE FUNCTION forbid_change();

CREATE TABLE initiative_recipients (
    initiative_id text        PRIMARY KEY REFERENCES initiatives (id),
    plan_id       text        NOT NULL,
    recipient_id  text        NOT NULL,
    set_by        text        NOT NULL REFERENCES users (id),
    set_at        timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (plan_id, recipient_id) REFERENCES recipients (plan_id, id)
);

CREATE TABLE initiative_recipient_history (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    initiative_id text        NOT NULL REFERENCES initiatives (id),
    plan_id       text        NOT NULL,
    recipient_id  text        NOT NULL,
    set_by        text        NOT NULL REFERENCES users (id),
    set_at        timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (plan_id, recipient_id) REFERENCES recipients (plan_id, id)
);
CREATE INDEX initiative_recipient_history_initiative_idx ON initiative_recipient_history (initiative_id, id);
CREATE TRIGGER initiative_recipient_history_append_only
    BEFORE UPDATE OR DELETE ON initiative_recipient_history
    FOR EACH ROW EXECUTE FUNCTION forbid_change();

CREATE TABLE plan_payment_accounts (
    plan_id    text        PRIMARY KEY REFERENCES plans (id),
    name       text        NOT NULL CHECK (name <> '' AND char_length(name) <= 70),
    iban       text        NOT NULL CHECK (iban ~ '^[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}$'),
    bic        text        NOT NULL DEFAULT '' CHECK (bic = '' OR bic ~ '^[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$'),
    updated_by text        NULL REFERENCES users (id),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE payment_references (
    disbursement_id text        PRIMARY KEY REFERENCES disbursements (id),
    end_to_end_id   text        NOT NULL UNIQUE CHECK (char_length(end_to_end_id) BETWEEN 1 AND 35),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER payment_references_append_only
    BEFORE UPDATE OR DELETE ON payment_references
    FOR EACH ROW EXECUTE FUNCTION forbid_change();

-- +goose Down
DROP TABLE payment_references;
DROP TABLE plan_payment_accounts;
DROP TABLE initiative_recipient_history;
DROP TABLE initiative_recipients;
DROP TABLE recipient_versions;
DROP TABLE recipients;
