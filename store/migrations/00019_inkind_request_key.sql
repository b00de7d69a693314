-- A registration sent twice (a double click, a retry after a lost answer) registers one in-kind contribution: the
-- request's idempotency key (the API's Idempotency-Key or the page's form key, bound to user and content) is kept
-- with the contribution and unique. NULL for registrations without a key and those from before.

-- +goose Up
ALTER TABLE inkind_contributions ADD COLUMN request_key text NULL
    CHECK (request_key IS NULL OR (request_key <> '' AND char_length(request_key) <= 200));
CREATE UNIQUE INDEX inkind_contributions_request_key_idx ON inkind_contributions (request_key)
    WHERE request_key IS NOT NULL;

-- +goose Down
DROP INDEX inkind_contributions_request_key_idx;
ALTER TABLE inkind_contributions DROP COLUMN request_key;
