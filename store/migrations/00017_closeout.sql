-- Close-out of a completed initiative (issue 8): the evaluation states the final spend per funding source, and the
-- board's acceptance of it settles the money in one step (store.WriteStep's close-out part):
--
--   * closeout_lines records, per source, what was paid, what was spent, what must come back (return_ore =
--     paid - spent) and what was reserved but never released and goes back to the source at once (unreserved_ore,
--     booked as 'unreserve' entries with reason "completed");
--   * initiative_returns holds each return as a receivable from the initiative's holder, open until finance marks
--     it received with the bank's reference; then a 'refund' ledger entry (refund/<initiative>/<source>) gives the
--     money back to its source, available to new proposals.
--
-- A refund is paid money coming back: per source, what is in use is reserve - unreserve - refund, and that is what
-- the committed amount bounds (ledger_reserved_within_committed). Per initiative and source, refunds never exceed
-- payments (ledger_refund_within_paid). Both tables are append-only except the one move of a return from open to
-- received.

-- +goose Up
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check
    CHECK (kind IN ('reserve', 'release', 'pay', 'unreserve', 'withdraw', 'refund'));

CREATE TABLE closeout_lines (
    initiative_id  text        NOT NULL REFERENCES initiatives (id),
    plan_id        text        NOT NULL,
    source_id      text        NOT NULL,
    paid_ore       bigint      NOT NULL CHECK (paid_ore BETWEEN 0 AND 1000000000000000),
    spent_ore      bigint      NOT NULL CHECK (spent_ore BETWEEN 0 AND 1000000000000000),
    return_ore     bigint      NOT NULL CHECK (return_ore BETWEEN 0 AND 1000000000000000),
    unreserved_ore bigint      NOT NULL CHECK (unreserved_ore BETWEEN 0 AND 1000000000000000),
    closed_at      timestamptz NOT NULL,
    PRIMARY KEY (initiative_id, source_id),
    FOREIGN KEY (plan_id, source_id) REFERENCES funding_sources (plan_id, id),
    -- What was paid is spent or comes back, to the øre.
    CHECK (paid_ore = spent_ore + return_ore)
);
CREATE INDEX closeout_lines_plan_idx ON closeout_lines (plan_id, closed_at);
CREATE TRIGGER closeout_lines_append_only
    BEFORE UPDATE OR DELETE ON closeout_lines
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER closeout_lines_no_truncate
    BEFORE TRUNCATE ON closeout_lines
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

CREATE TABLE initiative_returns (
    id            text        PRIMARY KEY CHECK (id <> ''),
    seq           bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
    plan_id       text        NOT NULL REFERENCES plans (id),
    initiative_id text        NOT NULL,
    delaftale_id  text        NOT NULL,
    source_id     text        NOT NULL,
    amount_ore    bigint      NOT NULL CHECK (amount_ore BETWEEN 1 AND 1000000000000000),
    status        text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'received')),
    created_at    timestamptz NOT NULL,
    received_at   timestamptz NULL,
    received_by   text        NULL REFERENCES users (id),
    reference     text        NULL CHECK (reference IS NULL OR (reference <> '' AND char_length(reference) <= 100)),
    UNIQUE (initiative_id, source_id),
    FOREIGN KEY (initiative_id, source_id) REFERENCES closeout_lines (initiative_id, source_id),
    FOREIGN KEY (plan_id, delaftale_id) REFERENCES delaftaler (plan_id, id),
    CHECK ((status = 'received') = (received_at IS NOT NULL AND received_by IS NOT NULL AND reference IS NOT NULL))
);
CREATE INDEX initiative_returns_plan_status_idx ON initiative_returns (plan_id, status, seq);

-- A return changes once, from open to received, and only in its receipt columns; it is never deleted.
-- +goose StatementBegin
CREATE FUNCTION initiative_returns_receive_once() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'returns are never deleted (return %)', OLD.id USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.status <> 'open' OR NEW.status <> 'received'
       OR (NEW.id, NEW.plan_id, NEW.initiative_id, NEW.delaftale_id, NEW.source_id, NEW.amount_ore, NEW.created_at)
          IS DISTINCT FROM
          (OLD.id, OLD.plan_id, OLD.initiative_id, OLD.delaftale_id, OLD.source_id, OLD.amount_ore, OLD.created_at) THEN
        RAISE EXCEPTION 'return % is % and can only be marked received once', OLD.id, OLD.status
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER initiative_returns_receive_once
    BEFORE UPDATE OR DELETE ON initiative_returns
    FOR EACH ROW EXECUTE FUNCTION initiative_returns_receive_once();
