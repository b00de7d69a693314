-- The money rules, held by the database itself, so that a bug in Go (an int64 sum that wraps, a check that was
-- skipped, a write that hit the wrong plan) or a hand-written statement cannot book money that does not exist:
--
--   * every stored amount lies within 0..10^15 øre (10 milliarder kr.; domain.MaxMoney has the same value), so
--     sums of a plan's amounts stay far inside bigint;
--   * a ledger entry, a disbursement and a disbursement line all belong to the plan of what they refer to;
--   * per initiative and source: paid <= released and released + unreserved <= reserved;
--   * per plan and source: reserved - unreserved <= committed;
--   * a disbursement's total is the sum of its lines (checked at COMMIT: lines are inserted after it);
--   * disbursement lines, like the ledger and the event log, are never changed or deleted.
--
-- What cannot be said per row (a payment only for a paid disbursement, reservations equal to the approved budget)
-- is checked by `helhedsplan ledger verify` (store.VerifyLedger).

-- +goose Up

-- Bounds. One named constraint per column, so an error names the column that was out of range.
ALTER TABLE ledger_entries
    ADD CONSTRAINT ledger_entries_amount_ore_max CHECK (amount_ore <= 1000000000000000);
ALTER TABLE disbursement_lines
    ADD CONSTRAINT disbursement_lines_amount_ore_max CHECK (amount_ore <= 1000000000000000);
ALTER TABLE disbursements
    ADD CONSTRAINT disbursements_total_ore_max CHECK (total_ore <= 1000000000000000);
ALTER TABLE funding_sources
    ADD CONSTRAINT funding_sources_committed_ore_max CHECK (committed_ore <= 1000000000000000);
ALTER TABLE delaftaler
    ADD CONSTRAINT delaftaler_budget_frame_ore_max CHECK (budget_frame_ore <= 1000000000000000);
ALTER TABLE initiatives
    ADD CONSTRAINT initiatives_budget_ore_max CHECK (budget_ore <= 1000000000000000);

-- Plan references agree. The composite keys are what the composite foreign keys point at: a row can only name an
-- initiative (or disbursement) together with that initiative's own plan.
ALTER TABLE initiatives ADD CONSTRAINT initiatives_id_plan_key UNIQUE (id, plan_id);
ALTER TABLE disbursements ADD CONSTRAINT disbursements_id_plan_key UNIQUE (id, plan_id);
ALTER TABLE ledger_entries
    ADD CONSTRAINT ledger_entries_initiative_plan_fkey
    FOREIGN KEY (initiative_id, plan_id) REFERENCES initiatives (id, plan_id);
ALTER TABLE disbursements
    ADD CONSTRAINT disbursements_initiative_plan_fkey
    FOREIGN KEY (initiative_id, plan_id) REFERENCES initiatives (id, plan_id);
ALTER TABLE disbursement_lines
    ADD CONSTRAINT disbursement_lines_disbursement_plan_fkey
    FOREIGN KEY (disbursement_id, plan_id) REFERENCES disbursements (id, plan_id);

-- ledger_money_text shows øre as Danish kroner ("13.709.000,01 kr.") in the messages operators read. numeric, so
-- a sum that no longer fits in bigint can still be shown.
-- +goose StatementBegin
CREATE FUNCTION ledger_money_text(ore numeric) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE WHEN ore < 0 THEN '-' ELSE '' END
        || regexp_replace(div(trunc(abs(ore)), 100)::text, '(\d)(?=(\d{3})+$)', '\1.', 'g')
        || ',' || lpad(mod(trunc(abs(ore)), 100)::text, 2, '0') || ' kr.';
$$;
-- +goose StatementEnd

