-- What a job's kind says about its result beyond the rows (PageRank: iterations, converged).
ALTER TABLE jobs ADD COLUMN result_summary jsonb NOT NULL DEFAULT '{}'::jsonb;