CREATE TRIGGER initiative_returns_no_truncate
    BEFORE TRUNCATE ON initiative_returns
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- The balance trigger with refunds (see the top of this file and 00011).
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ledger_entries_check_balances() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_committed bigint;
    v_reserved  numeric;
    v_released  numeric;
    v_paid      numeric;
    v_returned  numeric;
    v_withdrawn numeric;
    v_refunded  numeric;
BEGIN
    IF current_setting('transaction_isolation') = 'repeatable read' THEN
        RAISE EXCEPTION 'Posteringer i regnskabet skrives i READ COMMITTED eller SERIALIZABLE, ikke REPEATABLE READ (ledger entries cannot be checked under repeatable read)'
            USING ERRCODE = 'invalid_transaction_state';
    END IF;

    IF NEW.kind = 'reserve' THEN
        SELECT committed_ore INTO v_committed
        FROM funding_sources
        WHERE plan_id = NEW.plan_id AND id = NEW.source_id
        FOR NO KEY UPDATE;
        IF NOT FOUND THEN
            RETURN NULL; -- the foreign key refuses the entry
        END IF;
        SELECT COALESCE(sum(amount_ore) FILTER (WHERE kind = 'reserve'), 0)
             - COALESCE(sum(amount_ore) FILTER (WHERE kind IN ('unreserve', 'refund')), 0)
        INTO v_reserved
        FROM ledger_entries
        WHERE plan_id = NEW.plan_id AND source_id = NEW.source_id AND kind IN ('reserve', 'unreserve', 'refund');
        IF v_reserved > v_committed THEN
            RAISE EXCEPTION 'Finansieringskilden % i plan % er overbooket: der er reserveret %, men kun givet tilsagn om % (reserved exceeds committed)',
                NEW.source_id, NEW.plan_id, ledger_money_text(v_reserved), ledger_money_text(v_committed)
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'ledger_reserved_within_committed',
                      DETAIL = format('plan=%s source=%s reserved_ore=%s committed_ore=%s initiative=%s',
                                      NEW.plan_id, NEW.source_id, v_reserved, v_committed, NEW.initiative_id);
        END IF;
        RETURN NULL;
    END IF;

    PERFORM 1 FROM initiatives WHERE id = NEW.initiative_id FOR NO KEY UPDATE;

    -- A payment or a withdrawal takes from one milestone's released tranche: never more than it has left.
    IF NEW.kind IN ('pay', 'withdraw') THEN
        SELECT COALESCE(sum(amount_ore) FILTER (WHERE kind = 'release'), 0),
               COALESCE(sum(amount_ore) FILTER (WHERE kind = 'pay'), 0),
               COALESCE(sum(amount_ore) FILTER (WHERE kind = 'withdraw'), 0)
        INTO v_released, v_paid, v_withdrawn
        FROM ledger_entries
        WHERE initiative_id = NEW.initiative_id AND source_id = NEW.source_id AND milestone_no = NEW.milestone_no;
        IF v_paid + v_withdrawn > v_released THEN
            IF NEW.kind = 'withdraw' THEN
                RAISE EXCEPTION 'Indsats % trækker % tilbage fra % for milepæl %, men af de frigivne % er % udbetalt og % allerede trukket tilbage (withdrawn exceeds released minus paid)',
                    NEW.initiative_id, ledger_money_text(NEW.amount_ore), NEW.source_id, NEW.milestone_no,
                    ledger_money_text(v_released), ledger_money_text(v_paid),
                    ledger_money_text(v_withdrawn - NEW.amount_ore)
                    USING ERRCODE = 'check_violation',
                          CONSTRAINT = 'ledger_withdrawn_within_unpaid',
                          DETAIL = format('initiative=%s source=%s milestone=%s released_ore=%s paid_ore=%s withdrawn_ore=%s',
                                          NEW.initiative_id, NEW.source_id, NEW.milestone_no, v_released, v_paid,
                                          v_withdrawn);
            END IF;
            RAISE EXCEPTION 'Indsats % har fået udbetalt % fra % for milepæl %, men kun % er frigivet (og % trukket tilbage) (paid exceeds released)',
                NEW.initiative_id, ledger_money_text(v_paid), NEW.source_id, NEW.milestone_no,
                ledger_money_text(v_released), ledger_money_text(v_withdrawn)
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'ledger_paid_within_released',
                      DETAIL = format('initiative=%s source=%s milestone=%s released_ore=%s paid_ore=%s withdrawn_ore=%s',
                                      NEW.initiative_id, NEW.source_id, NEW.milestone_no, v_released, v_paid,
                                      v_withdrawn);
        END IF;
    END IF;

    SELECT COALESCE(sum(amount_ore) FILTER (WHERE kind = 'reserve'), 0),
           COALESCE(sum(amount_ore) FILTER (WHERE kind = 'release'), 0),
           COALESCE(sum(amount_ore) FILTER (WHERE kind = 'pay'), 0),
           COALESCE(sum(amount_ore) FILTER (WHERE kind = 'unreserve'), 0),
           COALESCE(sum(amount_ore) FILTER (WHERE kind = 'withdraw'), 0),
           COALESCE(sum(amount_ore) FILTER (WHERE kind = 'refund'), 0)
    INTO v_reserved, v_released, v_paid, v_returned, v_withdrawn, v_refunded
    FROM ledger_entries
    WHERE initiative_id = NEW.initiative_id AND source_id = NEW.source_id;
    IF v_paid + v_withdrawn > v_released THEN
        RAISE EXCEPTION 'Indsats % har fået udbetalt % og trukket % tilbage fra %, men kun % er frigivet (paid exceeds released)',
            NEW.initiative_id, ledger_money_text(v_paid), ledger_money_text(v_withdrawn), NEW.source_id,
            ledger_money_text(v_released)
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = CASE NEW.kind WHEN 'withdraw' THEN 'ledger_withdrawn_within_unpaid'
                                             ELSE 'ledger_paid_within_released' END,
                  DETAIL = format('initiative=%s source=%s paid_ore=%s withdrawn_ore=%s released_ore=%s',
                                  NEW.initiative_id, NEW.source_id, v_paid, v_withdrawn, v_released);
    END IF;
    IF v_released - v_withdrawn + v_returned > v_reserved THEN
        RAISE EXCEPTION 'Indsats % har frigivet % (heraf trukket % tilbage) og givet % tilbage fra %, men kun reserveret % (released + unreserved exceeds reserved)',
            NEW.initiative_id, ledger_money_text(v_released), ledger_money_text(v_withdrawn),
            ledger_money_text(v_returned), NEW.source_id, ledger_money_text(v_reserved)
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'ledger_released_within_reserved',
                  DETAIL = format('initiative=%s source=%s released_ore=%s withdrawn_ore=%s unreserved_ore=%s reserved_ore=%s',
                                  NEW.initiative_id, NEW.source_id, v_released, v_withdrawn, v_returned, v_reserved);
    END IF;
    -- Money comes back only after it went out.
    IF v_refunded > v_paid THEN
        RAISE EXCEPTION 'Indsats % har betalt % tilbage til %, men kun fået udbetalt % (refund exceeds paid)',
            NEW.initiative_id, ledger_money_text(v_refunded), NEW.source_id, ledger_money_text(v_paid)
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'ledger_refund_within_paid',
                  DETAIL = format('initiative=%s source=%s refunded_ore=%s paid_ore=%s',
                                  NEW.initiative_id, NEW.source_id, v_refunded, v_paid);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION funding_sources_check_committed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_reserved numeric;
