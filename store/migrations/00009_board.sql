-- The board (bestyrelse) as plan data with history, the history of the plan's settings, and board meetings.
--
-- A board is a numbered version per plan: its members, its chair, its rules and the matters the chair decides
-- alone. Admin changes it by writing the next version; old versions are never changed or deleted, so what the
-- board looked like when it decided something can always be read back. The same holds for the plan's settings:
-- plans.settings stays the current value (what every reader uses), plan_settings_history keeps each value with who
-- set it, when and why. changed_by is NULL for what the system wrote itself (the seed, an upgrade).

-- +goose Up
CREATE TABLE board_versions (
    plan_id       text        NOT NULL REFERENCES plans (id),
    version       int         NOT NULL CHECK (version >= 1),
    chair_id      text        NULL CHECK (chair_id <> ''),
    quorum_rule   text        NOT NULL CHECK (quorum_rule IN ('majority_of_entitled')),
    decision_rule text        NOT NULL CHECK (decision_rule IN ('majority_chair_casts')),
    -- The matter kinds the chair decides alone: an array of known kinds (domain.MatterKinds), possibly empty.
    chair_alone   jsonb       NOT NULL DEFAULT '[]'::jsonb
                              CHECK (jsonb_typeof(chair_alone) = 'array')
                              CHECK (chair_alone <@ '["proposal", "milestone", "evaluation", "change", "cancellation"]'::jsonb),
    changed_by    text        NULL REFERENCES users (id),
    changed_at    timestamptz NOT NULL DEFAULT now(),
    note          text        NOT NULL DEFAULT '',
    PRIMARY KEY (plan_id, version)
);

CREATE TABLE board_version_members (
    plan_id text NOT NULL,
    version int  NOT NULL,
    user_id text NOT NULL,
    PRIMARY KEY (plan_id, version, user_id),
    FOREIGN KEY (plan_id, version) REFERENCES board_versions (plan_id, version),
    FOREIGN KEY (plan_id, user_id) REFERENCES plan_members (plan_id, user_id)
);

-- The chair is one of the version's members. The members are inserted after their version, so the check waits
-- for COMMIT; a NULL chair (no chair) is not checked.
ALTER TABLE board_versions
    ADD CONSTRAINT board_versions_chair_is_member
    FOREIGN KEY (plan_id, version, chair_id) REFERENCES board_version_members (plan_id, version, user_id)
    DEFERRABLE INITIALLY DEFERRED;

-- A member has the board role in the plan when the version is written. (A later change of role does not rewrite
-- history: the next version is what changes the board.)
-- +goose StatementBegin
CREATE FUNCTION board_version_members_check_role() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_role text;
BEGIN
    SELECT role INTO v_role FROM plan_members WHERE plan_id = NEW.plan_id AND user_id = NEW.user_id;
    IF FOUND AND v_role <> 'board' THEN
        RAISE EXCEPTION '% er ikke med i bestyrelsen i plan % (rolle %) og kan ikke være bestyrelsesmedlem (board member without the board role)',
            NEW.user_id, NEW.plan_id, v_role
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'board_members_have_board_role';
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER board_version_members_check_role
    BEFORE INSERT ON board_version_members
    FOR EACH ROW EXECUTE FUNCTION board_version_members_check_role();

CREATE TABLE plan_settings_history (
    plan_id    text        NOT NULL REFERENCES plans (id),
    version    int         NOT NULL CHECK (version >= 1),
    settings   jsonb       NOT NULL CHECK (jsonb_typeof(settings) = 'object'),
    changed_by text        NULL REFERENCES users (id),
    changed_at timestamptz NOT NULL DEFAULT now(),
    note       text        NOT NULL DEFAULT '',
    PRIMARY KEY (plan_id, version)
);

CREATE TRIGGER board_versions_append_only
    BEFORE UPDATE OR DELETE ON board_versions
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER board_versions_no_truncate
    BEFORE TRUNCATE ON board_versions
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
CREATE TRIGGER board_version_members_append_only
    BEFORE UPDATE OR DELETE ON board_version_members
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER board_version_members_no_truncate
    BEFORE TRUNCATE ON board_version_members
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
CREATE TRIGGER plan_settings_history_append_only
    BEFORE UPDATE OR DELETE ON plan_settings_history
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER plan_settings_history_no_truncate
    BEFORE TRUNCATE ON plan_settings_history
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- Board meetings. A meeting is scheduled by the chair or the secretariat and may be cancelled (cancelled_at), never
-- deleted: its agenda and the votes taken at it refer to it.
CREATE TABLE meetings (
    plan_id      text        NOT NULL REFERENCES plans (id),
    id           text        NOT NULL CHECK (id <> ''),
    held_on      date        NOT NULL,
    -- 'HH:MM' (24-hour clock, Danish local time) or '' when no time is set.
    starts_at    text        NOT NULL DEFAULT '' CHECK (starts_at = '' OR starts_at ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
    location     text        NOT NULL DEFAULT '',
    title        text        NOT NULL CHECK (title <> ''),
    created_by   text        NOT NULL REFERENCES users (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    cancelled_at timestamptz NULL,
    cancelled_by text        NULL REFERENCES users (id),
    PRIMARY KEY (plan_id, id),
    CHECK ((cancelled_at IS NULL) = (cancelled_by IS NULL))
);
CREATE INDEX meetings_plan_held_on_idx ON meetings (plan_id, held_on DESC, starts_at DESC);

CREATE TRIGGER meetings_no_delete
    BEFORE DELETE ON meetings
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER meetings_no_truncate
    BEFORE TRUNCATE ON meetings
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- +goose Down
DROP TABLE meetings;
DROP TABLE plan_settings_history;
ALTER TABLE board_versions DROP CONSTRAINT board_versions_chair_is_member;
DROP TABLE board_version_members;
DROP FUNCTION board_version_members_check_role();
DROP TABLE board_versions;