-- ledger_entries_check_balances runs after each inserted entry (AFTER, so a retried INSERT ... ON CONFLICT DO
-- NOTHING that inserts nothing is not checked again, and a multi-row INSERT is checked with all its rows).
--
-- Concurrency: under READ COMMITTED two transactions could each pass a check that together they break. So the
-- trigger first locks the row its rule is about, and only then sums; a second writer waits for the first to
-- commit, and its sum (a new statement, so a new snapshot) then includes the first writer's rows.
--   * reserve: the funding source. The application's Reserve has already locked every source of the plan in ID
--     order, so this adds no new lock order.
--   * release, unreserve, pay: the initiative, which the same transaction has already upserted.
-- The lock is FOR NO KEY UPDATE, not FOR UPDATE: the foreign key check on the new entry holds FOR KEY SHARE on the
-- same row, and two direct writers that each held KEY SHARE and then asked for FOR UPDATE could deadlock.
-- A reserve can only break the per-source rule and release/unreserve/pay only the per-initiative ones, so each
-- kind takes one lock and runs one check.
--
-- Under REPEATABLE READ the sum would read the transaction's old snapshot, blind to what the writer it waited for
-- committed, so ledger entries are refused there; the application writes under READ COMMITTED (SERIALIZABLE is
-- safe too: PostgreSQL aborts one of two such writers).
-- +goose StatementBegin
CREATE FUNCTION ledger_entries_check_balances() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_committed bigint;
    v_reserved  numeric;
    v_released  numeric;
    v_paid      numeric;
    v_returned  numeric;
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
             - COALESCE(sum(amount_ore) FILTER (WHERE kind = 'unreserve'), 0)
        INTO v_reserved
        FROM ledger_entries
        WHERE plan_id = NEW.plan_id AND source_id = NEW.source_id AND kind IN ('reserve', 'unreserve');
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
    SELECT COALESCE(sum(amount_ore) FILTER (WHERE kind = 'reserve'), 0),
           COALESCE(sum(amount_ore) FILTER (WHERE kind = 'release'), 0),
           COALESCE(sum(amount_ore) FILTER (WHERE kind = 'pay'), 0),
           COALESCE(sum(amount_ore) FILTER (WHERE kind = 'unreserve'), 0)
    INTO v_reserved, v_released, v_paid, v_returned
    FROM ledger_entries
    WHERE initiative_id = NEW.initiative_id AND source_id = NEW.source_id;
    IF v_paid > v_released THEN
        RAISE EXCEPTION 'Indsats % har fået udbetalt % fra %, men kun % er frigivet (paid exceeds released)',
            NEW.initiative_id, ledger_money_text(v_paid), NEW.source_id, ledger_money_text(v_released)
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'ledger_paid_within_released',
                  DETAIL = format('initiative=%s source=%s paid_ore=%s released_ore=%s',
                                  NEW.initiative_id, NEW.source_id, v_paid, v_released);
    END IF;
    IF v_released + v_returned > v_reserved THEN
        RAISE EXCEPTION 'Indsats % har frigivet % og givet % tilbage fra %, men kun reserveret % (released + unreserved exceeds reserved)',
            NEW.initiative_id, ledger_money_text(v_released), ledger_money_text(v_returned), NEW.source_id,
            ledger_money_text(v_reserved)
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'ledger_released_within_reserved',
                  DETAIL = format('initiative=%s source=%s released_ore=%s unreserved_ore=%s reserved_ore=%s',
                                  NEW.initiative_id, NEW.source_id, v_released, v_returned, v_reserved);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER ledger_entries_check_balances
    AFTER INSERT ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_check_balances();

-- Lowering what a source has committed below what is already reserved from it breaks the same per-source rule
-- from the other side. The UPDATE holds the source's row lock, so a reservation in flight either committed
-- before (and is counted) or waits for this one.
-- +goose StatementBegin
CREATE FUNCTION funding_sources_check_committed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_reserved numeric;
BEGIN
    SELECT COALESCE(sum(amount_ore) FILTER (WHERE kind = 'reserve'), 0)
         - COALESCE(sum(amount_ore) FILTER (WHERE kind = 'unreserve'), 0)
    INTO v_reserved
    FROM ledger_entries
    WHERE plan_id = NEW.plan_id AND source_id = NEW.id AND kind IN ('reserve', 'unreserve');
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

