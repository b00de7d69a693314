-- Two more filters on the initiative list: by funding source and by words in the title and description. Both are
-- columns of the read model with a GIN index each, so the list stays a keyset-paged index read at 100.000
-- initiatives whatever is filtered.

-- +goose Up
-- source_ids: the funding sources the proposal's budget takes money from (a positive amount), sorted and without
-- duplicates. recordTransition writes it with every snapshot; the UPDATE below fills it for the rows already there.
ALTER TABLE initiatives ADD COLUMN source_ids text[] NOT NULL DEFAULT '{}';

UPDATE initiatives i
SET source_ids = s.ids
FROM (
    SELECT i2.id,
           COALESCE(array_agg(DISTINCT b.line->>'source_id' ORDER BY b.line->>'source_id')
                        FILTER (WHERE b.line->>'source_id' <> '' AND (b.line->>'amount_ore')::numeric > 0),
                    '{}') AS ids
    FROM initiatives i2
    LEFT JOIN LATERAL jsonb_array_elements(
        CASE WHEN jsonb_typeof(i2.snapshot->'proposal'->'budget') = 'array'
             THEN i2.snapshot->'proposal'->'budget' ELSE '[]'::jsonb END) AS b(line) ON true
    GROUP BY i2.id
) s
WHERE i.id = s.id AND i.source_ids IS DISTINCT FROM s.ids;

-- fastupdate off for the same reason as initiatives_areas_idx: few writes, many reads.
CREATE INDEX initiatives_sources_idx ON initiatives USING gin (source_ids) WITH (fastupdate = off);

-- search: the title and the proposal's description as Danish lexemes. Generated from the row itself (to_tsvector
-- with an explicit configuration, ->> and COALESCE are immutable), so no writer can forget it and the column
-- fills itself for existing rows.
ALTER TABLE initiatives ADD COLUMN search tsvector GENERATED ALWAYS AS (
    to_tsvector('danish'::regconfig, title || ' ' || COALESCE(snapshot->'proposal'->>'description', ''))
) STORED;

CREATE INDEX initiatives_search_idx ON initiatives USING gin (search) WITH (fastupdate = off);

-- +goose Down
DROP INDEX initiatives_search_idx;
ALTER TABLE initiatives DROP COLUMN search;
DROP INDEX initiatives_sources_idx;
ALTER TABLE initiatives DROP COLUMN source_ids;
