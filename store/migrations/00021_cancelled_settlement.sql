-- A cancelled initiative's paid money is settled too (issue 8): the operational group or admin states what was spent
-- of each source's paid money, and what was not spent becomes a return, as at a close-out. The close-out lines then
-- record who stated the spend (a completed initiative's close-out has its actor in the completing event instead).

-- +goose Up
ALTER TABLE closeout_lines ADD COLUMN settled_by text NULL REFERENCES users (id);

-- +goose Down
ALTER TABLE closeout_lines DROP COLUMN settled_by;
