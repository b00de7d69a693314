-- The outbox carries messages to other systems (finance webhooks) in the same transaction as the change they
-- announce, so a message is sent if and only if the change committed. idempotency_keys stores the outcome of
-- POST requests made with an Idempotency-Key header, so a client may safely repeat them.

-- +goose Up
CREATE TABLE outbox (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic           text        NOT NULL CHECK (topic <> ''),
    key             text        NOT NULL UNIQUE CHECK (key <> ''),
    payload         jsonb       NOT NULL,
    attempts        int         NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text        NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz NULL
);
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at, id) WHERE delivered_at IS NULL;

CREATE TABLE idempotency_keys (
    user_id      text        NOT NULL REFERENCES users (id),
    key          text        NOT NULL CHECK (key <> ''),
    method       text        NOT NULL,
    path         text        NOT NULL,
    request_hash bytea       NOT NULL,
    status       int         NULL CHECK (status BETWEEN 100 AND 599),
    content_type text        NULL,
    body         bytea       NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz NULL,
    PRIMARY KEY (user_id, key),
    -- In progress (no status yet) or completed (status and time): never half of each.
    CHECK ((status IS NULL) = (completed_at IS NULL))
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE outbox;
