-- Notifications: the reminders, escalations and news a workflow step sends, one row per recipient. They are
-- written by the step's own transaction (store.WriteStep), after the event they belong to, so a notification
-- exists if and only if its event does; the e-mail for each goes out through the outbox in the same transaction.
--
-- Rows are never deleted and never rewritten: what a user was told stays as it was told. Only read_at changes,
-- when the user marks the notification read.

-- +goose Up
CREATE TABLE notifications (
    -- id orders a user's list (newest first) and is its keyset cursor, like seq in the other lists: it is unique
    -- and never changes, which created_at (the transaction's start, shared by a whole step) is not.
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_id       text        NOT NULL REFERENCES plans (id),
    user_id       text        NOT NULL REFERENCES users (id),
    initiative_id text        NOT NULL REFERENCES initiatives (id),
    seq           bigint      NOT NULL CHECK (seq >= 1),
    kind          text        NOT NULL CHECK (kind IN ('reminder', 'escalation', 'info')),
    title         text        NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    body          text        NOT NULL CHECK (char_length(body) BETWEEN 1 AND 4000),
    created_at    timestamptz NOT NULL DEFAULT now(),
    read_at       timestamptz NULL,
    -- A rerun of the step finds its own rows: one notification of a kind per event and recipient.
    CONSTRAINT notifications_once UNIQUE (initiative_id, seq, kind, user_id),
    -- The event it belongs to, written earlier in the same transaction.
    CONSTRAINT notifications_event_fkey
        FOREIGN KEY (initiative_id, seq) REFERENCES initiative_events (initiative_id, seq),
    -- The initiative's own plan, never another's.
    CONSTRAINT notifications_initiative_plan_fkey
        FOREIGN KEY (initiative_id, plan_id) REFERENCES initiatives (id, plan_id)
);
-- A user's list, newest first.
CREATE INDEX notifications_user_idx ON notifications (user_id, id DESC);
-- The unread count in every page's header and the unread list: only unread rows, so the count stays small and
-- cheap however many notifications a user has read.
CREATE INDEX notifications_user_unread_idx ON notifications (user_id, id DESC) WHERE read_at IS NULL;

-- +goose StatementBegin
CREATE FUNCTION notifications_only_read_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.id, NEW.plan_id, NEW.user_id, NEW.initiative_id, NEW.seq, NEW.kind, NEW.title, NEW.body, NEW.created_at)
       IS DISTINCT FROM
       (OLD.id, OLD.plan_id, OLD.user_id, OLD.initiative_id, OLD.seq, OLD.kind, OLD.title, OLD.body, OLD.created_at)
    THEN
        RAISE EXCEPTION 'notifications: only read_at may change'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER notifications_only_read_at
    BEFORE UPDATE ON notifications
    FOR EACH ROW EXECUTE FUNCTION notifications_only_read_at();
CREATE TRIGGER notifications_no_delete
    BEFORE DELETE ON notifications
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER notifications_no_truncate
    BEFORE TRUNCATE ON notifications
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- +goose Down
DROP TABLE notifications;
DROP FUNCTION notifications_only_read_at();
