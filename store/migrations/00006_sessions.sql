-- Sessions of the web application, kept by github.com/alexedwards/scs/postgresstore (its documented table), so
-- a signed-in user stays signed in across restarts and across several API processes. The session holds only the
-- user ID and the CSRF token; roles are read per request.

-- +goose Up
CREATE TABLE sessions (
    token  text        PRIMARY KEY,
    data   bytea       NOT NULL,
    expiry timestamptz NOT NULL
);
CREATE INDEX sessions_expiry_idx ON sessions (expiry);

-- +goose Down
DROP TABLE sessions;
