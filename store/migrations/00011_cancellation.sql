-- Cancelling an approved initiative (issue 7). The board may stop an initiative after approval; the money side of
-- that is booked by store.WriteStep's cancel part in one transaction:
--
--   * the initiative (and its events, and the per-plan phase counts) may be in phase 'cancelled';
--   * every released, unpaid tranche is taken back from finance: its disbursement becomes 'withdrawn' (final, like
--     'paid') and a 'withdraw' ledger entry per line moves the money from released back to reserved;
--   * then 'unreserve' entries (reason "cancelled") give everything still reserved back to the sources.
--
-- The balance rules of 00005 become, per initiative and source (reserve, release, pay, unreserve and withdraw are
-- the sums of the entries of that kind):
--
--   released and not paid   = release - withdraw - pay                   >= 0  (ledger_paid_within_released)
--   reserved, not released  = reserve - unreserve - release + withdraw   >= 0  (ledger_released_within_reserved)
--
-- and per initiative, source and milestone, what is paid and withdrawn never exceeds what was released
-- (ledger_withdrawn_within_unpaid for a withdraw, ledger_paid_within_released for a payment). The per-source rule
-- reserved - unreserved <= committed (funding_sources_check_committed) is unchanged: a withdraw moves money inside
-- an initiative's reservation, not out of it.

-- +goose Up

-- The phase 'cancelled', wherever phases are checked.
ALTER TABLE initiatives DROP CONSTRAINT initiatives_phase_check;
ALTER TABLE initiatives ADD CONSTRAINT initiatives_phase_check
    CHECK (phase IN ('board_review', 'changes_requested', 'rejected', 'withdrawn', 'funding', 'executing',
                     'evaluation', 'completed', 'cancelled'));
ALTER TABLE initiative_events DROP CONSTRAINT initiative_events_phase_before_check;
ALTER TABLE initiative_events ADD CONSTRAINT initiative_events_phase_before_check
    CHECK (phase_before IN ('', 'board_review', 'changes_requested', 'rejected', 'withdrawn', 'funding', 'executing',
                            'evaluation', 'completed', 'cancelled'));
ALTER TABLE initiative_events DROP CONSTRAINT initiative_events_phase_after_check;
ALTER TABLE initiative_events ADD CONSTRAINT initiative_events_phase_after_check
    CHECK (phase_after IN ('board_review', 'changes_requested', 'rejected', 'withdrawn', 'funding', 'executing',
                           'evaluation', 'completed', 'cancelled'));
ALTER TABLE plan_phase_counts DROP CONSTRAINT plan_phase_counts_phase_check;
ALTER TABLE plan_phase_counts ADD CONSTRAINT plan_phase_counts_phase_check
    CHECK (phase IN ('board_review', 'changes_requested', 'rejected', 'withdrawn', 'funding', 'executing',
                     'evaluation', 'completed', 'cancelled'));

-- The ledger kind 'withdraw': a released, unpaid tranche taken back. Like a release or a payment it is of one
-- milestone's tranche. The constraints keep their names, so later migrations find them where they were.
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check
    CHECK (kind IN ('reserve', 'release', 'pay', 'unreserve', 'withdraw'));
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_check
    CHECK ((kind IN ('release', 'pay', 'withdraw')) = (milestone_no IS NOT NULL));

-- The disbursement status 'withdrawn', with when and why. A withdrawn disbursement was never paid (the existing
-- CHECK keeps reference and paid_at for 'paid'), and only a withdrawn one has a withdrawal time and reason.
ALTER TABLE disbursements ADD COLUMN withdrawn_at timestamptz NULL;
ALTER TABLE disbursements ADD COLUMN withdrawn_reason text NULL;
ALTER TABLE disbursements DROP CONSTRAINT disbursements_status_check;
ALTER TABLE disbursements ADD CONSTRAINT disbursements_status_check
    CHECK (status IN ('pending', 'paid', 'withdrawn'));
ALTER TABLE disbursements ADD CONSTRAINT disbursements_withdrawn_check
    CHECK ((status = 'withdrawn') = (withdrawn_at IS NOT NULL));
ALTER TABLE disbursements ADD CONSTRAINT disbursements_withdrawn_reason_check
    CHECK (status = 'withdrawn' OR withdrawn_reason IS NULL);

