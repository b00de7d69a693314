-- In-kind contributions (naturalydelser, issue 8): resources a funding source of kind cash_and_in_kind or in_kind
-- contributes to a milestone of an approved initiative, as hours x an hourly rate or as a value, in øre.
--
-- inkind_contributions holds the registration, inkind_decisions finance's (or admin's) confirmation or rejection:
-- both append-only (forbid_change), one decision per contribution at most (PRIMARY KEY). The decision row repeats
-- who registered (a composite foreign key keeps it true), so the database itself refuses a confirmation by the one
-- who registered (segregation of duties). In-kind is never paid out: it has no ledger rows, disbursements or
-- payment-file lines; a confirmed contribution counts as contributed by its source and in the approved budget's
-- co-financing share (store.checkReserveRules, Budget.Cofinancing).

-- +goose Up
CREATE TABLE inkind_contributions (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_id       text        NOT NULL,
    initiative_id text        NOT NULL REFERENCES initiatives (id),
    milestone_no  int         NOT NULL CHECK (milestone_no >= 1),
    source_id     text        NOT NULL,
    description   text        NOT NULL CHECK (description <> '' AND char_length(description) <= 500),
    hours         bigint      NULL CHECK (hours BETWEEN 1 AND 100000),
    rate_ore      bigint      NULL CHECK (rate_ore BETWEEN 1 AND 1000000000000000),
    value_ore     bigint      NOT NULL CHECK (value_ore BETWEEN 1 AND 1000000000000000),
    registered_by text        NOT NULL REFERENCES users (id),
    registered_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (plan_id, source_id) REFERENCES funding_sources (plan_id, id),
    -- Hours and rate together or neither; with them the value is exactly their product.
    CHECK ((hours IS NULL) = (rate_ore IS NULL)),
    CHECK (hours IS NULL OR value_ore::numeric = hours::numeric * rate_ore::numeric),
    UNIQUE (id, registered_by)
);
CREATE INDEX inkind_contributions_plan_idx ON inkind_contributions (plan_id, id);
CREATE INDEX inkind_contributions_initiative_idx ON inkind_contributions (initiative_id, id);
CREATE TRIGGER inkind_contributions_append_only
    BEFORE UPDATE OR DELETE ON inkind_contributions
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER inkind_contributions_no_truncate
    BEFORE TRUNCATE ON inkind_contributions
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

CREATE TABLE inkind_decisions (
    contribution_id bigint      PRIMARY KEY,
    registered_by   text        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('confirmed', 'rejected')),
    reason          text        NOT NULL DEFAULT '' CHECK (char_length(reason) <= 500),
    decided_by      text        NOT NULL REFERENCES users (id),
    decided_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (contribution_id, registered_by) REFERENCES inkind_contributions (id, registered_by),
    CHECK (decided_by <> registered_by),
    CHECK (status = 'confirmed' OR reason <> '')
);
CREATE TRIGGER inkind_decisions_append_only
    BEFORE UPDATE OR DELETE ON inkind_decisions
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER inkind_decisions_no_truncate
    BEFORE TRUNCATE ON inkind_decisions
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- +goose Down
DROP TABLE inkind_decisions;
DROP TABLE inkind_contributions;
