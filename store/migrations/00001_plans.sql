-- Plans and the data they are made of: funding sources, delaftaler, housing associations and areas, and the
-- people who work with them. Rows keep the order the plan document lists them in (position), because users read
-- the sources and focus areas in that order.

-- +goose Up
CREATE TABLE plans (
    id           text        PRIMARY KEY CHECK (id <> ''),
    name         text        NOT NULL CHECK (name <> ''),
    municipality text        NOT NULL,
    period_start date        NOT NULL,
    period_end   date        NOT NULL,
    vision       text        NOT NULL,
    settings     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (period_start < period_end)
);

CREATE TABLE funding_sources (
    plan_id       text    NOT NULL REFERENCES plans (id),
    id            text    NOT NULL CHECK (id <> ''),
    position      int     NOT NULL,
    name          text    NOT NULL CHECK (name <> ''),
    kind          text    NOT NULL CHECK (kind IN ('cash', 'cash_and_in_kind', 'in_kind')),
    local         boolean NOT NULL,
    committed_ore bigint  NOT NULL CHECK (committed_ore >= 0),
    note          text    NOT NULL DEFAULT '',
    PRIMARY KEY (plan_id, id)
);

CREATE TABLE delaftaler (
    plan_id          text   NOT NULL REFERENCES plans (id),
    id               text   NOT NULL CHECK (id <> ''),
    position         int    NOT NULL,
    name             text   NOT NULL CHECK (name <> ''),
    description      text   NOT NULL DEFAULT '',
    -- The plan document gives no budget per focus area; NULL means "no frame", not "zero kroner".
    budget_frame_ore bigint NULL CHECK (budget_frame_ore >= 0),
    PRIMARY KEY (plan_id, id)
);

CREATE TABLE housing_associations (
    plan_id   text NOT NULL REFERENCES plans (id),
    id        text NOT NULL CHECK (id <> ''),
    position  int  NOT NULL,
    name      text NOT NULL CHECK (name <> ''),
    residents int  NOT NULL DEFAULT 0 CHECK (residents >= 0),
    PRIMARY KEY (plan_id, id)
);

CREATE TABLE housing_areas (
    plan_id        text NOT NULL REFERENCES plans (id),
    id             text NOT NULL CHECK (id <> ''),
    position       int  NOT NULL,
    name           text NOT NULL CHECK (name <> ''),
    association_id text NOT NULL,
    PRIMARY KEY (plan_id, id),
    FOREIGN KEY (plan_id, association_id) REFERENCES housing_associations (plan_id, id)
);

CREATE TABLE users (
    id         text        PRIMARY KEY CHECK (id <> ''),
    name       text        NOT NULL CHECK (name <> ''),
    email      text        NOT NULL,
    title      text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE plan_members (
    plan_id text NOT NULL REFERENCES plans (id),
    user_id text NOT NULL REFERENCES users (id),
    role    text NOT NULL CHECK (role IN ('operational_group', 'board', 'finance', 'admin')),
    PRIMARY KEY (plan_id, user_id)
);
CREATE INDEX plan_members_user_idx ON plan_members (user_id);

-- Only a hash of each API token is stored, so a copy of the database does not hand out working tokens.
CREATE TABLE api_tokens (
    token_hash bytea       PRIMARY KEY CHECK (octet_length(token_hash) >= 16),
    user_id    text        NOT NULL REFERENCES users (id),
    label      text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz NULL
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

-- +goose Down
DROP TABLE api_tokens;
DROP TABLE plan_members;
DROP TABLE users;
DROP TABLE housing_areas;
DROP TABLE housing_associations;
DROP TABLE delaftaler;
DROP TABLE funding_sources;
DROP TABLE plans;