-- Paid and withdrawn are both final: a payment is what the bank statement says, and a withdrawal is what finance
-- was told to drop from its inbox. So a paid disbursement can never be withdrawn, nor a withdrawn one paid.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION disbursements_paid_is_final() RETURNS trigger
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
    IF OLD.status = 'withdrawn' THEN
        RAISE EXCEPTION 'disbursement % is withdrawn and can no longer change', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

-- The balance trigger of 00005 with withdraw entries (see the top of this file). Same locks as before: a withdraw,
-- like release, unreserve and pay, locks the initiative before it sums, so two writers cannot each pass a check
-- that together they break.
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
           COALESCE(sum(amount_ore) FILTER (WHERE kind = 'withdraw'), 0)
    INTO v_reserved, v_released, v_paid, v_returned, v_withdrawn
    FROM ledger_entries
    WHERE initiative_id = NEW.initiative_id AND source_id = NEW.source_id;
    -- Released and not yet paid: release - withdraw - pay.
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
    -- Reserved and not released: reserve - unreserve - release + withdraw.
    IF v_released - v_withdrawn + v_returned > v_reserved THEN
        RAISE EXCEPTION 'Indsats % har frigivet % (heraf trukket % tilbage) og givet % tilbage fra %, men kun reserveret % (released + unreserved exceeds reserved)',
            NEW.initiative_id, ledger_money_text(v_released), ledger_money_text(v_withdrawn),
            ledger_money_text(v_returned), NEW.source_id, ledger_money_text(v_reserved)
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'ledger_released_within_reserved',
                  DETAIL = format('initiative=%s source=%s released_ore=%s withdrawn_ore=%s unreserved_ore=%s reserved_ore=%s',
                                  NEW.initiative_id, NEW.source_id, v_released, v_withdrawn, v_returned, v_reserved);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose Down
-- Going back refuses (a CHECK fails) while any initiative is cancelled or any disbursement or ledger entry is a
-- withdrawal: the old schema has no way to say what they say.

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ledger_entries_check_balances() RETURNS trigger
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

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION disbursements_paid_is_final() RETURNS trigger
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

ALTER TABLE disbursements DROP CONSTRAINT disbursements_withdrawn_reason_check;
ALTER TABLE disbursements DROP CONSTRAINT disbursements_withdrawn_check;
ALTER TABLE disbursements DROP CONSTRAINT disbursements_status_check;
ALTER TABLE disbursements ADD CONSTRAINT disbursements_status_check CHECK (status IN ('pending', 'paid'));
ALTER TABLE disbursements DROP COLUMN withdrawn_reason;
ALTER TABLE disbursements DROP COLUMN withdrawn_at;

ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_check
    CHECK ((kind IN ('release', 'pay')) = (milestone_no IS NOT NULL));
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check
    CHECK (kind IN ('reserve', 'release', 'pay', 'unreserve'));

ALTER TABLE plan_phase_counts DROP CONSTRAINT plan_phase_counts_phase_check;
ALTER TABLE plan_phase_counts ADD CONSTRAINT plan_phase_counts_phase_check
    CHECK (phase IN ('board_review', 'changes_requested', 'rejected', 'withdrawn', 'funding', 'executing',
                     'evaluation', 'completed'));
ALTER TABLE initiative_events DROP CONSTRAINT initiative_events_phase_after_check;
ALTER TABLE initiative_events ADD CONSTRAINT initiative_events_phase_after_check
    CHECK (phase_after IN ('board_review', 'changes_requested', 'rejected', 'withdrawn', 'funding', 'executing',
                           'evaluation', 'completed'));
ALTER TABLE initiative_events DROP CONSTRAINT initiative_events_phase_before_check;
ALTER TABLE initiative_events ADD CONSTRAINT initiative_events_phase_before_check
    CHECK (phase_before IN ('', 'board_review', 'changes_requested', 'rejected', 'withdrawn', 'funding', 'executing',
                            'evaluation', 'completed'));
ALTER TABLE initiatives DROP CONSTRAINT initiatives_phase_check;
ALTER TABLE initiatives ADD CONSTRAINT initiatives_phase_check
    CHECK (phase IN ('board_review', 'changes_requested', 'rejected', 'withdrawn', 'funding', 'executing',
                     'evaluation', 'completed'));
