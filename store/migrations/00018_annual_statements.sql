-- The annual statement to Landsbyggefonden (årsregnskab) per plan and calendar year (store/annual.go):
--
--   * annual_statement_settings: the plan's due date (month and day of the following year) and whether new
--     releases are held while a statement is overdue; each change is a new row (the latest is current), with who
--     and when; a plan without a row has the defaults (30 June, hold on);
--   * annual_statement_declarations: the auditor's declaration of a year, with the figures frozen at that moment;
--   * annual_statement_filings: the statement sent to Landsbyggefonden; a filing needs the year's declaration.
--
-- A statement without a declaration is a draft, computed live. All three tables are append-only: a declaration or
-- a filing is recorded once and never changed.

-- +goose Up
CREATE TABLE annual_statement_settings (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_id       text        NOT NULL REFERENCES plans (id),
    due_month     int         NOT NULL CHECK (due_month BETWEEN 1 AND 12),
    due_day       int         NOT NULL CHECK (due_day BETWEEN 1 AND 31),
    hold_releases boolean     NOT NULL,
    changed_by    text        NULL REFERENCES users (id),
    changed_at    timestamptz NOT NULL DEFAULT now(),
    note          text        NOT NULL DEFAULT '' CHECK (char_length(note) <= 2000),
    -- The day exists in every year (so no 29 February).
    CHECK (due_day <= CASE WHEN due_month = 2 THEN 28 WHEN due_month IN (4, 6, 9, 11) THEN 30 ELSE 31 END)
);
CREATE INDEX annual_statement_settings_plan_idx ON annual_statement_settings (plan_id, id);
CREATE TRIGGER annual_statement_settings_append_only
    BEFORE UPDATE OR DELETE ON annual_statement_settings
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER annual_statement_settings_no_truncate
    BEFORE TRUNCATE ON annual_statement_settings
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

CREATE TABLE annual_statement_declarations (
    plan_id     text        NOT NULL REFERENCES plans (id),
    year        int         NOT NULL CHECK (year BETWEEN 2000 AND 2200),
    declared_on date        NOT NULL,
    auditor     text        NOT NULL CHECK (auditor <> '' AND char_length(auditor) <= 200),
    reference   text        NOT NULL CHECK (reference <> '' AND char_length(reference) <= 200),
    note        text        NOT NULL DEFAULT '' CHECK (char_length(note) <= 2000),
    figures     jsonb       NOT NULL,
    recorded_by text        NOT NULL REFERENCES users (id),
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plan_id, year),
    -- The auditor declares a year after it is over.
    CHECK (declared_on > make_date(year, 12, 31))
);
CREATE TRIGGER annual_statement_declarations_append_only
    BEFORE UPDATE OR DELETE ON annual_statement_declarations
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER annual_statement_declarations_no_truncate
    BEFORE TRUNCATE ON annual_statement_declarations
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

CREATE TABLE annual_statement_filings (
    plan_id     text        NOT NULL,
    year        int         NOT NULL,
    filed_on    date        NOT NULL,
    note        text        NOT NULL DEFAULT '' CHECK (char_length(note) <= 2000),
    recorded_by text        NOT NULL REFERENCES users (id),
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plan_id, year),
    FOREIGN KEY (plan_id, year) REFERENCES annual_statement_declarations (plan_id, year)
);
CREATE TRIGGER annual_statement_filings_append_only
    BEFORE UPDATE OR DELETE ON annual_statement_filings
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER annual_statement_filings_no_truncate
    BEFORE TRUNCATE ON annual_statement_filings
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- +goose Down
DROP TABLE annual_statement_filings;
DROP TABLE annual_statement_declarations;
DROP TABLE annual_statement_settings;
