-- Column lineage of a job's result: each result column -> the input columns it derives from
-- (through renames, expressions and joins), whether the job keeps rows one for one, and the
-- input columns that decide its rows. A reader whose policies on an input are stricter than
-- the submitter's gets them applied through it (or nothing). NULL: not known (kinds that are
-- not queries), and result columns are governed by name.
ALTER TABLE jobs ADD COLUMN column_lineage jsonb;