CREATE TRIGGER funding_sources_check_committed
    AFTER UPDATE OF committed_ore ON funding_sources
    FOR EACH ROW WHEN (NEW.committed_ore < OLD.committed_ore)
    EXECUTE FUNCTION funding_sources_check_committed();

-- A disbursement's total is the sum of its lines. The application inserts the disbursement and then its lines in
-- one transaction, so the check waits for COMMIT (DEFERRABLE INITIALLY DEFERRED) and then runs once per inserted or
-- updated row; a disbursement without lines fails it too.
-- +goose StatementBegin
CREATE FUNCTION disbursements_check_total() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_id    text;
    v_total bigint;
    v_lines numeric;
BEGIN
    IF TG_TABLE_NAME = 'disbursements' THEN
        v_id := NEW.id;
    ELSE
        v_id := NEW.disbursement_id;
    END IF;
    SELECT total_ore INTO v_total FROM disbursements WHERE id = v_id;
    IF NOT FOUND THEN
        RETURN NULL; -- the foreign key refuses the line
    END IF;
    SELECT COALESCE(sum(amount_ore), 0) INTO v_lines FROM disbursement_lines WHERE disbursement_id = v_id;
    IF v_lines <> v_total THEN
        RAISE EXCEPTION 'Udbetaling % lyder på %, men dens linjer giver % (total differs from the sum of its lines)',
            v_id, ledger_money_text(v_total), ledger_money_text(v_lines)
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'disbursement_total_matches_lines',
                  DETAIL = format('disbursement=%s total_ore=%s lines_ore=%s', v_id, v_total, v_lines);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE CONSTRAINT TRIGGER disbursements_total_matches_lines
    AFTER INSERT OR UPDATE ON disbursements
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION disbursements_check_total();
CREATE CONSTRAINT TRIGGER disbursement_lines_total_matches_lines
    AFTER INSERT ON disbursement_lines
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION disbursements_check_total();

-- A line is what finance was asked to pay: like the ledger, it is never rewritten. Disbursements are never
-- deleted (disbursements_paid_is_final), and TRUNCATE, which skips row triggers, is refused as well.
CREATE TRIGGER disbursement_lines_append_only
    BEFORE UPDATE OR DELETE ON disbursement_lines
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER disbursement_lines_no_truncate
    BEFORE TRUNCATE ON disbursement_lines
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
CREATE TRIGGER disbursements_no_truncate
    BEFORE TRUNCATE ON disbursements
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- +goose Down
DROP TRIGGER disbursements_no_truncate ON disbursements;
DROP TRIGGER disbursement_lines_no_truncate ON disbursement_lines;
DROP TRIGGER disbursement_lines_append_only ON disbursement_lines;
DROP TRIGGER disbursement_lines_total_matches_lines ON disbursement_lines;
DROP TRIGGER disbursements_total_matches_lines ON disbursements;
DROP FUNCTION disbursements_check_total();
DROP TRIGGER funding_sources_check_committed ON funding_sources;
DROP FUNCTION funding_sources_check_committed();
DROP TRIGGER ledger_entries_check_balances ON ledger_entries;
DROP FUNCTION ledger_entries_check_balances();
DROP FUNCTION ledger_money_text(numeric);

ALTER TABLE disbursement_lines DROP CONSTRAINT disbursement_lines_disbursement_plan_fkey;
ALTER TABLE disbursements DROP CONSTRAINT disbursements_initiative_plan_fkey;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_initiative_plan_fkey;
ALTER TABLE disbursements DROP CONSTRAINT disbursements_id_plan_key;
ALTER TABLE initiatives DROP CONSTRAINT initiatives_id_plan_key;

ALTER TABLE initiatives DROP CONSTRAINT initiatives_budget_ore_max;
ALTER TABLE delaftaler DROP CONSTRAINT delaftaler_budget_frame_ore_max;
ALTER TABLE funding_sources DROP CONSTRAINT funding_sources_committed_ore_max;
ALTER TABLE disbursements DROP CONSTRAINT disbursements_total_ore_max;
ALTER TABLE disbursement_lines DROP CONSTRAINT disbursement_lines_amount_ore_max;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_amount_ore_max;