BEGIN
    SELECT COALESCE(sum(amount_ore) FILTER (WHERE kind = 'reserve'), 0)
         - COALESCE(sum(amount_ore) FILTER (WHERE kind IN ('unreserve', 'refund')), 0)
    INTO v_reserved
    FROM ledger_entries
    WHERE plan_id = NEW.plan_id AND source_id = NEW.id AND kind IN ('reserve', 'unreserve', 'refund');
    IF v_reserved > NEW.committed_ore THEN
        RAISE EXCEPTION 'Tilsagnet fra finansieringskilden % i plan % kan ikke sættes til %: der er allerede reserveret % (committed below reserved)',
            NEW.id, NEW.plan_id, ledger_money_text(NEW.committed_ore), ledger_money_text(v_reserved)
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'ledger_reserved_within_committed',
                  DETAIL = format('plan=%s source=%s reserved_ore=%s committed_ore=%s',
                                  NEW.plan_id, NEW.id, v_reserved, NEW.committed_ore);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose Down
-- Going back refuses (the kind CHECK fails) while any refund is booked.
DROP TABLE initiative_returns;
DROP FUNCTION initiative_returns_receive_once();
DROP TABLE closeout_lines;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check
    CHECK (kind IN ('reserve', 'release', 'pay', 'unreserve', 'withdraw'));
