-- How many initiatives each plan has in each phase, kept by a trigger as initiatives are written, so the plan page
-- reads eight rows instead of counting every initiative of the plan (100,000 in the benchmark).
--
-- The trigger is deferred to COMMIT. The count rows are shared by every transition of a plan, so a transaction
-- must take their locks last: an approval holds the funding sources' locks while it writes, and a payment (which
-- touches the counts too) waits for a funding source's key share — taking the counts' locks in the middle of the
-- transaction made the two wait for each other.

-- +goose Up
CREATE TABLE plan_phase_counts (
    plan_id text   NOT NULL REFERENCES plans (id),
    phase   text   NOT NULL CHECK (phase IN ('board_review', 'changes_requested', 'rejected', 'withdrawn', 'funding',
                                   'executing', 'evaluation', 'completed')),
    n       bigint NOT NULL DEFAULT 0 CHECK (n >= 0),
    PRIMARY KEY (plan_id, phase)
);

-- +goose StatementBegin
CREATE FUNCTION initiatives_count_phases() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.phase = NEW.phase AND OLD.plan_id = NEW.plan_id THEN
        RETURN NEW;
    END IF;
    -- Both rows exist before either is changed, and one UPDATE changes both: it locks them in index order, so two
    -- transactions moving initiatives in opposite directions cannot deadlock on the counts.
    INSERT INTO plan_phase_counts (plan_id, phase)
    VALUES (NEW.plan_id, NEW.phase)
    ON CONFLICT DO NOTHING;
    IF TG_OP = 'INSERT' THEN
        UPDATE plan_phase_counts SET n = n + 1 WHERE plan_id = NEW.plan_id AND phase = NEW.phase;
    ELSE
        UPDATE plan_phase_counts
        SET n = n + CASE WHEN plan_id = NEW.plan_id AND phase = NEW.phase THEN 1 ELSE -1 END
        WHERE (plan_id, phase) IN ((NEW.plan_id, NEW.phase), (OLD.plan_id, OLD.phase));
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

CREATE CONSTRAINT TRIGGER initiatives_count_phases
    AFTER INSERT OR UPDATE OF phase, plan_id ON initiatives
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION initiatives_count_phases();

INSERT INTO plan_phase_counts (plan_id, phase, n)
SELECT plan_id, phase, count(*) FROM initiatives GROUP BY plan_id, phase;

-- +goose Down
DROP TRIGGER initiatives_count_phases ON initiatives;
DROP FUNCTION initiatives_count_phases();
DROP TABLE plan_phase_counts;
