-- The initiative read model and the event log it is built from. Workflows hold the truth; these tables let the
-- API list and filter initiatives without asking Temporal, and keep the audit trail after workflows are gone.

-- +goose Up
-- forbid_change keeps audit tables append-only: what happened is never rewritten, only followed by a new entry.
-- +goose StatementBegin
CREATE FUNCTION forbid_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Record a new entry that corrects the old one instead.';
END;
$$;
-- +goose StatementEnd

CREATE TABLE initiatives (
    id               text        PRIMARY KEY CHECK (id <> ''),
    plan_id          text        NOT NULL REFERENCES plans (id),
    -- seq orders the list (newest first) and is the keyset cursor; it never changes after the first write.
    seq              bigserial   NOT NULL UNIQUE,
    title            text        NOT NULL,
    phase            text        NOT NULL CHECK (phase IN ('board_review', 'changes_requested', 'rejected',
                                    'withdrawn', 'funding', 'executing', 'evaluation', 'completed')),
    delaftale_id     text        NOT NULL,
    housing_area_ids text[]      NOT NULL DEFAULT '{}',
    proposer_id      text        NOT NULL REFERENCES users (id),
    budget_ore       bigint      NOT NULL CHECK (budget_ore >= 0),
    version          bigint      NOT NULL CHECK (version >= 1),
    snapshot         jsonb       NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    FOREIGN KEY (plan_id, delaftale_id) REFERENCES delaftaler (plan_id, id)
);
CREATE INDEX initiatives_plan_seq_idx ON initiatives (plan_id, seq DESC);
CREATE INDEX initiatives_plan_phase_seq_idx ON initiatives (plan_id, phase, seq DESC);
CREATE INDEX initiatives_plan_delaftale_seq_idx ON initiatives (plan_id, delaftale_id, seq DESC);
-- fastupdate off: initiatives are written a few times a day and listed all the time, so the list should never
-- have to scan a GIN pending list of recent writes.
CREATE INDEX initiatives_areas_idx ON initiatives USING gin (housing_area_ids) WITH (fastupdate = off);

CREATE TABLE initiative_events (
    initiative_id text        NOT NULL REFERENCES initiatives (id),
    seq           bigint      NOT NULL CHECK (seq >= 1),
    type          text        NOT NULL CHECK (type <> ''),
    actor_id      text        NOT NULL,
    actor_name    text        NOT NULL,
    -- '' or 'system' for transitions no person made (timers, the worker itself).
    actor_role    text        NOT NULL CHECK (actor_role IN ('operational_group', 'board', 'finance', 'admin',
                                 'system', '')),
    at            timestamptz NOT NULL,
    -- '' before the first transition: a new initiative has no phase yet.
    phase_before  text        NOT NULL CHECK (phase_before IN ('', 'board_review', 'changes_requested',
                                 'rejected', 'withdrawn', 'funding', 'executing', 'evaluation', 'completed')),
    phase_after   text        NOT NULL CHECK (phase_after IN ('board_review', 'changes_requested', 'rejected',
                                 'withdrawn', 'funding', 'executing', 'evaluation', 'completed')),
    payload       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (initiative_id, seq)
);

CREATE TRIGGER initiative_events_append_only
    BEFORE UPDATE OR DELETE ON initiative_events
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER initiative_events_no_truncate
    BEFORE TRUNCATE ON initiative_events
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- +goose Down
DROP TABLE initiative_events;
DROP TABLE initiatives;
DROP FUNCTION forbid_change();
