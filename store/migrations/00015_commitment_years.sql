-- Per-year commitments of the funding sources, and the history of the delaftaler's budget frames.
--
-- A funding source's committed total (funding_sources.committed_ore) is split by the plan's calendar years. The
-- split is plan data with history, like the board (00009): each edit is a new version of the whole split of one
-- source (source_commitment_versions: who, when, why) with one row per year of the plan (source_commitment_years).
-- Old versions are never changed or deleted. A version's years must be exactly the plan's years and its amounts must
-- add up to the source's committed total to the øre: the store checks this before writing (with field messages in
-- Danish), and a deferred constraint trigger checks it again at COMMIT, when all the year rows are in.

-- +goose Up
CREATE TABLE source_commitment_versions (
    plan_id    text        NOT NULL,
    source_id  text        NOT NULL,
    version    int         NOT NULL CHECK (version >= 1),
    changed_by text        NULL REFERENCES users (id),
    changed_at timestamptz NOT NULL DEFAULT now(),
    note       text        NOT NULL DEFAULT '',
    PRIMARY KEY (plan_id, source_id, version),
    FOREIGN KEY (plan_id, source_id) REFERENCES funding_sources (plan_id, id)
);

CREATE TABLE source_commitment_years (
    plan_id    text   NOT NULL,
    source_id  text   NOT NULL,
    version    int    NOT NULL,
    year       int    NOT NULL CHECK (year BETWEEN 1900 AND 9999),
    amount_ore bigint NOT NULL CHECK (amount_ore >= 0),
    PRIMARY KEY (plan_id, source_id, version, year),
    FOREIGN KEY (plan_id, source_id, version) REFERENCES source_commitment_versions (plan_id, source_id, version)
);

-- +goose StatementBegin
CREATE FUNCTION source_commitment_versions_check_split() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_committed bigint;
    v_sum       numeric;
    v_years     int[];
    v_want      int[];
BEGIN
    SELECT s.committed_ore,
           ARRAY(SELECT generate_series(extract(year FROM p.period_start)::int, extract(year FROM p.period_end)::int))
      INTO v_committed, v_want
      FROM funding_sources s JOIN plans p ON p.id = s.plan_id
     WHERE s.plan_id = NEW.plan_id AND s.id = NEW.source_id;
    SELECT COALESCE(sum(amount_ore), 0), COALESCE(array_agg(year ORDER BY year), '{}')
      INTO v_sum, v_years
      FROM source_commitment_years
     WHERE plan_id = NEW.plan_id AND source_id = NEW.source_id AND version = NEW.version;
    IF v_sum <> v_committed OR v_years <> v_want THEN
        RAISE EXCEPTION 'Årsfordelingen af % i plan % (version %) giver % øre over årene %, men kilden har tilsagn om % øre over årene % (split does not match the commitment)',
            NEW.source_id, NEW.plan_id, NEW.version, v_sum, v_years, v_committed, v_want
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'source_commitment_split_sums_to_committed';
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE CONSTRAINT TRIGGER source_commitment_versions_check_split
    AFTER INSERT ON source_commitment_versions
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION source_commitment_versions_check_split();

CREATE TRIGGER source_commitment_versions_append_only
    BEFORE UPDATE OR DELETE ON source_commitment_versions
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER source_commitment_versions_no_truncate
    BEFORE TRUNCATE ON source_commitment_versions
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
CREATE TRIGGER source_commitment_years_append_only
    BEFORE UPDATE OR DELETE ON source_commitment_years
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER source_commitment_years_no_truncate
    BEFORE TRUNCATE ON source_commitment_years
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- Each change of a delaftale's budget frame (delaftaler.budget_frame_ore stays the current value), with who set it,
-- when and why. frame_ore NULL means the frame was removed.
CREATE TABLE delaftale_frame_history (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_id      text        NOT NULL,
    delaftale_id text        NOT NULL,
    frame_ore    bigint      NULL CHECK (frame_ore >= 0),
    changed_by   text        NULL REFERENCES users (id),
    changed_at   timestamptz NOT NULL DEFAULT now(),
    note         text        NOT NULL DEFAULT '',
    FOREIGN KEY (plan_id, delaftale_id) REFERENCES delaftaler (plan_id, id)
);
CREATE INDEX delaftale_frame_history_idx ON delaftale_frame_history (plan_id, delaftale_id, id);

CREATE TRIGGER delaftale_frame_history_append_only
    BEFORE UPDATE OR DELETE ON delaftale_frame_history
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER delaftale_frame_history_no_truncate
    BEFORE TRUNCATE ON delaftale_frame_history
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- +goose Down
DROP TABLE delaftale_frame_history;
DROP TABLE source_commitment_years;
DROP TABLE source_commitment_versions;
DROP FUNCTION source_commitment_versions_check_split();
